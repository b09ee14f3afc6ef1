"""A JWKS endpoint on a real loopback socket, whose document a test can change."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class JwksEndpoint:
    """What the endpoint answers: ``keys`` as a JWKS, or ``status``/``body`` as set."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fetches: int = 0
    #: Seconds each answer waits first (to hold a fetch in flight while others look).
    delay: float = 0.0

    def publish(self, *entries: dict[str, Any]) -> None:
        self.keys = list(entries)
        self.status, self.body, self.headers = 200, None, {}


@contextmanager
def serve_jwks() -> Iterator[JwksEndpoint]:
    endpoint = JwksEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.fetches += 1
            time.sleep(endpoint.delay)
            body = endpoint.body
            if body is None:
                body = json.dumps({"keys": endpoint.keys}).encode()
            self.send_response(endpoint.status)
            for name, value in endpoint.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
