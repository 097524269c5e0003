#!/usr/bin/env python3
"""The AWS emulator for codedeploy-relink's end-to-end tests and demo.

It runs moto's server in this process on 127.0.0.1 (a free port) and adds three things:

1. Corrections, so that the tests check the function against AWS's behaviour, not moto's
   (see ../shared/domain.md, "The moto emulator where it differs from AWS"):
   - GetDeployment answers in AWS's shape: unset members omitted instead of null/{}/"",
     timestamps as epoch seconds, the deployment group's style, blue/green configuration and
     load balancer info copied in, and deployment ids like ``d-75I7MBT7C``;
   - AttachLoadBalancerTargetGroups / AttachLoadBalancers refuse more than 10 items per call and
     answer ValidationError for a group that does not exist, as AWS does.
2. CodeDeploy's part, which moto does not play: copying the original Auto Scaling group into
   ``CodeDeploy_<group>_<deploymentId>`` without its load balancer attachments, and moving the
   deployment to a status (``Succeeded``, ``InProgress`` with traffic shifted, ``Failed`` …).
3. A request log: every request made with an access key other than the harness's own is counted
   per ``service:Action``, so tests can assert exactly which calls the function made.

The world itself (VPC, subnets, launch template, ALB, target groups, classic load balancer, the
original group with its attachments, the CodeDeploy application, deployment group and
deployment) is built through the AWS APIs with boto3, against this same server.

Modes:
  serve   Print {"endpoint": ...} and answer JSON-line commands on stdin (used by the Rust tests);
          exits when stdin closes.
  demo    Run the whole blue/green story with the relink binary given by --relink.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import logging
import os
import random
import string
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.config import Config as BotoConfig
from moto.autoscaling import models as autoscaling_models
from moto.autoscaling.exceptions import ValidationError
from moto.codedeploy import models as codedeploy_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

REGION = "us-east-1"
HARNESS_KEY = "harness"  # the access key the harness itself uses; its requests are not counted
MAX_ATTACH_PER_CALL = 10


# --- 1. corrections -------------------------------------------------------------------------

def _epoch(value: Any) -> float | None:
    if not value:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _prune(value: Any) -> Any:
    """Drops members AWS would omit: None, empty strings, empty objects and lists."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _aws_shaped_deployment(self: Any) -> dict[str, Any]:
    group = self.deployment_group
    return _prune({
        "applicationName": self.application_name,
        "deploymentGroupName": self.deployment_group_name,
        "deploymentConfigName": self.deployment_config_name and str(self.deployment_config_name),
        "deploymentId": self.deployment_id,
        "revision": self.revision,
        "status": self.status,
        "createTime": _epoch(self.create_time),
        "completeTime": _epoch(self.complete_time),
        "creator": self.creator,
        "deploymentOverview": self.deployment_overview,
        "deploymentStyle": group.deployment_style,
        "blueGreenDeploymentConfiguration": group.blue_green_deployment_configuration,
        "loadBalancerInfo": group.load_balancer_info,
        "targetInstances": self.target_instances,
        "instanceTerminationWaitTimeStarted": bool(self.instance_termination_wait_time_started),
        "computePlatform": self.application.compute_platform,
    })


codedeploy_models.DeploymentInfo.to_dict = _aws_shaped_deployment

_attach_target_groups = autoscaling_models.AutoScalingBackend.attach_load_balancer_target_groups
_attach_load_balancers = autoscaling_models.AutoScalingBackend.attach_load_balancers


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
    _attach_load_balancers(self, group_name, load_balancer_names)


autoscaling_models.AutoScalingBackend.attach_load_balancer_target_groups = _attach_target_groups_as_aws
autoscaling_models.AutoScalingBackend.attach_load_balancers = _attach_load_balancers_as_aws


# moto's CodeDeploy paginates nothing, filters ListDeployments by status only when a deployment
# group is named, lists deployment groups' Auto Scaling groups as bare names (AWS: structures) and
# does not implement BatchGetDeploymentGroups. These answer as AWS does, pages of PAGE_SIZE.
PAGE_SIZE = int(os.environ.get("RELINK_EMULATOR_PAGE_SIZE", "100"))


def _page(items: list[Any], token: str | None) -> dict[str, Any]:
    start = int(token) if token else 0
    end = start + PAGE_SIZE
    return {"items": items[start:end], "nextToken": str(end) if end < len(items) else None}


