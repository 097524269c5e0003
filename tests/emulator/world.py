"""Blue/green worlds built through the AWS APIs, and CodeDeploy's part, which moto does not play.

A world is one CodeDeploy deployment group: a VPC, an ALB with target groups, classic load
balancers, the original Auto Scaling group attached to them (its instances registered), the
application and deployment group. Deployments on it are made one after another (d1, d2, …) with
``deploy``; each does what CodeDeploy's EC2 blue/green deployments with a copied fleet do:

1. copy the group the deployment group names into ``CodeDeploy_<group>_<deploymentId>``, with
   the same launch template, capacity and subnets and without its load balancer attachments;
2. move traffic (when the deployment's status or ``traffic_shifted`` says so): register the
   copy's instances with every target group and classic load balancer of the deployment group
   (AllowTraffic), then deregister the original's, which drain (reported as draining until the
   deployment ends) (BlockTraffic). ``traffic_shifted: "half"`` stops after AllowTraffic: both
   fleets are registered, as in the middle of a real shift;
   ``instanceTerminationWaitTimeStarted`` turns true with ``TERMINATE`` and stays false with
   ``KEEP_ALIVE``, as documented;
3. on success: point the deployment group at the copy and delete the original group
   (``TERMINATE``), or keep it running, deregistered (``KEEP_ALIVE``);
4. on failure after the move: move traffic back to the original (unless ``rollback`` is false).

Instances that terminate (``scale`` down, ``replace``) are deregistered from every load balancer,
as Elastic Load Balancing does.
"""

from __future__ import annotations

import datetime
import json
import random
import string
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from moto.autoscaling import models as autoscaling_models
from moto.codedeploy import models as codedeploy_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.elb import models as elb_models
from moto.elbv2 import models as elbv2_models
from moto.sqs import models as sqs_models

import moto_fixes
from moto_fixes import DRAINING, MAX_ATTACH_PER_CALL
from request_log import HARNESS_KEY

REGION = "us-east-1"
ENDED = ("Succeeded", "Failed", "Stopped")


def new_deployment_id() -> str:
    return "d-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))


