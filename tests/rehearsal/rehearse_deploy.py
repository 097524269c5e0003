#!/usr/bin/env python3
"""The deployment rehearsal: what the GitHub workflows do between `cargo` and a running function,
done on this machine without an AWS account, and proved by running the result.

1. build   as the workflow builds: scripts/build-lambda (sam build, the Makefile: static arm64);
2. hand over as the workflows do, including what GitHub does to the files: the producing job's
           `handover*` steps, then the artifact round trip (``artifact_round_trip``: GitHub's
           artifacts keep no file modes), then, in a fresh checkout for each job that downloads
           the build (the deploy job, the release job), its `handover*` steps. The steps and the
           artifact paths are read from the workflow files; the deploy job's checkout goes on;
3. package as `sam deploy` packages: `sam package` of the template the deploy step names
           (`--template-file`) against the emulator's S3, then the zip it uploaded is fetched back
           and must be, byte for byte, the zip the build job made and recorded (SHA256SUMS);
4. check   the zip the way Lambda will: `bootstrap` at its root, executable, an aarch64 ELF whose
           interpreter and libraries provided.al2023 has (glibc 2.34 at most);
5. run it  under qemu-aarch64 against a local Lambda Runtime API (the template's environment
           variables, memory size and timeout) and the emulator over HTTPS, trusting only the CA
           bundle at Amazon Linux 2023's path (trust.py): without the bundle the invocation must
           fail with the certificate error in the function's log; with it, deliver
           events/sqs-sns-success.json (what the template's notification queue hands the function:
           SNS envelopes in an SQS batch) and check the replacement group got its target groups
           and classic load balancer and no record failed.

Usage: rehearse_deploy.py [--workflows DIR] [--expect-failure-at N] [--no-build]
       rehearse_deploy.py --release TEMPLATE
  --workflows DIR        the workflow files to rehearse (default .github/workflows); the workflows
                         as they were before the hand-over fix are in tests/rehearsal/before-fix/
  --expect-failure-at N  succeed only if the rehearsal fails at step N (shows that it catches the
                         defect it exists for)
  --release TEMPLATE     a release's template, its zip beside it (scripts/release-check): steps 3
                         to 5 as a user deploying the release runs them, no build and no hand-over;
                         the uploaded zip must be the released one, byte for byte; then step 6,
                         the StackSets install (scripts/stackset upload and the release's
                         StackSet template)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "emulator"))
import trust  # noqa: E402  (beside this file)
from authority import create as create_authority  # noqa: E402
from runtime_api import FUNCTION_ARN, invoke  # noqa: E402
from server import Emulator  # noqa: E402
from world import World  # noqa: E402

EVENT = ROOT / "events" / "sqs-sns-success.json"
BUCKET = "relink-rehearsal"
# What provided.al2023 offers a dynamically linked binary: glibc 2.34 and the GCC runtime.
AL2023_GLIBC = (2, 34)
AL2023_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1",
    "libutil.so.1", "ld-linux-aarch64.so.1",
}
AARCH64_INTERPRETER = "/lib/ld-linux-aarch64.so.1"
QEMU = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]


class StepFailed(Exception):
    def __init__(self, step: int, reason: str) -> None:
        super().__init__(f"step {step} failed: {reason}")
        self.step = step


def say(step: int, text: str) -> None:
    print(f"-- rehearsal step {step}: {text}", flush=True)


def run(command: list[str] | str, cwd: Path, env: dict[str, str] | None = None, step: int = 0) -> str:
    shell = isinstance(command, str)
    result = subprocess.run(command, cwd=cwd, env=env, shell=shell, executable="/bin/bash" if shell else None,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise StepFailed(step, f"{command!r} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


# --- the workflows ----------------------------------------------------------------------------

def load_workflows(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(directory.glob("*.yml"))}


def steps_using(workflows: dict[str, dict[str, Any]], action: str) -> list[tuple[str, list[dict[str, Any]], int]]:
    """Every step using `action`, across the workflow files: (file, its job's steps, index)."""
    found = []
    for name, workflow in workflows.items():
        for job in (workflow.get("jobs") or {}).values():
            steps = job.get("steps") or []
            for i, step in enumerate(steps):
                if str(step.get("uses", "")).startswith(f"{action}@"):
                    found.append((name, steps, i))
    return found


def artifact_names(workflows: dict[str, dict[str, Any]]) -> set[str]:
    """The names of every artifact the workflows upload, `${{ matrix.X }}` expanded over the
    job's matrix."""
    names = set()
    for workflow in workflows.values():
        for job in (workflow.get("jobs") or {}).values():
            matrix = (job.get("strategy") or {}).get("matrix") or {}
            for step in job.get("steps") or []:
                if not str(step.get("uses", "")).startswith("actions/upload-artifact@"):
                    continue
                found = [str(step["with"].get("name"))]
                for key, values in matrix.items():
                    if isinstance(values, list):
                        found = [n.replace(f"${{{{ matrix.{key} }}}}", str(v)) for n in found for v in values]
                names.update(found)
    return names


def handover_steps(steps: list[dict[str, Any]]) -> list[str]:
    """The `run` commands of the steps whose id starts with `handover`."""
    return [s["run"] for s in steps if str(s.get("id", "")).startswith("handover") and "run" in s]


def artifact_round_trip(upload_path: Path, download_path: Path) -> list[Path]:
    """What GitHub does between actions/upload-artifact and actions/download-artifact: the files
    under the uploaded path (relative to the path itself when it is a directory, to its parent
    when it is a file) arrive under the download path with default modes — 0644, no execute bit.
    Modelled on the behaviour documented for actions/upload-artifact ("file permissions are not
    maintained"); see the upload step in .github/workflows/ci.yml."""
    root = upload_path if upload_path.is_dir() else upload_path.parent
    files = [p for p in sorted(root.rglob("*")) if p.is_file()] if upload_path.is_dir() else [upload_path]
    arrived = []
    for source in files:
        target = download_path / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.chmod(target, 0o644)
        arrived.append(target)
    if not arrived:
        raise StepFailed(2, f"the upload path {upload_path} holds no file")
    return arrived


def checkout(destination: Path) -> None:
    """actions/checkout: the repository's tracked files, modes kept (from the working tree, so that
    a rehearsal before a commit sees the change)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if not name or not (ROOT / name).is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


# --- the steps --------------------------------------------------------------------------------

def build() -> None:
    say(1, "scripts/build-lambda (sam build, the Makefile: static arm64)")
    run(["scripts/build-lambda"], ROOT, step=1)


def deploy_command(workflows: dict[str, dict[str, Any]]) -> str:
    """The `run` of the step that runs `sam deploy` (the first, if several)."""
    for workflow in workflows.values():
        for job in (workflow.get("jobs") or {}).values():
            for step in job.get("steps") or []:
                if "sam deploy" in str(step.get("run", "")):
                    return str(step["run"])
    raise StepFailed(3, "no step runs sam deploy")


def deployed_template(workflows: dict[str, dict[str, Any]]) -> Path | None:
    """The template the deploy step deploys (`--template-file`), None for SAM's default (the
    build folder's template, which sam deploy zips again)."""
    found = re.search(r"--template-file[ =]\"?([^\s\"]+)", deploy_command(workflows))
    return Path(found.group(1)) if found else None


def check_digest(zipped: Path, template: Path) -> None:
    """The uploaded zip is the one the build job recorded in SHA256SUMS beside the template."""
    import hashlib

    sums = template.parent / "SHA256SUMS"
    if not sums.is_file():
        raise StepFailed(3, f"no SHA256SUMS beside {template.name}: the build job recorded no digest")
    recorded = dict(reversed(line.split(None, 1)) for line in sums.read_text().splitlines() if line.strip())
    name = re.search(r"^      CodeUri:\s*(\S+\.zip)\s*$", template.read_text(), re.M)
    if not name or name.group(1) not in recorded:
        raise StepFailed(3, f"{template.name} names no zip whose digest SHA256SUMS records")
    digest = hashlib.sha256(zipped.read_bytes()).hexdigest()
    if digest != recorded[name.group(1)]:
        raise StepFailed(3, f"sam package uploaded {digest}, not {name.group(1)} as the build job recorded it "
                            f"({recorded[name.group(1)]})")
    print(f"   the uploaded zip is {name.group(1)} as the build job recorded it: sha256 {digest}")


def hand_over(workflows: dict[str, dict[str, Any]], workspace: Path) -> Path:
    """The build's artifact from its upload to every job that downloads it, each in a workspace of
    its own under `workspace`; returns the workspace of the job that runs `sam deploy`. The build's
    artifact is the upload after a `handover-pack` step, or that uploads .aws-sam/build itself (the
    workflows before the fix); the other artifacts (the release's assets) carry no build."""
    uploads = [
        (file, steps, i) for file, steps, i in steps_using(workflows, "actions/upload-artifact")
        if any(str(step.get("id", "")).startswith("handover-pack") for step in steps[:i])
        or str(steps[i]["with"].get("path", "")).startswith(".aws-sam")
    ]
    if len(uploads) != 1:
        raise StepFailed(2, f"expected exactly one upload of the build, found {len(uploads)}")
    uploaded = artifact_names(workflows)
    for file, steps, i in steps_using(workflows, "actions/download-artifact"):
        name = str(steps[i]["with"].get("name"))
        if name not in uploaded:
            raise StepFailed(2, f"{file} downloads the artifact {name!r}, which no workflow uploads")
    up_file, up_steps, up_index = uploads[0]
    upload = up_steps[up_index]["with"]
    downloads = [
        (file, steps, i) for file, steps, i in steps_using(workflows, "actions/download-artifact")
        if steps[i]["with"].get("name") == upload.get("name")
    ]
    deploying = [d for d in downloads if any("sam deploy" in str(s.get("run", "")) for s in d[1][d[2] + 1:])]
    if len(deploying) != 1:
        raise StepFailed(2, f"expected exactly one job that downloads {upload.get('name')!r} and runs sam deploy, "
                            f"found {len(deploying)}")
    for command in handover_steps(up_steps[:up_index]):
        say(2, f"{up_file}: {command.strip()}")
        run(command, ROOT, step=2)
    deploy_workspace = workspace
    for number, (down_file, down_steps, down_index) in enumerate(downloads):
        download = down_steps[down_index]["with"]
        job_workspace = workspace / f"{number}-{down_file}"
        say(2, f"artifact {upload['name']!r}: {up_file} uploads {upload['path']}, {down_file} downloads to "
               f"{download['path']} (GitHub keeps no file modes)")
        checkout(job_workspace)
        arrived = artifact_round_trip(ROOT / upload["path"], job_workspace / download["path"])
        for path in arrived:
            print(f"   arrived {path.relative_to(job_workspace)} mode {stat.filemode(path.stat().st_mode)}")
        for command in handover_steps(down_steps[down_index + 1:]):
            say(2, f"{down_file}: {command.strip()}")
            run(command, job_workspace, step=2)
        if (down_file, down_steps, down_index) == deploying[0]:
            deploy_workspace = job_workspace
            continue
        # The other jobs (the release) take .aws-sam/build as the deploy job would.
        bootstrap = job_workspace / ".aws-sam" / "build" / "Function" / "bootstrap"
        if not bootstrap.is_file() or not os.access(bootstrap, os.X_OK):
            raise StepFailed(2, f"{down_file}: after the hand-over, {bootstrap.relative_to(job_workspace)} "
                                "is missing or not executable")
        print(f"   {down_file}: {bootstrap.relative_to(job_workspace)} {stat.filemode(bootstrap.stat().st_mode)}")
    return deploy_workspace


def package(workspace: Path, emulator: Emulator, template: Path | None = None) -> Path:
    say(3, "sam package (as sam deploy packages the template) against the emulator's S3")
    import boto3

    s3 = boto3.client("s3", endpoint_url=emulator.endpoint, region_name="us-east-1",
                      aws_access_key_id="harness", aws_secret_access_key="harness")
    s3.create_bucket(Bucket=BUCKET)
    env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint, AWS_ACCESS_KEY_ID="harness",
               AWS_SECRET_ACCESS_KEY="harness", AWS_REGION="us-east-1", SAM_CLI_TELEMETRY="0")
    chosen = ["--template-file", str(template)] if template else []
    run(["sam", "package", *chosen, "--s3-bucket", BUCKET, "--output-template-file", "packaged.yaml",
         "--region", "us-east-1", "--no-progressbar"], workspace, env=env, step=3)
    packaged = (workspace / "packaged.yaml").read_text()
    match = re.search(r"CodeUri:\s*s3://([^/\s]+)/(\S+)", packaged)
    if not match:
        raise StepFailed(3, f"packaged.yaml has no s3:// CodeUri:\n{packaged}")
    zipped = workspace / "uploaded.zip"
    s3.download_file(match.group(1), match.group(2), str(zipped))
    print(f"   s3://{match.group(1)}/{match.group(2)}: {zipped.stat().st_size} bytes")
    return zipped


