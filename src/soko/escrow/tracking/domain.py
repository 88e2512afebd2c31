"""Shipments and carriers: tracking numbers, tracking events, the furthest step, and signatures.

A carrier (or the seller's logistics partner) reports what happened to a parcel as events. They
may come late, twice, or out of order, so a shipment keeps only its *furthest* step: the highest
rank of any event so far. Taking a maximum is commutative and idempotent, which is what makes the
outcome the same whatever the order of arrival and however many repeats. Reaching `delivered` or
`returned` for the first time is what moves the escrow order (`order_action`).

Carriers sign their requests the Standard Webhooks way (https://www.standardwebhooks.com/), with
a `whsec_…` secret per carrier: `verify_signature` is the receiving side of `domain.webhooks.sign`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from soko.escrow.domain import EscrowAction
from soko.escrow.tracking.errors import (
    CarrierCodeInvalid,
    CarrierEventIdInvalid,
    CarrierSignatureInvalid,
    CarrierTimestampInvalid,
    TrackingEventKindUnknown,
    TrackingEventTimeInvalid,
    TrackingNumberInvalid,
)
from soko.kernel import limits
from soko.notify.domain import SECRET_PREFIX, SIGNATURE_VERSION, sign


class TrackingEventKind(StrEnum):
    """What a carrier reports about a parcel."""

    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    #: A delivery attempt failed: worth showing the buyer, but the parcel is no further along.
    FAILED_DELIVERY = "failed_delivery"
    #: The parcel went back to the seller. Final: nothing reported after it moves the shipment.
    RETURNED = "returned"


class ShipmentStep(StrEnum):
    """How far a parcel has come: the furthest step any of its events reached."""

    #: The seller added the shipment; the carrier has reported nothing that moves it yet.
    REGISTERED = "registered"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    RETURNED = "returned"


class EventSource(StrEnum):
    #: Through the carrier's signed webhook.
    CARRIER = "carrier"
    #: Recorded by an operator (API or CLI), for a carrier with no webhook or a missed event.
    OPERATOR = "operator"


#: Each step's rank. `returned` outranks `delivered`: a parcel returned after it was delivered
#: (refused at the door, sent back) ends returned, and the buyer is refunded.
RANK: Final[dict[ShipmentStep, int]] = {step: rank for rank, step in enumerate(ShipmentStep)}
#: The step each kind reaches; `failed_delivery` reaches none.
STEP_OF: Final[dict[TrackingEventKind, ShipmentStep | None]] = {
    TrackingEventKind.PICKED_UP: ShipmentStep.PICKED_UP,
    TrackingEventKind.IN_TRANSIT: ShipmentStep.IN_TRANSIT,
    TrackingEventKind.OUT_FOR_DELIVERY: ShipmentStep.OUT_FOR_DELIVERY,
    TrackingEventKind.DELIVERED: ShipmentStep.DELIVERED,
    TrackingEventKind.FAILED_DELIVERY: None,
    TrackingEventKind.RETURNED: ShipmentStep.RETURNED,
}
#: The escrow action a shipment takes its order through when it first reaches a step.
ORDER_ACTION: Final[dict[ShipmentStep, EscrowAction]] = {
    ShipmentStep.DELIVERED: EscrowAction.DELIVER,
    ShipmentStep.RETURNED: EscrowAction.RETURN,
}

_CARRIER_CODE: Final = re.compile(
    rf"[a-z][a-z0-9-]{{{limits.CARRIER_CODE_LENGTH_MIN - 1},{limits.CARRIER_CODE_LENGTH_MAX - 1}}}"
)
_TRACKING_NUMBER: Final = re.compile(rf"[A-Za-z0-9-]{{1,{limits.TRACKING_NUMBER_LENGTH_MAX}}}")
_EVENT_ID: Final = re.compile(rf"[\x21-\x7e]{{1,{limits.CARRIER_EVENT_ID_LENGTH_MAX}}}")


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier that may report events. Its signing secret is kept apart, never in here."""

    code: str
    name: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class Shipment:
    """The parcel of one escrow order, with one carrier's tracking number."""

    id: str
    order_id: str
    carrier_code: str
    tracking_number: str
    step: ShipmentStep
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    id: str
    shipment_id: str
    carrier_code: str
    #: The carrier's own id of the event (the webhook-id header), or the operator's.
    carrier_event_id: str
    kind: TrackingEventKind
    occurred_at: datetime
    received_at: datetime
    source: EventSource
    #: The escrow action this event took its order through; None if it moved no order.
    order_action: EscrowAction | None


