"""``serve``: the JSON-lines protocol the Rust tests drive the emulator with, on stdin/stdout.

It prints {"endpoint": ...} once ready, then answers one line per command with
{"ok": true, "result": ...} or {"ok": false, "error": ...}, and stops when stdin closes.

Commands:
  {"op": "build", "spec": {...}}            a deployment group with its first deployment -> names, ARNs
  {"op": "deploy", "spec": {...}}           the next deployment on a deployment group -> its id, copy
  {"op": "set_state", "deployment_id": ..., "status": ..., "traffic_shifted": bool | "half",
   "target_groups": [...], "rollback": bool}
  {"op": "group", "name": ...}              attachments, instances and the load balancers serving them
  {"op": "detach", "group": ..., "names": [...]}   an operator takes a group out of load balancers
  {"op": "attach", "group": ..., "names": [...]}   an operator attaches a group to target groups or
                                            classic load balancers (by name)
  {"op": "copy_group", "original": ..., "name": ...}   a person copies a group (no attachment)
  {"op": "scale", "group": ..., "desired": N}   terminated instances leave every load balancer
  {"op": "replace", "group": ...}           every instance replaced -> the new ids
  {"op": "register", "group": ..., "names": [...]}     an operator registers a group's instances
  {"op": "deregister", "group": ..., "names": [...]}   an operator deregisters them (they drain)
  {"op": "target_state", "target_group": ..., "instances": [...], "state": ...}
                                            DescribeTargetHealth reports these targets in `state`
  {"op": "delete_load_balancer", "name": ...}   a classic load balancer deleted
  {"op": "delete_target_group", "name": ...}
  {"op": "fail", "action": ..., "status": 403, "code": "AccessDenied", "times": 1}
  {"op": "delay", "action": ..., "seconds": 0.1}   hold each request for an action open this long
  {"op": "throttle", "spec": "on" | "codedeploy=10/2,…" | null}
                                            AWS's request budgets on (throttle.py) or off
  {"op": "budgets"}                         requests per budget, and those throttled
  {"op": "attach_overlaps"}                 attach calls to one group that were in flight together
  {"op": "peak_in_flight"}                  the most requests per action that were in flight at once
  {"op": "requests"} / {"op": "reset_requests"}
  {"op": "queue", "name": ...}              create an SQS queue -> its URL
  {"op": "send", "url": ..., "body": ...}   send a message
  {"op": "messages", "url": ...}            the bodies of the messages the queue holds
  {"op": "lambda", "command": [...], "event": {...}, "env": {...}, "function_arn": ...}
                                            run a Lambda binary for one event against a local Runtime
                                            API and this emulator -> {"path", "body", "logs"}
  {"op": "role", "name": ..., "external_id": ...}   an IAM role the default account may assume
                                            (with that external id when given) -> its ARN
  {"op": "organization", "members": N}      an organization of the default account with N member
                                            accounts -> their ids
  {"op": "opt_in", "region": ...}           the account enables an opt-in region (ListRegions)
  {"op": "name_fleet", "groups": [...]}     the deployment group names these Auto Scaling groups
                                            (an operator's update-deployment-group)

CodeDeploy as it runs (lifecycle.py), one story per deployment group (the spec's and the walk
commands' "deployment_group", default web-bg):
  {"op": "story", "spec": {config, termination, capacity, ready_wait, created_hours_ago}}
                                            a deployment group and a deployment about to start -> its state
  {"op": "story_next", "spec": {...}}       the next deployment of the same deployment group
  {"op": "walk_state"}                      where the deployment stands
  {"op": "walk_step"}                       CodeDeploy's next step -> {step, notifications, state}
  {"op": "walk_fail", "rollback": bool, "status": "Failed" | "Stopped"}
                                            the deployment fails (or an alarm stops it) here -> the same
  {"op": "walk_scale", "group": "copy" | "original" | name, "change": "out" | "in" | "replace"}
  {"op": "walk_snapshot"}                   every group's attachments and instances
  {"op": "walk_check", "before": {...}, "expect_linked": bool}   the invariants -> problems

Every command may name "account" and "region": it then acts on that account's and region's world
(default: 123456789012, us-east-1).

Build spec (all optional): application, deployment_group, deployment_id, target_groups (count),
classic_load_balancers (count), capacity, compute_platform, deployment_type, deployment_option,
green_fleet, termination (TERMINATE | KEEP_ALIVE), load_balancer_info (bool), extra_target_group
(bool: one more on the original group only), deploy (bool, default true), and the deploy spec:
status, traffic_shifted, replacement (copied | none | deleted | deleting), linked (bool),
unlinked (names left unattached when linked), created_hours_ago, creator.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from runtime_api import FUNCTION_ARN, invoke
from server import Emulator
from moto.core import DEFAULT_ACCOUNT_ID
from lifecycle import BlueGreen, story_world
from world import REGION, World, moto_fixes


def serve(commands: TextIO = sys.stdin, answers: TextIO = sys.stdout) -> int:
    emulator = Emulator()
    worlds: dict[tuple[str, str], World] = {}

    def world_of(command: dict[str, Any]) -> World:
        where = (command.get("account", DEFAULT_ACCOUNT_ID), command.get("region", REGION))
        if where not in worlds:
            worlds[where] = World(emulator.endpoint, *where)
        return worlds[where]

    def reply(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    reply({"endpoint": emulator.endpoint})
    for line in commands:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            reply({"ok": True, "result": answer(emulator, world_of(command), command)})
        except Exception as error:  # every failure goes to the test, which fails with it
            reply({"ok": False, "error": f"{type(error).__name__}: {error}"})
    emulator.stop()
    return 0


def keep_metric_records(logs: list[str]) -> None:
    """With RELINK_EMF_LOG set, appends every embedded-metric-format record the function logged to
    that file, for the check of the template's dashboard and alarms (tests/metrics/)."""
    path = os.environ.get("RELINK_EMF_LOG")
    if not path:
        return
    with open(path, "a") as out:
        for line in logs:
            if line.startswith("{") and '"_aws"' in line:
                out.write(line + "\n")


