"""Corrections to moto, applied on import, so that the tests check the function against AWS's
behaviour and not moto's (see ../shared/domain.md, "The moto emulator where it differs from AWS").

- CodeDeploy: GetDeployment / BatchGetDeployments / BatchGetDeploymentGroups answer in AWS's
  shape (unset members omitted, epoch timestamps, the group's style, blue/green configuration and
  load balancer info carried by the deployment, Auto Scaling groups as structures); the list calls
  paginate (pages of RELINK_EMULATOR_PAGE_SIZE) and filter by status and creation time as AWS
  does; BatchGetDeploymentGroups and ListDeploymentTargets (which moto lacks; the latter answers
  from ``TARGETS``, which CodeDeploy's part fills) and the batch limits exist.
- Auto Scaling: the attach and detach calls refuse more than 10 items and unknown groups
  (ValidationError); attaching a classic load balancer no longer deregisters other groups'
  instances from it, and detaching one deregisters the group's instances from that load balancer
  only; detaching a target group deregisters the group's instances that are registered (moto
  fails with InvalidTarget when one is not).
- Load balancers: targets and instances being deregistered are reported as draining
  (DescribeTargetHealth) or "InService: Instance deregistration currently in progress"
  (DescribeInstanceHealth) while ``DRAINING`` lists them, as AWS does during connection draining.
- Accounts: STS AssumeRole refuses a role that does not exist in its account, or whose trust
  policy asks for another external id (AccessDenied, as AWS; moto grants every AssumeRole); the
  Account API's ListRegions (which moto lacks) answers from ``REGIONS`` and ``OPTED_IN``.
"""

from __future__ import annotations

import datetime
import json
import os
import warnings
from typing import Any

from moto.account import urls as account_urls
from moto.account.responses import AccountResponse
from moto.autoscaling import models as autoscaling_models
from moto.autoscaling.exceptions import ValidationError
from moto.codedeploy import models as codedeploy_models
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.elb import models as elb_models
from moto.elb.responses import ELBResponse
from moto.elbv2 import models as elbv2_models
from moto.iam import models as iam_models
from moto.sts import models as sts_models
from moto.sts.exceptions import STSClientError

MAX_ATTACH_PER_CALL = 10
PAGE_SIZE = int(os.environ.get("RELINK_EMULATOR_PAGE_SIZE", "100"))

# Instances being deregistered, by target group ARN and by classic load balancer name. The world
# (CodeDeploy's part) fills and clears them.
DRAINING: dict[str, set[str]] = {}
# Target health states a test forces, by target group ARN and instance: unhealthy.draining, or a
# state AWS may add one day.
STATES: dict[str, dict[str, str]] = {}
CLASSIC_DEREGISTERING = "Instance deregistration currently in progress."


