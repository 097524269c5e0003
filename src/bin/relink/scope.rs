//! `--accounts` and `--regions` as people type them, into the organization audit's scope.

use codedeploy_relink::usecases::organization::{Accounts, Regions};

/// `organization`, or account ids separated by commas. The error names the entry that is not a
/// 12-digit account id.
pub(crate) fn parse_accounts(spec: &str) -> Result<Accounts, String> {
    if spec.trim() == "organization" {
        return Ok(Accounts::Organization);
    }
    let ids = list(spec);
    if ids.is_empty() {
        return Err(
            "--accounts is empty: give account ids separated by commas, or \"organization\"".into(),
        );
    }
    if let Some(bad) = ids
        .iter()
        .find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "--accounts: \"{bad}\" is not an AWS account id (12 digits) nor \"organization\""
        ));
    }
    Ok(Accounts::Listed(ids))
}

/// `all`, or region names separated by commas. The error names the entry that is not a region
/// name.
pub(crate) fn parse_regions(spec: &str) -> Result<Regions, String> {
    if spec.trim() == "all" {
        return Ok(Regions::Enabled);
    }
    let names = list(spec);
    if names.is_empty() {
        return Err("--regions is empty: give region names separated by commas, or \"all\"".into());
    }
    if let Some(bad) = names.iter().find(|name| !is_region_name(name)) {
        return Err(format!(
            "--regions: \"{bad}\" is not a region name (like eu-west-1) nor \"all\""
        ));
    }
    Ok(Regions::Listed(names))
}

fn list(spec: &str) -> Vec<String> {
    let mut items: Vec<String> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    items.sort();
    items.dedup();
    items
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`: letters separated by dashes,
/// ending in a number.
fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_parse_ids_and_organization_and_name_the_bad_entry() {
        assert_eq!(parse_accounts("organization"), Ok(Accounts::Organization));
        assert_eq!(
            parse_accounts("222222222222, 111111111111,222222222222"),
            Ok(Accounts::Listed(vec![
                "111111111111".into(),
                "222222222222".into()
            ]))
        );
        let err = parse_accounts("111111111111,12345").unwrap_err();
        assert!(err.contains("\"12345\""), "{err}");
        assert!(parse_accounts(" , ").unwrap_err().contains("empty"));
        assert!(parse_accounts("11111111111a").is_err());
    }

    #[test]
    fn regions_parse_names_and_all_and_name_the_bad_entry() {
        assert_eq!(parse_regions("all"), Ok(Regions::Enabled));
        assert_eq!(
            parse_regions("us-gov-west-1,eu-west-1"),
            Ok(Regions::Listed(vec![
                "eu-west-1".into(),
                "us-gov-west-1".into()
            ]))
        );
        for bad in ["EU-west-1", "eu-west", "euwest1", "eu--1", "eu-west-x"] {
            let err = parse_regions(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
