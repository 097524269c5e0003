//! Does a notification agree with the world? Pure. A notification is trusted for its deployment
//! id only; what else it says is checked:
//!
//! - its region and account against the function's own, before any AWS call ([`check_origin`]):
//!   a topic subscribed across regions or accounts is a misconfiguration that must raise the
//!   alarm, so a mismatch is an error, not a skip;
//! - its application and deployment group against what `GetDeployment` reports
//!   ([`check_names`]): a mismatch is a forged or misrouted message, left alone as a skip.

use crate::domain::decision::{DeploymentFacts, Skip, SkipReason};
use crate::domain::error::OriginError;
use crate::domain::event::DeploymentRef;

/// Where the function runs: the region and account whose deployments it may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// The region of the function's AWS clients, when one is configured.
    pub region: Option<String>,
    /// The account, or why it is not known.
    pub account: Result<String, String>,
}

/// Whether the notification is about the function's own region and account. What the
/// notification does not name is not checked.
pub fn check_origin(notified: &DeploymentRef, home: &Home) -> Result<(), OriginError> {
    let foreign = |what, named: &String, home: &String| OriginError::Foreign {
        what,
        named: named.clone(),
        home: home.clone(),
    };
    if let (Some(named), Some(region)) = (&notified.region, &home.region) {
        if named != region {
            return Err(foreign("region", named, region));
        }
    }
    match (&notified.account, &home.account) {
        (Some(named), Ok(account)) if named != account => Err(foreign("account", named, account)),
        (Some(named), Err(why)) => Err(OriginError::Unverifiable {
            named: named.clone(),
            why: why.clone(),
        }),
        _ => Ok(()),
    }
}

/// Whether the application and deployment group the notification names (if any) are those the
/// API reports for the deployment.
pub fn check_names(notified: &DeploymentRef, facts: &DeploymentFacts) -> Result<(), Skip> {
    let pairs = [
        ("application", &notified.application, &facts.application),
        (
            "deployment group",
            &notified.deployment_group,
            &facts.deployment_group,
        ),
    ];
    for (what, claimed, actual) in pairs {
        if let Some(claimed) = claimed.as_ref().filter(|c| *c != actual) {
            return Err(Skip::new(
                SkipReason::MessageMismatch,
                format!(
                    "the notification names {what} {claimed:?} but deployment {} belongs to {actual:?}",
                    facts.deployment_id
                ),
            ));
        }
    }
    Ok(())
}

/// The account id in an ARN (`arn:partition:service:region:account:…`), e.g. the Lambda
/// function's own ARN.
pub fn account_of_arn(arn: &str) -> Option<&str> {
    arn.split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notified(region: Option<&str>, account: Option<&str>) -> DeploymentRef {
        DeploymentRef {
            deployment_id: "d-1".into(),
            region: region.map(Into::into),
            account: account.map(Into::into),
            ..DeploymentRef::default()
        }
    }

    fn home(account: Option<&str>) -> Home {
        Home {
            region: Some("us-east-1".into()),
            account: account
                .map(Into::into)
                .ok_or_else(|| "no credentials".to_owned()),
        }
    }

    #[test]
    fn own_region_and_account_pass() {
        let own = notified(Some("us-east-1"), Some("123456789012"));
        assert_eq!(check_origin(&own, &home(Some("123456789012"))), Ok(()));
        assert_eq!(check_origin(&notified(None, None), &home(None)), Ok(()));
        assert_eq!(
            check_origin(&notified(Some("us-east-1"), None), &home(None)),
            Ok(())
        );
    }

    #[test]
    fn an_account_that_cannot_be_verified_is_an_error() {
        let e = check_origin(&notified(None, Some("123456789012")), &home(None)).unwrap_err();
        assert_eq!(e.code(), "AccountUnverified");
        assert!(e.to_string().contains("no credentials"), "{e}");
    }

    #[test]
    fn another_region_or_account_names_both_sides() {
        let e = check_origin(
            &notified(Some("eu-west-1"), None),
            &home(Some("123456789012")),
        )
        .unwrap_err();
        assert_eq!(e.code(), "ForeignRegion");
        let text = e.to_string();
        assert!(
            text.contains("eu-west-1") && text.contains("us-east-1"),
            "{text}"
        );

        let e = check_origin(
            &notified(Some("us-east-1"), Some("111111111111")),
            &home(Some("123456789012")),
        )
        .unwrap_err();
        assert_eq!(e.code(), "ForeignAccount");
        let text = e.to_string();
        assert!(
            text.contains("111111111111") && text.contains("123456789012"),
            "{text}"
        );
    }

    #[test]
    fn names_that_disagree_with_the_api_are_a_mismatch() {
        let facts = DeploymentFacts {
            deployment_id: "d-1".into(),
            application: "web".into(),
            deployment_group: "web-bg".into(),
            ..DeploymentFacts::default()
        };
        let named = |app: Option<&str>, group: Option<&str>| DeploymentRef {
            application: app.map(Into::into),
            deployment_group: group.map(Into::into),
            ..notified(None, None)
        };
        assert_eq!(
            check_names(&named(Some("web"), Some("web-bg")), &facts),
            Ok(())
        );
        assert_eq!(check_names(&named(None, None), &facts), Ok(()));
        for bad in [named(Some("api"), None), named(None, Some("other"))] {
            let skip = check_names(&bad, &facts).unwrap_err();
            assert_eq!(skip.reason, SkipReason::MessageMismatch);
        }
        let skip = check_names(&named(None, Some("other")), &facts).unwrap_err();
        assert!(
            skip.detail.contains("other") && skip.detail.contains("web-bg"),
            "{}",
            skip.detail
        );
    }

    #[test]
    fn accounts_from_arns() {
        assert_eq!(
            account_of_arn("arn:aws:lambda:us-east-1:123456789012:function:relink"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("arn:aws:lambda:us-east-1::function:x"), None);
        assert_eq!(account_of_arn("not an arn"), None);
    }
}
