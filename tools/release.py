#!/usr/bin/env python3
"""Release helpers for scripts/release-check and .github/workflows/release.yml.

  release.py versions [TAG]          the version, when Cargo.toml, CHANGELOG.md's top entry,
                                     template.yaml's SemanticVersion (and TAG, vX.Y.Z) agree
  release.py notes VERSION           CHANGELOG.md's entry for VERSION (the release notes)
  release.py template VERSION ZIP [--sar]
                                     template.yaml as a release ships it: the function's code is the
                                     zip beside it (no build step); without the Serverless
                                     Application Repository's metadata (its LicenseUrl and ReadmeUrl
                                     name files a user's download lacks) unless --sar, for
                                     `sam publish` from the repository's root
  release.py check [--prebuilt] [--cli ARCHS] [TAG]
                                     assembles dist/release and checks it as users will use it
                                     (below, CHECK_USAGE; scripts/release-check runs it)
  release.py zip BOOTSTRAP ZIP       the function's zip as Lambda takes it, reproducible: one entry
                                     `bootstrap`, mode 0755, dated 1980-01-01, deflated at level 9
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def top_release(changelog: str) -> str | None:
    """The version of the changelog's newest released entry: the first `## [V]`, skipping the
    `## [Unreleased]` section where changes gather before a release (Keep a Changelog)."""
    match = re.search(r"^## \[(?!Unreleased\])([^\]]+)\]", changelog, re.M)
    return match.group(1) if match else None


def versions(tag: str | None) -> str:
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    changelog = top_release((ROOT / "CHANGELOG.md").read_text())
    template = re.search(r"^\s+SemanticVersion:\s*(\S+)", (ROOT / "template.yaml").read_text(), re.M)
    found = {
        "Cargo.toml": cargo,
        "CHANGELOG.md (top released entry)": changelog,
        "template.yaml (SemanticVersion)": template.group(1) if template else None,
    }
    if tag is not None:
        found[f"the tag {tag}"] = tag[1:] if tag.startswith("v") else None
    if len(set(found.values())) != 1:
        lines = "\n".join(f"  {where}: {version}" for where, version in found.items())
        raise SystemExit(f"release: the versions disagree:\n{lines}")
    return cargo


def notes(version: str) -> str:
    text = (ROOT / "CHANGELOG.md").read_text()
    match = re.search(rf"^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## \[|\Z)", text, re.M | re.S)
    if not match:
        raise SystemExit(f"release: CHANGELOG.md has no entry for {version}")
    return match.group(1).strip() + "\n"


def template(version: str, zip_name: str, sar: bool) -> str:
    text = (ROOT / "template.yaml").read_text()
    build = re.compile(r"\n    Metadata:\n(?:      #[^\n]*\n)*      BuildMethod: makefile")
    repository = re.compile(r"^  # `sam publish`.*?^  AWS::ServerlessRepo::Application:\n(?:    [^\n]*\n)+", re.M | re.S)
    if not build.search(text) or "      CodeUri: .\n" not in text or not repository.search(text):
        raise SystemExit("release: template.yaml's function no longer reads as expected")
    if version not in repository.search(text).group(0):
        raise SystemExit(f"release: template.yaml's SemanticVersion is not {version}")
    text = build.sub("", text, count=1)
    if not sar:
        text = repository.sub("", text, count=1)
    text = text.replace("      CodeUri: .\n", f"      CodeUri: {zip_name}\n", 1)
    return text


def zip_bootstrap(bootstrap: Path, target: Path) -> None:
    import zipfile

    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16  # a regular file, rwxr-xr-x: Lambda runs it
    info.compress_type = zipfile.ZIP_DEFLATED
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(info, bootstrap.read_bytes(), compresslevel=9)


# --- release.py check ---------------------------------------------------------------------------

CHECK_USAGE = """release.py check: assembles a release into dist/release and checks it as its users will use it.

  codedeploy-relink-V-lambda-arm64.zip    the function (the zip scripts/build-lambda builds)
  codedeploy-relink-V-template.yaml       template.yaml whose CodeUri is that zip: deployable with
                                          sam deploy / aws cloudformation package, no build
  codedeploy-relink-V-stackset.json       the template expanded for StackSets, its code bucket
                                          prefix a parameter (tools/stackset.py)
  relink-V-{x86_64,aarch64}-linux-musl.tar.gz
                                          the static CLI, its man page, shell completions, docs,
                                          and the sample events (events/*.json) the README replays
  codedeploy-relink-V.cdx.json            the SBOM (CycloneDX 1.6) of the shipped crates
  RELEASE_NOTES.md                        CHANGELOG.md's entry for V
  SHA256SUMS                              of all the above

Checks: the versions agree (Cargo.toml, CHANGELOG.md, template.yaml, and the tag when given), the
templates lint, the checksums verify, each CLI is static and says the version and commit when run
(the aarch64 one under qemu), and the released template and zip, deployed as a user would (sam
package against the emulator's S3), run the function under qemu and relink
(tests/rehearsal/rehearse_deploy.py --release).

  --prebuilt   build nothing: release what CI built for this commit. The function's zip of the
               hand-over (.aws-sam/lambda, its digest checked) when there is one — in release.yml
               the very bytes staging ran — else the bootstrap in .aws-sam/build, zipped; each CLI
               from the hand-over (.aws-sam/cli/relink-ARCH, from ci.yml's cli jobs) or else this
               machine's build (target/); all must name this commit
  --cli ARCHS  the CLI archives to assemble: x86_64,aarch64 (default) or none — .ci/run, whose
               time budget has no room for the CLIs' release builds, checks the function's assets;
               ci.yml's release-rehearsal job and release.yml check all of them

scripts/release-check installs the tools (.venv-tools, .venv, qemu) and runs this with
.venv-tools' Python, which has the SAM translator (the StackSet template) and cyclonedx (the SBOM).
"""
OUT = ROOT / "dist" / "release"
ZIP = ROOT / "target" / "lambda" / "codedeploy-relink" / "bootstrap.zip"
BOOTSTRAP = ROOT / ".aws-sam" / "build" / "Function" / "bootstrap"
HANDED_OVER = ROOT / ".aws-sam" / "lambda"
ARCHES = ("x86_64", "aarch64")
DOCS = ("README.md", "LICENSE", "NOTICE", "CHANGELOG.md")


class Refused(Exception):
    """What makes the release unfit, said in one line."""


def run(*command: str | Path, capture: bool = False) -> str:
    result = subprocess.run([str(c) for c in command], cwd=ROOT, check=False, text=True,
                            stdout=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        raise Refused(f"{' '.join(map(str, command))} exited {result.returncode}")
    return result.stdout or ""


def names_commit(binary: Path, commit: str) -> bool:
    return f"commit {commit}".encode() in binary.read_bytes()


def verify_sums(directory: Path) -> None:
    for line in (directory / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(None, 1)
        name = name.lstrip("*")
        if hashlib.sha256((directory / name).read_bytes()).hexdigest() != digest:
            raise Refused(f"{directory / name} does not match SHA256SUMS")


def cli_of(arch: str, prebuilt: bool) -> Path:
    handed = ROOT / ".aws-sam" / "cli" / f"relink-{arch}"
    return handed if prebuilt and handed.is_file() else ROOT / "target" / f"{arch}-unknown-linux-musl" / "release" / "relink"


def builds(prebuilt: bool, arches: list[str], commit: str) -> None:
    """The function's zip at ZIP and each CLI, built here or taken as CI handed them over."""
    if prebuilt:
        if not BOOTSTRAP.is_file() or not names_commit(BOOTSTRAP, commit):
            raise Refused(f"{BOOTSTRAP.relative_to(ROOT)} was not built from {commit}")
        if (HANDED_OVER / "bootstrap.zip").is_file():
            # The zip the build job made and the deploy jobs shipped (scripts/handover), not a new one.
            verify_sums(HANDED_OVER)
            ZIP.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HANDED_OVER / "bootstrap.zip", ZIP)
        else:
            run("scripts/build-lambda", "--zip-only")
    else:
        run("scripts/build-lambda")
        if arches:
            run("scripts/build-binaries", *arches)
    for arch in arches:
        cli = cli_of(arch, prebuilt)
        if not cli.is_file():
            raise Refused(f"no {arch} CLI: {cli} is missing (ci.yml builds it; scripts/build-binaries {arch} here)")
        if not names_commit(cli, commit):
            raise Refused(f"{cli} was not built from {commit}")


def interpreter(binary: Path) -> bool:
    """Whether the ELF binary asks for a program interpreter (is dynamically linked)."""
    return "program interpreter" in run("readelf", "--program-headers", binary, capture=True)


def launcher(arch: str, binary: Path) -> list[str]:
    return ["qemu-aarch64", str(binary)] if arch == "aarch64" else [str(binary)]


def archive(arch: str, version: str, prebuilt: bool, generator: list[str], epoch: int) -> Path:
    """relink-V-ARCH-linux-musl.tar.gz, reproducible: sorted, owned by root, dated by the commit."""
    top = f"relink-{version}-{arch}-linux-musl"
    files: dict[str, tuple[bytes, int]] = {"relink": (cli_of(arch, prebuilt).read_bytes(), 0o755)}
    for doc in DOCS:
        files[doc] = ((ROOT / doc).read_bytes(), 0o644)
    generate = lambda *args: subprocess.run(generator + list(args), cwd=ROOT, check=True,  # noqa: E731
                                            capture_output=True).stdout
    files["relink.1"] = (generate("man"), 0o644)
    for shell in ("bash", "zsh", "fish"):
        files[f"completions/relink.{shell}"] = (generate("completions", shell), 0o644)
    # The samples, so that `relink --dry-run replay events/sns-deployment-success.json` works from
    # the unpacked archive as the README shows.
    for sample in sorted((ROOT / "events").glob("*.json")):
        files[f"events/{sample.name}"] = (sample.read_bytes(), 0o644)
    target = OUT / f"{top}.tar.gz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for directory in sorted({top, f"{top}/completions", f"{top}/events"}):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, epoch
            tar.addfile(info)
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode, info.mtime = len(data), mode, epoch
            tar.addfile(info, io.BytesIO(data))
    with open(target, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(raw.getvalue())
    return target


def is_manual(text: str) -> bool:
    """Whether `text` is relink's manual page: a `.TH relink 1` line near the top, after roff's
    own set-up lines (clap_mangen writes two)."""
    return any(line.startswith(".TH relink 1") for line in text[:200].splitlines())


def check_archive(path: Path, arch: str, version: str, commit: str) -> None:
    top = path.name.removesuffix(".tar.gz")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(path) as tar:
        # The "data" filter where this Python has it (3.11.4 and later): our own archive, but no
        # reason to trust absolute paths or links in it.
        tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        cli = Path(tmp) / top / "relink"
        if interpreter(cli):
            raise Refused(f"{top}/relink is dynamically linked")
        said = subprocess.run(launcher(arch, cli) + ["--version"], capture_output=True, text=True).stdout.strip()
        if said != f"relink {version} (commit {commit})":
            raise Refused(f'{top}/relink --version says "{said}", not "relink {version} (commit {commit})"')
        if not is_manual((Path(tmp) / top / "relink.1").read_text()):
            raise Refused(f"{top}/relink.1 is not the manual page")
        if not (Path(tmp) / top / "events" / "sns-deployment-success.json").is_file():
            raise Refused(f"{top}/events/sns-deployment-success.json, which the README replays, is missing")
    print(f"{path.name}: static, runs: {said}")


def check(tag: str | None, prebuilt: bool, arches: list[str]) -> None:
    version = versions(tag)
    commit = run("git", "rev-parse", "--short=12", "HEAD", capture=True).strip()
    os.environ["RELINK_COMMIT"] = commit
    print(f"release {version}, commit {commit}", flush=True)
    builds(prebuilt, arches, commit)

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    name = f"codedeploy-relink-{version}"
    shutil.copyfile(ZIP, OUT / f"{name}-lambda-arm64.zip")
    (OUT / f"{name}-template.yaml").write_text(template(version, f"{name}-lambda-arm64.zip", sar=False))
    (OUT / "RELEASE_NOTES.md").write_text(notes(version))
    # Its own process: the SAM translator wants a session region, which stackset.py sets to a sentinel.
    (OUT / f"{name}-stackset.json").write_text(run(sys.executable, "tools/stackset.py", "template", version,
                                                   capture=True))
    run(sys.executable, "tools/sbom.py", "aarch64-unknown-linux-musl", OUT / f"{name}.cdx.json")
    epoch = int(run("git", "log", "-1", "--format=%ct", capture=True))
    if arches:
        # The man page and completions are the same for every architecture: the first CLI writes them.
        generator = launcher(arches[0], cli_of(arches[0], prebuilt))
        archives = {arch: archive(arch, version, prebuilt, generator, epoch) for arch in arches}
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(OUT.iterdir()))
    (OUT / "SHA256SUMS").write_text(sums)

    print("== checks", flush=True)
    verify_sums(OUT)
    print("SHA256SUMS verifies")
    run("cfn-lint", OUT / f"{name}-template.yaml", OUT / f"{name}-stackset.json")
    print("the release and StackSet templates lint")
    if "ServerlessRepo" in (OUT / f"{name}-template.yaml").read_text():
        raise Refused("the release template keeps the SAR metadata")
    for arch in arches:
        check_archive(archives[arch], arch, version, commit)
    run(ROOT / ".venv" / "bin" / "python", "tests/rehearsal/rehearse_deploy.py", "--release",
        OUT / f"{name}-template.yaml")
    for path in sorted(OUT.iterdir()):
        print(f"{path.stat().st_size:>10}  {path.relative_to(ROOT)}")


def check_command(args: list[str]) -> int:
    prebuilt, arches, tag = False, list(ARCHES), None
    while args:
        arg = args.pop(0)
        if arg == "--prebuilt":
            prebuilt = True
        elif arg == "--cli" and args:
            value = args.pop(0)
            arches = [] if value == "none" else value.split(",")
            unknown = [a for a in arches if a not in ARCHES]
            if unknown:
                print(f"release check: unknown CLI architecture {unknown[0]} (x86_64, aarch64 or none)", file=sys.stderr)
                return 2
        elif not arg.startswith("-") and tag is None:
            tag = arg
        else:
            print(CHECK_USAGE, file=sys.stderr)
            return 2
    try:
        check(tag, prebuilt, arches)
    except Refused as refusal:
        print(f"release check: {refusal}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    command, *args = sys.argv[1:] or ["help"]
    if command == "versions":
        print(versions(args[0] if args else None))
    elif command == "notes":
        print(notes(args[0]), end="")
    elif command == "check":
        return check_command(args)
    elif command == "zip" and len(args) == 2:
        zip_bootstrap(Path(args[0]), Path(args[1]))
    elif command == "template":
        print(template(args[0], args[1], "--sar" in args[2:]), end="")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
