#!/usr/bin/env python3
"""The function's template for CloudFormation StackSets, and the upload of its code.

StackSets with service-managed permissions refuse templates that use transforms, so this is
template.yaml already expanded by the SAM translator (the library ``sam validate`` and
CloudFormation's AWS::Serverless transform run), with the code read from one bucket per region:
``<CodeBucketPrefix>-<region>``, key ``codedeploy-relink/VERSION/lambda-arm64.zip``; the prefix
is the template's parameter ``CodeBucketPrefix``, so that one template, shipped with each release
(``codedeploy-relink-VERSION-stackset.json``), serves every organization. The buckets come from
templates/stackset-code-bucket.yaml, which lets every account of the organization read them.

  stackset.py template VERSION                 the expanded template (JSON) on standard output
  stackset.py upload VERSION PREFIX ZIP REGION...
                                               copies the zip into each region's bucket (boto3,
                                               the caller's credentials; AWS_ENDPOINT_URL is honoured)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import release  # noqa: E402  (tools/release.py: template.yaml as a release ships it)


SENTINEL = "xx-sentinel-1"
TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation takes inline (create-stack-set --template-body)


def key(version: str) -> str:
    return f"codedeploy-relink/{version}/lambda-arm64.zip"


class NoManagedPolicies:
    """The template names no AWS managed policy, so the translator needs no IAM lookup."""

    def load(self) -> dict[str, str]:
        return {}


PREFIX_PARAMETER = {
    "Type": "String",
    "Description": "The code buckets' BucketPrefix (templates/stackset-code-bucket.yaml): the function's "
                   "code is read from <CodeBucketPrefix>-<region>.",
    "AllowedPattern": "^[a-z0-9][a-z0-9-]{2,40}$",  # as the buckets' template allows
    "ConstraintDescription": "the code buckets' BucketPrefix: lower-case letters, digits and dashes, 3 to 41 characters",
}


def template(version: str) -> dict[str, Any]:
    from samcli.yamlhelper import yaml_parse
    from samtranslator.translator.transform import transform

    parsed = yaml_parse(release.template(version, "CODE", sar=False))
    function = parsed["Resources"]["Function"]["Properties"]
    if function.get("CodeUri") != "CODE" or "CodeBucketPrefix" in parsed["Parameters"]:
        raise SystemExit("stackset: template.yaml's function no longer reads as expected")
    parsed["Parameters"]["CodeBucketPrefix"] = PREFIX_PARAMETER
    function["CodeUri"] = {"Bucket": {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"}, "Key": key(version)}
    # The translator resolves pseudo parameters in a few places and needs a session region for
    # that; the sentinel proves none of them reached the output (every region gets one template).
    os.environ["AWS_DEFAULT_REGION"] = SENTINEL
    expanded = transform(parsed, {"AWS::Region": SENTINEL}, NoManagedPolicies())
    if SENTINEL in json.dumps(expanded):
        raise SystemExit("stackset: the SAM translator wrote a region into the template")
    if "Transform" in expanded:
        raise SystemExit("stackset: the expanded template still names a transform")
    return expanded


def upload(version: str, prefix: str, zip_path: str, regions: list[str]) -> None:
    import boto3

    for region in regions:
        bucket = f"{prefix}-{region}"
        boto3.client("s3", region_name=region).upload_file(zip_path, bucket, key(version))
        print(f"s3://{bucket}/{key(version)}")


def main() -> int:
    command, *args = sys.argv[1:] or ["help"]
    if command == "template" and len(args) == 1:
        text = json.dumps(template(*args), indent=1)
        if len(text.encode()) > TEMPLATE_BODY_LIMIT:
            raise SystemExit(f"stackset: the template is {len(text)} bytes, over the {TEMPLATE_BODY_LIMIT} of --template-body")
        print(text)
    elif command == "upload" and len(args) >= 4:
        upload(args[0], args[1], args[2], args[3:])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
