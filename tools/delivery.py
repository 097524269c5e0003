#!/usr/bin/env python3
"""Checks of the delivery pipeline that run in its jobs (.github/workflows/sam-deploy.yml):

  forward STACK COMMIT   production only moves forward: COMMIT must be the commit the stack runs
                         (the stack's tag codedeploy-relink:commit, set by every deploy) or descend
                         from it. A stack that does not exist yet, or was deployed before the tag
                         existed, lets any commit through (said so). Reads the stack with boto3
                         (the deploy job's SAM CLI brings it) and the history with git (the job
                         checks out with the full history).
  stack-name ENVIRONMENT the stack of a samconfig.toml environment (staging, production), or the
                         default's when the environment names none.
  sweep-report FILE      staging proves a real call: FILE is the deployed function's answer to a
                         scheduled event (scripts/smoke-test --sweep). The sweep ran (its summary is
                         there), no report failed, and nothing was attached (staging runs with
                         DryRun=true): real credentials, TLS and IAM, no change.

Each exits 0 when the check holds and 1 with a message for the job's log (a GitHub ::error::
annotation) when it does not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

COMMIT_TAG = "codedeploy-relink:commit"


def deployed_commit(stack: str, cloudformation: Any) -> str | None:
    """The commit the stack runs (its COMMIT_TAG), or None: no such stack, or no tag."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    tags = {t["Key"]: t["Value"] for t in stacks[0].get("Tags", [])} if stacks else {}
    return tags.get(COMMIT_TAG)


def descends(commit: str, ancestor: str, repo: Path) -> bool:
    """Whether `commit` is `ancestor` or descends from it (git merge-base --is-ancestor)."""
    known = subprocess.run(["git", "cat-file", "-e", f"{ancestor}^{{commit}}"], cwd=repo, capture_output=True)
    if known.returncode != 0:
        return False
    return subprocess.run(["git", "merge-base", "--is-ancestor", ancestor, commit], cwd=repo).returncode == 0


def forward(stack: str, commit: str, cloudformation: Any, repo: Path) -> tuple[bool, str]:
    """(allowed, message) for deploying `commit` to `stack`."""
    deployed = deployed_commit(stack, cloudformation)
    if deployed is None:
        return True, f"{stack} has no {COMMIT_TAG} tag yet (first deploy, or deployed before it existed): {commit} goes"
    if deployed == commit:
        return True, f"{stack} runs {commit} already: a re-run of the same commit"
    if descends(commit, deployed, repo):
        return True, f"{commit} descends from {deployed}, which {stack} runs: forward"
    return False, (
        f"{stack} runs {deployed}, and {commit} does not descend from it: deploying it would roll "
        "production back. Re-run the newest deploy run of main instead (or revert on main, which "
        "makes a newer commit)."
    )


def sweep_report(answer: dict[str, Any]) -> list[str]:
    """What is wrong with the deployed function's answer to a scheduled event (empty: nothing)."""
    problems = []
    if "summary" not in answer or not isinstance(answer.get("reports"), list):
        return [f"not a sweep's answer (no summary and reports): {json.dumps(answer)[:300]}"]
    for report in answer["reports"]:
        where = report.get("deployment_id") or report.get("source")
        if report.get("outcome") == "failed":
            problems.append(f"{where}: failed: {report.get('detail')}")
        if report.get("outcome") == "relinked" or any(
            report.get(kind, {}).get("attached") for kind in ("target_groups", "load_balancers")
        ):
            problems.append(f"{where}: attached something, but staging must run with DryRun=true")
        if report.get("dry_run") is False:
            problems.append(f"{where}: not a dry run, but staging must run with DryRun=true")
    return problems


def stack_name(environment: str, samconfig: Path) -> str:
    """The stack a samconfig.toml environment deploys."""
    import tomllib

    config = tomllib.loads(samconfig.read_text())
    chosen = config.get(environment, {}).get("deploy", {}).get("parameters", {})
    name = chosen.get("stack_name") or config.get("default", {}).get("global", {}).get("parameters", {}).get("stack_name")
    if not name:
        raise SystemExit(f"{samconfig}: no stack_name for the environment {environment!r} nor a default one")
    return str(name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gate = commands.add_parser("forward")
    gate.add_argument("stack")
    gate.add_argument("commit")
    report = commands.add_parser("sweep-report")
    report.add_argument("file", type=Path)
    stack = commands.add_parser("stack-name")
    stack.add_argument("environment")
    args = parser.parse_args(argv)
    if args.command == "stack-name":
        print(stack_name(args.environment, Path(__file__).resolve().parents[1] / "samconfig.toml"))
        return 0
    if args.command == "forward":
        import boto3

        allowed, message = forward(args.stack, args.commit, boto3.client("cloudformation"), Path.cwd())
        print(message if allowed else f"::error::{message}", file=sys.stdout if allowed else sys.stderr)
        return 0 if allowed else 1
    answer = json.loads(args.file.read_text())
    problems = sweep_report(answer)
    for problem in problems:
        print(f"::error::staging sweep: {problem}", file=sys.stderr)
    if not problems:
        summary = answer["summary"]
        print(f"staging sweep: {summary.get('deployments_seen', 0)} deployment(s) seen, "
              f"{summary.get('planned', 0)} planned, {summary.get('failed', 0)} failed; nothing attached")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
