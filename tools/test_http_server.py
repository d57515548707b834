#!/usr/bin/env python3
"""A tiny HTTP file server for tests (tests/unit/adapters/test_adapter_cache.c).

Usage: tools/test_http_server.py PORTFILE DIR

Binds 127.0.0.1 on a free port (port 0), writes the port number to PORTFILE (atomically, via a
rename), then serves GET requests: /slow/... stalls forever (for timeout tests), a path naming
a regular file under DIR answers 200 with its bytes, anything else answers 404. Exits by itself
after 120 s in case the test that started it died without killing it.
"""
import http.server
import os
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    root = "."

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/slow/"):
            time.sleep(3600)
            return
        rel = os.path.normpath(path.lstrip("/"))
        full = os.path.join(self.root, rel)
        if rel.startswith("..") or os.path.isabs(rel) or not os.path.isfile(full):
            self.send_error(404, "not found")
            return
        with open(full, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    portfile, root = sys.argv[1], sys.argv[2]
    Handler.root = os.path.abspath(root)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, portfile)
    threading.Timer(120, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
