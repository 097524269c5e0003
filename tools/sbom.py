#!/usr/bin/env python3
"""The SBOM of a release: a CycloneDX 1.6 document of what a binary is made of — this crate and
every crate it links for a target (normal dependencies, with the default features, as Cargo
resolves them), each with its version, license, package URL and the checksum Cargo.lock records —
built with cyclonedx-python-lib and validated against the CycloneDX schema it bundles.

Usage: sbom.py TARGET_TRIPLE OUTPUT.cdx.json
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    target, output = sys.argv[1], Path(sys.argv[2])
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", target],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout)
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root_id = metadata["resolve"]["root"]

    # The crates linked into the binaries: normal (not dev, not build) dependencies from the root.
    linked, queue = {root_id}, [root_id]
    edges: dict[str, list[str]] = {}
    while queue:
        node = nodes[queue.pop()]
        runtime = [d["pkg"] for d in node["deps"] if any(k["kind"] is None for k in d["dep_kinds"])]
        edges[node["id"]] = runtime
        for dep in runtime:
            if dep not in linked:
                linked.add(dep)
                queue.append(dep)

    checksums = {}
    for line_block in (ROOT / "Cargo.lock").read_text().split("[[package]]")[1:]:
        fields = dict(
            (k.strip(), v.strip().strip('"')) for k, v in
            (line.split("=", 1) for line in line_block.strip().splitlines() if "=" in line and not line.startswith(" "))
        )
        if "checksum" in fields:
            checksums[(fields["name"], fields["version"])] = fields["checksum"]

    def component(package: dict, kind: ComponentType) -> Component:
        purl = PackageURL("cargo", name=package["name"], version=package["version"])
        hashes = []
        if (package["name"], package["version"]) in checksums:
            hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=checksums[(package["name"], package["version"])]))
        licenses = [LicenseExpression(package["license"])] if package.get("license") else []
        return Component(
            name=package["name"], version=package["version"], type=kind, purl=purl,
            bom_ref=str(purl), licenses=licenses, hashes=hashes,
            description=(package.get("description") or "").strip() or None,
        )

    bom = Bom()
    components = {root_id: component(packages[root_id], ComponentType.APPLICATION)}
    bom.metadata.component = components[root_id]
    for package_id in sorted(linked - {root_id}):
        components[package_id] = component(packages[package_id], ComponentType.LIBRARY)
        bom.components.add(components[package_id])
    for package_id, deps in edges.items():
        bom.register_dependency(components[package_id], [components[d] for d in deps])

    document = JsonV1Dot6(bom).output_as_string(indent=2)
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    if errors:
        print(f"sbom: the document does not validate: {errors}", file=sys.stderr)
        return 1
    output.write_text(document + "\n")
    print(f"sbom: {output} ({len(linked) - 1} crates linked for {target}, CycloneDX 1.6, valid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
