#!/usr/bin/env python3
"""What reconciling a deployment group costs: requests and sequential rounds per notification and
per sweep.

1. A deployment group with K copies (K KEEP_ALIVE deployments within the look-back, each keeping
   the copy it replaced running; the newest copy is the fleet, linked): the newest deployment's
   SNS success (a deployment-level message naming its group), its SNS instance success (naming
   none), and a sweep; first with nothing to link or retire, then with the previous copy still
   holding the load balancers (one to retire).
2. A region of N deployment groups (10 per application), each with one succeeded, linked
   deployment within the look-back: one sweep, against the pages a scan of every Auto Scaling
   group of the region would take.

Usage: scripts/bench reconcile [--copies 1,10,100] [--region N]   (default 1,10,100 and 1000)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "emulator"))
sys.path.insert(0, os.path.dirname(__file__))
from lifecycle import Notifier  # noqa: E402
from server import Emulator  # noqa: E402
from table import print_table  # noqa: E402
from world import REGION, World  # noqa: E402

SCHEDULE = os.path.join(os.path.dirname(__file__), "..", "events", "scheduled-sweep.json")


class Relink:
    """Runs `relink --json` against one emulator, counting the requests of each run."""

    def __init__(self, binary: str, emulator: Emulator) -> None:
        self.binary, self.emulator = binary, emulator
        self.env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint, AWS_ACCESS_KEY_ID="relink",
                        AWS_SECRET_ACCESS_KEY="relink", AWS_REGION=REGION,
                        AWS_EC2_METADATA_DISABLED="true")

    def replay(self, event: dict) -> dict:
        self.emulator.log.reset()
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            json.dump(event, file)
            file.flush()
            run = subprocess.run([self.binary, "--json", "replay", file.name], env=self.env,
                                 capture_output=True, text=True)
        reports = json.loads(run.stdout)["reports"]
        requests = {k: v for k, v in self.emulator.log.snapshot().items() if k != "sts:GetCallerIdentity"}
        outcome = reports[0].get("reason") or reports[0]["outcome"] if len(reports) == 1 else f"{len(reports)} reports"
        retired = sum(1 for r in reports for t in r.get("retired", []) if t["outcome"] == "retired")
        return {"requests": requests, "rounds": max((r["aws_rounds"] for r in reports), default=0),
                "outcome": outcome, "retired": retired}


def row(what: str, measured: dict) -> list[str]:
    requests = measured["requests"]
    return [what, str(sum(requests.values())), str(measured["rounds"]),
            measured["outcome"] + (f", retired {measured['retired']}" if measured["retired"] else ""),
            ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(requests.items()))]


def copies(relink_bin: str, count: int) -> list[list[str]]:
    emulator = Emulator()
    world = World(emulator.endpoint)
    world.build({"target_groups": 1, "capacity": 1, "termination": "KEEP_ALIVE", "deploy": False})
    deployments = [world.deploy({"status": "Succeeded", "linked": i == count - 1}) for i in range(count)]
    newest = deployments[-1]["deployment_id"]
    notify = Notifier(world, "web", "web-bg")
    instance = world.instances(deployments[-1]["replacement_group"])[0]
    relink = Relink(relink_bin, emulator)
    rows = []
    for what, event in [("deployment-level SNS", notify.deployment(newest, "SUCCESS")["sns"]),
                        ("instance-level SNS", notify.instance(newest, instance, ())["sns"])]:
        rows.append(row(f"{count} copies: {what}, nothing to do", relink.replay(event)))
    rows.append(row(f"{count} copies: sweep, nothing to do", relink.replay(json.load(open(SCHEDULE)))))
    if count > 1:
        previous = deployments[-2]["replacement_group"]
        target_groups, _ = world.load_balancers_of(world.codedeploy_backend().deployment_groups["web"]["web-bg"])
        # Linked while it was the fleet; the newest deployment's BlockTraffic deregistered it.
        world.link(previous, list(target_groups.values()), [])
        world.deregister(previous, list(target_groups.values()), [])
        rows.append(row(f"{count} copies: deployment-level SNS, 1 to retire",
                        relink.replay(notify.deployment(newest, "SUCCESS")["sns"])))
    emulator.stop()
    return rows


def region(relink_bin: str, size: int) -> list[list[str]]:
    emulator = Emulator()
    world = World(emulator.endpoint)
    started = time.monotonic()
    for i in range(size):
        world.build({"application": f"app{i // 10:03d}", "deployment_group": f"g{i:04d}-bg",
                     "target_groups": 1, "capacity": 1, "linked": True})
    built = time.monotonic() - started
    groups = len(world.autoscaling_backend().autoscaling_groups)
    relink = Relink(relink_bin, emulator)
    started = time.monotonic()
    swept = relink.replay(json.load(open(SCHEDULE)))
    wall = time.monotonic() - started
    emulator.stop()
    rows = [row(f"region of {size} deployment groups: sweep", swept)]
    describe = swept["requests"].get("autoscaling:DescribeAutoScalingGroups", 0)
    print(f"region of {size}: built in {built:.0f} s; {groups} Auto Scaling groups, a scan of them "
          f"all takes {-(-groups // 100)} sequential pages; the sweep made {describe} "
          f"DescribeAutoScalingGroups call(s) (concurrent) in {wall:.1f} s", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", default="1,10,100")
    parser.add_argument("--region", type=int, default=1000)
    args = parser.parse_args()
    binary = os.environ.get("RELINK_BIN", "target/release/relink")
    rows = []
    for count in [int(c) for c in args.copies.split(",") if c]:
        rows += copies(binary, count)
    if args.region:
        rows += region(binary, args.region)
    print_table(["what", "requests", "rounds", "outcome", "by action"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
