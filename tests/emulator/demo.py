"""``demo``: the whole blue/green story on the terminal, with the real relink binary.

Act 1, the gap and the fix: deployment d-75I7MBT7C copies web-bg-asg into a group without its load
balancer attachments; relink replays the DeploymentSuccess notification and attaches them; a
duplicate delivery changes nothing.
Act 2, the safety rule: two more deployments on the same deployment group (KEEP_ALIVE: retired
copies keep running). The second one's notification is lost, the third moves traffic on; when the
lost notification finally arrives, relink leaves the retired copy alone (a newer deployment has
started) and says why, and links the live one.
Act 3, the window closed: a fourth deployment is still running when its first replacement instance
succeeds (after its AllowTraffic); relink links the copy at that instance-level notification,
before the deployment succeeds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from server import Emulator
from world import REGION, World

BOLD, RESET = "\033[1m", "\033[0m"


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def demo(relink: str, event_path: str) -> int:
    emulator = Emulator()
    world = World(emulator.endpoint)
    with open(event_path) as f:
        event = json.load(f)
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_ACCESS_KEY_ID": "relink",
        "AWS_SECRET_ACCESS_KEY": "relink",
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    })

    def show(name: str) -> dict[str, Any]:
        group = world.group(name)
        print(json.dumps({name: {k: group.get(k) for k in ("exists", "target_group_arns", "load_balancer_names", "instances", "serving")}}, indent=2))
        return group

    def replay(event_file: str, label: str) -> int:
        say(f"relink replay: {label}")
        emulator.log.reset()
        code = subprocess.run([relink, "replay", event_file], env=env).returncode
        print(f"AWS requests made by relink: {json.dumps(emulator.log.snapshot())}")
        return code

    def notification_for(deployment_id: str) -> str:
        late = json.loads(json.dumps(event))
        sns = late["Records"][0]["Sns"]
        sns["Message"] = json.dumps({**message, "deploymentId": deployment_id})
        sns["Subject"] = f"SUCCEEDED: AWS CodeDeploy {deployment_id} in {REGION} to {message['applicationName']}"
        file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(late, file)
        file.close()
        return file.name

    say(f"AWS emulator (moto) on {emulator.endpoint}")
    say("Act 1. The blue fleet: VPC, ALB with 2 target groups, a classic load balancer, group web-bg-asg")
    built = world.build({
        "application": message["applicationName"],
        "deployment_group": message["deploymentGroupName"],
        "deployment_id": message["deploymentId"],
        "target_groups": 2,
        "classic_load_balancers": 1,
        "termination": "KEEP_ALIVE",
        "status": "InProgress",
        "traffic_shifted": False,
    })
    show(built["original_group"])
    d1, g1 = built["deployment_id"], built["replacement_group"]
    say(f"CodeDeploy's part: deployment {d1} copied the group into {g1}, without its load balancer attachments")
    show(g1)
    say("CodeDeploy moves traffic to the copy and the deployment succeeds (KEEP_ALIVE: the original keeps running, deregistered)")
    world.set_state(d1, "Succeeded", True, [g1])
    show(g1)
    if replay(event_path, "the DeploymentSuccess SNS notification") != 0:
        return 1
    if replay(event_path, "the same notification again (duplicate delivery)") != 0:
        return 1
    say(f"{g1} after relink")
    after = show(g1)
    expected = set(built["target_groups"].values())
    if set(after["target_group_arns"]) != expected or after["load_balancer_names"] != built["load_balancers"]:
        print("demo failed: the replacement group is not linked as expected", file=sys.stderr)
        return 1

    say("Act 2. Two more deployments; the first one's notification is lost on the way")
    d2 = world.deploy({"application": built["application"], "deployment_group": built["deployment_group"]})
    d3 = world.deploy({"application": built["application"], "deployment_group": built["deployment_group"]})
    g2, g3 = d2["replacement_group"], d3["replacement_group"]
    print(f"{d2['deployment_id']} copied {g1} into {g2} and succeeded; then {d3['deployment_id']} copied {g2} into {g3}, "
          f"moved traffic to it and succeeded. {g2} keeps running (KEEP_ALIVE), deregistered, on the previous revision:")
    show(g2)
    late = notification_for(d2["deployment_id"])
    if replay(late, f"the lost notification of {d2['deployment_id']} arrives late") != 0:
        return 1
    retired = show(g2)
    if retired["target_group_arns"] or retired["serving"]:
        print(f"demo failed: {g2} was put back behind the load balancer", file=sys.stderr)
        return 1
    print(f"{g2} was left alone: {d3['deployment_id']} is a newer deployment of the same deployment group, so "
          f"{g2} is not its newest copy; attaching would put the previous revision back into traffic.")
    if replay(notification_for(d3["deployment_id"]), f"the notification of {d3['deployment_id']}") != 0:
        return 1
    live = show(g3)
    if set(live["target_group_arns"]) != expected:
        print(f"demo failed: {g3} is not linked", file=sys.stderr)
        return 1

    say("Act 3. A fourth deployment is running; its first replacement instance has just succeeded")
    d4 = world.deploy({"application": built["application"], "deployment_group": built["deployment_group"],
                       "status": "InProgress", "traffic_shifted": True})
    g4 = d4["replacement_group"]
    first = world.instances(g4)[0]
    print(f"{d4['deployment_id']} copied {g3} into {g4}; AllowTraffic registered its instances; the deployment is "
          f"still InProgress (its termination wait can last up to 48 hours). CodeDeploy sends InstanceSuccess for {first}:")
    if replay(instance_success(d4["deployment_id"], first), f"the InstanceSuccess notification of {first}") != 0:
        return 1
    running = show(g4)
    if set(running["target_group_arns"]) != expected:
        print(f"demo failed: {g4} is not linked at its first instance's success", file=sys.stderr)
        return 1
    emulator.stop()
    say("Done: every live copy got the deployment group's load balancers, the running one at its first "
        "instance's success; the retired copy was left alone")
    return 0


def instance_success(deployment_id: str, instance: str) -> str:
    """An SNS event with CodeDeploy's InstanceSuccess trigger message (events/sns-instance-success.json)
    for `instance` of `deployment_id`, written to a file."""
    with open("events/sns-instance-success.json") as f:
        event = json.load(f)
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    message.update({"deploymentId": deployment_id, "instanceId": f"arn:aws:ec2:{REGION}:123456789012:instance/{instance}"})
    sns["Message"] = json.dumps(message)
    file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(event, file)
    file.close()
    return file.name
