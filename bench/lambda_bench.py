#!/usr/bin/env python3
"""Speed and memory of the Lambda function, measured on this machine against the emulator.

The release binary `codedeploy-relink` runs as Lambda runs it: against a minimal Lambda Runtime
API that this script serves on 127.0.0.1, with AWS calls going to the emulator on loopback.

1. Cold start: from starting the process to its first `GET /runtime/invocation/next` (what Lambda
   counts as init), median of RUNS starts (default 40), interleaved with as many starts of a
   `lambda_runtime` hello-world built with the same profile (examples/hello_lambda.rs), three
   times over: the ratio is the figure (the function should start within 1.3 times).
2. One cold invocation end to end, for a deployment that needs relinking and for one already
   linked: wall time from process start to the response, requests per action, sequential rounds.
3. Peak resident memory (VmHWM) of the process across that invocation.
4. The zipped arm64 artifact's size (scripts/build-lambda builds it).
5. Warm throughput: EVENTS events (default 1000, an already linked deployment) through one warm
   process: wall time, and the process's CPU time per event.

Usage: scripts/bench lambda   (RUNS=… EVENTS=… to change the counts)

With --compare NAME=BINARY NAME=BINARY …, the builds side by side, on one emulator and one
deployment (already linked, so that every build does the same work): cold start (runs
interleaved, build after build, so that the machine's drift spreads evenly), peak RSS across a
cold invocation, and CPU per warm event (EVENTS events through one process, builds taking turns
for ROUNDS rounds, default 3, the median kept). scripts/bench lambda --compare builds the shipped
configuration (static musl, release profile, x86_64 for this machine) and the host's glibc build.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "emulator"))
sys.path.insert(0, os.path.dirname(__file__))
from runtime_api import RuntimeApi  # noqa: E402
from server import Emulator  # noqa: E402
from table import print_table  # noqa: E402
from world import World  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
BINARY = os.environ.get("RELINK_LAMBDA_BIN", os.path.join(ROOT, "target/release/codedeploy-relink"))
HELLO = os.environ.get("RELINK_HELLO_BIN", os.path.join(ROOT, "target/release/examples/hello_lambda"))
ZIP = os.path.join(ROOT, "target/lambda/codedeploy-relink/bootstrap.zip")
EVENT = os.path.join(ROOT, "events/sns-deployment-success.json")
TICKS = os.sysconf("SC_CLK_TCK")


def start(api: RuntimeApi, endpoint: str, binary: str = BINARY) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    env = api.environment(endpoint, {"AWS_LAMBDA_LOG_LEVEL": "WARN"})
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
    return process, started


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def cold_start(endpoint: str, runs: int, binary: str = BINARY) -> list[float]:
    times = []
    for _ in range(runs):
        api = RuntimeApi()
        process, started = start(api, endpoint, binary)
        api.first_poll.wait(10)
        times.append((api.first_poll_at - started) * 1000)
        process.kill()
        process.wait()
        api.server.shutdown()
    return times


def interleaved(endpoint: str, runs: int, builds: dict[str, str]) -> dict[str, list[float]]:
    """Cold starts of each build taking turns, so that the machine's drift spreads evenly."""
    times: dict[str, list[float]] = {name: [] for name in builds}
    for _ in range(runs):
        for name, binary in builds.items():
            times[name] += cold_start(endpoint, 1, binary)
    return times


def one_invocation(emulator: Emulator, event: bytes, binary: str = BINARY) -> dict:
    api = RuntimeApi()
    emulator.log.reset()
    api.events.put(event)
    process, started = start(api, emulator.endpoint, binary)
    answered, path, body = api.responses.get(timeout=60)
    rss = peak_rss_kib(process.pid)
    process.kill()
    process.wait()
    api.server.shutdown()
    report = json.loads(body)["reports"][0]
    return {
        "wall_ms": (answered - started) * 1000,
        "path": path,
        "outcome": report["outcome"],
        "rounds": report["aws_rounds"],
        "requests": emulator.log.snapshot(),
        "rss_kib": rss,
    }


def warm(emulator: Emulator, event: bytes, count: int, binary: str = BINARY) -> dict:
    api = RuntimeApi()
    process, _ = start(api, emulator.endpoint, binary)
    api.events.put(event)
    api.responses.get(timeout=60)  # warm up: the first invocation is the cold one
    cpu_before = cpu_seconds(process.pid)
    started = time.monotonic()
    for _ in range(count):
        api.events.put(event)
    for _ in range(count):
        api.responses.get(timeout=60)
    wall = time.monotonic() - started
    cpu = cpu_seconds(process.pid) - cpu_before
    rss = peak_rss_kib(process.pid)
    process.kill()
    process.wait()
    api.server.shutdown()
    return {"wall_s": wall, "cpu_s": cpu, "rss_kib": rss}


