//! `relink audit` across accounts and regions: the single-region [`audit`] run in every account ×
//! region pair, with credentials from a role assumed in each account.
//!
//! One `AssumeRole` per account; its session serves all of the account's regions (they run well
//! inside its hour). Accounts are resolved first (`ListAccounts` for the organization), then each
//! account's session and regions (`ListRegions` for `--regions all`) at most `concurrency` at a
//! time, then the pairs, at most `concurrency` at a time. Inside a pair the audit keeps its own
//! bounds ([`crate::aws::MAX_CONCURRENT_CALLS`]); throttling is left to the SDK's retries.
//!
//! An account whose role cannot be assumed, whose regions cannot be listed, or a pair whose audit
//! fails (a region the account has not enabled rejects the session's token) becomes a row with
//! state `unreachable` and the reason: the run goes on with the others. `--fix` applies in every
//! pair the single-region audit's rule: only live groups are attached to.

use crate::aws::{self, account, organizations, sts, with_credentials, Clients};
use crate::domain::config::{AllowList, Config, ElbShare};
use crate::domain::error::AwsError;
use crate::usecases::audit::{audit, AuditReport, AuditRow, AuditSummary};
use aws_config::SdkConfig;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which accounts to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accounts {
    /// The account of the caller's credentials, without assuming a role.
    Current,
    /// These account ids.
    Listed(Vec<String>),
    /// Every active account of the organization (`ListAccounts`).
    Organization,
}

/// Which regions to audit in each account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    /// The region of the configuration (`--region`, `AWS_REGION`, the profile's).
    Current,
    /// These regions.
    Listed(Vec<String>),
    /// The regions each account has enabled (`ListRegions`).
    Enabled,
}

/// Where and how to audit.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The accounts.
    pub accounts: Accounts,
    /// The regions of each account.
    pub regions: Regions,
    /// The role assumed in each listed account (required unless `accounts` is `Current`).
    pub role_name: Option<String>,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
    /// The most accounts, and the most account × region pairs, worked on at once.
    pub concurrency: usize,
}

/// The AWS partition of a region: `aws-cn` for China, `aws-us-gov` for GovCloud, else `aws`.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN of role `name` in `account`.
pub fn role_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{name}")
}

/// One row of the table: one Auto Scaling group of one account and region, or an account or
/// account × region pair that could not be audited (`state` `unreachable`, `detail` says why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRow {
    /// The account id.
    pub account: String,
    /// The region; none when the account itself was unreachable.
    pub region: Option<String>,
    /// `application/deployment-group`.
    pub deployment_group: Option<String>,
    /// The audited Auto Scaling group.
    pub auto_scaling_group: Option<String>,
    /// The single-region audit's state (`linked`, `drift`, `fixed`, `not_live`, …) or
    /// `unreachable`.
    pub state: String,
    /// What is missing (`tg:NAME`, `clb:NAME`) and what `--fix` attached (`tg:+NAME`, `clb:+NAME`),
    /// as in the single-region audit ([`AuditRow::missing`]).
    pub missing: Vec<String>,
    /// Why it failed, is not live, or could not be reached.
    pub detail: Option<String>,
}

/// Counts over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSummary {
    /// Accounts visited.
    pub accounts: usize,
    /// Account × region pairs audited.
    pub pairs: usize,
    /// Accounts and pairs that could not be audited.
    pub unreachable: usize,
    /// The single-region counts, summed over the pairs.
    pub audit: AuditSummary,
}

/// The multi-account audit's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationReport {
    /// Sorted by account, region, deployment group and Auto Scaling group.
    pub rows: Vec<OrganizationRow>,
    /// Counts.
    pub summary: OrganizationSummary,
}

/// The exit status bit for drift (something missing, or a group that could not be checked).
pub const EXIT_DRIFT: u8 = 1;
/// The exit status bit for an account or pair that could not be audited.
pub const EXIT_UNREACHABLE: u8 = 4;

