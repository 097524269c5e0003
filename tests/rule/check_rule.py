#!/usr/bin/env python3
"""The EventBridge rule of template.yaml, checked against the events/ samples with moto's
implementation of EventBridge's pattern matching: it must deliver deployment SUCCESS and READY
and an instance's SUCCESS, and nothing else of CodeDeploy's (an instance's READY or FAILURE, a
deployment's FAILURE), so that instance notifications cost no invocation unless they can relink.

Usage: check_rule.py [TEMPLATE]
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import yaml
from moto.events.models import EventPattern

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))
from check_policy import CfnLoader  # noqa: E402  (the template's YAML, short-form tags kept)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def cases() -> list[tuple[str, dict, bool]]:
    """(name, event, delivered?) for each sample and state variant."""
    deployment = json.loads((EVENTS / "eventbridge-success.json").read_text())
    instance = json.loads((EVENTS / "eventbridge-instance-success.json").read_text())
    out = []
    for state, wanted in [("SUCCESS", True), ("READY", True), ("FAILURE", False), ("START", False)]:
        event = copy.deepcopy(deployment)
        event["detail"]["state"] = state
        out.append((f"deployment {state}", event, wanted))
    for state, wanted in [("SUCCESS", True), ("READY", False), ("FAILURE", False), ("START", False)]:
        event = copy.deepcopy(instance)
        event["detail"]["state"] = state
        out.append((f"instance {state}", event, wanted))
    other = copy.deepcopy(deployment)
    other["source"] = "aws.ec2"
    out.append(("another source", other, False))
    return out


def main(template: str) -> int:
    resources = yaml.load(Path(template).read_text(), Loader=CfnLoader)["Resources"]
    pattern = EventPattern.load(json.dumps(resources["DeploymentStateRule"]["Properties"]["EventPattern"]))
    wrong = [name for name, event, wanted in cases() if pattern.matches_event(event) != wanted]
    for name in wrong:
        print(f"check_rule: the EventBridge rule gets {name} wrong", file=sys.stderr)
    if not wrong:
        print(f"check_rule: the EventBridge rule delivers exactly what can relink ({len(cases())} cases)")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
