#!/usr/bin/env python3
"""How `relink audit` scales: builds regions of 50, 150 and 300 deployment groups in the emulator
(10 per application; every 5th group missing a target group, every 7th in place) and prints, for
each size, the requests per action and the wall time of one `relink --json audit`.

Usage: scripts/bench audit [SIZES...]   (default 50 150 300)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "emulator"))
sys.path.insert(0, os.path.dirname(__file__))
from server import Emulator  # noqa: E402
from table import print_table  # noqa: E402
from world import REGION, World  # noqa: E402

GROUPS_PER_APPLICATION = 10


def build_region(world: World, size: int) -> None:
    for i in range(size):
        spec: dict = {
            "application": f"app{i // GROUPS_PER_APPLICATION:03d}",
            "deployment_group": f"g{i:04d}-bg",
            "target_groups": 1,
            "linked": True,
        }
        if i % 5 == 0:
            spec["unlinked"] = [f"g{i:04d}-bg-tg-1"]
        if i % 7 == 0:
            spec.update(deployment_type="IN_PLACE", deployment_option="WITHOUT_TRAFFIC_CONTROL")
        world.build(spec)


def measure(relink: str, size: int) -> dict:
    emulator = Emulator()
    world = World(emulator.endpoint)
    started = time.monotonic()
    build_region(world, size)
    built = time.monotonic() - started
    emulator.log.reset()
    env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint, AWS_ACCESS_KEY_ID="relink",
               AWS_SECRET_ACCESS_KEY="relink", AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true")
    started = time.monotonic()
    run = subprocess.run([relink, "--json", "audit"], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if run.returncode not in (0, 1):
        sys.exit(f"relink audit failed: {run.stderr}")
    summary = json.loads(run.stdout)["summary"]
    requests = emulator.log.snapshot()
    emulator.stop()
    return {"size": size, "build_s": built, "wall_s": wall, "requests": requests, "summary": summary}


def main() -> int:
    relink = os.environ.get("RELINK_BIN", "target/release/relink")
    sizes = [int(s) for s in sys.argv[1:]] or [50, 150, 300]
    results = [measure(relink, size) for size in sizes]
    actions = sorted({a for r in results for a in r["requests"]})
    header = ["requests per action"] + [f"{r['size']} groups" for r in results]
    rows = [[a.split(":", 1)[1]] + [str(r["requests"].get(a, 0)) for r in results] for a in actions]
    rows.append(["total requests"] + [str(sum(r["requests"].values())) for r in results])
    rows.append(["Auto Scaling groups audited"] + [str(r["summary"]["auto_scaling_groups"]) for r in results])
    rows.append(["drift found"] + [str(r["summary"]["drift"]) for r in results])
    rows.append(["audit wall time (s)"] + [f"{r['wall_s']:.2f}" for r in results])
    print_table(header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