def check(zipped: Path, workspace: Path) -> Path:
    say(4, "the zip as Lambda sees it")
    with zipfile.ZipFile(zipped) as archive:
        if "bootstrap" not in archive.namelist():
            raise StepFailed(4, f"no bootstrap at the zip's root: {archive.namelist()}")
        info = archive.getinfo("bootstrap")
        mode = info.external_attr >> 16
        if not stat.S_ISREG(mode) or mode & 0o555 != 0o555:
            raise StepFailed(4, f"bootstrap is not executable in the zip: mode {stat.filemode(mode)} "
                                "(Lambda would fail every invocation with Runtime.InvalidEntrypoint)")
        extracted = workspace / "function"
        archive.extractall(extracted)
    bootstrap = extracted / "bootstrap"
    os.chmod(bootstrap, mode & 0o7777)
    header = bootstrap.read_bytes()[:20]
    if header[:4] != b"\x7fELF" or header[4] != 2 or int.from_bytes(header[18:20], "little") != 0xB7:
        raise StepFailed(4, "bootstrap is not a 64-bit aarch64 ELF executable")
    dynamic = run(["readelf", "--dynamic", "--program-headers", "--version-info", "--wide", str(bootstrap)], workspace, step=4)
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    if needed - AL2023_LIBRARIES:
        raise StepFailed(4, f"bootstrap needs libraries provided.al2023 lacks: {sorted(needed - AL2023_LIBRARIES)}")
    interpreter = re.search(r"Requesting program interpreter: ([^\]]+)\]", dynamic)
    if interpreter and interpreter.group(1) != AARCH64_INTERPRETER:
        raise StepFailed(4, f"bootstrap asks for interpreter {interpreter.group(1)}")
    versions = [tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", dynamic)]
    newest = max(versions, default=(0,))
    if newest > AL2023_GLIBC:
        raise StepFailed(4, f"bootstrap needs glibc {'.'.join(map(str, newest))}; provided.al2023 has 2.34")
    linking = (f"dynamically linked against {sorted(needed)}, glibc <= {'.'.join(map(str, newest))}"
               if needed or interpreter else "statically linked")
    print(f"   bootstrap {stat.filemode(mode)}, aarch64 ELF, {linking}")
    return bootstrap


class _CloudFormation(yaml.SafeLoader):
    """Reads a CloudFormation template: `!Ref X` becomes {"Ref": X}, `!Sub s` {"Fn::Sub": s}, …"""


_CloudFormation.add_multi_constructor("!", lambda loader, suffix, node: {
    ("Ref" if suffix == "Ref" else f"Fn::{suffix}"): (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node))})