def _aws_shaped_group(self: Any) -> dict[str, Any]:
    return _prune({
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


codedeploy_models.DeploymentGroup.to_dict = _aws_shaped_group


def _list_applications(self: Any) -> str:
    page = _page(sorted(self.codedeploy_backend.applications), self._get_param("nextToken"))
    return json.dumps(_prune({"applications": page["items"], "nextToken": page["nextToken"]}))


def _list_deployment_groups(self: Any) -> str:
    app = self._get_param("applicationName")
    self.codedeploy_backend.get_application(app)  # ApplicationDoesNotExistException as AWS
    names = sorted(self.codedeploy_backend.deployment_groups.get(app, {}))
    page = _page(names, self._get_param("nextToken"))
    return json.dumps(_prune({"applicationName": app, "deploymentGroups": page["items"], "nextToken": page["nextToken"]}))


def _batch_get_deployment_groups(self: Any) -> str:
    app = self._get_param("applicationName")
    names = self._get_param("deploymentGroupNames") or []
    if len(names) > 100:
        raise JsonRESTError("BatchLimitExceededException", "The maximum number of names or IDs allowed for this request (100) was exceeded.")
    self.codedeploy_backend.get_application(app)
    groups = self.codedeploy_backend.deployment_groups.get(app, {})
    found = [groups[n].to_dict() for n in names if n in groups]
    unknown = [n for n in names if n not in groups]
    answer: dict[str, Any] = {"deploymentGroupsInfo": found}
    if unknown:
        answer["errorMessage"] = "Deployment groups not found: " + ", ".join(unknown)
    return json.dumps(answer)


def _batch_get_deployments(self: Any) -> str:
    ids = self._get_param("deploymentIds") or []
    if len(ids) > 25:
        raise JsonRESTError("BatchLimitExceededException", "The maximum number of names or IDs allowed for this request (25) was exceeded.")
    found = [self.codedeploy_backend.deployments[i].to_dict() for i in ids if i in self.codedeploy_backend.deployments]
    return json.dumps({"deploymentsInfo": found})


def _list_deployments(self: Any) -> str:
    app = self._get_param("applicationName")
    group = self._get_param("deploymentGroupName")
    statuses = self._get_param("includeOnlyStatuses") or []
    time_range = self._get_param("createTimeRange") or {}
    start, end = time_range.get("start"), time_range.get("end")
    ids = []
    for d in self.codedeploy_backend.deployments.values():
        created = _epoch(d.create_time) or 0.0
        if (app and d.application_name != app) or (group and d.deployment_group_name != group):
            continue
        if statuses and d.status not in statuses:
            continue
        if (start is not None and created < float(start)) or (end is not None and created > float(end)):
            continue
        ids.append(d.deployment_id)
    page = _page(ids, self._get_param("nextToken"))
    return json.dumps(_prune({"deployments": page["items"], "nextToken": page["nextToken"]}))


from moto.codedeploy.responses import CodeDeployResponse  # noqa: E402

CodeDeployResponse.list_applications = _list_applications
CodeDeployResponse.list_deployment_groups = _list_deployment_groups
CodeDeployResponse.batch_get_deployment_groups = _batch_get_deployment_groups
CodeDeployResponse.list_deployments = _list_deployments
CodeDeployResponse.batch_get_deployments = _batch_get_deployments


def _codedeploy_backend() -> Any:
    return codedeploy_models.codedeploy_backends[DEFAULT_ACCOUNT_ID][REGION]


def _autoscaling_backend() -> Any:
    return autoscaling_models.autoscaling_backends[DEFAULT_ACCOUNT_ID][REGION]


# --- 3. request log ---------------------------------------------------------------------------

class RequestLog:
    """WSGI middleware counting requests per service:Action, except the harness's own, and
    answering injected faults: the next N requests for an action get an AWS error instead."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.faults: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def inject(self, action: str, status: int, code: str, message: str, times: int) -> None:
        with self.lock:
            self.faults.setdefault(action, []).extend(
                [{"status": status, "code": code, "message": message}] * times
            )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if "Credential=" in auth and f"Credential={HARNESS_KEY}/" not in auth:
            # Credential=KEY/DATE/REGION/SERVICE/aws4_request
            scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
            service = scope[3] if len(scope) > 3 else "?"
            action = self._action(environ)
            with self.lock:
                self.counts[f"{service}:{action}"] += 1
                pending = self.faults.get(action)
                fault = pending.pop(0) if pending else None
            if fault:
                return self._error(environ, start_response, fault)
        return self.app(environ, start_response)

    @staticmethod
    def _error(environ: dict[str, Any], start_response: Any, fault: dict[str, Any]) -> list[bytes]:
        reason = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}
        status = f"{fault['status']} {reason.get(fault['status'], 'Error')}"
        if environ.get("HTTP_X_AMZ_TARGET"):  # JSON protocol (CodeDeploy)
            body = json.dumps({"__type": fault["code"], "message": fault["message"]}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", fault["code"])]
        else:  # query protocol (Auto Scaling, Elastic Load Balancing)
            body = (
                "<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{fault['code']}</Code><Message>{fault['message']}</Message>"
                "</Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
            ).encode()
            headers = [("Content-Type", "text/xml")]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _action(environ: dict[str, Any]) -> str:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return target.rsplit(".", 1)[-1]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # let moto read it again
        params = parse_qs(environ.get("QUERY_STRING", "")) | parse_qs(body.decode("utf-8", "replace"))
        return params.get("Action", ["?"])[0]

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(sorted(self.counts.items()))

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


class Emulator:
    """moto's server with the corrections above, on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self.log = RequestLog(DomainDispatcherApplication(create_backend_app))
        self.server = make_server("127.0.0.1", 0, self.log, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stops the server and forgets every resource (moto's state is per process, not per server)."""
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).read()
        self.server.shutdown()


# --- 2. the world and CodeDeploy's part -----------------------------------------------------

def new_deployment_id() -> str:
    return "d-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))


class World:
    """Builds blue/green worlds through the AWS APIs and plays CodeDeploy's part."""

    def __init__(self, endpoint: str) -> None:
        session = boto3.session.Session(
            aws_access_key_id=HARNESS_KEY, aws_secret_access_key=HARNESS_KEY, region_name=REGION
        )
        config = BotoConfig(retries={"max_attempts": 1})
        client = lambda name: session.client(name, endpoint_url=endpoint, config=config)  # noqa: E731
        self.ec2 = client("ec2")
        self.elbv2 = client("elbv2")
        self.elb = client("elb")
        self.autoscaling = client("autoscaling")
        self.codedeploy = client("codedeploy")
        self._network: dict[str, Any] | None = None

    def network(self) -> dict[str, Any]:
        if self._network is None:
            vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                # /18: room for the instances of hundreds of groups (benchmarks build 300).
                self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i * 64}.0/18", AvailabilityZone=f"{REGION}{az}")[
                    "Subnet"
                ]["SubnetId"]
                for i, az in enumerate("ab")
            ]
            image = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            self._network = {"vpc": vpc, "subnets": subnets, "image": image}
        return self._network

    def build(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Builds one deployment group's world and its deployment. See `serve` for the spec."""
        app = spec.get("application", "web")
        group = spec.get("deployment_group", "web-bg")
        deployment_id = spec.get("deployment_id") or new_deployment_id()
        net = self.network()
        prefix = group[:20]

        template = f"{prefix}-lt"
        self.ec2.create_launch_template(
            LaunchTemplateName=template,
            LaunchTemplateData={"ImageId": net["image"], "InstanceType": "t3.micro"},
        )
        alb = self.elbv2.create_load_balancer(Name=f"{prefix}-alb", Subnets=net["subnets"], Type="application")[
            "LoadBalancers"
        ][0]["LoadBalancerArn"]
        target_groups: dict[str, str] = {}
        for i in range(spec.get("target_groups", 1)):
            name = f"{prefix}-tg-{i + 1}"
            target_groups[name] = self.elbv2.create_target_group(
                Name=name, Protocol="HTTP", Port=80, VpcId=net["vpc"], TargetType="instance"
            )["TargetGroups"][0]["TargetGroupArn"]
        if target_groups:
            self.elbv2.create_listener(
                LoadBalancerArn=alb,
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": next(iter(target_groups.values()))}],
            )
        extra = []
        if spec.get("extra_target_group"):
            # Attached to the original group but not listed in the deployment group.
            extra.append(self.elbv2.create_target_group(
                Name=f"{prefix}-legacy", Protocol="HTTP", Port=8080, VpcId=net["vpc"], TargetType="instance"
            )["TargetGroups"][0]["TargetGroupArn"])
        load_balancers = []
        for i in range(spec.get("classic_load_balancers", 0)):
            name = f"{prefix}-clb-{i + 1}"
            self.elb.create_load_balancer(
                LoadBalancerName=name,
                Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
                Subnets=net["subnets"],
            )
            load_balancers.append(name)

        original = f"{prefix}-asg"
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=original,
            LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
            MinSize=1,
            MaxSize=4,
            DesiredCapacity=2,
            VPCZoneIdentifier=",".join(net["subnets"]),
            HealthCheckType="ELB",
            HealthCheckGracePeriod=300,
        )
        # Attach in batches, as AWS limits each call to 10.
        tg_arns = list(target_groups.values())
        for i in range(0, len(tg_arns), MAX_ATTACH_PER_CALL):
            self.autoscaling.attach_load_balancer_target_groups(
                AutoScalingGroupName=original, TargetGroupARNs=tg_arns[i : i + MAX_ATTACH_PER_CALL]
            )
        if load_balancers:
            self.autoscaling.attach_load_balancers(AutoScalingGroupName=original, LoadBalancerNames=load_balancers)
        if extra:
            self.autoscaling.attach_load_balancer_target_groups(AutoScalingGroupName=original, TargetGroupARNs=extra)

        platform = spec.get("compute_platform", "Server")
        try:
            self.codedeploy.create_application(applicationName=app, computePlatform=platform)
        except self.codedeploy.exceptions.ApplicationAlreadyExistsException:
            pass
        style = {
            "deploymentType": spec.get("deployment_type", "BLUE_GREEN"),
            "deploymentOption": spec.get("deployment_option", "WITH_TRAFFIC_CONTROL"),
        }
        group_args: dict[str, Any] = {
            "applicationName": app,
            "deploymentGroupName": group,
            "serviceRoleArn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/CodeDeployServiceRole",
            "autoScalingGroups": [original],
            "deploymentStyle": style,
        }
        if style["deploymentType"] == "BLUE_GREEN":
            group_args["blueGreenDeploymentConfiguration"] = {
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": 60,
                },
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
                "greenFleetProvisioningOption": {"action": spec.get("green_fleet", "COPY_AUTO_SCALING_GROUP")},
            }
        if spec.get("load_balancer_info", True) and (target_groups or load_balancers):
            info: dict[str, Any] = {}
            if target_groups:
                info["targetGroupInfoList"] = [{"name": n} for n in target_groups]
            if load_balancers:
                info["elbInfoList"] = [{"name": n} for n in load_balancers]
            group_args["loadBalancerInfo"] = info
        self.codedeploy.create_deployment_group(**group_args)
        moto_id = self.codedeploy.create_deployment(
            applicationName=app,
            deploymentGroupName=group,
            revision={
                "revisionType": "S3",
                "s3Location": {"bucket": "releases", "key": f"{app}.zip", "bundleType": "zip"},
            },
        )["deploymentId"]
        backend = _codedeploy_backend()
        deployment = backend.deployments.pop(moto_id)
        deployment.deployment_id = deployment_id
        backend.deployments[deployment_id] = deployment

        replacement = f"CodeDeploy_{group}_{deployment_id}"
        copied = style["deploymentType"] == "BLUE_GREEN" and spec.get("green_fleet", "COPY_AUTO_SCALING_GROUP") == "COPY_AUTO_SCALING_GROUP"
        world = {
            "application": app,
            "deployment_group": group,
            "deployment_id": deployment_id,
            "original_group": original,
            "replacement_group": replacement if copied else None,
            "target_groups": target_groups,
            "load_balancers": load_balancers,
        }
        if copied and spec.get("replacement", "copied") != "none":
            self.copy_group(original, replacement)
            if spec.get("linked"):
                self.link(replacement, tg_arns, load_balancers)
                self.unlink(replacement, [target_groups[n] for n in spec.get("unlinked", []) if n in target_groups],
                            [n for n in spec.get("unlinked", []) if n in load_balancers])
            if spec.get("replacement") == "deleted":
                self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=replacement, ForceDelete=True)
            elif spec.get("replacement") == "deleting":
                _autoscaling_backend().autoscaling_groups[replacement].status = "Delete in progress"
        self.set_state(
            deployment_id,
            status=spec.get("status", "Succeeded"),
            traffic_shifted=spec.get("traffic_shifted", spec.get("status", "Succeeded") == "Succeeded"),
            target_groups=[replacement] if copied else [],
        )
        if "created_hours_ago" in spec:
            self.backdate(deployment_id, float(spec["created_hours_ago"]))
        return world

    def copy_group(self, original: str, replacement: str) -> None:
        """What CodeDeploy does: the same launch template, capacity and subnets, and no load
        balancer attachments."""
        source = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[original])[
            "AutoScalingGroups"
        ][0]
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=replacement,
            LaunchTemplate={
                "LaunchTemplateName": source["LaunchTemplate"]["LaunchTemplateName"],
                "Version": source["LaunchTemplate"]["Version"],
            },
            MinSize=source["MinSize"],
            MaxSize=source["MaxSize"],
            DesiredCapacity=source["DesiredCapacity"],
            VPCZoneIdentifier=source["VPCZoneIdentifier"],
            HealthCheckType=source["HealthCheckType"],
            HealthCheckGracePeriod=source["HealthCheckGracePeriod"],
        )

    def link(self, group: str, target_group_arns: list[str], load_balancers: list[str]) -> None:
        for i in range(0, len(target_group_arns), MAX_ATTACH_PER_CALL):
            self.autoscaling.attach_load_balancer_target_groups(
                AutoScalingGroupName=group, TargetGroupARNs=target_group_arns[i : i + MAX_ATTACH_PER_CALL]
            )
        if load_balancers:
            self.autoscaling.attach_load_balancers(AutoScalingGroupName=group, LoadBalancerNames=load_balancers)

    def unlink(self, group: str, target_group_arns: list[str], load_balancers: list[str]) -> None:
        """Drift for the audit to find (the harness detaches; relink never does)."""
        if target_group_arns:
            self.autoscaling.detach_load_balancer_target_groups(AutoScalingGroupName=group, TargetGroupARNs=target_group_arns)
        if load_balancers:
            self.autoscaling.detach_load_balancers(AutoScalingGroupName=group, LoadBalancerNames=load_balancers)

    @staticmethod
    def set_state(deployment_id: str, status: str, traffic_shifted: bool, target_groups: list[str]) -> None:
        """Moves a deployment to a status, as CodeDeploy would report it. On success with a copied
        fleet, CodeDeploy also points the deployment group at the replacement group and deletes the
        original group."""
        deployment = _codedeploy_backend().deployments[deployment_id]
        deployment.status = status
        deployment.instance_termination_wait_time_started = traffic_shifted
        deployment.target_instances = {"autoScalingGroups": target_groups} if target_groups else None
        if status in ("Succeeded", "Failed", "Stopped"):
            deployment.complete_time = datetime.datetime.now(datetime.timezone.utc).isoformat()
        group = deployment.deployment_group
        if status == "Succeeded" and target_groups and group.auto_scaling_groups != target_groups:
            autoscaling = _autoscaling_backend()
            for retired in group.auto_scaling_groups:
                if retired in autoscaling.autoscaling_groups and retired not in target_groups:
                    autoscaling.delete_auto_scaling_group(retired)
            group.auto_scaling_groups = list(target_groups)

    @staticmethod
    def backdate(deployment_id: str, hours: float) -> None:
        """Makes a deployment look created `hours` ago."""
        created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
        _codedeploy_backend().deployments[deployment_id].create_time = created.isoformat()

    def group(self, name: str) -> dict[str, Any]:
        """A group's attachments as DescribeAutoScalingGroups reports them."""
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        if not groups:
            return {"exists": False}
        g = groups[0]
        return {
            "exists": True,
            "target_group_arns": g.get("TargetGroupARNs", []),
            "load_balancer_names": g.get("LoadBalancerNames", []),
            "desired_capacity": g.get("DesiredCapacity"),
            "launch_template": g.get("LaunchTemplate", {}).get("LaunchTemplateName"),
        }


