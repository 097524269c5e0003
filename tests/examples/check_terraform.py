#!/usr/bin/env python3
"""The Terraform example (examples/terraform) against the template it installs: every parameter it
sets is one of template.yaml's, every output it reads is one of its outputs (an output with a
condition only through lookup(), since the stack may not have it), and its capabilities are those
the template needs (an IAM role: CAPABILITY_IAM; resource policies: CAPABILITY_RESOURCE_POLICY).
Then `terraform fmt -check` where Terraform is installed. `terraform validate` needs the AWS
provider, which `terraform init` downloads from the registry; it does not run here.

Usage: check_terraform.py (scripts/check-deploy runs it)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "terraform"
RESOURCE_POLICIES = {"AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::Lambda::Permission"}


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags read as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def main() -> int:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    module = "\n".join(p.read_text() for p in sorted(EXAMPLE.glob("*.tf")))
    problems = []

    block = re.search(r"^  parameters = \{\n(.*?)^  \}", module, re.M | re.S)
    parameters = set(re.findall(r"^\s+(\w+)\s*=", block.group(1), re.M)) if block else set()
    if not parameters:
        problems.append("sets no parameters")
    problems += [f"sets the parameter {p}, which template.yaml lacks" for p in sorted(parameters - set(template["Parameters"]))]

    outputs = template["Outputs"]
    for match in re.finditer(r"(lookup\()?aws_serverlessapplicationrepository_cloudformation_stack\.relink\.outputs"
                             r"(?:\[\"(\w+)\"\]|, \"(\w+)\")", module):
        looked_up, name = bool(match.group(1)), match.group(2) or match.group(3)
        if name not in outputs:
            problems.append(f"reads the output {name}, which template.yaml lacks")
        elif "Condition" in outputs[name] and not looked_up:
            problems.append(f"reads the conditional output {name} without lookup()")

    types = {r["Type"] for r in template["Resources"].values()}
    needed = {"CAPABILITY_IAM"} if types & {"AWS::IAM::Role", "AWS::Serverless::Function"} else set()
    if types & RESOURCE_POLICIES or any(
            "Events" in r.get("Properties", {}) for r in template["Resources"].values()):
        needed.add("CAPABILITY_RESOURCE_POLICY")
    capabilities = re.search(r"capabilities\s*=\s*\[([^\]]*)\]", module)
    given = set(re.findall(r'"(\w+)"', capabilities.group(1))) if capabilities else set()
    if given != needed:
        problems.append(f"gives the capabilities {sorted(given)}; the template needs {sorted(needed)}")

    if shutil.which("terraform"):
        fmt = subprocess.run(["terraform", "fmt", "-check", "-diff", "-no-color", str(EXAMPLE)],
                             capture_output=True, text=True)
        if fmt.returncode:
            problems.append(f"is not formatted (terraform fmt):\n{fmt.stdout}")
        formatted = "terraform fmt -check passes"
    else:
        formatted = "terraform is not installed: formatting not checked"

    for problem in problems:
        print(f"examples/terraform {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"examples/terraform: {len(parameters)} parameters and the outputs it reads are the template's; "
          f"capabilities {sorted(needed)}; {formatted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
