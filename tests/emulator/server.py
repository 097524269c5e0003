"""moto's server, corrected (``moto_fixes``) and behind the request log, on 127.0.0.1 and a free
port, in this process."""

from __future__ import annotations

import logging
import threading
import urllib.request
from pathlib import Path
from typing import Any

import moto_fixes  # noqa: F401  (patches moto before its backends are used)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from request_log import RequestLog
from werkzeug.serving import make_server


class Emulator:
    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self.log = RequestLog(DomainDispatcherApplication(create_backend_app))
        self.server = make_server("127.0.0.1", 0, self.log, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.tls_server: Any = None

    def serve_tls(self, certificate: Path, key: Path) -> str:
        """A second listener on the same emulator, over TLS with the given certificate (PEM files);
        returns its https:// endpoint. Both listeners see the same resources."""
        self.tls_server = make_server("127.0.0.1", 0, self.log, threaded=True,
                                      ssl_context=(str(certificate), str(key)))
        threading.Thread(target=self.tls_server.serve_forever, daemon=True).start()
        return f"https://127.0.0.1:{self.tls_server.server_port}"

    def stop(self) -> None:
        """Stops the server and forgets every resource (moto's state is per process, not per server)."""
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).read()
        moto_fixes.DRAINING.clear()
        moto_fixes.OPTED_IN.clear()
        moto_fixes.TARGETS.clear()
        self.server.shutdown()
        if self.tls_server:
            self.tls_server.shutdown()
