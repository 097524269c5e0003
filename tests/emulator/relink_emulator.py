#!/usr/bin/env python3
"""The AWS emulator for codedeploy-relink's end-to-end tests and demo: moto's server in this
process, corrected to answer as AWS does, playing CodeDeploy's part, and counting the requests the
function makes. The modules beside this file, by job:

  moto_fixes.py    where moto differs from AWS, corrected (applied on import)
  request_log.py   requests per service:Action, injected faults, overlapping attaches
  server.py        the corrected moto server on 127.0.0.1 and a free port
  world.py         blue/green worlds built through the AWS APIs, and CodeDeploy's part
  protocol.py      `serve`: the JSON-lines protocol the Rust tests use
  pool.py          `pool`: emulators forked on demand from one warmed process (scripts/test)
  runtime_api.py   a local Lambda Runtime API that runs a Lambda binary for one event
  demo.py          `demo`: the whole story on a terminal

Modes:
  serve   Print {"endpoint": ...} and answer JSON-line commands on stdin; exits when stdin closes.
  pool    Listen on the Unix socket --socket; every connection gets its own emulator (see pool.py).
  demo    Run the whole blue/green story with the relink binary given by --relink.
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("serve")
    pool_parser = sub.add_parser("pool")
    pool_parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    demo_parser = sub.add_parser("demo")
    demo_parser.add_argument("--relink", required=True, help="path to the relink binary")
    args = parser.parse_args()
    if args.mode == "serve":
        from protocol import serve

        return serve()
    if args.mode == "pool":
        from pool import pool

        return pool(args.socket)
    from demo import demo

    return demo(args.relink)


if __name__ == "__main__":
    sys.exit(main())