class World:
    """Builds blue/green worlds through the AWS APIs and plays CodeDeploy's part."""

    def __init__(self, endpoint: str, account: str = DEFAULT_ACCOUNT_ID, region: str = REGION) -> None:
        """The world of one account and region: the harness's requests name the account in moto's
        ``x-moto-account-id`` header."""
        self.account, self.region = account, region
        session = boto3.session.Session(
            aws_access_key_id=HARNESS_KEY, aws_secret_access_key=HARNESS_KEY, region_name=region
        )
        session.events.register("before-sign", self._name_account)
        config = BotoConfig(retries={"max_attempts": 1})
        client = lambda name: session.client(name, endpoint_url=endpoint, config=config)  # noqa: E731
        self.ec2 = client("ec2")
        self.elbv2 = client("elbv2")
        self.elb = client("elb")
        self.autoscaling = client("autoscaling")
        self.codedeploy = client("codedeploy")
        self.sqs = client("sqs")
        self.iam = client("iam")
        self.organizations = client("organizations")
        self._network: dict[str, Any] | None = None
        self.stories: dict[str, Any] = {}  # per deployment group, the deployment a walk steps through (lifecycle.py)
        self.shifted: set[str] = set()  # deployments whose traffic is on their copy
        self.half: set[str] = set()  # deployments whose shift stopped after AllowTraffic

    def _name_account(self, request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = self.account

    # moto's backends of this world's account and region, for what no AWS API does.
    def codedeploy_backend(self) -> Any:
        return codedeploy_models.codedeploy_backends[self.account][self.region]

    def autoscaling_backend(self) -> Any:
        return autoscaling_models.autoscaling_backends[self.account][self.region]

    def elb_backend(self) -> Any:
        return elb_models.elb_backends[self.account][self.region]

    def sqs_backend(self) -> Any:
        return sqs_models.sqs_backends[self.account][self.region]

    def elbv2_backend(self) -> Any:
        return elbv2_models.elbv2_backends[self.account][self.region]

    def role(self, name: str, external_id: str | None = None) -> str:
        """An IAM role in this world's account that the default account may assume (with the
        external id when given) -> its ARN."""
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"},
            "Action": "sts:AssumeRole",
        }
        if external_id is not None:
            statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
        policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy)["Role"]["Arn"]

    def organization(self, members: int) -> list[str]:
        """An organization whose management account is this world's, with `members` new accounts
        -> their ids."""
        self.organizations.create_organization(FeatureSet="ALL")
        return [
            self.organizations.create_account(AccountName=f"member-{i}", Email=f"member-{i}@example.com")[
                "CreateAccountStatus"
            ]["AccountId"]
            for i in range(1, members + 1)
        ]

    def network(self) -> dict[str, Any]:
        if self._network is None:
            vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                # /18: room for the instances of hundreds of groups (benchmarks build 300).
                self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i * 64}.0/18", AvailabilityZone=f"{self.region}{az}")[
                    "Subnet"
                ]["SubnetId"]
                for i, az in enumerate("ab")
            ]
            image = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
            self._network = {"vpc": vpc, "subnets": subnets, "image": image}
        return self._network

    # --- the deployment group -----------------------------------------------------------------

    def build(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Builds one deployment group's world and its first deployment. See ``serve`` for the spec."""
        app = spec.get("application", "web")
        group = spec.get("deployment_group", "web-bg")
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
            MinSize=0,
            MaxSize=max(6, spec.get("capacity", 2)),
            DesiredCapacity=spec.get("capacity", 2),
            VPCZoneIdentifier=",".join(net["subnets"]),
            HealthCheckType="ELB",
            HealthCheckGracePeriod=300,
        )
        self.link(original, list(target_groups.values()) + extra, load_balancers)

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
            "serviceRoleArn": f"arn:aws:iam::{self.account}:role/CodeDeployServiceRole",
            "autoScalingGroups": [original],
            "deploymentStyle": style,
        }
        if style["deploymentType"] == "BLUE_GREEN":
            group_args["blueGreenDeploymentConfiguration"] = {
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": spec.get("termination", "TERMINATE"),
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

        world = {
            "application": app,
            "deployment_group": group,
            "original_group": original,
            "target_groups": target_groups,
            "load_balancers": load_balancers,
        }
        if spec.get("deploy", True):
            world.update(self.deploy({**spec, "application": app, "deployment_group": group}))
        return world

    # --- CodeDeploy's part --------------------------------------------------------------------

    def deploy(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A new deployment on an existing deployment group, copying the group it names now.
        Spec: application, deployment_group, deployment_id, status (default Succeeded),
        traffic_shifted (default: status is Succeeded), replacement (copied | none | deleted |
        deleting), linked, unlinked, created_hours_ago, creator."""
        app = spec.get("application", "web")
        group = spec.get("deployment_group", "web-bg")
        deployment_id = spec.get("deployment_id") or new_deployment_id()
        dg = self.codedeploy_backend().deployment_groups[app][group]
        current = dg.auto_scaling_groups[0]
        moto_id = self.codedeploy.create_deployment(
            applicationName=app,
            deploymentGroupName=group,
            revision={
                "revisionType": "S3",
                "s3Location": {"bucket": "releases", "key": f"{app}-{deployment_id}.zip", "bundleType": "zip"},
            },
        )["deploymentId"]
        backend = self.codedeploy_backend()
        deployment = backend.deployments.pop(moto_id)
        deployment.deployment_id = deployment_id
        backend.deployments[deployment_id] = deployment

        style = dg.deployment_style or {}
        green = (dg.blue_green_deployment_configuration or {}).get("greenFleetProvisioningOption", {})
        copied = style.get("deploymentType") == "BLUE_GREEN" and green.get("action") == "COPY_AUTO_SCALING_GROUP"
        replacement = f"CodeDeploy_{group}_{deployment_id}"
        target_groups, load_balancers = self.load_balancers_of(dg)
        if copied and spec.get("replacement", "copied") != "none":
            self.copy_group(current, replacement)
        status = spec.get("status", "Succeeded")
        self.set_state(
            deployment_id,
            status=status,
            traffic_shifted=spec.get("traffic_shifted", status == "Succeeded"),
            # CodeDeploy lists the replacement group once it has created it.
            target_groups=[replacement] if copied and spec.get("replacement", "copied") != "none" else [],
        )
        if copied and spec.get("replacement", "copied") == "copied" and spec.get("linked"):
            unlinked = set(spec.get("unlinked", []))
            arns = [arn for name, arn in target_groups.items() if name not in unlinked]
            self.link(replacement, arns, [n for n in load_balancers if n not in unlinked])
        if spec.get("replacement") == "deleted":
            self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=replacement, ForceDelete=True)
        elif spec.get("replacement") == "deleting":
            self.autoscaling_backend().autoscaling_groups[replacement].status = "Delete in progress"
        if "created_hours_ago" in spec:
            self.backdate(deployment_id, float(spec["created_hours_ago"]))
        if "creator" in spec:
            self.codedeploy_backend().deployments[deployment_id].creator = spec["creator"]
        return {
            "deployment_id": deployment_id,
            "replacement_group": replacement if copied else None,
            "replaced_group": current,
        }

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

    def set_state(
        self, deployment_id: str, status: str, traffic_shifted: bool | str, target_groups: list[str],
        rollback: bool = True,
    ) -> None:
        """Moves a deployment to a status, as CodeDeploy would, moving traffic when it moves
        (``traffic_shifted: "half"``: AllowTraffic only)."""
        deployment = self.codedeploy_backend().deployments[deployment_id]
        deployment.target_instances = {"autoScalingGroups": target_groups} if target_groups else None
        deployment.status = status
        if target_groups and (traffic_shifted or status == "Succeeded") and status not in ("Failed", "Stopped"):
            self.shift_traffic(deployment, half=traffic_shifted == "half" and status != "Succeeded")
        if status in ENDED:
            deployment.complete_time = datetime.datetime.now(datetime.timezone.utc).isoformat()
        if status == "Succeeded" and target_groups:
            self.succeed(deployment)
        elif status in ("Failed", "Stopped") and deployment_id in self.shifted and rollback:
            self.roll_back(deployment)

    def shift_traffic(self, deployment: Any, half: bool = False) -> None:
        """AllowTraffic on the copy, then (unless ``half``) BlockTraffic on the groups the
        deployment group names."""
        if deployment.deployment_id in self.shifted:
            return
        dg = deployment.deployment_group
        copy = deployment.target_instances["autoScalingGroups"][0]
        if not self.group(copy)["exists"]:
            return
        if half:
            self.move_traffic(dg, to=copy, away_from=[])
            self.half.add(deployment.deployment_id)
            return
        originals = [g for g in dg.auto_scaling_groups if g != copy]
        moto_fixes.targets(deployment.deployment_id, "Blue", [i for g in originals for i in self.instances(g)],
                           "Succeeded")
        moto_fixes.targets(deployment.deployment_id, "Green", self.instances(copy), "Succeeded")
        self.move_traffic(dg, to=copy, away_from=originals)
        self.half.discard(deployment.deployment_id)
        self.shifted.add(deployment.deployment_id)
        deployment.instance_termination_wait_time_started = self.termination_action(dg) == "TERMINATE"

    def succeed(self, deployment: Any) -> None:
        """The deployment group names the copy; the originals end their deregistration and are
        deleted (TERMINATE) or kept running (KEEP_ALIVE)."""
        dg = deployment.deployment_group
        copy = deployment.target_instances["autoScalingGroups"][0]
        originals = [g for g in dg.auto_scaling_groups if g != copy]
        for original in originals:
            ids = set(self.instances(original))
            for key in DRAINING:
                DRAINING[key] -= ids
            if self.termination_action(dg) == "TERMINATE" and self.group(original)["exists"]:
                self.autoscaling_backend().delete_auto_scaling_group(original)
        dg.auto_scaling_groups = [copy]
        deployment.instance_termination_wait_time_started = False

    def roll_back(self, deployment: Any) -> None:
        dg = deployment.deployment_group
        copy = deployment.target_instances["autoScalingGroups"][0]
        originals = [g for g in dg.auto_scaling_groups if g != copy]
        if originals and self.group(copy)["exists"]:
            self.move_traffic(dg, to=originals[0], away_from=[copy])
        self.shifted.discard(deployment.deployment_id)

    def move_traffic(self, dg: Any, to: str, away_from: list[str]) -> None:
        target_groups, load_balancers = self.load_balancers_of(dg)
        incoming = self.instances(to)
        for arn in target_groups.values():
            if incoming:
                self.elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in incoming])
            DRAINING.setdefault(arn, set()).difference_update(incoming)
        for name in load_balancers:
            if incoming:
                self.elb.register_instances_with_load_balancer(
                    LoadBalancerName=name, Instances=[{"InstanceId": i} for i in incoming]
                )
            DRAINING.setdefault(name, set()).difference_update(incoming)
        for group in away_from:
            self.deregister(group, list(target_groups.values()), load_balancers)

    def deregister(self, group: str, target_group_arns: list[str], load_balancers: list[str]) -> None:
        """Deregisters a group's instances; they drain until the deployment ends."""
        outgoing = set(self.instances(group))
        for arn in target_group_arns:
            health = self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            registered = {h["Target"]["Id"] for h in health if h["TargetHealth"]["State"] != "draining"}
            leaving = sorted(outgoing & registered)
            if leaving:
                self.elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in leaving])
                DRAINING.setdefault(arn, set()).update(leaving)
        for name in load_balancers:
            elb = self.elb_backend().get_load_balancer(name)
            leaving = outgoing & set(elb.instance_ids)
            for attr in ("instance_sparse_ids", "instance_autoscaling_ids"):
                setattr(elb, attr, [i for i in getattr(elb, attr) if i not in leaving])
            DRAINING.setdefault(name, set()).update(leaving)

    @staticmethod
    def termination_action(dg: Any) -> str:
        config = dg.blue_green_deployment_configuration or {}
        return config.get("terminateBlueInstancesOnDeploymentSuccess", {}).get("action", "TERMINATE")

    def load_balancers_of(self, dg: Any) -> tuple[dict[str, str], list[str]]:
        """The deployment group's target groups (name → ARN) and classic load balancer names."""
        info = dg.load_balancer_info or {}
        names = [t["name"] for t in info.get("targetGroupInfoList", [])]
        arns = {}
        for name in names:
            found = self.elbv2.describe_target_groups(Names=[name])["TargetGroups"]
            if found:
                arns[name] = found[0]["TargetGroupArn"]
        return arns, [e["name"] for e in info.get("elbInfoList", [])]

    # --- what tests and operators do ------------------------------------------------------------

    def link(self, group: str, target_group_arns: list[str], load_balancers: list[str]) -> None:
        """Attaches, in batches of 10 as AWS requires (registers the group's instances)."""
        for i in range(0, len(target_group_arns), MAX_ATTACH_PER_CALL):
            self.autoscaling.attach_load_balancer_target_groups(
                AutoScalingGroupName=group, TargetGroupARNs=target_group_arns[i : i + MAX_ATTACH_PER_CALL]
            )
        if load_balancers:
            self.autoscaling.attach_load_balancers(AutoScalingGroupName=group, LoadBalancerNames=load_balancers)

    def detach(self, group: str, names: list[str]) -> None:
        """An operator takes a group out of target groups or classic load balancers (by name):
        the attachment goes and the group's instances are deregistered."""
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        attached = groups[0].get("TargetGroupARNs", [])
        arns = [a for a in attached if short_name(a) in names]
        clbs = [n for n in groups[0].get("LoadBalancerNames", []) if n in names]
        if arns:
            self.autoscaling.detach_load_balancer_target_groups(AutoScalingGroupName=group, TargetGroupARNs=arns)
        if clbs:
            self.autoscaling.detach_load_balancers(AutoScalingGroupName=group, LoadBalancerNames=clbs)

    def scale(self, group: str, desired: int) -> None:
        """Sets the capacity; instances that terminate leave every load balancer, as with AWS."""
        before = set(self.instances(group))
        self.autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=desired)
        self.forget(before - set(self.instances(group)))

    def replace(self, group: str) -> list[str]:
        """Every instance of the group replaced (scaled to zero and back, or health
        replacements): the new instances are registered only where the group is attached.
        -> the new instance ids."""
        capacity = len(self.instances(group))
        self.scale(group, 0)
        self.scale(group, capacity)
        return self.instances(group)

    def forget(self, terminated: set[str]) -> None:
        """Terminated instances leave every target group and classic load balancer."""
        if not terminated:
            return
        for tg in self.elbv2_backend().target_groups.values():
            for instance in terminated & set(tg.targets):
                del tg.targets[instance]
        for lb in self.elb_backend().load_balancers.values():
            for attr in ("instance_sparse_ids", "instance_autoscaling_ids"):
                setattr(lb, attr, [i for i in getattr(lb, attr) if i not in terminated])
        for key in DRAINING:
            DRAINING[key] -= terminated

    def register(self, group: str, names: list[str]) -> None:
        """An operator registers a group's instances with target groups or classic load
        balancers (by name), without attaching the group."""
        ids = self.instances(group)
        for name in names:
            found = self.elbv2.describe_target_groups()["TargetGroups"]
            arns = [t["TargetGroupArn"] for t in found if t["TargetGroupName"] == name]
            if arns:
                self.elbv2.register_targets(TargetGroupArn=arns[0], Targets=[{"Id": i} for i in ids])
            else:
                self.elb.register_instances_with_load_balancer(
                    LoadBalancerName=name, Instances=[{"InstanceId": i} for i in ids]
                )

    def deregister_from(self, group: str, names: list[str]) -> None:
        """An operator deregisters a group's instances from target groups or classic load
        balancers (by name); they drain."""
        arns = [t["TargetGroupArn"] for t in self.elbv2.describe_target_groups()["TargetGroups"]
                if t["TargetGroupName"] in names]
        self.deregister(group, arns, [n for n in names if n in self.elb_backend().load_balancers])

    def backdate(self, deployment_id: str, hours: float) -> None:
        """Makes a deployment look created `hours` ago."""
        created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
        self.codedeploy_backend().deployments[deployment_id].create_time = created.isoformat()

    def messages(self, url: str) -> list[str]:
        """The bodies of the messages a queue holds, sorted (read from the backend: no receive
        hides or counts them)."""
        queue = self.sqs_backend().queues[url.rstrip("/").rsplit("/", 1)[-1]]
        return sorted(m.body for m in queue._messages)

    def instances(self, group: str) -> list[str]:
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        return [i["InstanceId"] for i in groups[0].get("Instances", [])] if groups else []

    def group(self, name: str) -> dict[str, Any]:
        """A group's attachments as DescribeAutoScalingGroups reports them, and the load balancers
        (target group and classic names) that send traffic to some instance of it."""
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        if not groups:
            return {"exists": False}
        g = groups[0]
        ids = {i["InstanceId"] for i in g.get("Instances", [])}
        return {
            "exists": True,
            "target_group_arns": g.get("TargetGroupARNs", []),
            "load_balancer_names": g.get("LoadBalancerNames", []),
            "desired_capacity": g.get("DesiredCapacity"),
            "launch_template": g.get("LaunchTemplate", {}).get("LaunchTemplateName"),
            "instances": sorted(ids),
            "serving": self.serving(ids),
        }

    def serving(self, ids: set[str]) -> list[str]:
        """Read from the backends (a harness view, not an AWS call): registered, not draining."""
        serving = [tg.name for tg in self.elbv2_backend().target_groups.values() if ids & set(tg.targets)]
        serving += [lb.name for lb in self.elb_backend().load_balancers.values() if ids & set(lb.instance_ids)]
        return sorted(serving)


def short_name(arn: str) -> str:
    return arn.split(":targetgroup/", 1)[-1].split("/", 1)[0]


__all__ = ["World", "REGION", "new_deployment_id", "moto_fixes", "short_name"]
