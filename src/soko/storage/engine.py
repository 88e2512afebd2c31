"""Engines for the two supported databases, each set up so concurrent money moves stay correct.

SQLite: WAL (readers never block the writer), `synchronous=NORMAL` (durable at checkpoints, no
fsync per commit), a busy timeout, foreign keys on, and `BEGIN IMMEDIATE` for every write
transaction. pysqlite's own transaction handling starts transactions lazily and loses updates
under threads, so the driver is put in autocommit mode and we emit BEGIN ourselves (SQLAlchemy's
documented recipe). SQLAlchemy drops `FOR UPDATE` on SQLite; the IMMEDIATE lock replaces it.

PostgreSQL through psycopg 3: READ COMMITTED with row locks taken in one global order, or
SERIALIZABLE with the retry loop in `services/transactions.py`.
"""

from __future__ import annotations

import fcntl
import os
import random
import sqlite3
import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from soko.storage.driver import sqlalchemy_errors

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
        # No driver-level waiting: `_on_begin` waits for the write lock itself (see there).
        connect_args={"check_same_thread": False, "timeout": 0, "factory": _SqliteConnection},
        pool_size=8,
        max_overflow=32,
    )
    busy_timeout_seconds = busy_timeout_ms / 1000
    turnstile = _WriterTurnstile(str(url.database))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        dbapi_connection.turnstile = turnstile
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=0")
        # Checkpoint every ~40 MB of WAL instead of 4 MB: a page that many transactions rewrite
        # (an account row, an index leaf) is copied into the database once, not once per few
        # commits.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers take the write lock at BEGIN: a read-then-write can never lose an update, and
        # waiting happens at the start (honouring busy_timeout) instead of failing at COMMIT.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        # Straight on the driver: this runs once per transaction, on the hot path.
        dbapi_connection = connection.connection.driver_connection
        assert dbapi_connection is not None
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        with sqlalchemy_errors(connection.dialect, statement):
            if read_only:
                dbapi_connection.execute(statement)
            else:
                assert isinstance(dbapi_connection, _SqliteConnection)
                dbapi_connection.enter_turnstile(busy_timeout_seconds)
                try:
                    begin_immediate(dbapi_connection, busy_timeout_seconds)
                except BaseException:
                    dbapi_connection.leave_turnstile()
                    raise

    return engine


class _WriterTurnstile:
    """Lets one Soko writer at a time reach SQLite's write lock, and wakes the next in turn.

    Waiting on SQLite's lock means polling it: with many writer processes on few cores the
    pollers crowd out the writer that holds it (16 processes on 2 cores managed a tenth of
    what 4 did). Here threads queue on a lock and processes on `flock` of a file beside the
    database, both sleeping in the kernel until the holder lets go. SQLite's lock still decides;
    this only orders who asks. A writer that hangs holds both, as it would hold SQLite's.
    """

    def __init__(self, database_path: str) -> None:
        self._path = database_path + ".soko-writers"
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, timeout_seconds: float) -> None:
        if not self._threads.acquire(timeout=timeout_seconds):
            raise sqlite3.OperationalError("database is locked (waiting for other writers)")
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _file(self) -> int:
        # One descriptor per process: flock excludes open file descriptions, not threads.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


class _SqliteConnection(sqlite3.Connection):
    """A driver connection that lets the next writer in once its COMMIT or ROLLBACK is done."""

    turnstile: _WriterTurnstile | None = None
    _in_turnstile = False

    def enter_turnstile(self, timeout_seconds: float) -> None:
        assert self.turnstile is not None and not self._in_turnstile
        self.turnstile.acquire(timeout_seconds)
        self._in_turnstile = True

    def leave_turnstile(self) -> None:
        if self._in_turnstile:
            self._in_turnstile = False
            assert self.turnstile is not None
            self.turnstile.release()

    # After, not before: the next writer's BEGIN IMMEDIATE then finds SQLite's lock free.
    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_turnstile()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_turnstile()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_turnstile()


def begin_immediate(dbapi_connection: sqlite3.Connection, timeout_seconds: float) -> None:
    """Take SQLite's write lock, waiting up to `timeout_seconds` in short, jittered naps.

    SQLite's own busy handler sleeps up to 100 ms between tries. Under many writers that leaves
    the lock idle while every waiter sleeps: 16 processes managed 13 transfers a second. A
    transaction here holds the lock for well under a millisecond, so we retry after a fraction
    of that, doubling to a 2 ms cap.
    """
    deadline = time.monotonic() + timeout_seconds
    nap_seconds = 0.00005
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(random.uniform(0, nap_seconds))  # noqa: S311 - jitter, not security
        nap_seconds = min(nap_seconds * 2, 0.002)


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
