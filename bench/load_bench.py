#!/usr/bin/env python3
"""The load one blue/green deployment puts on the function: plays a deployment of N instances
through CodeDeploy's lifecycle (tests/emulator/lifecycle.py, OneAtATime, TERMINATE) and delivers
every notification it sends (deployment and instance level, SNS form) to `relink replay`, one
invocation each, as SNS does. Prints, for each N, the invocations, the requests per action and
the invocations by outcome, and the requests per invocation.

Simulated: the emulator is CodeDeploy, Auto Scaling and Elastic Load Balancing; the EventBridge
rule would add every other instance success of the region (in-place deployments included), each
a skip decided from its deployment (one GetDeployment).

Usage: scripts/bench load [SIZES...]   (default 4 50; 500 takes minutes)
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "emulator"))
sys.path.insert(0, os.path.dirname(__file__))
from lifecycle import story_world  # noqa: E402
from server import Emulator  # noqa: E402
from table import print_table  # noqa: E402
from world import REGION, World  # noqa: E402


def measure(relink: str, size: int) -> dict:
    emulator = Emulator()
    world = World(emulator.endpoint)
    story = story_world(world, {"config": "CodeDeployDefault.OneAtATime", "capacity": size})
    env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint, AWS_ACCESS_KEY_ID="relink",
               AWS_SECRET_ACCESS_KEY="relink", AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true")
    emulator.log.reset()
    outcomes: collections.Counter = collections.Counter()
    invocations = 0
    started = time.monotonic()
    while story.next_step:
        for note in story.step()["notifications"]:
            with tempfile.NamedTemporaryFile("w", suffix=".json") as event:
                json.dump(note["sns"], event)
                event.flush()
                run = subprocess.run([relink, "--json", "replay", event.name], env=env,
                                     capture_output=True, text=True)
            invocations += 1
            report = json.loads(run.stdout)["reports"][0]
            outcomes[report.get("reason") or report["outcome"]] += 1
    wall = time.monotonic() - started
    requests = emulator.log.snapshot()
    emulator.stop()
    return {"size": size, "invocations": invocations, "outcomes": dict(outcomes),
            "requests": requests, "wall_s": wall}


def main() -> int:
    relink = os.environ.get("RELINK_BIN", "target/release/relink")
    sizes = [int(a) for a in sys.argv[1:]] or [4, 50]
    rows = []
    for size in sizes:
        m = measure(relink, size)
        total = sum(m["requests"].values())
        rows.append([
            str(m["size"]), str(m["invocations"]),
            ", ".join(f"{k} {v}" for k, v in sorted(m["outcomes"].items())),
            str(total), f"{total / max(m['invocations'], 1):.1f}",
            ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(m["requests"].items())),
            f"{m['wall_s']:.1f}",
        ])
    print_table(["N", "invocations", "outcomes", "requests", "per invocation", "by action", "wall s"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
