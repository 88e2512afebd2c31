"""The outbox tables (migration 0003): webhook endpoints, events, SMS."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from soko.db.metadata import metadata
from soko.db.types import UtcDateTime

# --- notifications: webhook endpoints, events, deliveries, SMS (migration 0003) ---------------

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    # The merchant whose events it receives.
    Column("owner_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    # Kept as given, unlike API keys (hashed): HMAC signing needs the key itself for every
    # delivery, where an API key only has to be recognised.
    Column("secret", String(100), nullable=False),
    # Space-separated event types, sorted.
    Column("event_types", String(500), nullable=False),
    Column("enabled", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    CheckConstraint("enabled IN (0, 1)", name="enabled_boolean"),
    CheckConstraint("(enabled = 1) = (disabled_at IS NULL)", name="disabled_at_iff_disabled"),
    # Every money movement asks which endpoints of its merchant want the event.
    Index("ix_webhook_endpoints_owner_id", "owner_id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("type", String(64), nullable=False),
    # The body exactly as every attempt sends it, so each signs the same bytes.
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# One row per event and endpoint: the outbox the worker sends from.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), ForeignKey("webhook_events.id"), nullable=False),
    Column("endpoint_id", String(40), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # When a pending delivery is next due; NULL once it succeeded or died.
    Column("next_attempt_at", UtcDateTime, nullable=True),
    # A worker's claim: the row is skipped by other workers until then. A crashed worker's
    # claim simply runs out.
    Column("leased_until", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'succeeded', 'dead')", name="status_valid"),
    CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    CheckConstraint("(status = 'pending') = (next_attempt_at IS NOT NULL)", name="due_iff_pending"),
    UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_id_endpoint_id"),
    # The worker's scan for due rows reads only pending ones.
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # An endpoint's deliveries by status, newest first (the dead-letter view).
    Index("ix_webhook_deliveries_endpoint_id_status_id", "endpoint_id", "status", "id"),
)

sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("phone", String(20), nullable=False),
    # One SMS: at most 160 characters (notify/sms.py checks the alphabet's real limit).
    Column("text", String(160), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("leased_until", UtcDateTime, nullable=True),
    Column("provider_message_id", String(100), nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status_valid"),
    CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    CheckConstraint("(status = 'pending') = (next_attempt_at IS NOT NULL)", name="due_iff_pending"),
    Index(
        "ix_sms_messages_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)
