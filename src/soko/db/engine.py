"""Engines for the two supported databases, each set up so concurrent money moves stay correct.

SQLite: WAL (readers never block the writer), `synchronous=NORMAL` (durable at checkpoints, no
fsync per commit), a busy timeout, foreign keys on, and `BEGIN IMMEDIATE` for every write
transaction. pysqlite's own transaction handling starts transactions lazily and loses updates
under threads, so the driver is put in autocommit mode and we emit BEGIN ourselves (SQLAlchemy's
documented recipe). SQLAlchemy drops `FOR UPDATE` on SQLite; the IMMEDIATE lock replaces it.

PostgreSQL through psycopg 3: READ COMMITTED with row locks taken in one global order, or
SERIALIZABLE with the retry loop in `kernel/transactions.py`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from soko.db.driver import sqlalchemy_errors

READ_ONLY_OPTION = "soko_read_only"
WAL_AUTOCHECKPOINT_PAGES = 10_000


def create_engine(
    database_url: str,
    *,
    isolation: str = "read_committed",
    pool_size: int = 10,
    sqlite_busy_timeout_ms: int = 10_000,
) -> Engine:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_busy_timeout_ms)
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        level = "SERIALIZABLE" if isolation == "serializable" else "READ COMMITTED"
        return sa.create_engine(
            url,
            isolation_level=level,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
        )
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def _sqlite_engine(url: sa.URL, busy_timeout_ms: int) -> Engine:
    assert url.database not in (None, "", ":memory:"), "Soko needs a SQLite file, not :memory:"
    engine = sa.create_engine(
        url,
        # A writer that finds the write lock taken waits asleep in SQLite's busy handler, up to
        # the busy timeout (ADR 0006).
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        # No cap on connections: a SQLite connection is a file handle and a page cache, not a
        # server's process, and units of work keep some open between transactions (ADR 0013),
        # which must never leave another caller waiting for the pool.
        pool_size=8,
        max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Checkpoint every ~40 MB of WAL instead of 4 MB: a page that many transactions rewrite
        # (an account row, an index leaf) is copied into the database once, not once per few
        # commits.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers take the write lock at BEGIN: a read-then-write can never lose an update, and
        # waiting happens at the start (honouring busy_timeout) instead of failing at COMMIT.
        dbapi_connection = connection.connection.driver_connection
        assert dbapi_connection is not None
        if dbapi_connection.in_transaction:
            return  # a unit of work began it on the driver (ADR 0013)
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        with sqlalchemy_errors(connection.dialect, statement):
            dbapi_connection.execute(statement)

    return engine


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