# --- modes -----------------------------------------------------------------------------------

def serve() -> int:
    """JSON-line protocol on stdin/stdout. Commands:
    {"op": "build", "spec": {...}}          -> the world (names, ARNs, deployment id)
    {"op": "group", "name": "..."}          -> the group's attachments
    {"op": "set_state", "deployment_id": ..., "status": ..., "traffic_shifted": bool, "target_groups": [...]}
    {"op": "delete_target_group", "name": "..."}
    {"op": "fail", "action": "AttachLoadBalancers", "status": 403, "code": "AccessDenied", "times": 1}
    {"op": "requests"} / {"op": "reset_requests"}
    Spec keys (all optional): application, deployment_group, deployment_id, target_groups (count),
    classic_load_balancers (count), compute_platform, deployment_type, deployment_option,
    green_fleet, load_balancer_info (bool), status, traffic_shifted, replacement
    (copied | none | deleted | deleting), linked (bool), unlinked (names detached again after
    linking), extra_target_group (bool: one more on the original group only), created_hours_ago.
    """
    emulator = Emulator()
    world = World(emulator.endpoint)
    print(json.dumps({"endpoint": emulator.endpoint}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            op = command["op"]
            if op == "build":
                result: Any = world.build(command.get("spec", {}))
            elif op == "group":
                result = world.group(command["name"])
            elif op == "set_state":
                world.set_state(
                    command["deployment_id"], command["status"], command["traffic_shifted"], command["target_groups"]
                )
                result = None
            elif op == "delete_target_group":
                arn = world.elbv2.describe_target_groups(Names=[command["name"]])["TargetGroups"][0]["TargetGroupArn"]
                world.elbv2.delete_target_group(TargetGroupArn=arn)
                result = None
            elif op == "fail":
                emulator.log.inject(
                    command["action"], int(command.get("status", 403)), command.get("code", "AccessDenied"),
                    command.get("message", "injected by the test"), int(command.get("times", 1)),
                )
                result = None
            elif op == "requests":
                result = emulator.log.snapshot()
            elif op == "reset_requests":
                emulator.log.reset()
                result = None
            else:
                raise ValueError(f"unknown op {op!r}")
            print(json.dumps({"ok": True, "result": result}), flush=True)
        except Exception as error:  # report every failure to the test, which fails with it
            print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}), flush=True)
    emulator.stop()
    return 0