@dataclass(frozen=True, slots=True)
class CarrierReport:
    """A carrier webhook's body, checked: which parcel, what happened, when."""

    tracking_number: str
    kind: TrackingEventKind
    occurred_at: datetime


# --- steps --------------------------------------------------------------------------------------


def advance(step: ShipmentStep, kind: TrackingEventKind) -> ShipmentStep:
    """The furthest step after an event of `kind`: never back, and nothing after `returned`."""
    reached = STEP_OF[kind]
    if reached is None or RANK[reached] <= RANK[step]:
        return step
    return reached


def furthest(kinds: Iterable[TrackingEventKind]) -> ShipmentStep:
    """The furthest step of a shipment that received these events, in any order."""
    step = ShipmentStep.REGISTERED
    for kind in kinds:
        step = advance(step, kind)
    return step


def order_action(before: ShipmentStep, after: ShipmentStep) -> EscrowAction | None:
    """What a move from `before` to `after` asks of the escrow order: deliver it on first
    reaching `delivered`, refund it on reaching `returned` (also after a delivery)."""
    if after == before:
        return None
    return ORDER_ACTION.get(after)


# --- names, numbers, times ----------------------------------------------------------------------


def check_carrier_code(code: str) -> str:
    """A lowercase slug: a letter, then letters, digits or dashes (2 to 32 in all)."""
    if not isinstance(code, str) or _CARRIER_CODE.fullmatch(code) is None:
        raise CarrierCodeInvalid(
            f"a carrier code is {limits.CARRIER_CODE_LENGTH_MIN} to "
            f"{limits.CARRIER_CODE_LENGTH_MAX} lowercase letters, digits or dashes, starting "
            "with a letter",
            carrier_code=str(code)[:64],
        )
    return code


def check_tracking_number(number: str) -> str:
    """1 to 40 ASCII letters, digits or dashes, upper-cased.

    Carriers print and scan tracking numbers without regard to case, so `ab-12` and `AB-12` are
    one parcel: storing one case keeps the carrier's unique key honest.
    """
    if not isinstance(number, str) or _TRACKING_NUMBER.fullmatch(number) is None:
        raise TrackingNumberInvalid(
            f"a tracking number is 1 to {limits.TRACKING_NUMBER_LENGTH_MAX} letters, digits or "
            "dashes"
        )
    return number.upper()


def check_kind(kind: str) -> TrackingEventKind:
    try:
        return TrackingEventKind(kind)
    except ValueError:
        raise TrackingEventKindUnknown(
            f"{str(kind)[:64]!r} is not one of {', '.join(TrackingEventKind)}",
            kind=str(kind)[:64],
        ) from None


def check_event_id(event_id: str) -> str:
    """The carrier's (or operator's) id of an event: 1 to 128 printable ASCII characters."""
    if not isinstance(event_id, str) or _EVENT_ID.fullmatch(event_id) is None:
        raise CarrierEventIdInvalid(
            f"an event id is 1 to {limits.CARRIER_EVENT_ID_LENGTH_MAX} printable ASCII "
            "characters without spaces"
        )
    return event_id


def parse_occurred_at(text: str) -> datetime:
    """An ISO 8601 date and time with its UTC offset (RFC 3339), as aware UTC."""
    if not isinstance(text, str) or not 0 < len(text) <= 64:
        raise TrackingEventTimeInvalid("occurred_at must be an ISO 8601 date and time")
    try:
        # RFC 3339 allows a lowercase `t` and `z`; Python's parser only the capitals.
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:
        raise TrackingEventTimeInvalid(
            "occurred_at must be an ISO 8601 date and time, such as 2026-03-01T14:05:00+03:00"
        ) from None
    return check_occurred_at(parsed)


