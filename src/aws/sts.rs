//! AWS Security Token Service adapter: which account the credentials act in.

use super::aws_error;
use crate::error::AwsError;
use aws_sdk_sts::Client;

/// The account of the caller's credentials (`GetCallerIdentity`).
pub async fn caller_account(client: &Client) -> Result<String, AwsError> {
    let output = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| aws_error("GetCallerIdentity", "the caller's credentials", err))?;
    output.account().map(str::to_owned).ok_or(AwsError {
        operation: "GetCallerIdentity",
        resource: "the caller's credentials".into(),
        code: "NoAccount".into(),
        message: "the answer names no account".into(),
        retryable: false,
    })
}
