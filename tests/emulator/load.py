"""The load story: one blue/green deployment of N instances, played step by step as CodeDeploy runs
it (lifecycle.py), with AWS's request budgets on (throttle.py), its notifications delivered the way
the template delivers them (pipeline.py: the topic or the rule, the queue, the event source
mapping with the settings template.yaml gives it) to warm environments of the real Lambda binary.

It measures what the deployment cost: invocations, requests by service and action, throttled
answers, the SDK's retries, dead letters, how far relink's Elastic Load Balancing reads stayed
within its stated share, and the seconds from the last replacement instance's reroute to the link.
`scripts/bench load` prints these figures (bench/load_bench.py); tests/integration/load.rs runs
the story and asserts the outcome.

    python load.py --binary PATH --instances 500 --config AllAtOnce [--form sns|eventbridge]
                   [--window S] [--gap S] [--throttle on|off|budget=capacity/rate,…]

prints one JSON object. `--window` replaces the template's batching window (the tests shorten it);
`--gap` is the pause between two reroute steps of one deployment (between CodeDeploy's phases,
provision, reroute, block, success, the pause is a window and a second, as those take minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))
from check_policy import CfnLoader  # noqa: E402  (the template's YAML, short-form tags kept)
from lifecycle import CONFIGS, story_world  # noqa: E402
from pipeline import Pipeline  # noqa: E402
from server import Emulator  # noqa: E402
from world import World  # noqa: E402

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# relink's share of each ELB bucket, per execution environment (ElbShare::FUNCTION).
SHARE_BURST, SHARE_RATE = 8, 2.0
# Arrival at the emulator is not release by the limiter: a request held up on the way and the
# next one sent on time arrive closer than they left. One token of slack absorbs that.
ARRIVAL_SLACK = 1


def delivery(template: Path = TEMPLATE) -> dict[str, float]:
    """What the template gives the queue and the event source mapping, parameters at their
    defaults: batch size, batching window, concurrency, receives before the dead letters,
    visibility timeout and the function's timeout."""
    doc = yaml.load(template.read_text(), Loader=CfnLoader)
    resources, parameters = doc["Resources"], doc["Parameters"]

    def value(v: Any) -> float:
        if isinstance(v, dict) and "!Ref" in v:
            return float(parameters[v["!Ref"]]["Default"])
        return float(v)

    mapping = resources["NotificationMapping"]["Properties"]
    queue = resources["NotificationQueue"]["Properties"]
    return {
        "batch_size": value(mapping.get("BatchSize", 10)),
        "window": value(mapping.get("MaximumBatchingWindowInSeconds", 0)),
        "concurrency": value(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 1000)),
        "max_receive": value(queue["RedrivePolicy"]["maxReceiveCount"]),
        "visibility": value(queue.get("VisibilityTimeout", 30)),
        "timeout": value(resources["Function"]["Properties"].get("Timeout", 3)),
    }


class Watch:
    """When the copy got its load balancers (read from the backend: no request is counted)."""

    def __init__(self, world: World, group: str, wanted: tuple[int, int]) -> None:
        self.world, self.group, self.wanted = world, group, wanted
        self.linked_at: float | None = None
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set() and self.linked_at is None:
            group = self.world.autoscaling_backend().autoscaling_groups.get(self.group)
            if group is not None and len(group.target_group_arns) >= self.wanted[0] \
                    and len(group.load_balancer_names) >= self.wanted[1]:
                self.linked_at = time.monotonic()
            time.sleep(0.05)


