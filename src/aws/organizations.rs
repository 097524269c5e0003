//! AWS Organizations adapter: the accounts a multi-account audit visits.

use super::aws_error;
use crate::domain::error::AwsError;
use aws_sdk_organizations::types::AccountStatus;
use aws_sdk_organizations::Client;

/// The ids of the organization's active accounts, sorted (`ListAccounts`, all pages; the caller
/// must be the management account or a delegated administrator).
pub async fn active_accounts(client: &Client) -> Result<Vec<String>, AwsError> {
    let mut pages = client.list_accounts().into_paginator().send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| aws_error("ListAccounts", "the organization", err))?;
        ids.extend(
            page.accounts()
                .iter()
                .filter(|a| a.status() == Some(&AccountStatus::Active))
                .filter_map(|a| a.id().map(str::to_owned)),
        );
    }
    ids.sort();
    Ok(ids)
}