impl OrganizationReport {
    /// 0 when everything was audited and linked; [`EXIT_DRIFT`] and [`EXIT_UNREACHABLE`] or-ed
    /// together otherwise (5: both).
    pub fn exit_code(&self) -> u8 {
        let s = &self.summary;
        let drift = s.audit.drift > 0 || s.audit.failed > 0;
        (if drift { EXIT_DRIFT } else { 0 })
            | (if s.unreachable > 0 {
                EXIT_UNREACHABLE
            } else {
                0
            })
    }

    /// Adds one pair's audit. Pure.
    pub fn add_pair(&mut self, account: &str, region: &str, report: AuditReport) {
        self.summary.pairs += 1;
        add_counts(&mut self.summary.audit, &report.summary);
        self.rows.extend(
            report
                .rows
                .iter()
                .map(|row| audited_row(account, region, row)),
        );
    }

    /// Adds an account (no region) or a pair that could not be audited. Pure.
    pub fn add_unreachable(&mut self, account: &str, region: Option<&str>, reason: String) {
        self.summary.unreachable += 1;
        self.rows.push(OrganizationRow {
            account: account.to_owned(),
            region: region.map(str::to_owned),
            deployment_group: None,
            auto_scaling_group: None,
            state: "unreachable".into(),
            missing: Vec::new(),
            detail: Some(reason),
        });
    }

    fn sort(&mut self) {
        self.rows.sort_by(|a, b| {
            (
                &a.account,
                &a.region,
                &a.deployment_group,
                &a.auto_scaling_group,
            )
                .cmp(&(
                    &b.account,
                    &b.region,
                    &b.deployment_group,
                    &b.auto_scaling_group,
                ))
        });
    }
}

fn audited_row(account: &str, region: &str, row: &AuditRow) -> OrganizationRow {
    let r = &row.report;
    OrganizationRow {
        account: account.to_owned(),
        region: Some(region.to_owned()),
        deployment_group: match (&r.application, &r.deployment_group) {
            (Some(a), Some(g)) => Some(format!("{a}/{g}")),
            _ => None,
        },
        auto_scaling_group: r.replacement_group.clone(),
        state: row.state.as_str().to_owned(),
        missing: row.missing(),
        detail: r.detail.clone(),
    }
}

fn add_counts(total: &mut AuditSummary, one: &AuditSummary) {
    total.applications += one.applications;
    total.deployment_groups += one.deployment_groups;
    for (reason, n) in &one.not_audited {
        *total.not_audited.entry(reason.clone()).or_default() += n;
    }
    total.auto_scaling_groups += one.auto_scaling_groups;
    total.linked += one.linked;
    total.drift += one.drift;
    total.fixed += one.fixed;
    total.failed += one.failed;
    total.gone += one.gone;
    total.not_live += one.not_live;
    total.superseded += one.superseded;
    total.outage_repairs += one.outage_repairs;
    total.retired_attached += one.retired_attached;
    total.retirable += one.retirable;
    total.retired += one.retired;
    total.warnings += one.warnings;
}

/// Why a pair could not be audited: the failed call, with a hint where AWS's own message hides
/// the usual cause (a region the account has not enabled rejects every token).
pub fn unreachable_reason(error: &AwsError) -> String {
    const BAD_TOKEN: &[&str] = &[
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AuthFailure",
    ];
    if BAD_TOKEN.contains(&error.code.as_str()) {
        format!("{error} (is the region enabled in this account?)")
    } else {
        error.to_string()
    }
}

/// An account's session: its configuration, or why it could not be had.
struct Session {
    account: String,
    config: Result<SdkConfig, String>,
    regions: Result<Vec<String>, String>,
}