def run(binary: str, instances: int, config: str, form: str = "sns", window: float | None = None,
        gap: float = 0.2, throttle: str | None = "on", template: Path = TEMPLATE) -> dict[str, Any]:
    """Plays the story once -> its figures."""
    settings = delivery(template)
    window = settings["window"] if window is None else window
    emulator = Emulator()
    try:
        world = World(emulator.endpoint)
        story = story_world(world, {"config": config, "capacity": instances})
        target_groups, classic = story.load_balancers()
        pipeline = Pipeline(
            world, emulator.endpoint, [binary], batch_size=int(settings["batch_size"]), window=window,
            concurrency=int(settings["concurrency"]), max_receive=int(settings["max_receive"]),
            # A failed record comes back after the visibility timeout (30 minutes in the
            # template); here after a few seconds, so that a retry shows within the run.
            visibility=settings["visibility"], retry_after=window + 5, timeout=settings["timeout"],
        )
        emulator.log.budgets.set(throttle)
        emulator.log.reset()
        watch = Watch(world, story.copy, (len(target_groups), len(classic)))
        fed = threading.Event()
        serving = threading.Thread(target=pipeline.serve, args=(fed,), daemon=True)
        serving.start()
        started = time.monotonic()
        notifications, last_reroute = 0, None
        while story.next_step:
            step = story.step()
            if step["step"] == "reroute":
                last_reroute = time.monotonic()  # the instances are registered: routed
            pipeline.publish_all(step["notifications"], form)
            notifications += len(step["notifications"])
            if step["step"] == "reroute":
                if story.next_step == "reroute":
                    time.sleep(gap)
                    continue
            if step["notifications"]:
                time.sleep(window + 1)
        fed.set()
        serving.join()
        wall = time.monotonic() - started
        watch.stop.set()
        return figures(emulator, pipeline, story, {
            "instances": instances, "config": config.rsplit(".", 1)[-1], "form": form, "window_s": window,
            "gap_s": gap, "notifications": notifications, "wall_s": round(wall, 1),
            "link_after_reroute_s": None if watch.linked_at is None or last_reroute is None
            else round(watch.linked_at - last_reroute, 1),
        })
    finally:
        emulator.stop()


def figures(emulator: Emulator, pipeline: Pipeline, story: Any, base: dict[str, Any]) -> dict[str, Any]:
    requests = emulator.log.snapshot()
    budgets = emulator.log.budgets.snapshot()
    concurrency = pipeline.concurrency
    copy = story.world.group(story.copy)
    return base | {
        "invocations": len(pipeline.invocations),
        "records": sum(i.records for i in pipeline.invocations),
        "failed_invocations": sum(i.error for i in pipeline.invocations),
        "failed_records": sum(i.failed_records for i in pipeline.invocations),
        "dead_letters": pipeline.dead_letter_count(),
        # What the function logged about its failures (the first few lines), when any failed.
        "failures": [line[:600] for i in pipeline.invocations if i.failed_records for line in i.logs
                     if '"ERROR"' in line or '"level":"WARN"' in line][:5],
        "requests": requests,
        "requests_total": sum(requests.values()),
        "throttled": {k.split()[0]: v for k, v in budgets.items() if k.endswith("throttled")},
        "retries": dict(sorted(emulator.log.retries.items())),
        # Requests a bucket of relink's whole share (every environment's at once) would have
        # refused: 0 when relink kept within it.
        "beyond_share": {
            budget: emulator.log.budgets.beyond(budget, SHARE_BURST * concurrency + ARRIVAL_SLACK, SHARE_RATE * concurrency)
            for budget in ("elbv2", "elb")
        },
        "share": {"burst": SHARE_BURST * concurrency, "per_second": SHARE_RATE * concurrency},
        "concurrency": concurrency,
        "copy_linked": sorted(copy.get("target_group_arns", [])) == sorted(story.load_balancers()[0])
        and sorted(copy.get("load_balancer_names", [])) == sorted(story.load_balancers()[1]),
        "unlinked": story.unlinked(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the Lambda binary (bootstrap)")
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--config", default="AllAtOnce", choices=[c.rsplit(".", 1)[-1] for c in CONFIGS])
    parser.add_argument("--form", default="sns", choices=["sns", "eventbridge"])
    parser.add_argument("--window", type=float, default=None, help="seconds (default: the template's)")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between two reroute steps")
    parser.add_argument("--throttle", default="on", help="on, off, or budget=capacity/rate,…")
    args = parser.parse_args()
    result = run(args.binary, args.instances, f"CodeDeployDefault.{args.config}", args.form, args.window,
                 args.gap, None if args.throttle == "off" else args.throttle)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
