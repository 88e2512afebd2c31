"""SMS senders: a log file (the default, for development and demos) and an HTTP SMS gateway."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx

from soko.kernel import limits
from soko.kernel.ports import GatewayFailed


class LogFileSmsSender:
    """Appends one line per text to a file: `<time> <id> <phone> <text as JSON>`.

    The text is JSON-quoted so that a newline in it cannot start a line of its own.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> str:
        message_id = "log_" + secrets.token_hex(8)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        line = f"{stamp} {message_id} {phone} {json.dumps(text, ensure_ascii=False)}\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as log:
                log.write(line)
        except OSError as error:
            raise GatewayFailed(f"cannot write {self.path}: {error}") from error
        return message_id


class HttpSmsSender:
    """POSTs `{"to": phone, "text": text}` as JSON with a bearer token to an SMS gateway.

    Any 2xx is accepted; the reply's `id` (if it is JSON with one) becomes the provider's message
    id. Anything else, or no reply, is a `GatewayFailed` and the text is retried.
    """

    def __init__(self, url: str, token: str | None, *, timeout_seconds: float) -> None:
        self.url = url
        # Identity encoding: a compressed reply could inflate far past the bound on the read.
        self._headers = {"accept-encoding": "identity"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"
        self._timeout = httpx.Timeout(timeout_seconds)
        self._client = httpx.Client(follow_redirects=False, trust_env=False)

    def send(self, phone: str, text: str) -> str:
        try:
            with self._client.stream(
                "POST",
                self.url,
                json={"to": phone, "text": text},
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                reply = b""
                for chunk in response.iter_bytes():
                    reply += chunk
                    if len(reply) >= limits.WEBHOOK_RESPONSE_BYTES_MAX:
                        break
                status = response.status_code
        except httpx.HTTPError as error:
            raise GatewayFailed(f"SMS gateway: {type(error).__name__}: {error}") from error
        if not 200 <= status <= 299:
            raise GatewayFailed(f"SMS gateway answered HTTP {status}")
        return _message_id(reply)

    def close(self) -> None:
        self._client.close()


def _message_id(reply: bytes) -> str:
    try:
        parsed = json.loads(reply)
    except ValueError:
        return ""
    found = parsed.get("id") if isinstance(parsed, dict) else None
    return str(found)[:100] if isinstance(found, str | int) else ""