/// Audits every account × region pair of `scope`; with `fix`, attaches what is missing to live
/// groups in each. `base` is the caller's configuration. `progress` is told (pairs done, pairs
/// in all). Fails only when the accounts themselves cannot be listed.
pub async fn audit_organization(
    base: &SdkConfig,
    config: &Config,
    filter: &AllowList,
    fix: bool,
    scope: &Scope,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<OrganizationReport, AwsError> {
    let home = home_region(base)?;
    let accounts = match &scope.accounts {
        Accounts::Current => vec![sts::caller_account(&aws::sts_client(base)).await?],
        Accounts::Listed(ids) => ids.clone(),
        Accounts::Organization => {
            organizations::active_accounts(&aws::organizations_client(base)).await?
        }
    };
    let sessions = open_sessions(base, &home, accounts, scope).await;
    let mut report = OrganizationReport::default();
    report.summary.accounts = sessions.len();
    let mut pairs = Vec::new();
    for session in sessions {
        match (session.config, session.regions) {
            (Err(reason), _) | (Ok(_), Err(reason)) => {
                report.add_unreachable(&session.account, None, reason)
            }
            (Ok(config), Ok(regions)) => {
                for region in regions {
                    pairs.push((session.account.clone(), region, config.clone()));
                }
            }
        }
    }
    for (account, region, result) in audit_pairs(pairs, config, filter, fix, scope, progress).await
    {
        match result {
            Ok(one) => report.add_pair(&account, &region, one),
            Err(error) => {
                report.add_unreachable(&account, Some(&region), unreachable_reason(&error))
            }
        }
    }
    report.sort();
    Ok(report)
}

/// The caller's region: STS, Organizations and the partition of the roles' ARNs all need it.
fn home_region(base: &SdkConfig) -> Result<String, AwsError> {
    base.region()
        .map(|r| r.to_string())
        .ok_or_else(|| AwsError {
            operation: "AssumeRole",
            resource: "the accounts".into(),
            code: "NoRegion".into(),
            message: "no AWS region is configured (--region, AWS_REGION or the profile's)".into(),
            retryable: false,
        })
}

/// Each account's session (the role assumed in it, or the caller's own for the current account)
/// and its regions, `concurrency` accounts at a time.
async fn open_sessions(
    base: &SdkConfig,
    home: &str,
    accounts: Vec<String>,
    scope: &Scope,
) -> Vec<Session> {
    let partition = partition_of(home);
    let sts_client = aws::sts_client(base);
    futures::stream::iter(accounts)
        .map(|account| {
            let sts_client = &sts_client;
            async move {
                let config = match (&scope.accounts, &scope.role_name) {
                    (Accounts::Current, _) => Ok(base.clone()),
                    (_, None) => Err("no --role-name to assume in this account".to_owned()),
                    (_, Some(name)) => {
                        let arn = role_arn(partition, &account, name);
                        sts::assume_role(sts_client, &arn, scope.external_id.as_deref())
                            .await
                            .map(|credentials| with_credentials(base, credentials))
                            .map_err(|e| e.to_string())
                    }
                };
                let regions = match (&config, &scope.regions) {
                    (Err(_), _) => Ok(Vec::new()),
                    (Ok(_), Regions::Listed(names)) => Ok(names.clone()),
                    (Ok(_), Regions::Current) => Ok(vec![home.to_owned()]),
                    (Ok(c), Regions::Enabled) => {
                        account::enabled_regions(&aws::account_client(c), &account)
                            .await
                            .map_err(|e| e.to_string())
                    }
                };
                Session {
                    account,
                    config,
                    regions,
                }
            }
        })
        .buffer_unordered(scope.concurrency.max(1))
        .collect()
        .await
}

/// The single-region audit of every (account, region, session) pair, `concurrency` at a time.
async fn audit_pairs(
    pairs: Vec<(String, String, SdkConfig)>,
    config: &Config,
    filter: &AllowList,
    fix: bool,
    scope: &Scope,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<(String, String, Result<AuditReport, AwsError>)> {
    let total = pairs.len();
    let done = AtomicUsize::new(0);
    progress(0, total);
    futures::stream::iter(pairs)
        .map(|(account, region, session)| {
            let done = &done;
            async move {
                let clients = Clients::in_region(&session, &region)
                    .with_elb_share(config.elb_share.unwrap_or(ElbShare::CLI));
                let result = audit(&clients, config, filter, fix, &|_, _| {}).await;
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                (account, region, result)
            }
        })
        .buffer_unordered(scope.concurrency.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests;
