#!/usr/bin/env python3
"""How `relink audit --accounts … --regions …` scales: builds ACCOUNTS × REGIONS worlds of GROUPS
deployment groups each in the emulator (every 5th group missing a target group), then runs the
audit at several concurrencies and prints requests per action and wall time. With --latency-ms,
the emulator holds every request of the audit that long first, as AWS's round trips take time
(without it the emulator, one Python process, answers in a few milliseconds and saturates at once).

Usage: scripts/bench audit --accounts N --regions R --groups G [--concurrency 1,4,8,16] [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "emulator"))
sys.path.insert(0, os.path.dirname(__file__))
from server import Emulator  # noqa: E402
from table import print_table  # noqa: E402
from world import World  # noqa: E402

# Every action the audit calls.
ACTIONS = ["AssumeRole", "ListAccounts", "ListRegions", "ListApplications", "ListDeploymentGroups",
           "BatchGetDeploymentGroups", "ListDeployments", "BatchGetDeployments", "DescribeAutoScalingGroups",
           "DescribeTargetGroups", "DescribeTargetHealth", "DescribeInstanceHealth"]
REGION_NAMES = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-2", "us-east-2"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--regions", type=int, required=True)
    parser.add_argument("--groups", type=int, required=True)
    parser.add_argument("--concurrency", default="1,4,8,16")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    relink = os.environ.get("RELINK_BIN", "target/release/relink")
    accounts = [f"{100000000000 + i:012d}" for i in range(1, args.accounts + 1)]
    regions = REGION_NAMES[: args.regions]

    emulator = Emulator()
    started = time.monotonic()
    for account in accounts:
        World(emulator.endpoint, account, regions[0]).role("RelinkAudit")
        for region in regions:
            world = World(emulator.endpoint, account, region)
            for g in range(args.groups):
                spec: dict = {"application": f"app{g // 10}", "deployment_group": f"g{g:03d}-bg",
                              "target_groups": 1, "linked": True}
                if g % 5 == 0:
                    spec["unlinked"] = [f"g{g:03d}-bg-tg-1"]
                world.build(spec)
    print(f"built {len(accounts)} accounts × {len(regions)} regions × {args.groups} groups "
          f"in {time.monotonic() - started:.0f} s", file=sys.stderr)

    env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint, AWS_ACCESS_KEY_ID="relink-cli",
               AWS_SECRET_ACCESS_KEY="relink", AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    for action in ACTIONS:
        emulator.log.delays[action] = args.latency_ms / 1000
    results = []
    for concurrency in [int(c) for c in args.concurrency.split(",")]:
        emulator.log.reset()
        command = [relink, "--json", "audit", "--accounts", ",".join(accounts), "--regions", ",".join(regions),
                   "--role-name", "RelinkAudit", "--concurrency", str(concurrency)]
        started = time.monotonic()
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        if run.returncode not in (0, 1):
            sys.exit(f"relink audit failed ({run.returncode}): {run.stderr}")
        summary = json.loads(run.stdout)["summary"]
        results.append({"concurrency": concurrency, "wall_s": wall, "requests": emulator.log.snapshot(),
                        "summary": summary})
    emulator.stop()

    actions = sorted({a for r in results for a in r["requests"]})
    size = f"{args.accounts}×{args.regions}×{args.groups}"
    if args.latency_ms:
        size += f", {args.latency_ms:g} ms per request"
    header = [f"{size}: requests per action"] + [f"concurrency {r['concurrency']}" for r in results]
    rows = [[a] + [str(r["requests"].get(a, 0)) for r in results] for a in actions]
    rows.append(["total requests"] + [str(sum(r["requests"].values())) for r in results])
    rows.append(["pairs audited"] + [str(r["summary"]["pairs"]) for r in results])
    rows.append(["drift found"] + [str(r["summary"]["audit"]["drift"]) for r in results])
    rows.append(["wall time (s)"] + [f"{r['wall_s']:.2f}" for r in results])
    print_table(header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
