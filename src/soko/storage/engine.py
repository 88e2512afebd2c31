"""Engines for the two supported databases, each set up so concurrent money moves stay correct.

SQLite: WAL (readers never block the writer), `synchronous=NORMAL` (durable at checkpoints, no
fsync per commit), a busy timeout, foreign keys on, and `BEGIN IMMEDIATE` for every write
transaction. pysqlite's own transaction handling starts transactions lazily and loses updates
under threads, so the driver is put in autocommit mode and we emit BEGIN ourselves (SQLAlchemy's
documented recipe). SQLAlchemy drops `FOR UPDATE` on SQLite; the IMMEDIATE lock replaces it.

PostgreSQL through psycopg 3: READ COMMITTED with row locks taken in id order, or SERIALIZABLE
with the retry loop in `services/transactions.py`.
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
        connect_args={"check_same_thread": False, "timeout": 0},
        pool_size=8,
        max_overflow=32,
    )
    busy_timeout_seconds = busy_timeout_ms / 1000
    turnstile = _WriterTurnstile(str(url.database))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=0")
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
                turnstile.acquire(busy_timeout_seconds)
                connection.connection.info[_HOLDS_TURNSTILE] = True
                begin_immediate(dbapi_connection, busy_timeout_seconds)

    def _let_next_writer_in(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_TURNSTILE, False):
            turnstile.release()

    # At the end of the transaction. These fire just before the driver's COMMIT or ROLLBACK:
    # the next writer then waits briefly in `begin_immediate` for SQLite's own lock, which is
    # what keeps writes apart; the turnstile only orders the queue.
    @event.listens_for(engine, "commit")
    def _on_commit(connection: Connection) -> None:
        _let_next_writer_in(connection.connection.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Connection) -> None:
        _let_next_writer_in(connection.connection.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection returned without either (an error between BEGIN and the end).
        _let_next_writer_in(record.info)

    return engine


_HOLDS_TURNSTILE = "soko_holds_writer_turnstile"


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
