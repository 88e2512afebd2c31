"""What the outbox needs from storage and its gateways."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from soko.notify.domain import (
    Attempted,
    DueSms,
    DueWebhook,
    SmsMessage,
    WebhookDelivery,
    WebhookEndpoint,
)


class WebhookSender(Protocol):
    def refusal(self, url: str) -> str | None:
        """Why the sender would refuse to POST to `url` (it resolves to this machine or a
        private network, unless the operator allows that), or None. Raises `GatewayFailed` when
        the host does not resolve."""
        ...

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, timeout_seconds: float
    ) -> int:
        """POST `body` to `url` (no redirects followed) and return the HTTP status; raises
        `GatewayFailed` when no status came back."""
        ...


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> str:
        """Hand one text to the SMS provider; return its message id. Raises `GatewayFailed`."""
        ...


class NotificationsRepository(Protocol):
    """Webhook endpoints, events and deliveries, and SMS messages: the outbox."""

    def insert_endpoint(self, endpoint: WebhookEndpoint, secret: str) -> None: ...

    def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    def count_endpoints(self, owner_id: str) -> int:
        """Enabled endpoints of the owner."""
        ...

    def list_endpoints(
        self, owner_id: str | None, *, limit: int, before_id: str | None
    ) -> list[WebhookEndpoint]:
        """Newest first, strictly older than `before_id` if given; all owners if None."""
        ...

    def disable_endpoint(self, endpoint_id: str, now: datetime) -> None:
        """Disable it, and give up its pending deliveries (dead, "endpoint disabled")."""
        ...

    def subscribed_endpoint_ids(self, owner_id: str, event_type: str) -> list[str]:
        """Enabled endpoints of the owner subscribed to the type."""
        ...

    def insert_event(
        self,
        event_id: str,
        owner_id: str,
        event_type: str,
        body: str,
        *,
        deliveries: Sequence[tuple[str, str]],
        now: datetime,
    ) -> None:
        """The event and one pending delivery, due now, per (delivery id, endpoint id)."""
        ...

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    def list_deliveries(
        self, endpoint_id: str, status: str | None, *, limit: int, before_id: str | None
    ) -> list[WebhookDelivery]:
        """Newest first, strictly older than `before_id` if given."""
        ...

    def claim_due_deliveries(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[DueWebhook]:
        """Lease up to `limit` pending deliveries due by `now` that no one holds: hidden from
        every other claim until `lease_until` (PostgreSQL: skipping rows being claimed)."""
        ...

    def record_delivery(self, delivery_id: str, attempted: Attempted) -> bool:
        """Store an attempt's outcome and drop the lease; False if the row moved on meanwhile."""
        ...

    def revive_delivery(self, delivery_id: str, now: datetime) -> bool:
        """A dead delivery back to pending, due now, with a fresh count of attempts."""
        ...

    def insert_sms(self, messages: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """Queue texts, each (id, phone, text), in one statement sent with the commit: reads
        in the same transaction do not see them."""
        ...

    def get_sms(self, sms_id: str) -> SmsMessage | None: ...

    def list_sms_to(self, phone: str, limit: int) -> list[SmsMessage]:
        """Texts to `phone`, oldest first."""
        ...

    def claim_due_sms(self, now: datetime, lease_until: datetime, limit: int) -> list[DueSms]: ...

    def record_sms(self, sms_id: str, attempted: Attempted) -> bool: ...
