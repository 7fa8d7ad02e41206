"""A webhook receiver process for the e2e deployment: records every delivery, answers 204.

    python tests/e2e/receiver.py --port 8300 --out deliveries.jsonl

Each POST is appended to ``--out`` as one JSON line (path, the ``webhook-*`` headers, the raw body
base64-encoded, the receive time) and flushed before the answer, so a delivery answered 2xx is on
disk even if the process is killed right after. ``GET /health`` answers 200. Verification happens
in the test, with the SDK, against each partner's secret: the receiver knows no secrets.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any


def _handler(out: IO[str], lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            record = {
                "path": self.path,
                "headers": {
                    k.lower(): v
                    for k, v in self.headers.items()
                    if k.lower().startswith("webhook-")
                },
                "body": base64.b64encode(body).decode(),
                "at": time.time(),
            }
            with lock:
                out.write(json.dumps(record) + "\n")
                out.flush()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "a", encoding="utf-8") as out:
        server = ThreadingHTTPServer((args.host, args.port), _handler(out, threading.Lock()))
        server.daemon_threads = True
        server.serve_forever()


if __name__ == "__main__":
    main()
