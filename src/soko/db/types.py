"""Column types shared by the schema and its migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, TypeDecorator
from sqlalchemy.types import TypeEngine

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_micros(value: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (SQLite's representation)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime: `timestamptz` on PostgreSQL, integer microseconds on SQLite.

    SQLite has no time type; integers compare and index exactly and cost nothing to parse.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        assert value.tzinfo is not None, "naive datetimes never reach storage"
        if dialect.name == "sqlite":
            return to_epoch_micros(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            seconds, micros = divmod(value, 1_000_000)
            return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)
