"""Webhooks: merchants' endpoints, the events written with each money movement, their delivery.

An event is written by `emit` in the same transaction as the money movement it reports (the
outbox), so it exists exactly when the movement does. The worker's `deliver_due` sends it later,
outside any transaction: a slow or dead receiver holds no lock and can never undo a payment.
Delivery is at least once (a worker that crashes after the POST and before recording it sends
again); the event id is the `webhook-id` header, so receivers drop repeats.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import CursorInvalid, PageSizeInvalid
from soko.kernel.ports import GatewayFailed
from soko.kernel.transactions import in_transaction
from soko.notify.domain import (
    EVENT_TYPES,
    WEBHOOK_RETRIES,
    Attempted,
    DeliveryStatus,
    DueWebhook,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    after_attempt,
    format_secret,
    is_success,
    signed_headers,
)
from soko.notify.errors import (
    WebhookDeliveryNotDead,
    WebhookDeliveryNotFound,
    WebhookEndpointDisabled,
    WebhookEndpointLimitReached,
    WebhookEndpointNotFound,
    WebhookEventTypesRequired,
    WebhookEventTypeUnknown,
    WebhookUrlInvalid,
)
from soko.people.domain import UserKind
from soko.people.errors import UserKindMismatch, UserNotFound

USER_AGENT = "Soko-Webhooks/1"
StatusFilter = Literal["pending", "succeeded", "dead"]


@dataclass(frozen=True, slots=True)
class NewWebhookEndpoint:
    endpoint: WebhookEndpoint
    #: The signing secret, shown to the merchant once (it can be read again by no API).
    secret: str


@dataclass(frozen=True, slots=True)
class EndpointPage:
    endpoints: list[WebhookEndpoint]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    next_cursor: str | None


# --- endpoints ----------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """An absolute http(s) URL of printable ASCII, with a host and no credentials or fragment."""
    if not 0 < len(url) <= limits.WEBHOOK_URL_LENGTH_MAX:
        raise WebhookUrlInvalid(
            f"the URL must be 1 to {limits.WEBHOOK_URL_LENGTH_MAX} characters", url=url[:100]
        )
    # Non-ASCII hosts must come in their punycode form: what is signed and stored is what is sent.
    if not all("\x21" <= char <= "\x7e" for char in url):
        raise WebhookUrlInvalid("the URL must be printable ASCII without spaces")
    absolute = "the URL must be absolute: http:// or https://, a host and an optional port"
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is no number, or out of range, raises here
    except ValueError as error:  # ... as does an unbalanced "[" around an IPv6 host
        raise WebhookUrlInvalid(absolute) from error
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise WebhookUrlInvalid(absolute)
    # Credentials in a URL end up in logs and in every proxy on the way.
    if "@" in parts.netloc:
        raise WebhookUrlInvalid("the URL may not carry a user name or password")
    if "#" in url:
        raise WebhookUrlInvalid("the URL may not have a #fragment: it is never sent")
    return url


def check_event_types(event_types: Sequence[str]) -> tuple[str, ...]:
    if not event_types:
        raise WebhookEventTypesRequired()
    for event_type in event_types:
        if event_type not in EVENT_TYPES:
            raise WebhookEventTypeUnknown(
                f"{event_type[:64]!r} is not one of {', '.join(sorted(EVENT_TYPES))}",
                event_type=event_type[:64],
            )
    return tuple(sorted(set(event_types)))


def create_endpoint(
    ctx: Context, *, owner_id: str, url: str, event_types: Sequence[str]
) -> NewWebhookEndpoint:
    """Register a merchant's URL for some event types; the signing secret is returned once.

    A URL whose host resolves to this machine or a private network is refused now, by the rule
    delivery applies before each POST, rather than retried for a day. A name that does not
    resolve yet is taken: delivery resolves it again each time.
    """
    url = check_url(url)
    try:
        refused = ctx.webhook_sender.refusal(url)
    except GatewayFailed:
        refused = None
    if refused is not None:
        raise WebhookUrlInvalid(f"the URL must reach a public address: {refused}", url=url[:100])
    types = check_event_types(event_types)
    secret = format_secret(secrets.token_bytes(limits.WEBHOOK_SECRET_BYTES))

    def work(uow: UnitOfWork) -> NewWebhookEndpoint:
        # Locked: two registrations at once must not both pass the count below.
        owner = uow.people.get_user(owner_id, lock=True)
        if owner is None:
            raise UserNotFound(user_id=owner_id)
        if owner.kind is not UserKind.MERCHANT:
            raise UserKindMismatch("webhook endpoints belong to merchants")
        if uow.notifications.count_endpoints(owner_id) >= limits.WEBHOOK_ENDPOINTS_PER_OWNER_MAX:
            raise WebhookEndpointLimitReached(limit=limits.WEBHOOK_ENDPOINTS_PER_OWNER_MAX)
        endpoint = WebhookEndpoint(
            id=ctx.ids.new("whe"),
            owner_id=owner_id,
            url=url,
            event_types=types,
            enabled=True,
            created_at=ctx.clock.now(),
        )
        uow.notifications.insert_endpoint(endpoint, secret)
        return NewWebhookEndpoint(endpoint, secret)

    return in_transaction(ctx, work)


def get_endpoint(ctx: Context, endpoint_id: str) -> WebhookEndpoint:
    found = in_transaction(
        ctx, lambda uow: uow.notifications.get_endpoint(endpoint_id), read_only=True
    )
    if found is None:
        raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
    return found


def _check_page(limit: int, cursor: str | None) -> None:
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")
    if cursor is not None and not 0 < len(cursor) <= 40:
        raise CursorInvalid()


def list_endpoints(
    ctx: Context,
    owner_id: str | None,
    *,
    limit: int = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> EndpointPage:
    """Endpoints, newest first: one owner's, or every owner's (for the operator)."""
    _check_page(limit, cursor)
    found = in_transaction(
        ctx,
        lambda uow: uow.notifications.list_endpoints(owner_id, limit=limit, before_id=cursor),
        read_only=True,
    )
    return EndpointPage(found, found[-1].id if len(found) == limit else None)


def disable_endpoint(ctx: Context, endpoint_id: str) -> WebhookEndpoint:
    """Stop sending to the endpoint; what was still waiting for it is dead. Disabling twice is
    the same as once."""

    def work(uow: UnitOfWork) -> WebhookEndpoint:
        if uow.notifications.get_endpoint(endpoint_id) is None:
            raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
        uow.notifications.disable_endpoint(endpoint_id, ctx.clock.now())
        found = uow.notifications.get_endpoint(endpoint_id)
        assert found is not None and not found.enabled
        return found

    return in_transaction(ctx, work)


# --- events -------------------------------------------------------------------------------------


def event_body(
    event_id: str, type: EventType, created_at: datetime, data: Mapping[str, Any]
) -> str:
    """The JSON every attempt sends: {"id", "type", "created_at", "data"}, compact."""
    assert created_at.tzinfo is not None, "naive time"
    body = json.dumps(
        {
            "id": event_id,
            "type": type.value,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
            "data": dict(data),
        },
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    assert len(body.encode()) <= limits.WEBHOOK_EVENT_BODY_BYTES_MAX, "event body too large"
    return body


def emit(
    uow: UnitOfWork, ctx: Context, *, owner_id: str, type: EventType, data: Mapping[str, Any]
) -> None:
    """Record event `type` for `owner_id` (a merchant's user id) in the caller's transaction and
    queue one delivery per enabled endpoint of that owner subscribed to the type.

    An owner with no such endpoint costs one indexed read and writes nothing. `data` must be
    JSON (strings, numbers, booleans, None, lists and dicts): amounts as decimal strings.
    """
    endpoint_ids = uow.notifications.subscribed_endpoint_ids(owner_id, type)
    if not endpoint_ids:
        return
    now = ctx.clock.now()
    event_id = ctx.ids.new("evt")
    uow.notifications.insert_event(
        event_id,
        owner_id,
        type,
        event_body(event_id, type, now, data),
        deliveries=[(ctx.ids.new("whd"), endpoint_id) for endpoint_id in endpoint_ids],
        now=now,
    )


# --- deliveries ---------------------------------------------------------------------------------


def get_delivery(ctx: Context, delivery_id: str) -> WebhookDelivery:
    found = in_transaction(
        ctx, lambda uow: uow.notifications.get_delivery(delivery_id), read_only=True
    )
    if found is None:
        raise WebhookDeliveryNotFound(delivery_id=delivery_id)
    return found


def list_deliveries(
    ctx: Context,
    endpoint_id: str,
    *,
    status: StatusFilter | None = None,
    limit: int = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> DeliveryPage:
    """An endpoint's deliveries, newest first; `status="dead"` is the dead-letter view."""
    assert status is None or status in set(DeliveryStatus), status
    _check_page(limit, cursor)

    def work(uow: UnitOfWork) -> list[WebhookDelivery]:
        if uow.notifications.get_endpoint(endpoint_id) is None:
            raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
        return uow.notifications.list_deliveries(endpoint_id, status, limit=limit, before_id=cursor)

    found = in_transaction(ctx, work, read_only=True)
    return DeliveryPage(found, found[-1].id if len(found) == limit else None)


def retry_delivery(ctx: Context, delivery_id: str) -> WebhookDelivery:
    """Send a dead delivery again, now, with a full new round of attempts."""

    def work(uow: UnitOfWork) -> WebhookDelivery:
        delivery = uow.notifications.get_delivery(delivery_id)
        if delivery is None:
            raise WebhookDeliveryNotFound(delivery_id=delivery_id)
        endpoint = uow.notifications.get_endpoint(delivery.endpoint_id)
        assert endpoint is not None, delivery
        if not endpoint.enabled:
            raise WebhookEndpointDisabled(endpoint_id=endpoint.id)
        if not uow.notifications.revive_delivery(delivery_id, ctx.clock.now()):
            raise WebhookDeliveryNotDead(delivery_id=delivery_id, status=delivery.status)
        revived = uow.notifications.get_delivery(delivery_id)
        assert revived is not None
        return revived

    return in_transaction(ctx, work)


def deliver_due(ctx: Context, limit: int = limits.WEBHOOK_DELIVERIES_PER_BATCH_MAX) -> int:
    """Send up to `limit` due deliveries; safe with several workers. Returns how many it tried."""
    assert 0 < limit <= limits.WEBHOOK_DELIVERIES_PER_BATCH_MAX, limit

    def claim(uow: UnitOfWork) -> list[DueWebhook]:
        now = ctx.clock.now()
        lease = ctx.outbox_lease_seconds or limits.WEBHOOK_LEASE_SECONDS
        lease_until = now + timedelta(seconds=lease)
        return uow.notifications.claim_due_deliveries(now, lease_until, limit)

    # The claim commits before any POST: no transaction stays open while a receiver thinks.
    claimed = in_transaction(ctx, claim)
    for due in claimed:
        _record(ctx, due, _attempt(ctx, due))
    return len(claimed)


def _attempt(ctx: Context, due: DueWebhook) -> Attempted:
    body = due.body.encode()
    timestamp = int(ctx.clock.now().timestamp())
    headers = signed_headers(due.secret, due.event_id, timestamp, body)
    headers["user-agent"] = USER_AGENT
    status_code: int | None = None
    error: str | None = None
    try:
        status_code = ctx.webhook_sender.post(
            due.url, headers, body, timeout_seconds=limits.WEBHOOK_TIMEOUT_SECONDS
        )
    except GatewayFailed as failure:
        error = str(failure) or type(failure).__name__
    succeeded = status_code is not None and is_success(status_code)
    if status_code is not None and not succeeded:
        error = f"HTTP {status_code}"
    now = ctx.clock.now()
    outcome = after_attempt(
        WEBHOOK_RETRIES,
        attempts_before=due.attempts,
        succeeded=succeeded,
        now=now,
        seed=due.delivery_id,
    )
    if outcome.succeeded:
        status = DeliveryStatus.SUCCEEDED
    else:
        status = DeliveryStatus.DEAD if outcome.dead else DeliveryStatus.PENDING
    return Attempted(
        status=status.value,
        attempts_before=due.attempts,
        attempts=outcome.attempts,
        next_attempt_at=outcome.next_attempt_at,
        now=now,
        error=error,
        status_code=status_code,
    )


def _record(ctx: Context, due: DueWebhook, attempted: Attempted) -> None:
    def work(uow: UnitOfWork) -> bool:
        # False means another worker recorded this attempt after our lease ran out, or the
        # endpoint was disabled meanwhile: that outcome stands, and this one is dropped.
        return uow.notifications.record_delivery(due.delivery_id, attempted)

    in_transaction(ctx, work)
