//! AWS Security Token Service adapter: which account the credentials act in.

use super::aws_error;
use crate::domain::error::AwsError;
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

/// Temporary credentials for `role_arn` (`AssumeRole`, one hour), with the external id when the
/// role's trust policy asks for one.
pub async fn assume_role(
    client: &Client,
    role_arn: &str,
    external_id: Option<&str>,
) -> Result<aws_credential_types::Credentials, AwsError> {
    let output = client
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("relink-audit")
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .map_err(|err| aws_error("AssumeRole", role_arn, err))?;
    let credentials = output.credentials().ok_or_else(|| AwsError {
        operation: "AssumeRole",
        resource: role_arn.to_owned(),
        code: "NoCredentials".into(),
        message: "the answer holds no credentials".into(),
        retryable: false,
    })?;
    Ok(aws_credential_types::Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        Some(credentials.session_token().to_owned()),
        std::time::SystemTime::try_from(*credentials.expiration()).ok(),
        "relink-assume-role",
    ))
}
