//! EventBridge events: CodeDeploy's deployment and instance state changes, and the schedule that
//! runs the sweep.

use super::{
    check_deployment_id, instance_id_of, DeploymentRef, Ignored, InstanceEvent, Notification,
};
use super::{json_kind, DEPLOYMENT_DETAIL_TYPE, INSTANCE_DETAIL_TYPE};
use crate::domain::error::InputError;
use aws_lambda_events::codedeploy::CodeDeployEvent;
use serde_json::Value;

/// The EventBridge `detail-type` of scheduled rules.
pub const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";

pub(super) fn is_scheduled_event(payload: &Value) -> bool {
    payload.get("source").and_then(Value::as_str) == Some("aws.events")
        && payload.get("detail-type").and_then(Value::as_str) == Some(SCHEDULED_DETAIL_TYPE)
}

pub(super) fn decode_eventbridge(payload: &Value) -> Result<Notification, InputError> {
    let source = payload.get("source").and_then(Value::as_str);
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    if source != Some("aws.codedeploy") {
        return Err(InputError::new(
            "event.source",
            "an EventBridge event that is not from aws.codedeploy",
            &payload.to_string(),
        ));
    }
    if detail_type == Some(INSTANCE_DETAIL_TYPE) {
        return decode_instance_event(payload);
    }
    if detail_type != Some(DEPLOYMENT_DETAIL_TYPE) {
        return Err(InputError::new(
            "event.detail-type",
            format!("expected {DEPLOYMENT_DETAIL_TYPE:?}"),
            detail_type.unwrap_or("(missing)"),
        ));
    }
    let event: CodeDeployEvent = serde_json::from_value(payload.clone()).map_err(|e| {
        InputError::new(
            "event",
            format!("not a CodeDeploy deployment state-change event: {e}"),
            &payload.to_string(),
        )
    })?;
    let deployment_id = detail_deployment_id(event.detail.deployment_id, payload)?;
    Ok(Notification::Deployment(DeploymentRef {
        deployment_id,
        application: event.detail.application,
        deployment_group: event.detail.deployment_group,
        reported_status: Some(event.detail.state).filter(|s| !s.is_empty()),
        region: event.region.or(event.detail.region),
        account: event.account_id,
        instance: None,
    }))
}

/// An EventBridge event's `detail.deploymentId`: present and shaped like a deployment id.
pub(super) fn detail_deployment_id(
    id: Option<String>,
    payload: &Value,
) -> Result<String, InputError> {
    let id = id.ok_or_else(|| {
        InputError::new(
            "event.detail",
            "no deploymentId",
            &payload["detail"].to_string(),
        )
    })?;
    check_deployment_id(&id, "event.detail.deploymentId")?;
    Ok(id)
}

/// EventBridge's `CodeDeploy Instance State-change Notification`: `detail.state` `SUCCESS`
/// relinks the deployment; other states are ignored.
pub(super) fn decode_instance_event(payload: &Value) -> Result<Notification, InputError> {
    let text = |pointer: &str| -> Result<Option<String>, InputError> {
        match payload.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(InputError::new(
                format!("event{}", pointer.replace('/', ".")),
                format!("expected a string, got {}", json_kind(other)),
                &other.to_string(),
            )),
        }
    };
    let deployment_id = detail_deployment_id(text("/detail/deploymentId")?, payload)?;
    let instance_id = text("/detail/instanceId")?.map(|i| instance_id_of(&i).to_owned());
    let state = text("/detail/state")?;
    let (Some(instance_id), Some("SUCCESS")) = (&instance_id, state.as_deref()) else {
        return Ok(Notification::Ignored(Ignored::InstanceNotification {
            deployment_id: Some(deployment_id),
            instance_id,
            status: state,
        }));
    };
    Ok(Notification::Deployment(DeploymentRef {
        deployment_id,
        application: text("/detail/application")?,
        deployment_group: text("/detail/deploymentGroup")?,
        reported_status: state.clone(),
        region: text("/region")?.or(text("/detail/region")?),
        account: text("/account")?,
        instance: Some(InstanceEvent {
            instance_id: instance_id.clone(),
            status: state.unwrap_or_default(),
        }),
    }))
}
