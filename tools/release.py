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
  release.py zip BOOTSTRAP ZIP       the function's zip as Lambda takes it, reproducible: one entry
                                     `bootstrap`, mode 0755, dated 1980-01-01, deflated at level 9
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def versions(tag: str | None) -> str:
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    changelog = re.search(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    template = re.search(r"^\s+SemanticVersion:\s*(\S+)", (ROOT / "template.yaml").read_text(), re.M)
    found = {
        "Cargo.toml": cargo,
        "CHANGELOG.md (top entry)": changelog.group(1) if changelog else None,
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


def main() -> int:
    command, *args = sys.argv[1:] or ["help"]
    if command == "versions":
        print(versions(args[0] if args else None))
    elif command == "notes":
        print(notes(args[0]), end="")
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
