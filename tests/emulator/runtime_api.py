"""A local Lambda Runtime API, just enough to run one function process as Lambda runs it: the
process polls ``/runtime/invocation/next``, gets the event with the request id, deadline and its
own function ARN in the headers, and posts a response or an error. Used by the end-to-end tests
(the real Lambda binary), the deployment rehearsal (the packaged ``bootstrap`` under qemu) and the
Lambda benchmark."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:codedeploy-relink"


class RuntimeApi:
    def __init__(self, function_arn: str = FUNCTION_ARN, deadline_seconds: int = 120, idle_seconds: float = 120) -> None:
        self.events: queue.Queue[bytes] = queue.Queue()
        self.responses: queue.Queue[tuple[float, str, bytes]] = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = 0.0
        self.counter = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if not api.first_poll.is_set():
                    api.first_poll_at = time.monotonic()
                    api.first_poll.set()
                try:
                    body = api.events.get(timeout=idle_seconds)
                except queue.Empty:
                    self.send_error(504)
                    return
                api.counter += 1
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{api.counter}")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + deadline_seconds) * 1000)))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                api.responses.put((time.monotonic(), self.path, body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # the function process is killed mid-poll on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_port}"

    def environment(self, aws_endpoint: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """What Lambda sets for a function with JSON logs, plus credentials for the emulator."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": self.address,
            "AWS_LAMBDA_FUNCTION_NAME": "codedeploy-relink",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "relink",
            "AWS_SECRET_ACCESS_KEY": "relink",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": aws_endpoint,
        }
        env.update(extra or {})
        return env

    def stop(self) -> None:
        self.server.shutdown()


def invoke(command: list[str], event: bytes, aws_endpoint: str, env: dict[str, str] | None = None,
           function_arn: str = FUNCTION_ARN, timeout: float = 120) -> dict[str, Any]:
    """Starts the function process, delivers one event and returns how it answered:
    {"path": "…/response" or "…/error" or "…/init/error", "body": text, "logs": [lines]}.
    The invocation's deadline is `timeout` seconds away, as for a function with that timeout."""
    api = RuntimeApi(function_arn, deadline_seconds=int(timeout))
    api.events.put(event)
    process = subprocess.Popen(command, env=api.environment(aws_endpoint, env),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _, path, body = api.responses.get(timeout=timeout)
    except queue.Empty:
        path, body = "timeout", b""
    process.kill()
    output, _ = process.communicate()
    api.stop()
    return {
        "path": path,
        "body": body.decode("utf-8", "replace"),
        "exit": process.returncode,
        "logs": output.decode("utf-8", "replace").splitlines(),
    }
