"""Webhook rules: event types, the Standard Webhooks signature, and the retry schedule.

Signatures follow https://www.standardwebhooks.com/ so a merchant can verify them with any of its
published libraries: ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``"{webhook-id}.{webhook-timestamp}.{body}"``, keyed with the base64-decoded part of the
endpoint's ``whsec_…`` secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from soko.kernel import limits

SECRET_PREFIX = "whsec_"  # noqa: S105 - the public prefix of every secret
SIGNATURE_VERSION = "v1"


class EventType(StrEnum):
    """What happened, as the receiver sees it in the body's `type`."""

    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_REQUEST_PAID = "payment_request.paid"
    REFUND_SUCCEEDED = "refund.succeeded"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    ESCROW_FUNDED = "escrow.funded"
    ESCROW_SHIPPED = "escrow.shipped"
    ESCROW_DELIVERED = "escrow.delivered"
    ESCROW_RELEASED = "escrow.released"
    ESCROW_REFUNDED = "escrow.refunded"
    ESCROW_DISPUTED = "escrow.disputed"
    ESCROW_RESOLVED = "escrow.resolved"
    LOAN_OFFERED = "loan.offered"
    LOAN_DISBURSED = "loan.disbursed"
    LOAN_REPAID = "loan.repaid"
    LOAN_OVERDUE = "loan.overdue"


EVENT_TYPES = frozenset(EventType)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: Every attempt failed (or the endpoint was disabled): kept for the merchant to retry.
    DEAD = "dead"


# --- secrets and signatures ---------------------------------------------------------------------


def format_secret(key: bytes) -> str:
    """`whsec_` and the base64 of `key` (random bytes from the caller)."""
    assert 24 <= len(key) <= 64, len(key)
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_…` secret."""
    assert secret.startswith(SECRET_PREFIX), "not a webhook secret"
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as error:
        raise AssertionError("webhook secret is not base64") from error


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of id, timestamp, body."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt. The timestamp is the attempt's, not the event's:
    receivers refuse old timestamps to stop replays, and a retry hours later must still pass."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


# --- retries ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Capped exponential backoff with equal jitter, and a bound on attempts.

    Equal jitter (half the delay fixed, half random) spreads the retries of many deliveries
    that failed together, without ever retrying sooner than half the nominal delay. The random
    half is drawn from a hash of a seed (the delivery's id and the attempt), so a schedule is
    reproducible and needs no random source here.
    """

    base_seconds: int
    cap_seconds: int
    attempts_max: int

    def ceiling_seconds(self, attempts: int) -> int:
        """The longest wait after `attempts` failed attempts (1 or more)."""
        assert attempts >= 1, attempts
        # min() first on the exponent keeps 2**n small however large `attempts` is.
        exponent = min(attempts - 1, self.cap_seconds.bit_length())
        return min(self.cap_seconds, self.base_seconds << exponent)

    def delay_seconds(self, attempts: int, seed: str) -> int:
        """The wait after `attempts` failed attempts: in [ceiling/2, ceiling]."""
        ceiling = self.ceiling_seconds(attempts)
        fixed = ceiling // 2
        digest = hashlib.sha256(f"{seed}:{attempts}".encode()).digest()
        return fixed + int.from_bytes(digest[:8], "big") % (ceiling - fixed + 1)


WEBHOOK_RETRIES = RetrySchedule(
    base_seconds=limits.WEBHOOK_RETRY_BASE_SECONDS,
    cap_seconds=limits.WEBHOOK_RETRY_CAP_SECONDS,
    attempts_max=limits.WEBHOOK_ATTEMPTS_MAX,
)


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """Where a delivery (or an SMS) stands after one attempt."""

    succeeded: bool
    attempts: int
    #: None once it succeeded or gave up.
    next_attempt_at: datetime | None

    @property
    def dead(self) -> bool:
        return not self.succeeded and self.next_attempt_at is None


def after_attempt(
    schedule: RetrySchedule, *, attempts_before: int, succeeded: bool, now: datetime, seed: str
) -> AttemptOutcome:
    """Count the attempt; schedule the next one unless it succeeded or was the last."""
    attempts = attempts_before + 1
    if succeeded or attempts >= schedule.attempts_max:
        return AttemptOutcome(succeeded=succeeded, attempts=attempts, next_attempt_at=None)
    later = now + timedelta(seconds=schedule.delay_seconds(attempts, seed))
    return AttemptOutcome(succeeded=False, attempts=attempts, next_attempt_at=later)


#: NAT64's well-known prefix (RFC 6052): its last 32 bits are an IPv4 address reached through it.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
#: IPv4-compatible IPv6 addresses (RFC 4291, deprecated): ::a.b.c.d.
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")


def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be sent to `address`: the one rule registration and delivery share.

    Not this machine, its private networks, link-local addresses (a cloud's metadata service),
    shared address space or any other reserved range. An IPv6 address that carries an IPv4
    one (mapped, 6to4, NAT64, IPv4-compatible) is judged by the address it carries: the
    standard library calls `64:ff9b::7f00:1` global although it reaches 127.0.0.1.
    """
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and address.teredo is not None:
            carried = address.teredo[1]
        if carried is None and (address in _NAT64 or address in _IPV4_COMPATIBLE):
            carried = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        if carried is not None and not address_is_public(carried):
            return False
    return address.is_global


def is_success(status_code: int) -> bool:
    """Standard Webhooks: any 2xx acknowledges; a redirect is a failure (it is not followed)."""
    return 200 <= status_code <= 299


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    owner_id: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event to one endpoint, and how its attempts went."""

    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DueWebhook:
    """A claimed delivery with what it takes to send it."""

    delivery_id: str
    attempts: int
    url: str
    secret: str
    event_id: str
    body: str


@dataclass(frozen=True, slots=True)
class DueSms:
    sms_id: str
    attempts: int
    phone: str
    text: str


@dataclass(frozen=True, slots=True)
class SmsMessage:
    id: str
    phone: str
    text: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempted:
    """The outcome of one attempt to record: only if the row still stands where it was claimed
    (`attempts_before`, pending), so a late worker never counts an attempt twice."""

    status: str
    attempts_before: int
    attempts: int
    next_attempt_at: datetime | None
    now: datetime
    error: str | None = None
    status_code: int | None = None
    provider_message_id: str | None = None
