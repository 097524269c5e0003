#!/usr/bin/env python3
"""Least privilege, proven both ways: the AWS actions the function called across the end-to-end
suite (the emulator's request log, RELINK_REQUEST_LOG) against the policy template.yaml gives the
function's role.

1. Every called action is granted, on a resource pattern that matches every resource the call
   was made on (e.g. the replacement group's ARN against ``autoScalingGroupName/CodeDeploy_*``).
2. Every granted action is called by some test.

Only the function's own requests count (access key ``relink``: the Lambda binary and the CLI
commands that run the function's handler); ``relink audit`` and ``relink dlq`` (key
``relink-cli``) are CLI commands with their own documented permissions.

Usage: check_policy.py REQUEST_LOG [TEMPLATE]
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

import yaml

FUNCTION_KEY = "relink"
SUBSTITUTIONS = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
# Called, and needing no grant: AWS authorises GetCallerIdentity for every principal.
NEEDS_NO_GRANT = {"sts:GetCallerIdentity"}
# Granted, and used by Lambda rather than by the function's code: the on-failure destination
# sends failed events with the function's role, and the event source mapping reads the
# notification queue with it.
USED_BY_LAMBDA = {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags kept as {"!Tag": value}."""


def _tagged(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


CfnLoader.add_multi_constructor("!", _tagged)


def resolve(value: Any, parameters: dict[str, str]) -> str | None:
    """A Resource value as a string pattern; None for what cannot be resolved here (a !GetAtt)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "!Sub" in value and isinstance(value["!Sub"], str):
        text = value["!Sub"]
        for name, replacement in {**SUBSTITUTIONS, **parameters}.items():
            text = text.replace("${" + name + "}", replacement)
        return text
    return None


def condition(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """A condition of the template with its parameters at their defaults: the forms it uses
    (!Equals of a !Ref and a value, !Not of one)."""
    def value(node: Any) -> Any:
        return parameters.get(node["!Ref"], "") if isinstance(node, dict) and "!Ref" in node else node

    def evaluate(node: dict[str, Any]) -> bool:
        if "!Equals" in node:
            left, right = node["!Equals"]
            return str(value(left)) == str(value(right))
        if "!Not" in node:
            return not evaluate(node["!Not"][0])
        raise ValueError(f"condition form not understood: {node}")

    return evaluate(template["Conditions"][name])


def grants(template: dict[str, Any]) -> list[tuple[list[str], list[str | None]]]:
    """The Allow statements of the function's role, with the parameters at their defaults (a
    statement under !If is there when its condition holds)."""
    parameters = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    function = template["Resources"]["Function"]["Properties"]
    result = []
    for policy in function.get("Policies", []):
        for statement in policy.get("Statement", []):
            if "!If" in statement:
                name, then, otherwise = statement["!If"]
                statement = then if condition(template, name, parameters) else otherwise
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            result.append((actions, [resolve(r, parameters) for r in resources]))
    return result


def refused(action: str, resources: list[str], statements: list[tuple[list[str], list[str | None]]]) -> list[str]:
    """The resources (or ["*"]) no Allow statement for `action` covers; empty when all are."""
    patterns = [
        p for actions, ps in statements if any(fnmatch.fnmatchcase(action, a) for a in actions)
        for p in ps if p is not None
    ]
    if not patterns:
        return resources or ["*"]
    return [r for r in resources if not any(fnmatch.fnmatchcase(r, p) for p in patterns)]


def main() -> int:
    log = Path(sys.argv[1])
    template = yaml.load(Path(sys.argv[2] if len(sys.argv) > 2 else "template.yaml").read_text(), Loader=CfnLoader)
    statements = grants(template)
    calls: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        request = json.loads(line)
        if request["key"] == FUNCTION_KEY:
            calls.setdefault(request["action"], set()).update(request["resources"])
    problems = []
    for action, resources in sorted(calls.items()):
        if action in NEEDS_NO_GRANT:
            continue
        missing = refused(action, sorted(resources), statements)
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            problems.append(f"called but not granted: {action} on {', '.join(missing[:3])}{more}")
    granted = {a for actions, _ in statements for a in actions}
    for action in sorted(granted - set(calls) - USED_BY_LAMBDA):
        problems.append(f"granted but never called by a test: {action}")
    print(f"policy check: {len(calls)} action(s) called by the function in the end-to-end suite, "
          f"{len(granted)} granted")
    for action, resources in sorted(calls.items()):
        print(f"  {action}: {', '.join(sorted(resources)) or '*'}" if len(resources) <= 2 else
              f"  {action}: {len(resources)} resources, e.g. {sorted(resources)[0]}")
    for problem in problems:
        print(f"policy check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