def epoch(value: Any) -> float | None:
    if not value:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def prune(value: Any) -> Any:
    """Drops members AWS would omit: None, empty strings, empty objects and lists."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


# --- CodeDeploy -------------------------------------------------------------------------------

def _aws_shaped_deployment(self: Any) -> dict[str, Any]:
    group = self.deployment_group
    return prune({
        "applicationName": self.application_name,
        "deploymentGroupName": self.deployment_group_name,
        "deploymentConfigName": self.deployment_config_name and str(self.deployment_config_name),
        "deploymentId": self.deployment_id,
        "revision": self.revision,
        "status": self.status,
        "createTime": epoch(self.create_time),
        "completeTime": epoch(self.complete_time),
        "creator": self.creator,
        "deploymentOverview": self.deployment_overview,
        "deploymentStyle": group.deployment_style,
        "blueGreenDeploymentConfiguration": group.blue_green_deployment_configuration,
        "loadBalancerInfo": group.load_balancer_info,
        "targetInstances": self.target_instances,
        "instanceTerminationWaitTimeStarted": bool(self.instance_termination_wait_time_started),
        "computePlatform": self.application.compute_platform,
    })


def _aws_shaped_group(self: Any) -> dict[str, Any]:
    return prune({
        "applicationName": self.application.application_name,
        "deploymentGroupId": self.deployment_group_id,
        "deploymentGroupName": self.deployment_group_name,
        "deploymentConfigName": self.deployment_config_name and str(self.deployment_config_name),
        "autoScalingGroups": [{"name": name} for name in self.auto_scaling_groups],
        "serviceRoleArn": self.service_role_arn,
        "deploymentStyle": self.deployment_style,
        "blueGreenDeploymentConfiguration": self.blue_green_deployment_configuration,
        "loadBalancerInfo": self.load_balancer_info,
        "computePlatform": self.application.compute_platform,
    })


def _page(items: list[Any], token: str | None) -> dict[str, Any]:
    start = int(token) if token else 0
    end = start + PAGE_SIZE
    return {"items": items[start:end], "nextToken": str(end) if end < len(items) else None}


def _list_applications(self: Any) -> str:
    page = _page(sorted(self.codedeploy_backend.applications), self._get_param("nextToken"))
    return json.dumps(prune({"applications": page["items"], "nextToken": page["nextToken"]}))


def _list_deployment_groups(self: Any) -> str:
    app = self._get_param("applicationName")
    self.codedeploy_backend.get_application(app)  # ApplicationDoesNotExistException as AWS
    names = sorted(self.codedeploy_backend.deployment_groups.get(app, {}))
    page = _page(names, self._get_param("nextToken"))
    return json.dumps(prune({"applicationName": app, "deploymentGroups": page["items"], "nextToken": page["nextToken"]}))


def _batch_limit(items: list[Any], limit: int) -> None:
    if len(items) > limit:
        raise JsonRESTError(
            "BatchLimitExceededException",
            f"The maximum number of names or IDs allowed for this request ({limit}) was exceeded.",
        )


def _batch_get_deployment_groups(self: Any) -> str:
    app = self._get_param("applicationName")
    names = self._get_param("deploymentGroupNames") or []
    _batch_limit(names, 100)
    self.codedeploy_backend.get_application(app)
    groups = self.codedeploy_backend.deployment_groups.get(app, {})
    answer: dict[str, Any] = {"deploymentGroupsInfo": [groups[n].to_dict() for n in names if n in groups]}
    unknown = [n for n in names if n not in groups]
    if unknown:
        answer["errorMessage"] = "Deployment groups not found: " + ", ".join(unknown)
    return json.dumps(answer)


def _batch_get_deployments(self: Any) -> str:
    ids = self._get_param("deploymentIds") or []
    _batch_limit(ids, 25)
    known = self.codedeploy_backend.deployments
    return json.dumps({"deploymentsInfo": [known[i].to_dict() for i in ids if i in known]})


def _list_deployments(self: Any) -> str:
    app = self._get_param("applicationName")
    group = self._get_param("deploymentGroupName")
    statuses = self._get_param("includeOnlyStatuses") or []
    time_range = self._get_param("createTimeRange") or {}
    start, end = time_range.get("start"), time_range.get("end")
    ids = []
    for d in self.codedeploy_backend.deployments.values():
        created = epoch(d.create_time) or 0.0
        if (app and d.application_name != app) or (group and d.deployment_group_name != group):
            continue
        if statuses and d.status not in statuses:
            continue
        if (start is not None and created < float(start)) or (end is not None and created > float(end)):
            continue
        ids.append(d.deployment_id)
    page = _page(ids, self._get_param("nextToken"))
    return json.dumps(prune({"deployments": page["items"], "nextToken": page["nextToken"]}))


# The instances of each blue/green deployment, by id: their label (`Blue`: the original fleet's,
# `Green`: the copy's) and status (`Pending` until their lifecycle ends, then `Succeeded`), as
# CodeDeploy keeps them for ListDeploymentTargets, which moto lacks. The world (CodeDeploy's part)
# fills it when a deployment copies its fleet, and as its steps run.
TARGETS: dict[str, dict[str, dict[str, str]]] = {}


def targets(deployment_id: str, label: str, instances: list[str], status: str = "Pending") -> None:
    """Records `instances` as `label` targets of the deployment in `status`."""
    known = TARGETS.setdefault(deployment_id, {})
    for instance in instances:
        known[instance] = {"label": label, "status": status}


def target_status(deployment_id: str, instances: list[str], status: str) -> None:
    for instance in instances:
        if instance in TARGETS.get(deployment_id, {}):
            TARGETS[deployment_id][instance]["status"] = status


def _list_deployment_targets(self: Any) -> str:
    deployment_id = self._get_param("deploymentId")
    if deployment_id not in self.codedeploy_backend.deployments:
        raise JsonRESTError("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found.")
    filters = self._get_param("targetFilters") or {}
    labels = filters.get("ServerInstanceLabel") or ["Blue", "Green"]
    statuses = filters.get("TargetStatus")
    ids = [i for i, t in TARGETS.get(deployment_id, {}).items()
           if t["label"] in labels and (not statuses or t["status"] in statuses)]
    page = _page(ids, self._get_param("nextToken"))
    return json.dumps(prune({"targetIds": page["items"], "nextToken": page["nextToken"]}))


codedeploy_models.DeploymentInfo.to_dict = _aws_shaped_deployment
codedeploy_models.DeploymentGroup.to_dict = _aws_shaped_group
CodeDeployResponse.list_applications = _list_applications
CodeDeployResponse.list_deployment_groups = _list_deployment_groups
CodeDeployResponse.batch_get_deployment_groups = _batch_get_deployment_groups
CodeDeployResponse.list_deployments = _list_deployments
CodeDeployResponse.batch_get_deployments = _batch_get_deployments
CodeDeployResponse.list_deployment_targets = _list_deployment_targets


# --- Auto Scaling -----------------------------------------------------------------------------

_attach_target_groups = autoscaling_models.AutoScalingBackend.attach_load_balancer_target_groups


def _check_attach(backend: Any, group_name: str, items: list[str], what: str) -> None:
    if len(items) > MAX_ATTACH_PER_CALL:
        raise ValidationError(f"{what}: at most {MAX_ATTACH_PER_CALL} per call, got {len(items)}")
    if group_name not in backend.autoscaling_groups:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{group_name}' not found")


def _attach_target_groups_as_aws(self: Any, group_name: str, target_group_arns: list[str]) -> None:
    _check_attach(self, group_name, target_group_arns, "TargetGroupARNs")
    _attach_target_groups(self, group_name, target_group_arns)


def _attach_load_balancers_as_aws(self: Any, group_name: str, load_balancer_names: list[str]) -> None:
    _check_attach(self, group_name, load_balancer_names, "LoadBalancerNames")
    group = self.autoscaling_groups[group_name]
    group.load_balancer_names.extend(n for n in load_balancer_names if n not in group.load_balancer_names)
    self.update_attached_elbs(group_name)


def _update_attached_elbs_as_aws(self: Any, group_name: str) -> None:
    """Registers the group's instances with its classic load balancers and nothing else (moto
    also deregisters every instance of other groups)."""
    group = self.autoscaling_groups[group_name]
    if not group.load_balancer_names:
        return
    instance_ids = {state.instance.id for state in group.active_instances()}
    for elb in self.elb_backend.describe_load_balancers(names=group.load_balancer_names):
        new = instance_ids - set(elb.instance_ids)
        if new:
            self.elb_backend.register_instances(elb.name, new, from_autoscaling=True)


def _detach_load_balancers_as_aws(self: Any, group_name: str, load_balancer_names: list[str]) -> None:
    """Deregisters the group's instances from the named load balancers only (moto: from all)."""
    _check_attach(self, group_name, load_balancer_names, "LoadBalancerNames")
    group = self.autoscaling_groups[group_name]
    instance_ids = {state.instance.id for state in group.instance_states}
    for name in load_balancer_names:
        for attr in ("instance_autoscaling_ids", "instance_sparse_ids"):
            elb = self.elb_backend.get_load_balancer(name)
            setattr(elb, attr, [i for i in getattr(elb, attr) if i not in instance_ids])
    group.load_balancer_names = [n for n in group.load_balancer_names if n not in load_balancer_names]


