"""Idempotency keys in SQL."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from soko.db.deferred import DeferredWrites
from soko.db.metadata import idempotency_keys
from soko.kernel.ports import StoredResult

_SELECT = sa.select(idempotency_keys.c.fingerprint, idempotency_keys.c.result).where(
    idempotency_keys.c.scope == sa.bindparam("scope"),
    idempotency_keys.c.key == sa.bindparam("key"),
)


class SqlIdempotencyRepository:
    def __init__(self, connection: Connection, deferred: DeferredWrites) -> None:
        self._conn = connection
        self._deferred = deferred

    def get(self, scope: str, key: str) -> StoredResult | None:
        row = self._conn.execute(_SELECT, {"scope": scope, "key": key}).first()
        return None if row is None else StoredResult(row.fingerprint, row.result)

    def put(self, scope: str, key: str, stored: StoredResult, created_at: datetime) -> None:
        # The last write of a request, read only by later requests: it goes with the COMMIT.
        self._deferred.insert(
            idempotency_keys,
            [
                {
                    "scope": scope,
                    "key": key,
                    "fingerprint": stored.fingerprint,
                    "result": stored.result,
                    "created_at": created_at,
                }
            ],
            # A concurrent request with the same key committed first: retrying replays it.
            conflict=f"idempotency key {key!r} stored concurrently",
        )

    def delete_older_than(self, cutoff: datetime, limit: int) -> int:
        oldest = (
            sa.select(idempotency_keys.c.scope, idempotency_keys.c.key)
            .where(idempotency_keys.c.created_at < cutoff)
            .order_by(idempotency_keys.c.created_at)
            .limit(limit)
        ).subquery()
        result = self._conn.execute(
            idempotency_keys.delete().where(
                sa.tuple_(idempotency_keys.c.scope, idempotency_keys.c.key).in_(
                    sa.select(oldest.c.scope, oldest.c.key)
                )
            )
        )
        return result.rowcount