def demo(relink: str, event: str) -> int:
    """The whole blue/green story, told on the terminal."""
    emulator = Emulator()
    world = World(emulator.endpoint)
    say = lambda text: print(f"\n\033[1m== {text}\033[0m", flush=True)  # noqa: E731
    with open(event) as f:
        message = json.loads(json.load(f)["Records"][0]["Sns"]["Message"])

    say(f"AWS emulator (moto) on {emulator.endpoint}")
    say(f"Building the blue fleet: VPC, ALB with 2 target groups, a classic load balancer, group web-bg-asg")
    built = world.build({
        "application": message["applicationName"],
        "deployment_group": message["deploymentGroupName"],
        "deployment_id": message["deploymentId"],
        "target_groups": 2,
        "classic_load_balancers": 1,
        "status": "InProgress",
        "traffic_shifted": False,
    })
    show = lambda name: print(json.dumps({name: world.group(name)}, indent=2))  # noqa: E731
    show(built["original_group"])
    say(f"CodeDeploy's part: deployment {built['deployment_id']} copied the group into {built['replacement_group']}, "
        "without its load balancer attachments")
    show(built["replacement_group"])
    say("CodeDeploy finishes the deployment: traffic on the copy, the original group retired, status Succeeded")
    world.set_state(built["deployment_id"], "Succeeded", True, [built["replacement_group"]])

    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_ACCESS_KEY_ID": "relink",
        "AWS_SECRET_ACCESS_KEY": "relink",
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    for label, extra in (("the DeploymentSuccess SNS notification", []),
                         ("the same notification again (duplicate delivery)", [])):
        say(f"relink replay {event}: {label}")
        emulator.log.reset()
        code = subprocess.run([relink, "replay", event, *extra], env=env).returncode
        print(f"AWS requests made by relink: {json.dumps(emulator.log.snapshot())}")
        if code != 0:
            print(f"relink exited with {code}", file=sys.stderr)
            return code
    say("The replacement group after relink")
    after = world.group(built["replacement_group"])
    print(json.dumps({built["replacement_group"]: after}, indent=2))
    emulator.stop()
    expected = set(built["target_groups"].values())
    if set(after["target_group_arns"]) != expected or after["load_balancer_names"] != built["load_balancers"]:
        print("demo failed: the replacement group is not linked as expected", file=sys.stderr)
        return 1
    say("Done: the replacement group is attached to every target group and load balancer of the deployment group")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("serve")
    demo_parser = sub.add_parser("demo")
    demo_parser.add_argument("--relink", required=True, help="path to the relink binary")
    demo_parser.add_argument("--event", required=True, help="the SNS sample event to replay")
    args = parser.parse_args()
    if args.mode == "serve":
        return serve()
    return demo(args.relink, args.event)


if __name__ == "__main__":
    sys.exit(main())
