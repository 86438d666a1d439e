#!/usr/bin/env python3
"""A webhook receiver for trying deliveries on one machine: answers every POST 204 and keeps it;
`GET /received` lists what came, one delivery per two lines (request line with the Standard
Webhooks headers, then the body).

    python3 scripts/webhook_receiver.py 9000      (listens on 127.0.0.1:9000)
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECEIVED: list[str] = []
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        headers = "   ".join(f"{h}: {self.headers.get(h, '')}" for h in HEADERS)
        RECEIVED.append(f"POST {self.path}   {headers}\n{body}\n")
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        if self.path != "/received":
            self.send_error(404)
            return
        text = "".join(RECEIVED).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
