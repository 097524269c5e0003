//! Configuration, read from the environment once at start-up.

use crate::domain::error::ConfigError;
use std::time::Duration;
use wildmatch::WildMatch;

/// Environment variable: plan and report, but make no mutating AWS call.
pub const DRY_RUN_VAR: &str = "RELINK_DRY_RUN";
/// Environment variable: allow-list of `application/deployment-group` patterns.
pub const DEPLOYMENT_GROUPS_VAR: &str = "RELINK_DEPLOYMENT_GROUPS";
/// Environment variable: when to attach, `traffic-shifted` or `succeeded`.
pub const ATTACH_WHEN_VAR: &str = "RELINK_ATTACH_WHEN";

/// Environment variable: whether relink takes the deployment group's load balancers back from
/// CodeDeploy's copies that no longer serve ([`crate::domain::retire`]).
pub const RETIRE_COPIES_VAR: &str = "RELINK_RETIRE_COPIES";

/// Environment variable: how far back, in hours, the sweep re-checks succeeded deployments.
pub const SWEEP_LOOKBACK_VAR: &str = "RELINK_SWEEP_LOOKBACK_HOURS";
/// The sweep's default look-back.
pub const DEFAULT_SWEEP_LOOKBACK_HOURS: u64 = 24;
/// The longest look-back accepted (30 days).
pub const MAX_SWEEP_LOOKBACK_HOURS: u64 = 720;
/// relink's share of each Elastic Load Balancing API's request budget, per process, as
/// `RATE/BURST` ([`ElbShare`]).
pub const ELB_SHARE_VAR: &str = "RELINK_ELB_SHARE";

/// How fast one process may read one Elastic Load Balancing API (version 2 and classic each) in
/// one account and region. AWS's bucket for those reads holds 40 tokens refilled at 10 a second,
/// and the account's people, consoles and tools draw on it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElbShare {
    /// Requests a second, sustained.
    pub per_second: u32,
    /// Requests at once after a quiet spell.
    pub burst: u32,
}

impl ElbShare {
    /// The function's, per execution environment: its two environments at most (the queue's
    /// mapping runs two at once) take 4 of the 10 tokens a second and 16 of the 40.
    pub const FUNCTION: ElbShare = ElbShare {
        per_second: 2,
        burst: 8,
    };
    /// The CLI's, per account and region it acts in: 2 of the 10 tokens a second, 8 of the 40.
    pub const CLI: ElbShare = ElbShare {
        per_second: 2,
        burst: 8,
    };

    /// `RATE/BURST`, e.g. `2/8`: a rate of 1 to 10 a second, a burst of 1 to 40 (AWS's own
    /// bucket).
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = || {
            "RATE/BURST, e.g. 2/8: a rate of 1 to 10 requests a second and a burst of 1 to 40"
                .to_owned()
        };
        let (rate, burst) = text.split_once('/').ok_or_else(expected)?;
        let number = |t: &str, max: u32| {
            t.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
        };
        match (number(rate, 10), number(burst, 40)) {
            (Some(per_second), Some(burst)) => Ok(ElbShare { per_second, burst }),
            _ => Err(expected()),
        }
    }
}

/// The moment from which a replacement group is relinked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttachWhen {
    /// As soon as CodeDeploy has moved traffic to the replacement group
    /// (`instanceTerminationWaitTimeStarted`), even though the deployment is still running.
    #[default]
    TrafficShifted,
    /// Only once the deployment has succeeded.
    Succeeded,
}

impl AttachWhen {
    /// The value as it is written in `RELINK_ATTACH_WHEN`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachWhen::TrafficShifted => "traffic-shifted",
            AttachWhen::Succeeded => "succeeded",
        }
    }
}

/// One `application/deployment-group` pattern; `*` matches any run of characters and `?` one
/// character, never across the `/`.
#[derive(Debug, Clone)]
struct GroupPattern {
    application: WildMatch,
    deployment_group: WildMatch,
}

/// Which deployment groups the function may act on. Empty means every group.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    patterns: Vec<GroupPattern>,
}

