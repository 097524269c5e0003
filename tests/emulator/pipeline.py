"""What the template builds between CodeDeploy and the function, played against the emulator: the
SNS topic's (or the EventBridge rule's) messages go to an SQS queue, and Lambda's event source
mapping hands them to the function in batches — as many as `batch_size`, or whatever arrived
within `window` seconds of the first — at most `concurrency` invocations at a time. Each
invocation goes to one of `concurrency` warm execution environments: a process of the real Lambda
binary polling its own Runtime API (runtime_api.py), as Lambda keeps them between invocations, so
what the function keeps for the process (clients, its share of the ELB budget, resolved ARNs,
the SDK's adaptive rate) lasts as in AWS. An environment whose invocation timed out is replaced.

It deletes what an invocation answered, leaves the records the answer lists in
`batchItemFailures` (all of them when the invocation fails) to come back after `visibility`
seconds (`retry_after`, when given, shortens that wait for failed records alone, so that a short
run sees them retried while the messages in flight stay hidden as long as in AWS), and moves a message received `max_receive` times to the dead-letter queue, as SQS's
redrive policy does.

Used by the load story (load.py): its test and `scripts/bench load`. Times are real.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from runtime_api import FUNCTION_ARN, RuntimeApi
from world import World

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:codedeploy-relink"


def sns_envelope(record: dict[str, Any]) -> str:
    """The body SNS gives an SQS subscription (raw message delivery off) for an SNS record of the
    Lambda event format."""
    sns = record["Sns"]
    return json.dumps({
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": sns.get("TopicArn", TOPIC_ARN),
        "Subject": sns.get("Subject"), "Message": sns["Message"], "Timestamp": sns.get("Timestamp"),
        "SignatureVersion": "1", "Signature": "EXAMPLE", "SigningCertURL": "https://example.com/cert.pem",
        "UnsubscribeURL": "https://example.com/unsubscribe",
    })


@dataclass
class Invocation:
    records: int
    seconds: float
    failed_records: int
    error: bool
    logs: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    ended_at: float = 0.0


class Environment:
    """One warm execution environment: a function process and its Runtime API."""

    def __init__(self, command: list[str], endpoint: str, env: dict[str, str] | None, timeout: float) -> None:
        # A warm environment waits for its next event as long as the run lasts.
        self.api = RuntimeApi(FUNCTION_ARN, deadline_seconds=int(timeout), idle_seconds=3600)
        self.timeout = timeout
        self.lines: list[str] = []
        self.process = subprocess.Popen(command, env=self.api.environment(endpoint, env),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def invoke(self, event: bytes) -> tuple[str, bytes, list[str]]:
        """Delivers one event -> (the path it answered on, or "timeout"; the body; its log lines)."""
        seen = len(self.lines)
        self.api.events.put(event)
        try:
            _, path, body = self.api.responses.get(timeout=self.timeout)
        except queue.Empty:
            path, body = "timeout", b""
        time.sleep(0.01)  # the last lines of the invocation's log
        return path, body, self.lines[seen:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.api.stop()


class Pipeline:
    """The queue, its dead-letter queue and the event source mapping, over one world."""

    def __init__(self, world: World, endpoint: str, command: list[str], *, batch_size: int = 1000,
                 window: float = 20.0, concurrency: int = 2, max_receive: int = 5, visibility: float = 1800,
                 retry_after: float | None = None, env: dict[str, str] | None = None,
                 timeout: float = 300) -> None:
        self.world, self.endpoint, self.command = world, endpoint, command
        self.batch_size, self.window, self.concurrency = batch_size, window, concurrency
        self.max_receive, self.visibility, self.env, self.timeout = max_receive, visibility, env, timeout
        self.retry_after = retry_after
        self.queue = world.sqs.create_queue(QueueName=f"notifications-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        self.dead_letters = world.sqs.create_queue(QueueName=f"dead-letters-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        self.invocations: list[Invocation] = []
        self.lock = threading.Lock()
        self.idle: queue.Queue[Environment] = queue.Queue()
        self.environments: list[Environment] = []

    def publish(self, notification: dict[str, Any], form: str = "sns") -> None:
        """One of CodeDeploy's notifications (lifecycle.py's), as the topic or the rule sends it."""
        self.publish_all([notification], form)

    def publish_all(self, notifications: list[dict[str, Any]], form: str = "sns") -> None:
        """`publish` for each, ten messages a request."""
        bodies = [sns_envelope(n["sns"]["Records"][0]) if form == "sns" else json.dumps(n["eventbridge"])
                  for n in notifications]
        for at in range(0, len(bodies), 10):
            self.world.sqs.send_message_batch(QueueUrl=self.queue, Entries=[
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[at:at + 10])
            ])

    def _receive(self, limit: int) -> list[dict[str, Any]]:
        answer = self.world.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=min(10, limit), VisibilityTimeout=round(self.visibility),
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        return answer.get("Messages", [])

    def _batch(self) -> list[dict[str, Any]]:
        """A batch as the event source mapping makes one: full, or the window after the first
        message elapsed, or nothing waiting."""
        batch: list[dict[str, Any]] = []
        first = None
        while len(batch) < self.batch_size:
            if first is not None and time.monotonic() - first >= self.window:
                break
            got = self._receive(self.batch_size - len(batch))
            if got:
                first = first or time.monotonic()
                batch.extend(got)
            elif first is None:
                break
            else:
                time.sleep(0.05)
        return batch

    def _event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": {"ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"],
                           "SentTimestamp": m["Attributes"]["SentTimestamp"]},
            "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notifications", "awsRegion": "us-east-1",
        } for m in messages]}

    def _environment(self) -> Environment:
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            environment = Environment(self.command, self.endpoint, self.env, self.timeout)
            with self.lock:
                self.environments.append(environment)
            return environment

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        started = time.monotonic()
        environment = self._environment()
        path, raw, logs = environment.invoke(json.dumps(self._event(messages)).encode())
        if path == "timeout" or not environment.alive():
            environment.stop()  # Lambda replaces an environment whose invocation timed out
        else:
            self.idle.put(environment)
        error = not path.endswith("/response")
        body = json.loads(raw) if not error and raw else {}
        failed_ids = {f["itemIdentifier"] for f in body.get("batchItemFailures", [])}
        failed = [m for m in messages if error or m["MessageId"] in failed_ids]
        for message in messages:
            if message in failed:
                if int(message["Attributes"]["ApproximateReceiveCount"]) >= self.max_receive:
                    self.world.sqs.send_message(QueueUrl=self.dead_letters, MessageBody=message["Body"])
                    self.world.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
                elif self.retry_after is not None:
                    self.world.sqs.change_message_visibility(
                        QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=round(self.retry_after))
            else:
                self.world.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        with self.lock:
            self.invocations.append(Invocation(len(messages), time.monotonic() - started, len(failed), error,
                                               logs, body, time.monotonic()))

    def _pending(self) -> int:
        attributes = self.world.sqs.get_queue_attributes(
            QueueUrl=self.queue,
            AttributeNames=["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def serve(self, fed: threading.Event, deadline: float = 900) -> None:
        """Runs the mapping until `fed` is set and the queue is empty (what failed included, once
        it is visible again and has been retried or moved to the dead letters)."""
        end = time.monotonic() + deadline
        with ThreadPoolExecutor(self.concurrency) as pool:
            running: list[Any] = []
            try:
                while time.monotonic() < end:
                    for done in [r for r in running if r.done()]:
                        done.result()  # a failure of the harness itself ends the run
                    running = [r for r in running if not r.done()]
                    if len(running) >= self.concurrency:
                        time.sleep(0.05)
                        continue
                    batch = self._batch()
                    if batch:
                        running.append(pool.submit(self._invoke, batch))
                        continue
                    if fed.is_set() and not running and self._pending() == 0:
                        return
                    time.sleep(0.1)
                raise TimeoutError("the queue did not drain")
            finally:
                for environment in self.environments:
                    environment.stop()

    def drain(self, deadline: float = 600) -> None:
        """Runs the mapping over what the queue holds until it is empty."""
        fed = threading.Event()
        fed.set()
        self.serve(fed, deadline)

    def dead_letter_count(self) -> int:
        return len(self.world.messages(self.dead_letters))


__all__ = ["Environment", "Invocation", "Pipeline", "sns_envelope", "TOPIC_ARN"]