def check_occurred_at(occurred_at: datetime) -> datetime:
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        # A time without its offset is hours off in one time zone or another: never guess.
        raise TrackingEventTimeInvalid(
            "occurred_at needs its UTC offset (Z or +03:00): a local time is ambiguous"
        )
    try:
        return occurred_at.astimezone(UTC)
    except OverflowError:
        raise TrackingEventTimeInvalid("occurred_at is out of range") from None


def check_occurred_when(occurred_at: datetime, now: datetime) -> datetime:
    """An event happened neither in the future (beyond the clocks' tolerated skew) nor more than
    a year ago: either is a mistyped date, and would sort the shipment's history wrongly."""
    if occurred_at > now + timedelta(seconds=limits.CARRIER_CLOCK_TOLERANCE_SECONDS):
        raise TrackingEventTimeInvalid(
            "occurred_at is in the future", occurred_at=occurred_at.isoformat()
        )
    if occurred_at < now - timedelta(seconds=limits.TRACKING_EVENT_AGE_SECONDS_MAX):
        raise TrackingEventTimeInvalid(
            "occurred_at is more than a year ago", occurred_at=occurred_at.isoformat()
        )
    return occurred_at


# --- signatures ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a verified signature vouches for: the message id and its timestamp."""

    msg_id: str
    timestamp: int


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> SignedRequest:
    """Check a carrier's Standard Webhooks signature; the message id becomes the event's id.

    `webhook-signature` may hold several space-separated signatures (a carrier rotating its
    secret signs with both): one `v1` signature made with `secret` is enough. Each is compared in
    constant time. The timestamp must be within `CARRIER_CLOCK_TOLERANCE_SECONDS` of `now`, either
    way, so that a captured request cannot be replayed later.
    """
    assert secret.startswith(SECRET_PREFIX), "not a carrier secret"
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not msg_id or not stamp or not signatures:
        raise CarrierSignatureInvalid(
            "send the webhook-id, webhook-timestamp and webhook-signature headers"
        )
    if _EVENT_ID.fullmatch(msg_id) is None:
        raise CarrierSignatureInvalid(
            f"webhook-id must be 1 to {limits.CARRIER_EVENT_ID_LENGTH_MAX} printable ASCII "
            "characters"
        )
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise CarrierTimestampInvalid("webhook-timestamp must be Unix seconds")
    timestamp = int(stamp)
    skew = abs(timestamp - int(now.timestamp()))
    if skew > limits.CARRIER_CLOCK_TOLERANCE_SECONDS:
        raise CarrierTimestampInvalid(
            f"webhook-timestamp is {skew} s from Soko's clock; at most "
            f"{limits.CARRIER_CLOCK_TOLERANCE_SECONDS} s is accepted",
            skew_seconds=skew,
        )
    expected = sign(secret, msg_id, timestamp, body).encode()
    offered = signatures.split(" ")[: limits.CARRIER_SIGNATURES_MAX]
    version = f"{SIGNATURE_VERSION},"
    # Every offered signature is compared, matched or not: no early exit to time.
    matched = False
    for candidate in offered:
        if candidate.startswith(version):
            matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise CarrierSignatureInvalid()
    return SignedRequest(msg_id=msg_id, timestamp=timestamp)


__all__ = [
    "ORDER_ACTION",
    "RANK",
    "STEP_OF",
    "Carrier",
    "CarrierReport",
    "EventSource",
    "Shipment",
    "ShipmentStep",
    "SignedRequest",
    "TrackingEvent",
    "TrackingEventKind",
    "advance",
    "check_carrier_code",
    "check_event_id",
    "check_kind",
    "check_occurred_at",
    "check_occurred_when",
    "check_tracking_number",
    "furthest",
    "order_action",
    "parse_occurred_at",
    "verify_signature",
]