impl AllowList {
    /// Parses a comma- or whitespace-separated list of `application/group` patterns.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for entry in spec
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let (application, group) = entry.split_once('/').ok_or_else(|| {
                format!("entry {entry:?} is not of the form application/deployment-group")
            })?;
            if application.is_empty() || group.is_empty() || group.contains('/') {
                return Err(format!(
                    "entry {entry:?} is not of the form application/deployment-group"
                ));
            }
            patterns.push(GroupPattern {
                application: WildMatch::new(application),
                deployment_group: WildMatch::new(group),
            });
        }
        Ok(AllowList { patterns })
    }

    /// A list of one pattern; `None` matches anything.
    pub fn single(application: Option<&str>, deployment_group: Option<&str>) -> Self {
        AllowList {
            patterns: vec![GroupPattern {
                application: WildMatch::new(application.unwrap_or("*")),
                deployment_group: WildMatch::new(deployment_group.unwrap_or("*")),
            }],
        }
    }

    /// Whether the list may allow some deployment group of this application.
    pub fn allows_application(&self, application: &str) -> bool {
        self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|p| p.application.matches(application))
    }

    /// Whether the list allows this deployment group (an empty list allows every group).
    pub fn allows(&self, application: &str, deployment_group: &str) -> bool {
        self.patterns.is_empty()
            || self.patterns.iter().any(|p| {
                p.application.matches(application) && p.deployment_group.matches(deployment_group)
            })
    }

    /// Whether the list restricts anything.
    pub fn is_restricted(&self) -> bool {
        !self.patterns.is_empty()
    }
}

/// Everything the function is told by its operator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Plan and report only; never call an attach API.
    pub dry_run: bool,
    /// Deployment groups the function may act on.
    pub allow_list: AllowList,
    /// From which point of a deployment the replacement group is relinked.
    pub attach_when: AttachWhen,
    /// How far back the sweep re-checks ended deployments, and every reconcile looks for a
    /// deployment group's copies (by creation time).
    pub sweep_lookback: Duration,
    /// Take the deployment group's load balancers back from copies that no longer serve.
    pub retire_copies: bool,
    /// relink's share of each ELB API's budget, when `RELINK_ELB_SHARE` sets one (otherwise
    /// [`ElbShare::FUNCTION`] in the function, [`ElbShare::CLI`] in the CLI).
    pub elb_share: Option<ElbShare>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dry_run: false,
            allow_list: AllowList::default(),
            attach_when: AttachWhen::default(),
            sweep_lookback: Duration::from_secs(DEFAULT_SWEEP_LOOKBACK_HOURS * 3600),
            retire_copies: true,
            elb_share: None,
        }
    }
}