def function_settings(template: Path) -> tuple[dict[str, str], int]:
    """What Lambda gives the function the template deploys with its parameters' defaults: the
    environment (its variables, AWS_LAMBDA_FUNCTION_MEMORY_SIZE) and the timeout in seconds."""
    body = yaml.load(template.read_text(), Loader=_CloudFormation)
    defaults = {name: str(p.get("Default", "")) for name, p in (body.get("Parameters") or {}).items()}
    functions = [r["Properties"] for r in body["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    if len(functions) != 1:
        raise StepFailed(5, f"{template.name} has {len(functions)} functions, not 1")
    function = functions[0]
    env = {}
    for name, value in ((function.get("Environment") or {}).get("Variables") or {}).items():
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in defaults:
            value = defaults[value["Ref"]]
        if isinstance(value, dict):
            raise StepFailed(5, f"{template.name}: the function's {name} is {value}, which the rehearsal cannot resolve")
        env[name] = str(value)
    env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(function.get("MemorySize", 128))
    return env, int(function.get("Timeout", 3))


def run_it(bootstrap: Path, emulator: Emulator, template: Path, workspace: Path) -> None:
    """The bootstrap as Lambda runs it, over HTTPS: the emulator answers on TLS with a certificate
    of a throwaway CA, and the CA is installed only at Amazon Linux 2023's bundle path in a private
    mount namespace (tests/rehearsal/trust.py), with no SSL_CERT_FILE. First without the bundle:
    the function must fail, saying why in its log; then with it: the function must relink."""
    say(5, "bootstrap under qemu-aarch64, a local Lambda Runtime API and the emulator over HTTPS, "
           f"trusting only {trust.AL2023_BUNDLE}")
    env, timeout = function_settings(template)
    print(f"   the template's environment {env}, timeout {timeout} s")
    authority = create_authority(workspace)
    https = emulator.serve_tls(authority.server_certificate, authority.server_key)
    world = World(emulator.endpoint)
    envelope = json.loads(json.loads(EVENT.read_text())["Records"][0]["body"])
    message = json.loads(envelope["Message"])
    built = world.build({"application": message["applicationName"], "deployment_group": message["deploymentGroupName"],
                         "deployment_id": message["deploymentId"], "target_groups": 2, "classic_load_balancers": 1})
    leaked = sorted({"SSL_CERT_FILE", "SSL_CERT_DIR"} & set(env))
    if leaked:
        raise StepFailed(5, f"the function's environment sets {leaked}: Lambda's does not")

    def run(bundle: Path | None) -> dict[str, Any]:
        keep = Path(tempfile.mkdtemp(prefix="host-etc-", dir=workspace))
        command = trust.confined(QEMU + [str(bootstrap)], bundle, keep)
        return invoke(command, EVENT.read_bytes(), https, env=env, function_arn=FUNCTION_ARN, timeout=timeout)

    records = len(json.loads(EVENT.read_text())["Records"])

    def failed_records(answer: dict[str, Any]) -> int:
        """How many records the invocation failed: all when it failed, else those it names."""
        if not answer["path"].endswith("/response"):
            return records
        return len(json.loads(answer["body"]).get("batchItemFailures", []))

    untrusted = run(None)
    logs = "\n".join(untrusted["logs"])
    if failed_records(untrusted) != records or "invalid peer certificate: UnknownIssuer" not in logs:
        raise StepFailed(5, f"with no bundle at {trust.AL2023_BUNDLE}, the function should fail on the emulator's "
                            f"certificate and say so in its log; it answered {untrusted['path']}: {untrusted['body']}\n"
                            + "\n".join(untrusted["logs"][-20:]))
    print(f"   no bundle: every record failed, the function's log says: "
          f"{next(line for line in untrusted['logs'] if 'UnknownIssuer' in line)[:200]}…")
    answer = run(authority.ca_certificate)
    if failed_records(answer):
        raise StepFailed(5, f"the invocation did not succeed ({answer['path']}): {answer['body']}\n"
                            + "\n".join(answer["logs"][-20:]))
    report = json.loads(answer["body"])["reports"][0]
    group = world.group(built["replacement_group"])
    if report["outcome"] != "relinked" or set(group["target_group_arns"]) != set(built["target_groups"].values()) \
            or group["load_balancer_names"] != built["load_balancers"]:
        raise StepFailed(5, f"the replacement group was not linked: report {report}, group {group}")
    print(f"   bundle at {trust.AL2023_BUNDLE}: {built['replacement_group']} relinked over {https} in "
          f"{report['aws_rounds']} rounds; target groups {sorted(group['target_group_arns'])}, "
          f"load balancers {group['load_balancer_names']}")


def rehearse(workflows_dir: Path, build_first: bool = True) -> None:
    workflows = load_workflows(workflows_dir)
    if build_first:
        build()
    else:
        say(1, "the build already made for this commit (--no-build)")
    with tempfile.TemporaryDirectory(prefix="relink-rehearsal-") as tmp:
        workspace = hand_over(workflows, Path(tmp))
        template = deployed_template(workflows)
        emulator = Emulator()
        try:
            zipped = package(workspace, emulator, workspace / template if template else None)
            if template:
                check_digest(zipped, workspace / template)
            bootstrap = check(zipped, workspace)
            run_it(bootstrap, emulator, workspace / template if template else ROOT / "template.yaml", workspace)
        finally:
            emulator.stop()


def rehearse_release(template: Path) -> None:
    released = re.search(r"^      CodeUri:\s*(\S+\.zip)\s*$", template.read_text(), re.M)
    if not released:
        raise StepFailed(3, f"{template} names no zip as the function's CodeUri")
    with tempfile.TemporaryDirectory(prefix="relink-release-") as tmp:
        workspace = Path(tmp)
        emulator = Emulator()
        try:
            zipped = package(workspace, emulator, template.resolve())
            if zipped.read_bytes() != (template.parent / released.group(1)).read_bytes():
                raise StepFailed(3, f"sam package uploaded something other than {released.group(1)}")
            print(f"   the uploaded zip is {released.group(1)}, byte for byte")
            bootstrap = check(zipped, workspace)
            run_it(bootstrap, emulator, template, workspace)
            shipped = template.parent / template.name.replace("-template.yaml", "-stackset.json")
            stackset(template.parent / released.group(1), shipped, emulator)
        finally:
            emulator.stop()


def stackset(zipped: Path, shipped: Path, emulator: Emulator) -> None:
    """The organization's install as docs/organization.md runs it: `scripts/stackset upload` puts the zip in
    each region's bucket, and the release's StackSet template (`shipped`), its CodeBucketPrefix
    given as docs/organization.md gives it, must name exactly that object in every region."""
    say(6, f"StackSets: scripts/stackset upload into per-region buckets, and {shipped.name}'s code")
    import boto3

    prefix, regions = "relink-code", ["us-east-1", "eu-west-1"]
    env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint, AWS_ACCESS_KEY_ID="harness",
               AWS_SECRET_ACCESS_KEY="harness", AWS_REGION="us-east-1")
    s3 = {r: boto3.client("s3", endpoint_url=emulator.endpoint, region_name=r, aws_access_key_id="harness",
                          aws_secret_access_key="harness") for r in regions}
    for region, client in s3.items():
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client.create_bucket(Bucket=f"{prefix}-{region}", **where)
    run(["scripts/stackset", "upload", prefix, str(zipped), *regions], ROOT, env=env, step=6)
    expanded = json.loads(shipped.read_text())
    if "CodeBucketPrefix" not in expanded.get("Parameters", {}):
        raise StepFailed(6, f"{shipped.name} has no CodeBucketPrefix parameter")
    functions = [r for r in expanded["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    if len(functions) != 1:
        raise StepFailed(6, f"{shipped.name} has {len(functions)} Lambda functions, not 1")
    code = functions[0]["Properties"]["Code"]
    for region, client in s3.items():
        bucket = code["S3Bucket"]["Fn::Sub"].replace("${CodeBucketPrefix}", prefix).replace("${AWS::Region}", region)
        try:
            body = client.get_object(Bucket=bucket, Key=code["S3Key"])["Body"].read()
        except client.exceptions.ClientError as error:
            raise StepFailed(6, f"{region}: the template's code s3://{bucket}/{code['S3Key']} was not uploaded: {error}")
        if body != zipped.read_bytes():
            raise StepFailed(6, f"{region}: s3://{bucket}/{code['S3Key']} is not {zipped.name}")
        print(f"   {region}: CodeBucketPrefix={prefix} names s3://{bucket}/{code['S3Key']}, which is {zipped.name}, "
              "byte for byte")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=Path, default=ROOT / ".github" / "workflows")
    parser.add_argument("--expect-failure-at", type=int)
    parser.add_argument("--release", type=Path)
    parser.add_argument("--no-build", action="store_true",
                        help="step 1 is done: rehearse the build already in .aws-sam/build (a second rehearsal)")
    args = parser.parse_args()
    if args.release:
        try:
            rehearse_release(args.release)
        except StepFailed as failure:
            print(f"rehearsal of the release {args.release}: {failure}", flush=True)
            return 1
        print(f"rehearsal of the release {args.release}: its function runs and relinks")
        return 0
    try:
        rehearse(args.workflows, build_first=not args.no_build)
    except StepFailed as failure:
        print(f"rehearsal of {args.workflows}: {failure}", flush=True)
        if args.expect_failure_at == failure.step:
            print(f"rehearsal: failed at step {failure.step}, as expected for {args.workflows}")
            return 0
        return 1
    if args.expect_failure_at:
        print(f"rehearsal of {args.workflows} passed, but it was expected to fail at step {args.expect_failure_at}")
        return 1
    print(f"rehearsal of {args.workflows}: the function that would be deployed runs and relinks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
