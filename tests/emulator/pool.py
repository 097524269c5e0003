"""``pool``: emulators on demand, without paying moto's start-up for each one.

Importing moto and loading its first backends takes seconds; an end-to-end suite that starts an
emulator per test pays that every time. The pool does it once, then listens on a Unix socket;
each connection gets a child forked from the warmed process (so with fresh, unshared state),
which reads one line of settings ({"env": {"RELINK_EMULATOR_PAGE_SIZE": "2"}}) and then speaks the
``serve`` protocol over the connection until it closes. scripts/test starts it and tells the tests
its socket in RELINK_EMULATOR_POOL.
"""

from __future__ import annotations

import json
import os
import signal
import socket

import moto_fixes
import protocol
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from world import REGION

WARM = ("autoscaling", "codedeploy", "ec2", "elb", "elbv2")  # the regional ones the tests use


def pool(path: str) -> int:
    for service in WARM:  # instantiated here once, copied into every child by fork
        get_backend(service)[DEFAULT_ACCOUNT_ID][REGION]  # type: ignore[index]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pending = f"{path}.{os.getpid()}"
    if os.path.exists(pending):
        os.unlink(pending)
    listener.bind(pending)
    listener.listen(64)
    os.replace(pending, path)  # the socket appears only once it accepts connections
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they end
    while True:
        connection, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            commands, answers = connection.makefile("r"), connection.makefile("w")
            settings = json.loads(commands.readline() or "{}")
            page_size = settings.get("env", {}).get("RELINK_EMULATOR_PAGE_SIZE")
            if page_size:
                moto_fixes.PAGE_SIZE = int(page_size)
            code = protocol.serve(commands, answers)
            os._exit(code)
        connection.close()
