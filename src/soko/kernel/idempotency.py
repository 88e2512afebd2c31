"""Idempotency keys: a retried request gets the first result, stored with the effect itself.

The key, a fingerprint of the request and the result are written in the same transaction as
the money movement, so they commit or vanish together: a crash can never leave an effect without
its key (which would let a retry pay twice) or a key without its effect. Only successes are
stored: a request refused by a business rule changed nothing, so its retry is a fresh attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from soko.kernel.ports import StoredResult
from soko.kernel.transactions import in_transaction

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Idempotent(Generic[T]):
    value: T
    #: True when this is the stored result of an earlier request with the same key.
    replayed: bool


def fingerprint(request: Mapping[str, Any]) -> str:
    """SHA-256 of the request in canonical JSON: key order and spacing do not matter."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str:
    """The key itself must be printable ASCII of bounded length (IETF httpapi draft)."""
    if (
        key is None
        or not 1 <= len(key) <= limits.IDEMPOTENCY_KEY_LENGTH_MAX
        or not key.isascii()
        or not key.isprintable()
    ):
        raise IdempotencyKeyInvalid(
            f"send an Idempotency-Key of 1 to {limits.IDEMPOTENCY_KEY_LENGTH_MAX} printable "
            "ASCII characters"
        )
    return key


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[T]) -> TypeAdapter[T]:
    # Built once per record type: building one walks the whole type, every call would pay it.
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS.setdefault(kind, TypeAdapter(kind))
    return adapter


def encode(value: T, kind: type[T]) -> str:
    """A use case's result as the key stores it: JSON made by pydantic from the record's own
    type (dataclasses, enums, datetimes), one codec for every record."""
    return _adapter(kind).dump_json(value).decode()


def decode(text: str, kind: type[T]) -> T:
    """The stored result back as the record: the inverse of `encode`."""
    return _adapter(kind).validate_json(text)


def run_idempotent(
    ctx: Context,
    *,
    scope: str,
    key: str | None,
    request: Mapping[str, Any],
    work: Callable[[UnitOfWork], T],
    result: type[T],
) -> Idempotent[T]:
    """Run `work` once per (`scope`, `key`); a retry with the same request replays the result.

    The same key with a different request is refused with `IdempotencyKeyReused`. Two identical
    requests racing each other both run `work`, but only one commits: the other's insert of the
    key conflicts, its transaction retries, and it replays the winner's result.
    """
    key = check_key(key)
    digest = fingerprint(request)

    def attempt(uow: UnitOfWork) -> Idempotent[T]:
        stored = uow.idempotency.get(scope, key)
        if stored is not None:
            if stored.fingerprint != digest:
                raise IdempotencyKeyReused()
            return Idempotent(decode(stored.result, result), replayed=True)
        value = work(uow)
        uow.idempotency.put(
            scope, key, StoredResult(digest, encode(value, result)), ctx.clock.now()
        )
        return Idempotent(value, replayed=False)

    return in_transaction(ctx, attempt)


def forget_expired(
    ctx: Context, *, limit: int = limits.IDEMPOTENCY_KEYS_FORGOTTEN_PER_BATCH_MAX
) -> int:
    """Delete keys older than the retention period, a bounded batch at a time."""
    cutoff = ctx.clock.now() - timedelta(seconds=limits.IDEMPOTENCY_KEY_RETENTION_SECONDS)
    return in_transaction(ctx, lambda uow: uow.idempotency.delete_older_than(cutoff, limit))
