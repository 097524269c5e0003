#!/usr/bin/env python3
"""Every metric of the function's own namespace that template.yaml's dashboard and alarms refer to
is one the function really emits: the namespace, the metric name and the set of dimension names
are taken from the embedded-metric-format records the Lambda binary logged in the end-to-end
suite (RELINK_EMF_LOG). AWS's own metrics (AWS/Lambda, AWS/SQS) are not checked.

Usage: check_metrics.py EMF_LOG [TEMPLATE]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))
from check_policy import CfnLoader  # noqa: E402

import yaml  # noqa: E402

NAMESPACE = "codedeploy-relink"
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s+MetricName=\"([^\"]+)\"")


def emitted(log: Path) -> set[tuple[str, str, frozenset[str]]]:
    seen = set()
    for line in log.read_text().splitlines():
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    seen.add((directive["Namespace"], metric["Name"], frozenset(dimensions)))
    return seen


def referenced(template: dict[str, Any]) -> list[tuple[str, str, str, frozenset[str]]]:
    """(where, namespace, metric, dimension names) for each reference to our namespace."""
    refs = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and props.get("Namespace") == NAMESPACE:
            dims = frozenset(d["Name"] for d in props.get("Dimensions", []))
            refs.append((f"alarm {name}", NAMESPACE, props["MetricName"], dims))
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = props["DashboardBody"]["!Sub"]
            body = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
            for widget in body["widgets"]:
                for metric in widget["properties"].get("metrics", []):
                    if isinstance(metric[0], dict):  # an expression
                        for match in SEARCH.finditer(metric[0].get("expression", "")):
                            namespace, *dims = [p.strip() for p in match.group(1).split(",")]
                            if namespace == NAMESPACE:
                                refs.append((f"dashboard {name}", namespace, match.group(2), frozenset(dims)))
                    elif metric[0] == NAMESPACE:
                        values = [v for v in metric[2:] if not isinstance(v, dict)]
                        refs.append((f"dashboard {name}", NAMESPACE, metric[1], frozenset(values[0::2])))
    return refs


def main() -> int:
    seen = emitted(Path(sys.argv[1]))
    template = yaml.load(Path(sys.argv[2] if len(sys.argv) > 2 else "template.yaml").read_text(), Loader=CfnLoader)
    refs = referenced(template)
    missing = [r for r in refs if (r[1], r[2], r[3]) not in seen]
    print(f"metrics check: {len(refs)} reference(s) to {NAMESPACE} in the dashboard and alarms, "
          f"{len(seen)} metric/dimension set(s) emitted in the end-to-end suite")
    for where, namespace, metric, dims in missing:
        print(f"metrics check: {where} refers to {namespace}/{metric} with dimensions "
              f"{sorted(dims)}, which the function never emitted", file=sys.stderr)
    return 1 if missing or not refs else 0


if __name__ == "__main__":
    sys.exit(main())