def answer(emulator: Emulator, world: World, command: dict[str, Any]) -> Any:
    op = command["op"]
    if op == "build":
        return world.build(command.get("spec", {}))
    if op == "deploy":
        return world.deploy(command.get("spec", {}))
    if op == "set_state":
        world.set_state(
            command["deployment_id"], command["status"], command["traffic_shifted"], command["target_groups"],
            command.get("rollback", True),
        )
        return None
    if op == "group":
        return world.group(command["name"])
    if op == "detach":
        world.detach(command["group"], command["names"])
        return None
    if op == "attach":
        arns = {t["TargetGroupName"]: t["TargetGroupArn"] for t in world.elbv2.describe_target_groups()["TargetGroups"]}
        world.link(command["group"], [arns[n] for n in command["names"] if n in arns],
                   [n for n in command["names"] if n not in arns])
        return None
    if op == "copy_group":
        world.copy_group(command["original"], command["name"])
        return None
    if op == "scale":
        world.scale(command["group"], int(command["desired"]))
        return None
    if op == "replace":
        return world.replace(command["group"])
    if op == "register":
        world.register(command["group"], command["names"])
        return None
    if op == "deregister":
        world.deregister_from(command["group"], command["names"])
        return None
    if op == "target_state":
        found = world.elbv2.describe_target_groups(Names=[command["target_group"]])["TargetGroups"][0]
        forced = moto_fixes.STATES.setdefault(found["TargetGroupArn"], {})
        forced.update({i: command["state"] for i in command["instances"]})
        return None
    if op == "delete_load_balancer":
        world.elb.delete_load_balancer(LoadBalancerName=command["name"])
        return None
    if op == "delete_target_group":
        arn = world.elbv2.describe_target_groups(Names=[command["name"]])["TargetGroups"][0]["TargetGroupArn"]
        world.elbv2.delete_target_group(TargetGroupArn=arn)
        return None
    if op == "fail":
        emulator.log.inject(
            command["action"], int(command.get("status", 403)), command.get("code", "AccessDenied"),
            command.get("message", "injected by the test"), int(command.get("times", 1)),
        )
        return None
    if op == "delay":
        emulator.log.delays[command["action"]] = float(command["seconds"])
        return None
    if op == "throttle":
        emulator.log.budgets.set(command.get("spec"))
        return None
    if op == "budgets":
        return emulator.log.budgets.snapshot()
    if op == "attach_overlaps":
        return emulator.log.overlaps
    if op == "peak_in_flight":
        return dict(emulator.log.peak)
    if op == "lambda":
        answer = invoke(
            command["command"], json.dumps(command["event"]).encode(), emulator.endpoint,
            command.get("env"), command.get("function_arn", FUNCTION_ARN),
        )
        keep_metric_records(answer["logs"])
        return answer
    if op == "queue":
        return world.sqs.create_queue(QueueName=command["name"])["QueueUrl"]
    if op == "send":
        world.sqs.send_message(QueueUrl=command["url"], MessageBody=command["body"])
        return None
    if op == "messages":
        return world.messages(command["url"])
    if op == "role":
        return world.role(command["name"], command.get("external_id"))
    if op == "organization":
        return world.organization(int(command["members"]))
    if op == "opt_in":
        moto_fixes.OPTED_IN.setdefault(world.account, set()).add(world.region)
        return None
    if op == "name_fleet":
        dg = world.codedeploy_backend().deployment_groups[command.get("application", "web")][
            command.get("deployment_group", "web-bg")]
        dg.auto_scaling_groups = list(command["groups"])
        return None
    if op in ("story", "story_next"):
        spec = command.get("spec", {})
        start = story_world if op == "story" else BlueGreen
        story = start(world, spec)
        world.stories[story.deployment_group] = story
        return story.state()
    if op.startswith("walk_"):
        return walk(world.stories[command.get("deployment_group", "web-bg")], command)
    if op == "requests":
        return emulator.log.snapshot()
    if op == "reset_requests":
        emulator.log.reset()
        return None
    raise ValueError(f"unknown op {op!r}")


def walk(story: BlueGreen, command: dict[str, Any]) -> Any:
    op = command["op"]
    if op == "walk_state":
        return story.state()
    if op == "walk_step":
        return story.step()
    if op == "walk_fail":
        return story.fail(bool(command.get("rollback", True)), command.get("status", "Failed"))
    if op == "walk_scale":
        group = {"copy": story.copy, "original": story.original}.get(command["group"], command["group"])
        return story.scale(group, command["change"])
    if op == "walk_snapshot":
        return story.snapshot()
    if op == "walk_check":
        return story.check(command["before"], bool(command.get("expect_linked", False)))
    raise ValueError(f"unknown op {op!r}")
