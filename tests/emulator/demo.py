"""``demo``: the whole blue/green story on the terminal, with the real relink binary, CodeDeploy
played step by step by the lifecycle model (lifecycle.py).

Act 1, the gap and the fix, at CodeDeploy's pace: deployment d1 (OneAtATime, four instances)
copies web-bg-asg into a group without its load balancer attachments and reroutes traffic one
instance at a time. Each instance's success reaches relink: the first three are `rerouting` (an
attach would register the instances CodeDeploy has not routed to yet); the last one links the
copy, hours before the deployment succeeds.
Act 2, a superseded copy retired: deployment d2 (KEEP_ALIVE: the copy it replaces keeps running)
succeeds. d1's copy still holds the load balancers, deregistered: every instance it launched would
join production on the old revision. d2's success links its own copy and retires d1's.
Act 3, an outage repaired: d3's notifications are all lost, so its copy serves unlinked; then it
scales to zero and back, and no instance is registered any more. The notification of one of the
`autoscaling` deployments its launches brought reconciles the deployment group: the fleet
CodeDeploy names is linked (the outage repair), and d2's copy, superseded, is retired.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from lifecycle import story_world, BlueGreen
from server import Emulator
from world import REGION, World

BOLD, RESET = "\033[1m", "\033[0m"


class Failed(Exception):
    """The demo did not go as the story says."""


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


class Demo:
    def __init__(self, relink: str) -> None:
        self.relink = relink
        self.emulator = Emulator()
        self.world = World(self.emulator.endpoint)
        self.env = dict(os.environ, AWS_ENDPOINT_URL=self.emulator.endpoint, AWS_ACCESS_KEY_ID="relink",
                        AWS_SECRET_ACCESS_KEY="relink", AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true")

    def show(self, name: str) -> dict[str, Any]:
        group = self.world.group(name)
        names = [a.split(":targetgroup/")[-1].split("/")[0] for a in group.get("target_group_arns", [])]
        print(f"  {name}: attached to {names + group.get('load_balancer_names', []) or 'nothing'}; "
              f"{len(group.get('instances', []))} instance(s), served by {group.get('serving') or 'nothing'}")
        return group

    def replay(self, notification: dict[str, Any], label: str) -> None:
        say(f"relink replay: {label}")
        self.emulator.log.reset()
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            json.dump(notification["sns"], file)
            file.flush()
            code = subprocess.run([self.relink, "replay", file.name], env=self.env).returncode
        if code != 0:
            raise Failed(f"relink replay exited {code}")
        print(f"AWS requests made by relink: {json.dumps(self.emulator.log.snapshot())}")

    def linked(self, name: str, expected: bool) -> None:
        group = self.world.group(name)
        linked = len(group["target_group_arns"]) == 2 and group["load_balancer_names"] == ["web-bg-clb-1"]
        unlinked = not group["target_group_arns"] and not group["load_balancer_names"]
        if (expected and not linked) or (not expected and not unlinked):
            raise Failed(f"{name} should {'' if expected else 'not '}hold the deployment group's load balancers: {group}")

    def act_1(self) -> BlueGreen:
        say("Act 1. The blue fleet web-bg-asg: an ALB with 2 target groups and a classic load balancer")
        d1 = story_world(self.world, {"config": "CodeDeployDefault.OneAtATime", "capacity": 4,
                                      "termination": "KEEP_ALIVE"})
        self.show(d1.original)
        d1.step()  # provision
        d1.step()  # install
        say(f"CodeDeploy's deployment {d1.deployment_id} copied it into {d1.copy}, without its attachments")
        self.show(d1.copy)
        say("It reroutes one instance at a time; each instance's success reaches relink")
        while d1.next_step == "reroute":
            routed = d1.step()["notifications"]
            last = d1.next_step != "reroute"
            self.replay(routed[0], f"InstanceSuccess of {routed[0]['what'].split()[1]}"
                        + (" (the last one)" if last else ""))
            self.linked(d1.copy, last)
        self.show(d1.copy)
        while d1.next_step:
            notes = d1.step()["notifications"]
        self.replay(notes[-1], f"the DeploymentSuccess of {d1.deployment_id}: nothing left to do")
        return d1

    def act_2(self, d1: BlueGreen) -> BlueGreen:
        say("Act 2. Deployment d2 (KEEP_ALIVE: the copy it replaces keeps running) succeeds")
        d2 = BlueGreen(self.world, {"config": "CodeDeployDefault.AllAtOnce"})
        while d2.next_step:
            notes = d2.step()["notifications"]
        print(f"  {d1.copy} keeps running, deregistered, yet attached: every instance it launches would "
              "join production on d1's revision")
        self.show(d1.copy)
        self.replay(notes[-1], f"the DeploymentSuccess of {d2.deployment_id}")
        self.linked(d2.copy, True)
        self.linked(d1.copy, False)
        self.show(d2.copy)
        self.show(d1.copy)
        return d2

    def act_3(self, d2: BlueGreen) -> None:
        say("Act 3. Deployment d3's notifications are all lost; its copy serves, unlinked")
        d3 = BlueGreen(self.world, {"config": "CodeDeployDefault.AllAtOnce"})
        while d3.next_step:
            d3.step()
        self.show(d3.copy)
        say(f"{d3.copy} scales to zero and back: no instance is registered any more, the service is down")
        scaled = d3.scale(d3.copy, "replace")["notifications"]
        self.show(d3.copy)
        self.replay(scaled[-1], "the DeploymentSuccess of one of the autoscaling deployments its launches brought")
        self.linked(d3.copy, True)
        self.linked(d2.copy, False)
        self.show(d3.copy)
        self.show(d2.copy)

    def run(self) -> int:
        say(f"AWS emulator (moto) on {self.emulator.endpoint}")
        try:
            d1 = self.act_1()
            d2 = self.act_2(d1)
            self.act_3(d2)
        except Failed as failure:
            print(f"demo failed: {failure}", file=sys.stderr)
            return 1
        finally:
            self.emulator.stop()
        say("Done: each fleet got the deployment group's load balancers once CodeDeploy had routed traffic to all of "
            "them, each copy that stopped serving gave them back, and the outage was repaired")
        return 0


def demo(relink: str) -> int:
    """The demo with the relink binary `relink` (the story makes its notifications from the
    samples in events/)."""
    return Demo(relink).run()
