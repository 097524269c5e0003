"""AWS's API request budgets, as token buckets in front of moto: a request that finds its bucket
empty is answered as AWS answers it (HTTP 400, ``ThrottlingException`` for the JSON protocol,
``Throttling`` for the query protocol, "Rate exceeded") and never reaches moto.

One bucket per account, region and budget (see ../../../shared/domain.md, "API request budgets"):

- Elastic Load Balancing, documented (ELB guide, "Request throttling for the ELB API"): the
  non-mutating actions of version 2 (``elbv2``) and of classic load balancers (``elb``) each have a
  bucket of 40 tokens refilled at 10 per second; mutating actions have buckets of their own
  (``elbv2-write``, ``elb-write``, assumed 20 and 5 per second; relink makes none);
- CodeDeploy and Auto Scaling publish no figures. Assumed here: 20 tokens refilled at 5 per second
  for each (``codedeploy``, ``autoscaling``): one report saw ``GetDeployment`` throttled at about 41
  a minute, and "all Amazon EC2 Auto Scaling API calls have a single, shared API limit".

Off unless asked for: ``RELINK_EMULATOR_THROTTLE=on`` (these figures) or a list of
``budget=capacity/rate`` that changes some (``codedeploy=10/2,elbv2=40/10``), or the protocol's
``throttle`` command. Every request counts, allowed or throttled (``Budgets.counts``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass

# (capacity, refill per second) of each budget.
DEFAULTS: dict[str, tuple[float, float]] = {
    "elbv2": (40, 10),
    "elb": (40, 10),
    "elbv2-write": (20, 5),
    "elb-write": (20, 5),
    "codedeploy": (20, 5),
    "autoscaling": (20, 5),
}
# Actions of Elastic Load Balancing that change nothing.
READ_PREFIXES = ("Describe", "Get")
CLASSIC_API_VERSION = "2012-06-01"


@dataclass
class Bucket:
    capacity: float
    rate: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def parse(spec: str) -> dict[str, tuple[float, float]]:
    """``on`` -> the defaults; ``budget=capacity/rate,…`` -> the defaults with those changed."""
    budgets = dict(DEFAULTS)
    if spec.strip().lower() in ("on", "true", "1", "yes"):
        return budgets
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        name, _, figures = entry.partition("=")
        capacity, _, rate = figures.partition("/")
        if name not in DEFAULTS or not capacity or not rate:
            raise ValueError(f"RELINK_EMULATOR_THROTTLE: {entry!r} is not budget=capacity/rate "
                             f"with budget one of {', '.join(DEFAULTS)}")
        budgets[name] = (float(capacity), float(rate))
    return budgets


def budget_of(service: str, action: str, version: str | None) -> str | None:
    """The budget a request draws from: elasticloadbalancing's v2 and classic APIs share a signing
    name and differ by API version."""
    if service == "elasticloadbalancing":
        kind = "elb" if version == CLASSIC_API_VERSION else "elbv2"
        return kind if action.startswith(READ_PREFIXES) else f"{kind}-write"
    if service in ("codedeploy", "autoscaling"):
        return service
    return None


class Budgets:
    """The buckets of every account and region, thread-safe."""

    def __init__(self, budgets: dict[str, tuple[float, float]] | None = None) -> None:
        self.lock = threading.Lock()
        self.budgets = budgets
        self.buckets: dict[tuple[str, str, str], Bucket] = {}
        self.counts: Counter[str] = Counter()  # "budget" and "budget throttled"
        self.times: dict[str, list[float]] = {}  # when each request of a budget came (monotonic)

    @classmethod
    def from_env(cls) -> Budgets:
        spec = os.environ.get("RELINK_EMULATOR_THROTTLE", "")
        return cls(parse(spec) if spec.strip() and spec.strip().lower() not in ("off", "0", "false") else None)

    def set(self, spec: str | None) -> None:
        """Turns throttling on with `spec` (see ``parse``), or off with None; buckets start full."""
        with self.lock:
            self.budgets = parse(spec) if spec else None
            self.buckets.clear()
            self.counts.clear()
            self.times.clear()

    def allow(self, account: str, region: str, service: str, action: str, version: str | None) -> bool:
        """Whether the request finds a token; counts it either way."""
        budget = budget_of(service, action, version)
        if budget is None:
            return True
        with self.lock:
            self.counts[budget] += 1
            self.times.setdefault(budget, []).append(time.monotonic())
            if self.budgets is None:
                return True
            capacity, rate = self.budgets[budget]
            now = time.monotonic()
            bucket = self.buckets.setdefault(
                (account, region, budget), Bucket(capacity, rate, capacity, now)
            )
            if bucket.take(now):
                return True
            self.counts[f"{budget} throttled"] += 1
            return False

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(sorted(self.counts.items()))

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
            self.times.clear()

    def beyond(self, budget: str, capacity: float, rate: float) -> int:
        """How many requests of `budget` a bucket of `capacity` tokens refilled at `rate` a second
        would have refused: 0 when the requests kept within that share."""
        with self.lock:
            times = list(self.times.get(budget, []))
        bucket = Bucket(capacity, rate, capacity, times[0] if times else 0.0)
        return sum(not bucket.take(at) for at in times)