def _detach_target_groups_as_aws(self: Any, group_name: str, target_group_arns: list[str]) -> None:
    """Deregisters the group's instances that are registered (moto fails with InvalidTarget on any
    that is not: a retired copy's instances usually are not, and AWS detaches all the same)."""
    _check_attach(self, group_name, target_group_arns, "TargetGroupARNs")
    group = self.autoscaling_groups[group_name]
    group.target_group_arns = [a for a in group.target_group_arns if a not in target_group_arns]
    ids = {state.instance.id for state in group.instance_states}
    for arn in target_group_arns:
        target_group = self.elbv2_backend.target_groups.get(arn)
        registered = sorted(ids & set(target_group.targets)) if target_group else []
        if registered:
            self.elbv2_backend.deregister_targets(arn, [{"Id": i} for i in registered])


autoscaling_models.AutoScalingBackend.attach_load_balancer_target_groups = _attach_target_groups_as_aws
autoscaling_models.AutoScalingBackend.detach_load_balancer_target_groups = _detach_target_groups_as_aws
autoscaling_models.AutoScalingBackend.attach_load_balancers = _attach_load_balancers_as_aws
autoscaling_models.AutoScalingBackend.update_attached_elbs = _update_attached_elbs_as_aws
autoscaling_models.AutoScalingBackend.detach_load_balancers = _detach_load_balancers_as_aws


