"""The request log: WSGI middleware in front of moto that counts the function's requests per
``service:Action`` (the harness's own requests, made with the access key ``HARNESS_KEY``, are not
counted), answers injected faults and, when throttling is on (``throttle.py``), what exceeds AWS's
request budgets, and watches the attach and detach calls: two changes to one Auto
Scaling group in flight at once are counted as an overlap (Auto Scaling answers that with
ResourceContention).

With RELINK_REQUEST_LOG set, every counted request is also appended to that file as a JSON line
{"key", "action", "resources"}: the access key that made it, ``service:Action`` and the ARNs of
the resources IAM evaluates it against (none for actions without resource types). The policy
check (tests/policy/check_policy.py) compares those with the template's policy.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from moto.codedeploy import models as codedeploy_models
from moto.core import DEFAULT_ACCOUNT_ID
from throttle import Budgets

HARNESS_KEY = "harness"
REGION = "us-east-1"
REQUEST_LOG = os.environ.get("RELINK_REQUEST_LOG")


def resources_of(service: str, action: str, params: dict[str, Any]) -> list[str]:
    """The resource ARNs IAM authorises `action` against, as AWS builds them."""
    account, region = DEFAULT_ACCOUNT_ID, REGION
    if service == "codedeploy" and action in ("GetDeployment", "BatchGetDeployments", "ListDeploymentTargets"):
        ids = params.get("deploymentIds") or [params.get("deploymentId")]
        known = codedeploy_models.codedeploy_backends[account][region].deployments
        return [
            f"arn:aws:codedeploy:{region}:{account}:deploymentgroup:"
            f"{known[i].application_name}/{known[i].deployment_group_name}"
            for i in ids if i in known
        ]
    if service == "codedeploy" and action == "BatchGetDeploymentGroups":
        application = params.get("applicationName")
        return [f"arn:aws:codedeploy:{region}:{account}:deploymentgroup:{application}/{group}"
                for group in params.get("deploymentGroupNames") or []]
    if service == "codedeploy" and action in ("GetDeploymentGroup", "ListDeployments"):
        application, group = params.get("applicationName"), params.get("deploymentGroupName")
        if application and group:
            return [f"arn:aws:codedeploy:{region}:{account}:deploymentgroup:{application}/{group}"]
        return []
    if service == "autoscaling" and action.startswith(("Attach", "Detach")):
        group = params.get("AutoScalingGroupName", ["?"])[0]
        return [f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:"
                f"00000000-0000-4000-8000-000000000000:autoScalingGroupName/{group}"]
    return []
# The changes to one Auto Scaling group that must never be in flight together.
ATTACH_ACTIONS = (
    "AttachLoadBalancerTargetGroups", "AttachLoadBalancers",
    "DetachLoadBalancerTargetGroups", "DetachLoadBalancers",
)
REASONS = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}


class RequestLog:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.faults: dict[str, list[dict[str, Any]]] = {}
        self.attaching: Counter[str] = Counter()
        self.overlaps = 0
        self.delays: dict[str, float] = {}  # seconds each request for an action is held open
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()  # the most requests for an action in flight at once
        self.lock = threading.Lock()
        self.budgets = Budgets.from_env()  # AWS's request budgets, when throttling is on
        self.retries: Counter[str] = Counter()  # requests the SDK sent again (attempt 2 and later)

    def inject(self, action: str, status: int, code: str, message: str, times: int) -> None:
        with self.lock:
            self.faults.setdefault(action, []).extend(
                [{"status": status, "code": code, "message": message}] * times
            )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if "Credential=" not in auth or f"Credential={HARNESS_KEY}/" in auth:
            return self.app(environ, start_response)
        # Credential=KEY/DATE/REGION/SERVICE/aws4_request
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        service = scope[3] if len(scope) > 3 else "?"
        action, params = self._action(environ)
        key = scope[0]
        # The Rust SDK numbers its attempts: "amz-sdk-request: attempt=2; max=6".
        attempt = environ.get("HTTP_AMZ_SDK_REQUEST", "attempt=1").split(";", 1)[0].strip()
        with self.lock:
            self.counts[f"{service}:{action}"] += 1
            if attempt not in ("attempt=1", ""):
                self.retries[f"{service}:{action}"] += 1
            pending = self.faults.get(action)
            fault = pending.pop(0) if pending else None
        if REQUEST_LOG:
            line = {"key": key, "action": f"{service}:{action}", "resources": resources_of(service, action, params)}
            with open(REQUEST_LOG, "a") as log:
                log.write(json.dumps(line) + "\n")
        if fault:
            return self._error(environ, start_response, fault)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID", key)
        region = scope[2] if len(scope) > 2 else REGION
        version = params.get("Version", [None])[0] if isinstance(params.get("Version"), list) else None
        if not self.budgets.allow(account, region, service, action, version):
            code = "ThrottlingException" if environ.get("HTTP_X_AMZ_TARGET") else "Throttling"
            return self._error(environ, start_response, {"status": 400, "code": code, "message": "Rate exceeded"})
        group = params.get("AutoScalingGroupName", ["?"])[0] if action in ATTACH_ACTIONS else None
        with self.lock:
            self.in_flight[action] += 1
            self.peak[action] = max(self.peak[action], self.in_flight[action])
            if group is not None:
                self.overlaps += 1 if self.attaching[group] else 0
                self.attaching[group] += 1
        try:
            time.sleep(self.delays.get(action, 0.0))  # widens the window in which overlaps show
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight[action] -= 1
                if group is not None:
                    self.attaching[group] -= 1

    @staticmethod
    def _error(environ: dict[str, Any], start_response: Any, fault: dict[str, Any]) -> list[bytes]:
        status = f"{fault['status']} {REASONS.get(fault['status'], 'Error')}"
        if environ.get("HTTP_X_AMZ_TARGET"):  # JSON protocol (CodeDeploy, STS's JSON clients)
            body = json.dumps({"__type": fault["code"], "message": fault["message"]}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", fault["code"])]
        else:  # query protocol (Auto Scaling, Elastic Load Balancing, STS)
            body = (
                "<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{fault['code']}</Code><Message>{fault['message']}</Message>"
                "</Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
            ).encode()
            headers = [("Content-Type", "text/xml")]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _action(environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # let moto read it again
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:  # JSON protocol: the action in a header, the parameters a JSON document
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = {}
            return target.rsplit(".", 1)[-1], params
        params = parse_qs(environ.get("QUERY_STRING", "")) | parse_qs(body.decode("utf-8", "replace"))
        return params.get("Action", ["?"])[0], params

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(sorted(self.counts.items()))

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.retries.clear()
        self.budgets.reset_counts()
