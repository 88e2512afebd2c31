"""The one SQLAlchemy MetaData every feature's tables join, and shared tables."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
)

from soko.db.types import UtcDateTime

# Stable constraint names, so migrations can refer to them on both databases.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # The caller's identity: the same key from two tenants is two keys.
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    # SHA-256 of the request: the same key with another request is refused, never replayed.
    Column("fingerprint", String(64), nullable=False),
    # The use case's result as JSON, replayed to a retry.
    Column("result", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
