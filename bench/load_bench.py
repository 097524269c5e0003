#!/usr/bin/env python3
"""The load one blue/green deployment puts on AWS's API budgets, through the path the template
builds: CodeDeploy's lifecycle played step by step (tests/emulator/lifecycle.py, TERMINATE) with
the emulator's request budgets on (tests/emulator/throttle.py: ELB's documented bucket, CodeDeploy's
and Auto Scaling's assumed), every notification sent to the queue as the SNS topic sends it, and
the event source mapping with the template's batch size, batching window and concurrency handing
batches to warm environments of the release Lambda binary (tests/emulator/load.py).

Prints, for each N and deployment configuration: invocations, requests by service, Elastic Load
Balancing reads, throttled answers, the SDK's retries, dead letters, the seconds from the last
replacement instance's reroute to the link, and the wall time; then the requests by action.

Usage: scripts/bench load [--sizes 50,500] [--configs OneAtATime,AllAtOnce] [--window S] [--gap S]
       (the template's window, 20 s, by default: a run takes one to three minutes)
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "emulator"))
sys.path.insert(0, os.path.dirname(__file__))
from load import run  # noqa: E402
from table import print_table  # noqa: E402


def by_service(requests: dict[str, int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for action, n in requests.items():
        service = action.split(":", 1)[0]
        totals[service] = totals.get(service, 0) + n
    return totals


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,500")
    parser.add_argument("--configs", default="OneAtATime,AllAtOnce")
    parser.add_argument("--window", type=float, default=None, help="seconds (default: the template's)")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between two reroute steps")
    args = parser.parse_args()
    binary = os.environ.get("RELINK_LAMBDA_BIN", "target/release/codedeploy-relink")
    rows, details = [], []
    for config in args.configs.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            m = run(binary, size, f"CodeDeployDefault.{config}", window=args.window, gap=args.gap)
            services = by_service(m["requests"])
            elb = sum(n for a, n in m["requests"].items() if a.startswith("elasticloadbalancing:Describe"))
            rows.append([
                str(size), config, str(m["notifications"]), str(m["invocations"]), str(m["requests_total"]),
                str(services.get("codedeploy", 0)), str(services.get("autoscaling", 0)), str(elb),
                str(sum(m["throttled"].values())), str(sum(m["retries"].values())), str(m["dead_letters"]),
                str(sum(m["beyond_share"].values())), str(m["link_after_reroute_s"]), str(m["wall_s"]),
            ])
            details.append(f"N={size} {config}: " + ", ".join(
                f"{a.split(':', 1)[1]} {n}" for a, n in sorted(m["requests"].items())))
    print_table(["N", "config", "notifications", "invocations", "requests", "CodeDeploy", "Auto Scaling",
                 "ELB reads", "throttled", "retries", "dead letters", "beyond share", "link after reroute s",
                 "wall s"], rows)
    print()
    print("\n".join(details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
