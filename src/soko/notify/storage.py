"""Webhook endpoints, events and deliveries, and SMS messages in SQL: the outbox.

Workers claim due rows with a lease (`leased_until`) in a short transaction of their own, then send
outside any transaction. On PostgreSQL the claim reads with `FOR UPDATE SKIP LOCKED`, so two
workers never wait on each other nor take the same row; on SQLite the write transaction's lock
(`BEGIN IMMEDIATE`) makes the read and the lease one atomic step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.db.deferred import DeferredWrites
from soko.kernel import limits
from soko.notify.domain import (
    Attempted,
    DueSms,
    DueWebhook,
    SmsMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from soko.notify.tables import sms_messages, webhook_deliveries, webhook_endpoints, webhook_events

# Literal, not a bound parameter: PostgreSQL matches a partial index's predicate only against
# the query's own text, and the due indexes cover `status = 'pending'`.
_PENDING: sa.ColumnElement[str] = sa.literal_column("'pending'")
#: Built once: every payment asks who is subscribed to its event (ADR 0015).
_SUBSCRIBED = sa.select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
    webhook_endpoints.c.owner_id == sa.bindparam("owner_id"), webhook_endpoints.c.enabled == 1
)


def _due(table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        table.c.status == _PENDING,
        table.c.next_attempt_at <= now,
        sa.or_(table.c.leased_until.is_(None), table.c.leased_until <= now),
    )


class SqlNotificationsRepository:
    def __init__(
        self, connection: Connection, deferred: DeferredWrites, *, row_locks: bool
    ) -> None:
        self._conn = connection
        self._deferred = deferred
        self._row_locks = row_locks

    # --- endpoints --------------------------------------------------------------------------

    def insert_endpoint(self, endpoint: WebhookEndpoint, secret: str) -> None:
        self._conn.execute(
            webhook_endpoints.insert(),
            {
                "id": endpoint.id,
                "owner_id": endpoint.owner_id,
                "url": endpoint.url,
                "secret": secret,
                "event_types": " ".join(sorted(endpoint.event_types)),
                "enabled": int(endpoint.enabled),
                "created_at": endpoint.created_at,
            },
        )

    def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        query = sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        row = self._conn.execute(query).first()
        return None if row is None else _endpoint(row)

    def count_endpoints(self, owner_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            webhook_endpoints.c.owner_id == owner_id, webhook_endpoints.c.enabled == 1
        )
        return int(self._conn.execute(query).scalar_one())

    def list_endpoints(
        self, owner_id: str | None, *, limit: int, before_id: str | None
    ) -> list[WebhookEndpoint]:
        query = sa.select(webhook_endpoints).order_by(webhook_endpoints.c.id.desc()).limit(limit)
        if owner_id is not None:
            query = query.where(webhook_endpoints.c.owner_id == owner_id)
        if before_id is not None:
            query = query.where(webhook_endpoints.c.id < before_id)
        return [_endpoint(row) for row in self._conn.execute(query)]

    def disable_endpoint(self, endpoint_id: str, now: datetime) -> None:
        self._conn.execute(
            webhook_endpoints.update()
            .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.enabled == 1)
            .values(enabled=0, disabled_at=now)
        )
        # Nothing more goes to a disabled endpoint; what was waiting stays visible as dead.
        self._conn.execute(
            webhook_deliveries.update()
            .where(
                webhook_deliveries.c.endpoint_id == endpoint_id,
                webhook_deliveries.c.status == _PENDING,
            )
            .values(
                status="dead",
                next_attempt_at=None,
                leased_until=None,
                last_error="endpoint disabled",
                updated_at=now,
            )
        )

    def subscribed_endpoint_ids(self, owner_id: str, event_type: str) -> list[str]:
        # An owner has a handful of endpoints at most (limits.WEBHOOK_ENDPOINTS_PER_OWNER_MAX):
        # filtering the types here is cheaper than a table of them.
        rows = self._conn.execute(_SUBSCRIBED, {"owner_id": owner_id})
        return [row.id for row in rows if event_type in row.event_types.split()]

    # --- events and deliveries ----------------------------------------------------------------

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
        self._conn.execute(
            webhook_events.insert(),
            {
                "id": event_id,
                "owner_id": owner_id,
                "type": event_type,
                "payload": body,
                "created_at": now,
            },
        )
        self._conn.execute(
            webhook_deliveries.insert(),
            [
                {
                    "id": delivery_id,
                    "event_id": event_id,
                    "endpoint_id": endpoint_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for delivery_id, endpoint_id in deliveries
            ],
        )

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        query = _deliveries_query().where(webhook_deliveries.c.id == delivery_id)
        row = self._conn.execute(query).first()
        return None if row is None else _delivery(row)

    def list_deliveries(
        self, endpoint_id: str, status: str | None, *, limit: int, before_id: str | None
    ) -> list[WebhookDelivery]:
        query = (
            _deliveries_query()
            .where(webhook_deliveries.c.endpoint_id == endpoint_id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(webhook_deliveries.c.status == status)
        if before_id is not None:
            query = query.where(webhook_deliveries.c.id < before_id)
        return [_delivery(row) for row in self._conn.execute(query)]

    def claim_due_deliveries(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[DueWebhook]:
        ids = self._claim(webhook_deliveries, now, lease_until, limit)
        if not ids:
            return []
        query = (
            sa.select(
                webhook_deliveries.c.id,
                webhook_deliveries.c.attempts,
                webhook_endpoints.c.url,
                webhook_endpoints.c.secret,
                webhook_events.c.id.label("event_id"),
                webhook_events.c.payload,
            )
            .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
            .join(webhook_events, webhook_events.c.id == webhook_deliveries.c.event_id)
            .where(webhook_deliveries.c.id.in_(ids))
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        )
        return [
            DueWebhook(
                delivery_id=row.id,
                attempts=row.attempts,
                url=row.url,
                secret=row.secret,
                event_id=row.event_id,
                body=row.payload,
            )
            for row in self._conn.execute(query)
        ]

    def record_delivery(self, delivery_id: str, attempted: Attempted) -> bool:
        return self._record(
            webhook_deliveries,
            delivery_id,
            attempted,
            {"last_status_code": attempted.status_code},
        )

    def revive_delivery(self, delivery_id: str, now: datetime) -> bool:
        result = self._conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
        )
        return result.rowcount == 1

    # --- SMS ----------------------------------------------------------------------------------

    def insert_sms(self, messages: Sequence[tuple[str, str, str]], now: datetime) -> None:
        # A payment's texts are its last rows, read only by the SMS worker: with the COMMIT.
        self._deferred.insert(
            sms_messages,
            [
                {
                    "id": sms_id,
                    "phone": phone,
                    "text": text,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for sms_id, phone, text in messages
            ],
        )

    def get_sms(self, sms_id: str) -> SmsMessage | None:
        row = self._conn.execute(sa.select(sms_messages).where(sms_messages.c.id == sms_id)).first()
        return None if row is None else _sms(row)

    def list_sms_to(self, phone: str, limit: int) -> list[SmsMessage]:
        query = (
            sa.select(sms_messages)
            .where(sms_messages.c.phone == phone)
            .order_by(sms_messages.c.created_at, sms_messages.c.id)
            .limit(limit)
        )
        return [_sms(row) for row in self._conn.execute(query)]

    def claim_due_sms(self, now: datetime, lease_until: datetime, limit: int) -> list[DueSms]:
        ids = self._claim(sms_messages, now, lease_until, limit)
        if not ids:
            return []
        query = (
            sa.select(
                sms_messages.c.id,
                sms_messages.c.attempts,
                sms_messages.c.phone,
                sms_messages.c.text,
            )
            .where(sms_messages.c.id.in_(ids))
            .order_by(sms_messages.c.next_attempt_at, sms_messages.c.id)
        )
        return [
            DueSms(sms_id=row.id, attempts=row.attempts, phone=row.phone, text=row.text)
            for row in self._conn.execute(query)
        ]

    def record_sms(self, sms_id: str, attempted: Attempted) -> bool:
        extra = {}
        if attempted.provider_message_id is not None:
            extra["provider_message_id"] = attempted.provider_message_id[:100]
        return self._record(sms_messages, sms_id, attempted, extra)

    # --- the claim and the record, shared by both outboxes --------------------------------------

    def _claim(
        self, table: sa.Table, now: datetime, lease_until: datetime, limit: int
    ) -> list[str]:
        assert limit > 0 and now < lease_until, (limit, now, lease_until)
        query = (
            sa.select(table.c.id)
            .where(_due(table, now))
            .order_by(table.c.next_attempt_at)
            .limit(limit)
        )
        if self._row_locks:
            # A row another worker is claiming right now is skipped, not waited for; one it
            # claimed already fails the lease test when PostgreSQL re-reads it after the lock.
            query = query.with_for_update(skip_locked=True)
        ids = list(self._conn.execute(query).scalars())
        if not ids:
            return []
        # The lease is taken only where the row is still due, and only rows leased here are
        # returned: the claim stays single even if the read above ever saw a stale row.
        leased = self._conn.execute(
            table.update()
            .where(table.c.id.in_(ids), _due(table, now))
            .values(leased_until=lease_until)
            .returning(table.c.id)
        )
        return list(leased.scalars())

    def _record(
        self, table: sa.Table, row_id: str, attempted: Attempted, extra: dict[str, Any]
    ) -> bool:
        error = (
            None if attempted.error is None else attempted.error[: limits.DELIVERY_ERROR_LENGTH_MAX]
        )
        result = self._conn.execute(
            table.update()
            .where(
                table.c.id == row_id,
                table.c.status == _PENDING,
                table.c.attempts == attempted.attempts_before,
            )
            .values(
                status=attempted.status,
                attempts=attempted.attempts,
                next_attempt_at=attempted.next_attempt_at,
                leased_until=None,
                last_error=error,
                updated_at=attempted.now,
                **extra,
            )
        )
        return result.rowcount == 1


def _deliveries_query() -> sa.Select[Any]:
    return sa.select(webhook_deliveries, webhook_events.c.type.label("event_type")).join(
        webhook_events, webhook_events.c.id == webhook_deliveries.c.event_id
    )


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        owner_id=row.owner_id,
        url=row.url,
        event_types=tuple(row.event_types.split()),
        enabled=bool(row.enabled),
        created_at=row.created_at,
    )


def _delivery(row: Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        endpoint_id=row.endpoint_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _sms(row: Row[Any]) -> SmsMessage:
    return SmsMessage(
        id=row.id,
        phone=row.phone,
        text=row.text,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        provider_message_id=row.provider_message_id,
        last_error=row.last_error,
        created_at=row.created_at,
    )
