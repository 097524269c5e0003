//! AWS Account Management adapter: the regions an account has enabled.

use super::all_items;
use crate::domain::error::AwsError;
use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_account::Client;

/// The regions the credentials' account can use: enabled by default or opted in, sorted
/// (`ListRegions`, all pages).
pub async fn enabled_regions(client: &Client, account: &str) -> Result<Vec<String>, AwsError> {
    let pages = client
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .into_paginator()
        .items()
        .send();
    let regions = all_items(pages, "ListRegions", || format!("account {account}")).await?;
    let mut names: Vec<String> = regions.into_iter().filter_map(|r| r.region_name).collect();
    names.sort();
    Ok(names)
}
