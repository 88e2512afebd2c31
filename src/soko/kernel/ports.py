"""What every feature's use cases need from outside: clock, ids, idempotency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str:
        """A fresh time-ordered public id such as ``tr_01J…``."""
        ...

    def digits(self, count: int) -> str:
        """A uniformly random string of `count` decimal digits (till numbers, one-time codes)."""
        ...


class TransientConflict(Exception):
    """Storage saw a serialization failure, deadlock or lost race: the whole use case may retry."""


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A use case's result kept under its idempotency key: the request's hash and the JSON."""

    fingerprint: str
    result: str


class IdempotencyRepository(Protocol):
    def get(self, scope: str, key: str) -> StoredResult | None: ...

    def put(self, scope: str, key: str, stored: StoredResult, created_at: datetime) -> None:
        """Store the result when the transaction commits (so `get` in the same transaction
        does not see it); the commit raises `TransientConflict` if a concurrent request
        stored the key first."""
        ...

    def delete_older_than(self, cutoff: datetime, limit: int) -> int: ...


# --- notifications: webhooks and SMS (the outbox) ----------------------------------------------


class GatewayFailed(Exception):
    """An outside system gave no usable answer: refused, timed out, unreachable, or (for SMS) an
    error reply. The attempt is recorded as failed and retried later; nothing else is undone."""
