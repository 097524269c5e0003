#!/usr/bin/env python3
"""The AWS emulator for codedeploy-relink's end-to-end tests and demo: moto's server in this
process, corrected to answer as AWS does, playing CodeDeploy's part, and counting the requests the
function makes. The modules beside this file, by job:

  moto_fixes.py    where moto differs from AWS, corrected (applied on import)
  request_log.py   requests per service:Action, injected faults, overlapping attaches
  server.py        the corrected moto server on 127.0.0.1 and a free port
  world.py         blue/green worlds built through the AWS APIs, and CodeDeploy's part
  protocol.py      `serve`: the JSON-lines protocol the Rust tests use
  demo.py          `demo`: the whole story on a terminal

Modes:
  serve   Print {"endpoint": ...} and answer JSON-line commands on stdin; exits when stdin closes.
  demo    Run the whole blue/green story with the relink binary given by --relink.
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("serve")
    demo_parser = sub.add_parser("demo")
    demo_parser.add_argument("--relink", required=True, help="path to the relink binary")
    demo_parser.add_argument("--event", required=True, help="the SNS sample event to replay")
    args = parser.parse_args()
    if args.mode == "serve":
        from protocol import serve

        return serve()
    from demo import demo

    return demo(args.relink, args.event)


if __name__ == "__main__":
    sys.exit(main())
