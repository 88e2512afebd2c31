"""Inserts that nothing in their transaction reads back, sent together with its COMMIT.

A payment ends with rows no later statement of its transaction reads: its texts (the SMS outbox)
and its idempotency record. By then the payment has locked its accounts, and on PostgreSQL each
statement is a round trip, during which a merchant that a thousand payers are paying at once is
held. Queued here instead, they travel with the COMMIT in one psycopg pipeline: three round
trips with the merchant's row locked instead of five (ADR 0012).

The price: a deferred row is invisible to the rest of its own transaction. Only rows that are
written last and read by later transactions belong here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from soko.db.driver import sqlalchemy_errors
from soko.kernel.ports import TransientConflict


class Transaction(Protocol):
    """What a unit of work's transaction offers: SQLAlchemy's, or SQLite's on the driver."""

    @property
    def is_active(self) -> bool: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Insert:
    table: sa.Table
    rows: Sequence[dict[str, Any]]
    #: Set for rows whose unique key another transaction may take first: the loser retries.
    conflict: str | None


@dataclass(frozen=True, slots=True)
class _Statement:
    """A statement compiled for the driver's own parameter style, run on its cursor (as the
    hot paths' statements are: soko.db.driver)."""

    sql: str
    params: dict[str, Any]


class DeferredWrites:
    """The writes one unit of work sends with its COMMIT, in the order they were added."""

    def __init__(self) -> None:
        self._inserts: list[_Insert | _Statement] = []

    def insert(
        self, table: sa.Table, rows: Sequence[dict[str, Any]], *, conflict: str | None = None
    ) -> None:
        """Insert `rows` into `table` at commit. On a unique violation, if `conflict` is given,
        the commit raises `TransientConflict(conflict)` (another transaction took the key)."""
        if rows:
            self._inserts.append(_Insert(table, rows, conflict))

    def execute(self, sql: str, params: dict[str, Any]) -> None:
        """Run `sql` (compiled for the driver's parameter style) on the driver's cursor at
        commit: a write whose effect nothing later in the transaction reads."""
        self._inserts.append(_Statement(sql, params))

    def discard(self) -> None:
        self._inserts.clear()

    def commit(self, connection: Connection, transaction: Transaction, *, pipelined: bool) -> None:
        """Run the inserts, then COMMIT; on PostgreSQL all in one round trip."""
        inserts, self._inserts = self._inserts, []
        if not inserts:
            transaction.commit()
        elif not pipelined:
            for write in inserts:
                try:
                    _run(connection, write)
                except sa.exc.IntegrityError as error:
                    _raise_conflict(error, [write])
                    raise
            transaction.commit()
        else:
            self._commit_pipelined(connection, transaction, inserts)

    @staticmethod
    def _commit_pipelined(
        connection: Connection, transaction: Transaction, inserts: list[_Insert | _Statement]
    ) -> None:
        dbapi = connection.connection.driver_connection
        assert dbapi is not None
        try:
            with dbapi.pipeline():
                for write in inserts:
                    _run(connection, write)
                # psycopg sends COMMIT in the pipeline and syncs: any insert's error surfaces
                # here, and the server has skipped the COMMIT.
                transaction.commit()
        except BaseException as error:
            # SQLAlchemy takes a failed COMMIT for the end of the transaction, but in a
            # pipeline the COMMIT never ran: the transaction is still open, and aborted. (A
            # connection too broken to roll back is invalidated by SQLAlchemy on the original
            # error, which is the one to raise.)
            with contextlib.suppress(Exception):
                dbapi.rollback()
            if isinstance(error, sa.exc.IntegrityError):
                _raise_conflict(error, inserts)
            raise


def _run(connection: Connection, write: _Insert | _Statement) -> None:
    if isinstance(write, _Insert):
        connection.execute(_insert(write.table), list(write.rows))
        return
    dbapi = connection.connection.driver_connection
    assert dbapi is not None, "a unit of work always holds a live connection"
    cursor = dbapi.cursor()
    try:
        with sqlalchemy_errors(connection.dialect, write.sql):
            cursor.execute(write.sql, write.params)
    finally:
        cursor.close()


@functools.cache
def _insert(table: sa.Table) -> sa.Insert:
    """One INSERT statement per table, built once (ADR 0015)."""
    return table.insert()


def _raise_conflict(error: sa.exc.IntegrityError, writes: Sequence[_Insert | _Statement]) -> None:
    diag = getattr(error.orig, "diag", None)
    table_name = getattr(diag, "table_name", None)
    inserts = [write for write in writes if isinstance(write, _Insert)]
    for write in inserts:
        # One write: it is the one that failed. Several, in a pipeline: the server names the
        # table (a conflict elsewhere is a bug, not a race, and is raised as it is).
        if write.conflict is not None and (len(writes) == 1 or table_name == write.table.name):
            raise TransientConflict(write.conflict) from error
