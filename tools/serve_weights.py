#!/usr/bin/env python3
"""A small HTTP server for weight files on the loopback interface, with Range requests and faults.

`zoo fetch --url-base http://127.0.0.1:PORT` downloads from it: Tests/CLITests/FetchCommandTests.swift
uses it to test resuming and checksum failures, and it serves a local mirror of the hosted files.

  python3 tools/serve_weights.py --root DIR [--flat] [--port 0] [--log requests.jsonl]
                                 [--drop-after N [--drops K]] [--ignore-ranges] [--lifetime 120]

- Prints the port it listens on (127.0.0.1 only) as its first line of output.
- A request path maps to ROOT/path, or with --flat to ROOT/<last path component> (one folder of files).
- `Range: bytes=START-` and `bytes=START-END` get 206 with Content-Range; a start at or past the end
  gets 416 with `Content-Range: bytes */SIZE`; other range forms get the whole file (200).
- --ignore-ranges: answer every request with the whole file (200), as some servers do.
- --drop-after N: the first K (--drops, default 1) GET responses announce their full length, send N
  bytes of the body and close the connection, as a network failure would.
- --log FILE: JSON lines: {"event": "request", method, path, range} as a request arrives (so it is
  on disk before the client can see any answer), then {"event": "response", status, sent, dropped}.
- Stops by itself after --lifetime seconds (default 120), so a test that dies cannot leave it behind.
"""
import argparse
import http.server
import json
import os
import re
import socket
import sys
import threading


def make_handler(args, state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *a):   # quiet: the --log file records requests
            pass

        def write_log(self, record):
            if args.log:
                with state["lock"], open(args.log, "a") as f:
                    f.write(json.dumps(record) + "\n")

        def record(self, status, sent, dropped=False):
            self.write_log({"event": "response", "path": self.path, "status": status, "sent": sent, "dropped": dropped})

        def do_HEAD(self):
            self.respond(body=False)

        def do_GET(self):
            self.respond(body=True)

        def respond(self, body):
            self.write_log({"event": "request", "method": self.command, "path": self.path,
                            "range": self.headers.get("Range")})
            path = self.path.split("?", 1)[0]
            parts = [p for p in path.split("/") if p]
            if not parts or any(p in (".", "..") for p in parts):
                return self.fail(404)
            local = os.path.join(args.root, parts[-1] if args.flat else os.path.join(*parts))
            if not os.path.isfile(local):
                return self.fail(404)
            size = os.path.getsize(local)
            start, end, status = 0, size - 1, 200
            match = None if args.ignore_ranges else re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            if match:
                start = int(match.group(1))
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return self.record(416, 0)
                if match.group(2):
                    end = min(int(match.group(2)), size - 1)
                status = 206
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if not body:
                return self.record(status, 0)
            drop = False
            with state["lock"]:
                if args.drop_after is not None and state["drops_left"] > 0:
                    state["drops_left"] -= 1
                    drop = True
            limit = min(length, args.drop_after) if drop else length
            sent = 0
            with open(local, "rb") as f:
                f.seek(start)
                while sent < limit:
                    chunk = f.read(min(1 << 16, limit - sent))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
            self.wfile.flush()
            if drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.record(status, sent, dropped=drop)

        def fail(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.record(status, 0)

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", required=True, help="directory of the files to serve")
    p.add_argument("--flat", action="store_true", help="serve ROOT/<last path component> for any path")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--drop-after", type=int, help="close the first --drops GET responses after this many bytes")
    p.add_argument("--drops", type=int, default=1)
    p.add_argument("--ignore-ranges", action="store_true", help="answer range requests with the whole file")
    p.add_argument("--lifetime", type=float, default=120, help="seconds until the server stops by itself")
    args = p.parse_args()
    state = {"lock": threading.Lock(), "drops_left": args.drops}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args, state))
    server.daemon_threads = True
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
