"""CodeDeploy's EC2 blue/green deployment with a copied fleet, played step by step.

moto keeps CodeDeploy's records but runs no deployment. This module is CodeDeploy's part, written
as the table of steps the user guide describes, driving a small state machine; tests step through
it one step at a time and check the rule between steps. Each step does to the world (Auto Scaling
groups, target groups, classic load balancers, the deployment's record) what CodeDeploy does, and
returns the notifications CodeDeploy sends at that step, as an SNS trigger (the `Message` of an SNS
record) and as an EventBridge event, built from the samples in `events/`.

| step      | what CodeDeploy does                                              | notifications |
|-----------|-------------------------------------------------------------------|---------------|
| provision | copies the fleet the deployment group names into                  | DeploymentStart / START |
|           | `CodeDeploy_<group>_<id>`, without its load balancers; InProgress  |               |
| install   | installs the revision on every replacement instance               | none          |
| ready     | with a ready wait (`STOP_DEPLOYMENT`): status Ready, then resumed  | DeploymentReady, InstanceReady / READY |
| reroute   | one batch at the pace of the deployment configuration (OneAtATime: | InstanceSuccess / SUCCESS per instance |
|           | one instance, HalfAtATime: up to half, AllAtOnce: all): each       | of the batch  |
|           | instance through BeforeAllowTraffic, AllowTraffic (registered with |               |
|           | every load balancer), AfterAllowTraffic. Repeated until all routed |               |
| block     | BlockTraffic: the original instances deregistered (draining)       | InstanceSuccess / SUCCESS per original |
| wait      | the termination wait: `instanceTerminationWaitTimeStarted` turns   | none          |
|           | true with TERMINATE, stays false with KEEP_ALIVE (API model)       |               |
| terminate | TERMINATE: the original group deleted; KEEP_ALIVE: kept, drained   | none          |
| succeed   | Succeeded; the deployment group names the copy                     | DeploymentSuccess / SUCCESS |

Beside the steps: `fail` at any step — a failure, or a stop (a CloudWatch alarm stops the
deployment, status Stopped, "at any point it can still be stopped") — with or without automatic
rollback (a new deployment, creator `codeDeployRollback`, that routes traffic back to the original
instances and blocks the copy's); `scale_out` and `scale_in` of a group, and `replace` (to zero and
back), each launched instance bringing its own `autoscaling` deployment. A story's deployment may
be created hours before the story starts (`created_hours_ago`): older than the look-back.

Assumptions where no primary source says (see ../../../shared/domain.md):
- an `autoscaling` deployment installs the revision and registers the instance nowhere: only an
  attachment of the group does; it sends its own DeploymentSuccess;
- instances a copy launches during the deployment are none of its targets, so CodeDeploy never
  routes traffic to them;
- a rollback leaves the failed copy in place (it is not deleted) and ends with its own
  DeploymentSuccess; without a rollback, traffic stays where the failure left it;
- the deployment group names the copy only at success.

The invariants (``check``) compare the world with what this model knows CodeDeploy did:
I1 no attach registered an instance CodeDeploy had not routed traffic to while it rerouted;
I2 only the fleet CodeDeploy routes traffic to (or will at success) gained attachments;
I3 once rerouting is complete, the serving fleet is linked (checked by the caller's choice of
moment: after a notification that came after the shift, or a sweep); I4 the same after a fleet
scaled to zero and back; I5 once the deployment group is at rest, no copy that CodeDeploy does not
route traffic to holds any of the deployment group's load balancers (after any notification or
sweep); I6 no detach deregistered an instance a load balancer served (checked after every call).
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

from world import World, new_deployment_id
import moto_fixes
from moto_fixes import DRAINING

EVENTS = Path(__file__).resolve().parents[2] / "events"
CONFIGS = ("CodeDeployDefault.OneAtATime", "CodeDeployDefault.HalfAtATime", "CodeDeployDefault.AllAtOnce")
GREEN_HOOKS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
BLUE_HOOKS = ("BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic")


def batch_size(config: str, count: int) -> int:
    """How many replacement instances one reroute step routes (user guide, "Deployment
    configurations": one, up to half, or all)."""
    if config.endswith("OneAtATime"):
        return 1
    if config.endswith("HalfAtATime"):
        return max(1, math.floor(count / 2))
    return max(1, count)


def _sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class Notifier:
    """CodeDeploy's notifications in both forms, from the samples."""

    def __init__(self, world: World, application: str, deployment_group: str) -> None:
        self.world, self.application, self.deployment_group = world, application, deployment_group

    def deployment(self, deployment_id: str, state: str) -> dict[str, Any]:
        """state: START, SUCCESS, FAILURE, READY (EventBridge's words; the SNS trigger's status is
        IN_PROGRESS, SUCCEEDED, FAILED, READY)."""
        sns = _sample("sns-deployment-success.json")
        record = sns["Records"][0]["Sns"]
        message = json.loads(record["Message"])
        status = {"START": "IN_PROGRESS", "SUCCESS": "SUCCEEDED", "FAILURE": "FAILED", "STOP": "STOPPED",
                  "READY": "READY"}[state]
        message.update(
            deploymentId=deployment_id, status=status, applicationName=self.application,
            deploymentGroupName=self.deployment_group, region=self.world.region, accountId=self.world.account,
        )
        record["Message"] = json.dumps(message)
        record["Subject"] = f"{status}: AWS CodeDeploy {deployment_id} in {self.world.region} to {self.application}"
        bridge = _sample("eventbridge-success.json")
        bridge["detail"].update(
            deploymentId=deployment_id, state=state, application=self.application,
            deploymentGroup=self.deployment_group, region=self.world.region,
        )
        return {"what": f"{deployment_id} {state}", "sns": sns, "eventbridge": bridge}

    def instance(self, deployment_id: str, instance: str, hooks: tuple[str, ...], state: str = "SUCCESS") -> dict[str, Any]:
        sns = _sample("sns-instance-success.json")
        record = sns["Records"][0]["Sns"]
        message = json.loads(record["Message"])
        message.update(
            deploymentId=deployment_id,
            instanceId=f"arn:aws:ec2:{self.world.region}:{self.world.account}:instance/{instance}",
            instanceStatus={"SUCCESS": "Succeeded", "READY": "Ready"}[state],
            lifecycleEvents=json.dumps([
                {"LifecycleEvent": h, "LifecycleEventStatus": "Succeeded"} for h in hooks
            ]),
            region=self.world.region, accountId=self.world.account,
        )
        record["Message"] = json.dumps(message)
        bridge = _sample("eventbridge-instance-success.json")
        bridge["detail"].update(
            deploymentId=deployment_id, instanceId=instance, state=state, application=self.application,
            deploymentGroup=self.deployment_group, region=self.world.region,
        )
        return {"what": f"{deployment_id} {instance} {state}", "sns": sns, "eventbridge": bridge}


class BlueGreen:
    """One blue/green deployment of a deployment group, as a state machine over the steps above."""

    def __init__(self, world: World, spec: dict[str, Any]) -> None:
        self.world = world
        self.application = spec.get("application", "web")
        self.deployment_group = spec.get("deployment_group", "web-bg")
        self.config = spec.get("config", CONFIGS[0])
        self.ready_wait = bool(spec.get("ready_wait", False))
        self.notify = Notifier(world, self.application, self.deployment_group)
        dg = self.dg()
        self.original = dg.auto_scaling_groups[0]
        self.termination = World.termination_action(dg)
        self.deployment_id = spec.get("deployment_id") or new_deployment_id()
        self.copy = f"CodeDeploy_{self.deployment_group}_{self.deployment_id}"
        world.deploy({
            "application": self.application, "deployment_group": self.deployment_group,
            "deployment_id": self.deployment_id, "status": "Created", "replacement": "none",
        })
        self.record().deployment_config_name = self.config
        if "created_hours_ago" in spec:
            world.backdate(self.deployment_id, float(spec["created_hours_ago"]))
        self.steps = ["provision", "install"] + (["ready"] if self.ready_wait else []) + ["reroute", "block", "wait", "terminate", "succeed"]
        self.at = 0  # index of the next step
        self.targets: list[str] = []  # the replacement instances CodeDeploy deploys to
        self.routed: set[str] = set()  # instances CodeDeploy has routed traffic to (AllowTraffic)
        self.originals: list[str] = self.world.instances(self.original)
        self.failed = False
        self.rolled_back = False
        self.rollback_id: str | None = None

    # --- the records --------------------------------------------------------------------------

    def dg(self) -> Any:
        return self.world.codedeploy_backend().deployment_groups[self.application][self.deployment_group]

    def record(self, deployment_id: str | None = None) -> Any:
        return self.world.codedeploy_backend().deployments[deployment_id or self.deployment_id]

    def load_balancers(self) -> tuple[list[str], list[str]]:
        target_groups, classic = self.world.load_balancers_of(self.dg())
        return list(target_groups.values()), classic

    # --- where the deployment stands ----------------------------------------------------------

    @property
    def next_step(self) -> str | None:
        if self.failed or self.at >= len(self.steps):
            return None
        return self.steps[self.at]

    def passed(self, step: str) -> bool:
        """Whether `step` has been done."""
        return step in self.steps[: self.at]

    def rerouting_started(self) -> bool:
        return bool(self.routed)

    def rerouting_complete(self) -> bool:
        return self.passed("reroute") and not self.failed

    def succeeded(self) -> bool:
        return self.passed("succeed")

    def at_rest(self) -> bool:
        """Whether none of the deployment group's deployments runs (the story's has ended; its
        rollback, made whole in one step, too)."""
        return self.failed or self.succeeded()

    def fleet(self) -> str | None:
        """The fleet CodeDeploy routes traffic to, or will at success: the copy from the first
        reroute on, the original before it and after a completed rollback; nobody's while a
        failure without rollback (or a rollback in progress) leaves traffic split."""
        if self.failed:
            return self.original if self.rolled_back or not self.rerouting_started() else None
        return self.copy if self.rerouting_started() else self.original

    def state(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id, "copy": self.copy, "original": self.original,
            "next_step": self.next_step, "routed": sorted(self.routed), "fleet": self.fleet(),
            "rerouting_complete": self.rerouting_complete(), "succeeded": self.succeeded(),
            "failed": self.failed, "termination": self.termination, "config": self.config,
            "at_rest": self.at_rest(),
        }

    # --- the steps ------------------------------------------------------------------------------

    def step(self) -> dict[str, Any]:
        """Does the next step -> {"step", "notifications"}."""
        name = self.next_step
        if name is None:
            raise ValueError("the deployment has ended")
        notes = getattr(self, f"_{name}")()
        if name != "reroute" or set(self.targets) <= self.routed:
            self.at += 1
        return {"step": name, "notifications": notes, "state": self.state()}

    def _provision(self) -> list[dict[str, Any]]:
        self.world.copy_group(self.original, self.copy)
        record = self.record()
        record.status = "InProgress"
        record.target_instances = {"autoScalingGroups": [self.copy]}
        self.targets = self.world.instances(self.copy)
        moto_fixes.targets(self.deployment_id, "Blue", self.originals)
        moto_fixes.targets(self.deployment_id, "Green", self.targets)
        return [self.notify.deployment(self.deployment_id, "START")]

    def _install(self) -> list[dict[str, Any]]:
        return []  # ApplicationStop … ValidateService on each target: nothing leaves the instance

    def _ready(self) -> list[dict[str, Any]]:
        self.record().status = "Ready"
        notes = [self.notify.deployment(self.deployment_id, "READY")]
        notes += [self.notify.instance(self.deployment_id, i, (), "READY") for i in self.targets]
        self.record().status = "InProgress"  # ContinueDeployment
        return notes

    def _reroute(self) -> list[dict[str, Any]]:
        alive = set(self.world.instances(self.copy))
        pending = [i for i in self.targets if i not in self.routed and i in alive]
        self.targets = [i for i in self.targets if i in alive]  # scaled in during the shift
        batch = pending[: batch_size(self.config, len(self.targets))]
        self.register(batch)
        self.routed.update(batch)
        moto_fixes.target_status(self.deployment_id, batch, "Succeeded")
        return [self.notify.instance(self.deployment_id, i, GREEN_HOOKS) for i in batch]

    def _block(self) -> list[dict[str, Any]]:
        originals = self.world.instances(self.original)
        self.world.deregister(self.original, *self.load_balancers())
        moto_fixes.target_status(self.deployment_id, originals, "Succeeded")
        return [self.notify.instance(self.deployment_id, i, BLUE_HOOKS) for i in originals]

    def _wait(self) -> list[dict[str, Any]]:
        self.record().instance_termination_wait_time_started = self.termination == "TERMINATE"
        return []

    def _terminate(self) -> list[dict[str, Any]]:
        if self.termination == "TERMINATE":
            gone = set(self.world.instances(self.original))
            self.world.autoscaling_backend().delete_auto_scaling_group(self.original)
            self.world.forget(gone)
        return []

    def _succeed(self) -> list[dict[str, Any]]:
        record = self.record()
        for key in DRAINING:
            DRAINING[key] -= set(self.originals)
        record.status = "Succeeded"
        record.instance_termination_wait_time_started = False
        record.complete_time = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.dg().auto_scaling_groups = [self.copy]
        return [self.notify.deployment(self.deployment_id, "SUCCESS")]

    def register(self, instances: list[str]) -> None:
        """AllowTraffic for `instances`: registered with every load balancer of the group."""
        if not instances:
            return
        target_groups, classic = self.load_balancers()
        for arn in target_groups:
            self.world.elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in instances])
            DRAINING.setdefault(arn, set()).difference_update(instances)
        for name in classic:
            self.world.elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in instances]
            )
            DRAINING.setdefault(name, set()).difference_update(instances)

    # --- what happens beside the steps ----------------------------------------------------------

    def fail(self, rollback: bool, status: str = "Failed") -> dict[str, Any]:
        """The deployment fails (or, `status` Stopped, an alarm stops it) at this point; with
        `rollback`, CodeDeploy's rollback deployment routes traffic back to the original instances
        and blocks the copy's."""
        record = self.record()
        record.status = status
        record.instance_termination_wait_time_started = False
        record.complete_time = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.failed = True
        notes = [self.notify.deployment(self.deployment_id, "STOP" if status == "Stopped" else "FAILURE")]
        if rollback and self.rerouting_started():
            self.rollback_id = new_deployment_id()
            self.world.deploy({
                "application": self.application, "deployment_group": self.deployment_group,
                "deployment_id": self.rollback_id, "status": "InProgress", "replacement": "none",
            })
            back = self.record(self.rollback_id)
            back.creator = "codeDeployRollback"
            back.rollback_info = {"rollbackTriggeringDeploymentId": self.deployment_id}
            notes.append(self.notify.deployment(self.rollback_id, "START"))
            originals = self.world.instances(self.original)
            self.register(originals)
            self.world.deregister(self.copy, *self.load_balancers())
            for instance in originals:
                notes.append(self.notify.instance(self.rollback_id, instance, GREEN_HOOKS))
            back.status = "Succeeded"
            back.complete_time = datetime.datetime.now(datetime.timezone.utc).isoformat()
            notes.append(self.notify.deployment(self.rollback_id, "SUCCESS"))
            self.rolled_back = True
        return {"step": "fail", "notifications": notes, "state": self.state()}

    def scale(self, group: str, change: str) -> dict[str, Any]:
        """`out` (+1), `in` (-1) or `replace` (to zero and back) `group`; every launched instance
        brings an `autoscaling` deployment, which registers it nowhere."""
        before = set(self.world.instances(group))
        if change == "replace":
            launched = set(self.world.replace(group))
        else:
            self.world.scale(group, len(before) + (1 if change == "out" else -1))
            launched = set(self.world.instances(group)) - before
        notes = []
        for instance in sorted(launched):
            scaled = new_deployment_id()
            self.world.deploy({
                "application": self.application, "deployment_group": self.deployment_group,
                "deployment_id": scaled, "status": "Succeeded", "replacement": "none",
            })
            self.record(scaled).creator = "autoscaling"
            notes.append(self.notify.deployment(scaled, "START"))
            notes.append(self.notify.instance(scaled, instance, ("BeforeInstall", "AfterInstall")))
            notes.append(self.notify.deployment(scaled, "SUCCESS"))
        return {"step": f"scale {change} {group}", "notifications": notes, "state": self.state()}

    # --- the invariants ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Every group's attachments and instances now, and the instances each of the deployment
        group's load balancers serves (registered, not draining), for ``check`` after a call."""
        groups = self.world.autoscaling_backend().autoscaling_groups
        snapshot: dict[str, Any] = {
            name: {
                "attached": sorted(list(g.target_group_arns) + list(g.load_balancer_names)),
                "instances": sorted(s.instance.id for s in g.instance_states),
            }
            for name, g in groups.items()
        }
        return {"groups": snapshot, "serving": self.serving()}

    def serving(self) -> dict[str, list[str]]:
        """The instances each of the deployment group's load balancers serves now."""
        target_groups, classic = self.load_balancers()
        serving = {}
        for arn in target_groups:
            tg = self.world.elbv2_backend().target_groups[arn]
            serving[arn] = sorted(set(tg.targets) - DRAINING.get(arn, set()))
        for name in classic:
            lb = self.world.elb_backend().load_balancers[name]
            serving[name] = sorted(set(lb.instance_ids) - DRAINING.get(name, set()))
        return serving

    def check(self, before: dict[str, Any], expect_linked: bool) -> list[str]:
        """The invariants after one call to relink, against the snapshot taken before it."""
        problems = []
        snapshot = self.snapshot()
        now, then = snapshot["groups"], before["groups"]
        for name, group in now.items():
            lost = set(then.get(name, {}).get("attached", [])) - set(group["attached"])
            for lb in sorted(lost):
                removed = sorted(set(then[name]["instances"]) & set(before["serving"].get(lb, [])))
                if removed:
                    problems.append(f"I6: detaching {lb} from {name} deregistered {removed}, which it served")
            gained = set(group["attached"]) - set(then.get(name, {}).get("attached", []))
            if not gained:
                continue
            if name != self.fleet():
                problems.append(f"I2: {name} gained {sorted(gained)} but CodeDeploy's fleet is {self.fleet()}")
            if name == self.copy and not self.passed("block") and not self.failed:
                unrouted = sorted(set(group["instances"]) - self.routed)
                if unrouted:
                    problems.append(
                        f"I1: attaching {sorted(gained)} to {name} while CodeDeploy reroutes registered "
                        f"{unrouted}, which it had not routed traffic to"
                    )
        if expect_linked:
            problems += self.unlinked()
        if self.at_rest():
            problems += self.holding(now, snapshot["serving"])
        return problems

    def holding(self, groups: dict[str, Any], serving: dict[str, list[str]]) -> list[str]:
        """I5: the deployment group's copies that CodeDeploy routes no traffic to and that still
        hold some of its load balancers."""
        problems = []
        prefix = f"CodeDeploy_{self.deployment_group}_"
        lbs = set(serving)
        served = set().union(*map(set, serving.values())) if serving else set()
        for name, group in groups.items():
            held = sorted(set(group["attached"]) & lbs)
            if name.startswith(prefix) and held and not set(group["instances"]) & served:
                problems.append(f"I5: {name} serves nobody at rest and still holds {held}")
        return problems

    def unlinked(self) -> list[str]:
        """I3/I4: the serving fleet holds every load balancer of the deployment group."""
        fleet = self.fleet()
        if fleet is None or fleet != self.copy:
            return []
        target_groups, classic = self.load_balancers()
        g = self.world.autoscaling_backend().autoscaling_groups[fleet]
        missing = sorted(set(target_groups) - set(g.target_group_arns)) + sorted(set(classic) - set(g.load_balancer_names))
        return [f"I3: {fleet}, the serving fleet, misses {missing}"] if missing else []


def story_world(world: World, spec: dict[str, Any]) -> BlueGreen:
    """A deployment group (two target groups, a classic load balancer, `capacity` instances) whose
    fleet is the original group, attached (with `extra_target_group`, to a target group the
    deployment group does not list too), and a deployment about to start."""
    world.build({
        "application": spec.get("application", "web"), "deployment_group": spec.get("deployment_group", "web-bg"),
        "target_groups": 2, "classic_load_balancers": 1, "capacity": spec.get("capacity", 4),
        "termination": spec.get("termination", "TERMINATE"), "deploy": False,
        "extra_target_group": spec.get("extra_target_group", False),
    })
    return BlueGreen(world, spec)


__all__ = ["BlueGreen", "CONFIGS", "batch_size", "story_world"]