impl Config {
    /// Reads and validates the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and validates the configuration from any variable lookup (the environment, a test map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid = |variable: &'static str, value: &str, expected: String| ConfigError {
            variable,
            value: value.to_owned(),
            expected,
        };

        let flag = |variable: &'static str, default: bool| match value(variable) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(invalid(
                    variable,
                    &v,
                    "true or false (also 1/0, yes/no, on/off)".into(),
                )),
            },
        };
        let dry_run = flag(DRY_RUN_VAR, false)?;
        let retire_copies = flag(RETIRE_COPIES_VAR, true)?;
        let allow_list = match value(DEPLOYMENT_GROUPS_VAR) {
            None => AllowList::default(),
            Some(v) => {
                AllowList::parse(&v).map_err(|why| invalid(DEPLOYMENT_GROUPS_VAR, &v, why))?
            }
        };
        let attach_when = match value(ATTACH_WHEN_VAR) {
            None => AttachWhen::default(),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "traffic-shifted" => AttachWhen::TrafficShifted,
                "succeeded" => AttachWhen::Succeeded,
                _ => {
                    return Err(invalid(
                        ATTACH_WHEN_VAR,
                        &v,
                        "traffic-shifted or succeeded".into(),
                    ))
                }
            },
        };
        let sweep_lookback_hours = match value(SWEEP_LOOKBACK_VAR) {
            None => DEFAULT_SWEEP_LOOKBACK_HOURS,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|h| *h <= MAX_SWEEP_LOOKBACK_HOURS)
                .ok_or_else(|| {
                    invalid(
                        SWEEP_LOOKBACK_VAR,
                        &v,
                        format!("a whole number of hours from 0 to {MAX_SWEEP_LOOKBACK_HOURS}"),
                    )
                })?,
        };
        let elb_share = match value(ELB_SHARE_VAR) {
            None => None,
            Some(v) => Some(ElbShare::parse(&v).map_err(|why| invalid(ELB_SHARE_VAR, &v, why))?),
        };
        Ok(Config {
            dry_run,
            allow_list,
            attach_when,
            sweep_lookback: Duration::from_secs(sweep_lookback_hours * 3600),
            retire_copies,
            elb_share,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn the_elb_share_is_a_rate_and_a_burst_within_aws_bucket() {
        assert_eq!(config(&[]).unwrap().elb_share, None);
        let share = config(&[(ELB_SHARE_VAR, " 5/20 ")]).unwrap().elb_share;
        assert_eq!(
            share,
            Some(ElbShare {
                per_second: 5,
                burst: 20
            })
        );
        for bad in ["5", "0/8", "11/8", "2/41", "two/8", "2/8/1"] {
            let error = config(&[(ELB_SHARE_VAR, bad)]).unwrap_err().to_string();
            assert!(
                error.contains(ELB_SHARE_VAR) && error.contains("RATE/BURST"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert!(!c.dry_run);
        assert!(!c.allow_list.is_restricted());
        assert_eq!(c.attach_when, AttachWhen::TrafficShifted);
        assert_eq!(c.sweep_lookback, Duration::from_secs(24 * 3600));
        assert!(c.retire_copies);
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            (DRY_RUN_VAR, "TRUE"),
            (DEPLOYMENT_GROUPS_VAR, "web/*, api/prod-?"),
            (ATTACH_WHEN_VAR, "succeeded"),
            (SWEEP_LOOKBACK_VAR, "0"),
            (RETIRE_COPIES_VAR, "off"),
        ])
        .unwrap();
        assert!(c.dry_run);
        assert!(!c.retire_copies);
        assert_eq!(c.sweep_lookback, Duration::ZERO);
        assert_eq!(c.attach_when, AttachWhen::Succeeded);
        assert!(c.allow_list.allows("web", "anything"));
        assert!(c.allow_list.allows("api", "prod-1"));
        assert!(!c.allow_list.allows("api", "prod-12"));
        assert!(!c.allow_list.allows("web2", "x"));
    }

    #[test]
    fn patterns_match_application_and_group_separately() {
        let list = AllowList::parse("w*/bg").unwrap();
        assert!(list.allows("web", "bg"));
        assert!(!list.allows("web", "bg2"));
        assert!(!list.allows("api", "bg"));
        assert!(AllowList::parse("*/*").unwrap().allows("any", "thing"));
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let e = config(&[(DRY_RUN_VAR, "maybe")]).unwrap_err();
        assert_eq!(e.variable, DRY_RUN_VAR);
        assert!(e.to_string().contains("RELINK_DRY_RUN"), "{e}");
        assert!(e.to_string().contains("maybe"), "{e}");

        let e = config(&[(RETIRE_COPIES_VAR, "sometimes")]).unwrap_err();
        assert_eq!(e.variable, RETIRE_COPIES_VAR);

        let e = config(&[(ATTACH_WHEN_VAR, "later")]).unwrap_err();
        assert_eq!(e.variable, ATTACH_WHEN_VAR);

        for bad in ["-1", "1.5", "721", "day"] {
            let e = config(&[(SWEEP_LOOKBACK_VAR, bad)]).unwrap_err();
            assert_eq!(e.variable, SWEEP_LOOKBACK_VAR, "{bad}");
        }

        for bad in ["web", "/bg", "web/", "a/b/c"] {
            let e = config(&[(DEPLOYMENT_GROUPS_VAR, bad)]).unwrap_err();
            assert_eq!(e.variable, DEPLOYMENT_GROUPS_VAR, "{bad}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn a_single_pattern_and_application_prefilter() {
        let list = AllowList::single(Some("web*"), Some("*-bg"));
        assert!(list.allows("web2", "x-bg"));
        assert!(!list.allows("api", "x-bg"));
        assert!(!list.allows("web", "x-ip"));
        assert!(list.allows_application("web"));
        assert!(!list.allows_application("api"));
        let any = AllowList::single(None, None);
        assert!(any.allows("any", "thing"));
        assert!(AllowList::default().allows_application("any"));
    }

    #[test]
    fn blank_values_mean_unset() {
        let c = config(&[(DRY_RUN_VAR, "  "), (DEPLOYMENT_GROUPS_VAR, "")]).unwrap();
        assert!(!c.dry_run);
        assert!(!c.allow_list.is_restricted());
    }
}