# --- Load balancers: deregistration in progress -------------------------------------------------

_describe_target_health = elbv2_models.ELBv2Backend.describe_target_health


def _describe_target_health_with_draining(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
    health = _describe_target_health(self, target_group_arn, targets)
    if not targets:
        port = self.target_groups[target_group_arn].port
        for instance_id in sorted(DRAINING.get(target_group_arn, ())):
            health.append(elbv2_models.FakeHealthStatus(
                instance_id, port, None, "draining",
                "Target.DeregistrationInProgress", "Target deregistration is in progress",
            ))
        forced = STATES.get(target_group_arn, {})
        for status in health:
            if status.instance_id in forced:
                status.status = forced[status.instance_id]
    return health


def _describe_instance_health_with_descriptions(self: Any) -> ActionResult:
    name = self._get_param("LoadBalancerName")
    states = [
        {"InstanceId": i["InstanceId"], "State": i["State"], "ReasonCode": "N/A", "Description": "N/A"}
        for i in self.elb_backend.describe_instance_health(name, self._get_param("Instances", []))
    ]
    for instance_id in sorted(DRAINING.get(name, ())):
        states.append({"InstanceId": instance_id, "State": "InService", "ReasonCode": "N/A",
                       "Description": CLASSIC_DEREGISTERING})
    return ActionResult({"InstanceStates": states})


elbv2_models.ELBv2Backend.describe_target_health = _describe_target_health_with_draining
ELBResponse.describe_instance_health = _describe_instance_health_with_descriptions


# --- Accounts -------------------------------------------------------------------------------------

# The regions ListRegions reports: enabled by default, and opt-in ones (disabled unless an
# account is in OPTED_IN for them).
REGIONS = {
    "us-east-1": "ENABLED_BY_DEFAULT", "us-east-2": "ENABLED_BY_DEFAULT", "us-west-2": "ENABLED_BY_DEFAULT",
    "eu-west-1": "ENABLED_BY_DEFAULT", "eu-central-1": "ENABLED_BY_DEFAULT",
    "ap-southeast-2": "ENABLED_BY_DEFAULT", "af-south-1": "DISABLED", "me-south-1": "DISABLED",
}
OPTED_IN: dict[str, set[str]] = {}  # account -> opt-in regions it enabled
_assume_role = sts_models.STSBackend.assume_role


def _assume_existing_role(self: Any, **kwargs: Any) -> Any:
    arn = kwargs["role_arn"]
    denied = STSClientError(
        "AccessDenied",
        f"User: arn:aws:iam::{self.account_id}:user/relink is not authorized to perform: sts:AssumeRole on resource: {arn}",
    )
    account, _, name = arn.split(":", 4)[4].partition(":role/")
    try:
        role = iam_models.iam_backends[account]["aws"].get_role(name.rsplit("/", 1)[-1])
    except Exception:
        raise denied from None
    trust = json.loads(role.assume_role_policy_document or "{}")
    wanted = [
        statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        for statement in trust.get("Statement", [])
    ]
    if any(w is not None and w != kwargs.get("external_id") for w in wanted):
        raise denied
    return _assume_role(self, **kwargs)


def _list_regions(self: Any) -> ActionResult:
    account = self._get_param("AccountId") or self.current_account
    wanted = self._get_param("RegionOptStatusContains") or ["ENABLED", "ENABLED_BY_DEFAULT", "DISABLED"]
    regions = [
        {"RegionName": name, "RegionOptStatus": "ENABLED" if name in OPTED_IN.get(account, ()) else status}
        for name, status in sorted(REGIONS.items())
    ]
    regions = [r for r in regions if r["RegionOptStatus"] in wanted]
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 20)
    page: dict[str, Any] = {"Regions": regions[start:start + size]}
    if start + size < len(regions):
        page["NextToken"] = str(start + size)
    return ActionResult(page)


sts_models.STSBackend.assume_role = _assume_existing_role
# STS's model names no AccessDenied shape; the error is serialised as AWS sends it all the same.
warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\) with code AccessDenied")
AccountResponse.list_regions = _list_regions
account_urls.url_paths["{0}/listRegions$"] = AccountResponse.dispatch

__all__ = ["DRAINING", "STATES", "OPTED_IN", "TARGETS", "MAX_ATTACH_PER_CALL", "epoch", "prune", "elb_models"]
