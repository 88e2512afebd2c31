"""Webhook POSTs over HTTP (httpx): no redirects, short timeouts, a bounded read of the reply."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from soko.kernel import limits
from soko.kernel.ports import GatewayFailed
from soko.notify.domain import address_is_public


class HttpWebhookSender:
    """The `WebhookSender` of production.

    The URL is the merchant's, so by default it may not reach this machine or its private network
    (loopback, private, link-local: a cloud's metadata service), which a merchant could otherwise
    probe through the error it sees. `allow_private_networks` lifts that for tests and closed
    installations. The address is checked when resolved here; a name that resolves differently a
    moment later (DNS rebinding) is not caught.
    """

    def __init__(self, *, allow_private_networks: bool = False) -> None:
        self._allow_private = allow_private_networks
        # Redirects are not followed: a 3xx is the receiver's answer, recorded as a failure.
        self._client = httpx.Client(follow_redirects=False, trust_env=False)

    def refusal(self, url: str) -> str | None:
        if self._allow_private:
            return None
        return destination_refusal(url)

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, timeout_seconds: float
    ) -> int:
        refused = self.refusal(url)
        if refused is not None:
            raise GatewayFailed(refused)
        try:
            with self._client.stream(
                "POST",
                url,
                headers=dict(headers),
                content=body,
                timeout=httpx.Timeout(timeout_seconds),
            ) as response:
                # The status is all that counts; read a little of the body so the connection
                # can be reused, never a receiver's whole reply.
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read >= limits.WEBHOOK_RESPONSE_BYTES_MAX:
                        break
                return response.status_code
        except httpx.TimeoutException as error:
            raise GatewayFailed(f"timed out: {type(error).__name__}") from error
        except httpx.HTTPError as error:
            raise GatewayFailed(f"no answer: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        self._client.close()


def destination_refusal(url: str) -> str | None:
    """Why `url` may not receive webhooks (its host resolves to an address that is not public),
    or None. Resolved as the POST would be: the system's resolver also reads numeric hosts such
    as 2130706433, 0x7f000001 or 127.1 as 127.0.0.1. Raises `GatewayFailed` if it does not
    resolve."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise GatewayFailed(f"cannot resolve {host!r}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address_is_public(address):
            return f"{host!r} resolves to a non-public address ({address})"
    return None
