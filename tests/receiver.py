"""A real local HTTP receiver for webhook and SMS gateway tests: scripted replies, and a count of
what arrived, with each webhook's signature checked by the `standardwebhooks` package."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    #: None if no secret was set; else whether the signature verified.
    verified: bool | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with the next scripted status (then `default`)."""

    url: str = ""
    #: The endpoint's secret: set it and every request is verified (401 if it fails).
    secret: str | None = None
    script: deque[int] = field(default_factory=deque)
    default: int = 200
    #: JSON the SMS gateway stand-in answers with.
    reply: dict[str, Any] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, statuses: Iterable[int]) -> None:
        with self._lock:
            self.script.extend(statuses)

    def by_webhook_id(self) -> Counter[str]:
        """How many requests carried each webhook-id that were answered 2xx."""
        with self._lock:
            return Counter(
                r.headers["webhook-id"] for r in self.received if r.verified is not False
            )

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        verified = None
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        with self._lock:
            self.received.append(Received(path, headers, body, verified))
            if verified is False:
                return 401, b""
            status = self.script.popleft() if self.script else self.default
        return status, json.dumps(self.reply).encode()


@contextmanager
def serve(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Run `receiver` on 127.0.0.1 on a free port, in a thread, for the `with` block."""
    receiver = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender died mid-request (a test killed it between the headers and the
                # body): no request arrived, as any HTTP server would see it; it is retried.
                self.close_connection = True
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, reply = receiver._handle(self.path, headers, body)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A URL nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"