def linked_world(emulator: Emulator) -> bytes:
    """The sample event's deployment built in the emulator; returns the event."""
    with open(EVENT, "rb") as f:
        event = f.read()
    message = json.loads(json.loads(event)["Records"][0]["Sns"]["Message"])
    World(emulator.endpoint).build({
        "application": message["applicationName"], "deployment_group": message["deploymentGroupName"],
        "deployment_id": message["deploymentId"], "target_groups": 2, "classic_load_balancers": 1})
    return event


def compare(builds: list[tuple[str, str]]) -> int:
    runs = int(os.environ.get("RUNS", "25"))
    events = int(os.environ.get("EVENTS", "300"))
    rounds = int(os.environ.get("ROUNDS", "3"))
    emulator = Emulator()
    event = linked_world(emulator)
    one_invocation(emulator, event, builds[0][1])  # relinks: from here on every build finds it linked
    cold: dict[str, list[float]] = {name: [] for name, _ in builds}
    for _ in range(runs):
        for name, binary in builds:
            cold[name] += cold_start(emulator.endpoint, 1, binary)
    rss = {name: one_invocation(emulator, event, binary)["rss_kib"] for name, binary in builds}
    cpu: dict[str, list[float]] = {name: [] for name, _ in builds}
    warm_rss: dict[str, int] = {}
    for _ in range(rounds):
        for name, binary in builds:
            measured = warm(emulator, event, events, binary)
            cpu[name].append(measured["cpu_s"] * 1000 / events)
            warm_rss[name] = max(warm_rss.get(name, 0), measured["rss_kib"])
    emulator.stop()
    rows = []
    for name, binary in builds:
        rows.append([name, f"{os.path.getsize(binary) / 1048576:.1f} MiB",
                     f"{statistics.median(cold[name]):.1f} ms (min {min(cold[name]):.1f})",
                     f"{rss[name] / 1024:.1f} MiB",
                     f"{statistics.median(cpu[name]):.2f} ms (" + ", ".join(f"{c:.2f}" for c in cpu[name]) + ")",
                     f"{warm_rss[name] / 1024:.1f} MiB"])
    print_table(["build", "binary", f"cold start (median of {runs})", "peak RSS, cold invocation",
                 f"CPU per warm event (median of {rounds} × {events})", f"peak RSS after {events} warm events"], rows)
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--compare"]:
        return compare([tuple(arg.split("=", 1)) for arg in sys.argv[2:]])  # type: ignore[misc]
    runs = int(os.environ.get("RUNS", "40"))
    events = int(os.environ.get("EVENTS", "1000"))
    emulator = Emulator()
    event = linked_world(emulator)

    starts = [interleaved(emulator.endpoint, runs, {"function": BINARY, "hello": HELLO}) for _ in range(3)]
    ratios = [statistics.median(s["function"]) / statistics.median(s["hello"]) for s in starts]
    cold = [t for s in starts for t in s["function"]]
    hello = [t for s in starts for t in s["hello"]]
    relinked = one_invocation(emulator, event)
    linked = one_invocation(emulator, event)
    throughput = warm(emulator, event, events)
    zipped = os.path.getsize(ZIP) if os.path.exists(ZIP) else None
    emulator.stop()

    def fmt_requests(r: dict) -> str:
        return ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in r.items())

    mutating = lambda r: sum(v for k, v in r.items() if "Attach" in k)  # noqa: E731
    rows = [
        ("1. cold start to first /next (median of 3 × %d)" % runs, f"{statistics.median(cold):.1f} ms "
         f"(min {min(cold):.1f}, max {max(cold):.1f})", "<= 25 ms"),
        ("1b. a lambda_runtime hello-world, interleaved", f"{statistics.median(hello):.1f} ms "
         f"(min {min(hello):.1f}, max {max(hello):.1f})", "-"),
        ("1c. function / hello-world, each run", ", ".join(f"{r:.2f}" for r in ratios), "<= 1.3"),
        ("2a. cold invocation, needs relinking", f"{relinked['wall_ms']:.0f} ms, {relinked['rounds']} rounds, "
         f"{relinked['outcome']}; {fmt_requests(relinked['requests'])}", "5 rounds"),
        ("2b. cold invocation, already linked", f"{linked['wall_ms']:.0f} ms, {linked['rounds']} rounds, "
         f"{linked['outcome']}, {mutating(linked['requests'])} mutating; {fmt_requests(linked['requests'])}",
         "no mutating request"),
        ("3. peak RSS across one invocation", f"{relinked['rss_kib'] / 1024:.1f} MiB", "<= 30 MB"),
        ("4. zipped arm64 artifact", f"{zipped / 1048576:.2f} MiB ({zipped} bytes)" if zipped else
         "not built (run scripts/build-lambda)", "< 6 MB"),
        (f"5. warm: {events} events, one process", f"{throughput['wall_s']:.1f} s wall "
         f"({events / throughput['wall_s']:.0f} events/s, emulator-bound), {throughput['cpu_s'] * 1000 / events:.2f} ms "
         f"CPU per event, peak RSS {throughput['rss_kib'] / 1024:.1f} MiB", "-"),
    ]
    print_table(["figure", "measured", "target"], [list(row) for row in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
