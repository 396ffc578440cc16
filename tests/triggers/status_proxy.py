"""A pass-through HTTP proxy in front of the sandbox that reports chosen records with another status.

The sandbox only accepts the statuses Kraken documents, but Kraken may add one any day; this proxy
lets tests show that waits fail loudly on a status they do not know. Requests go through unchanged
(the signature covers path and body), so the sandbox still authenticates and logs every call.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

FORWARDED_HEADERS = ("API-Key", "API-Sign", "Content-Type", "User-Agent")


class StatusProxy:
    """Forward to ``upstream``; records whose refid is in ``overrides`` get those fields replaced."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.overrides: dict[str, dict[str, str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="status-proxy", daemon=True)

    def start(self) -> StatusProxy:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def rewrite(self, body: bytes) -> bytes:
        """Apply the overrides to every record of a DepositStatus/WithdrawStatus answer."""
        try:
            answer = json.loads(body)
        except ValueError:
            return body
        result = answer.get("result") if isinstance(answer, dict) else None
        records: list[Any] = []
        if isinstance(result, list):
            records = result
        elif isinstance(result, dict):
            records = [r for key in ("withdrawals", "deposits") for r in result.get(key, [])]
        for record in records:
            if isinstance(record, dict) and record.get("refid") in self.overrides:
                record.update(self.overrides[record["refid"]])
        return json.dumps(answer).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def _forward(self, verb: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {h: self.headers[h] for h in FORWARDED_HEADERS if self.headers.get(h)}
                reply = requests.request(
                    verb, proxy.upstream + self.path, data=body, headers=headers, timeout=30
                )
                content = proxy.rewrite(reply.content)
                self.send_response(reply.status_code)
                self.send_header("Content-Type", reply.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler
