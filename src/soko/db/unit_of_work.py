"""One database transaction holding the repositories; rolls back unless committed."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from soko.context import UnitOfWork
from soko.credit.ports import CreditRepository
from soko.credit.storage import SqlCreditRepository
from soko.db.deferred import DeferredWrites, Transaction
from soko.db.driver import sqlalchemy_errors
from soko.db.engine import READ_ONLY_OPTION, is_postgresql
from soko.db.idempotency import SqlIdempotencyRepository
from soko.deposits.ports import DepositRepository
from soko.deposits.storage import SqlDepositRepository
from soko.escrow.ports import EscrowRepository
from soko.escrow.storage import SqlEscrowRepository
from soko.escrow.tracking.ports import ShipmentsRepository
from soko.escrow.tracking.storage import SqlShipmentsRepository
from soko.fx.ports import FxRepository
from soko.fx.storage import SqlFxRepository
from soko.kernel.ports import IdempotencyRepository, TransientConflict
from soko.ledger.ports import LedgerRepository, ReconcileQueries
from soko.ledger.reconcile_storage import SqlReconcileQueries
from soko.ledger.storage import SqlLedgerRepository
from soko.notify.ports import NotificationsRepository
from soko.notify.storage import SqlNotificationsRepository
from soko.payments.ports import MerchantPaymentsRepository
from soko.payments.storage import SqlMerchantPaymentsRepository
from soko.payouts.ports import PayoutRepository
from soko.payouts.storage import SqlPayoutRepository
from soko.people.ports import PeopleRepository
from soko.people.storage import SqlPeopleRepository

# SQLSTATEs after which the same transaction, run again, may well succeed.
_TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure (SERIALIZABLE, and CockroachDB's retry errors)
        "40P01",  # deadlock_detected
    }
)


def is_transient(error: BaseException) -> bool:
    """Whether a driver error means "conflict, retry the whole transaction"."""
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    # SQLite: the busy timeout ran out while another writer held the lock.
    return isinstance(error, sa.exc.OperationalError) and "database is locked" in str(error.orig)


#: Idle connections kept per list: more than the writer threads that usually take turns.
KEPT_IDLE_MAX = 16


class IdleConnections:
    """SQLite connections kept open between units of work, one list for writers, one for readers.

    Opening a SQLAlchemy connection and giving it back to the pool costs a SQLite write a fifth
    of its time (ADR 0013). A unit of work takes an idle connection here, or opens one, and
    gives it back when its transaction is over and the driver holds none. Each list keeps at
    most `KEPT_IDLE_MAX`; after a burst, the rest go back to the pool.
    PostgreSQL does not use this: its pool checks a connection is alive and resets its
    isolation level at every checkout.
    """

    def __init__(self) -> None:
        self._lists: dict[bool, list[_Kept]] = {False: [], True: []}
        # Closed at `close()`, or when the factory is dropped: never left to the garbage
        # collector, which would warn that a connection was not checked in.
        self._finalizer = weakref.finalize(self, _close_all, self._lists)

    def take(self, read_only: bool) -> _Kept | None:
        try:
            return self._lists[read_only].pop()  # atomic: no lock needed between threads
        except IndexError:
            return None

    def give(self, kept: _Kept, read_only: bool) -> None:
        idle = self._lists[read_only]
        if len(idle) < KEPT_IDLE_MAX:
            idle.append(kept)
        else:  # after a burst: back to the pool, which keeps a few and closes the rest
            kept[0].close()

    def close(self) -> None:
        self._finalizer()


_Kept = tuple[Connection, sqlite3.Connection]


def _kept(connection: Connection) -> _Kept:
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return connection, driver


def _close_all(lists: dict[bool, list[_Kept]]) -> None:
    for kept in lists.values():
        while kept:
            kept.pop()[0].close()


class WriterGate:
    """Lets one thread of this process at a time ask for SQLite's write lock (ADR 0014).

    SQLite's busy handler sleeps longer and longer between tries (up to 100 ms), and the writer
    that just committed usually takes the lock again: under the API's threads one payment in a
    hundred waited a second while newer ones went straight in. Writer threads wait here
    instead, asleep on a lock that wakes one of them as soon as the holder's transaction ends.
    SQLite's lock still decides; between processes (a `soko worker` beside `soko serve`) its
    busy handler still orders who gets it. There is one gate per database file and process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def enter(self, timeout_seconds: float) -> None:
        if not self._lock.acquire(timeout=timeout_seconds):
            # What SQLite says when its own busy timeout runs out: a transient conflict.
            raise sqlite3.OperationalError("database is locked (this process's other writers)")

    def leave(self) -> None:
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.locked()

    def _forget_holders(self) -> None:
        # In a forked child only the forking thread survives: a gate held by another thread
        # would never be left.
        self._lock = threading.Lock()


_gates: dict[str, WriterGate] = {}


def writer_gate(database: str) -> WriterGate:
    """The gate of the SQLite file `database` in this process."""
    return _gates.setdefault(os.path.realpath(database), WriterGate())


def _forget_gate_holders() -> None:
    for gate in _gates.values():
        gate._forget_holders()


os.register_at_fork(after_in_child=_forget_gate_holders)


class _DriverTransaction:
    """A SQLite transaction begun and ended on the driver, not through SQLAlchemy (ADR 0013).

    A statement that the repositories run through SQLAlchemy makes it begin a transaction object
    of its own; the engine's begin event then finds the driver's transaction open and leaves it.
    Ending goes through SQLAlchemy when it has one, which ends the driver's too.
    A writer holds its process's `WriterGate` from before BEGIN IMMEDIATE until its transaction
    has ended (or, if ending fails, until the unit of work lets go of the connection).
    """

    def __init__(
        self,
        connection: Connection,
        driver: sqlite3.Connection,
        statement: str,
        gate: WriterGate | None,
        wait_seconds: float,
    ) -> None:
        self._connection = connection
        self._driver = driver
        self._gate: WriterGate | None = None
        with sqlalchemy_errors(connection.dialect, statement):
            if gate is not None:
                gate.enter(wait_seconds)
                self._gate = gate
            try:
                driver.execute(statement)
            except BaseException:
                self.leave_gate()
                raise
        self.is_active = True

    def commit(self) -> None:
        if self._connection.in_transaction():
            self._connection.commit()
        else:
            with sqlalchemy_errors(self._connection.dialect, "COMMIT"):
                self._driver.commit()
        self.is_active = False
        self.leave_gate()

    def rollback(self) -> None:
        if self._connection.in_transaction():
            self._connection.rollback()
        else:
            with sqlalchemy_errors(self._connection.dialect, "ROLLBACK"):
                self._driver.rollback()
        self.is_active = False
        self.leave_gate()

    def leave_gate(self) -> None:
        """Let the next writer thread in; once only, whatever path ends the transaction."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.leave()


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        *,
        read_only: bool = False,
        idle: IdleConnections | None = None,
        gate: WriterGate | None = None,
        wait_seconds: float = 0.0,
        named_ids: dict[str, str] | None = None,
    ) -> None:
        self._engine = engine
        self._named_ids = named_ids
        self._idle = idle
        self._gate = gate
        self._wait_seconds = wait_seconds
        self._read_only = read_only
        self._connection: Connection | None = None
        self._transaction: Transaction | None = None
        #: On SQLite: the connection and its driver, kept between units of work.
        self._kept: _Kept | None = None
        self._committed = False
        self._deferred = DeferredWrites()

    def __enter__(self) -> Self:
        if self._idle is None:
            connection = self._open()
        else:
            self._kept = self._idle.take(self._read_only) or _kept(self._open())
            connection = self._kept[0]
        self._connection = connection
        try:
            if self._kept is None:
                self._transaction = connection.begin()
            else:
                statement = "BEGIN" if self._read_only else "BEGIN IMMEDIATE"
                gate = None if self._read_only else self._gate
                self._transaction = _DriverTransaction(
                    connection, self._kept[1], statement, gate, self._wait_seconds
                )
        except sa.exc.DBAPIError as error:
            connection.close()
            if is_transient(error):
                raise TransientConflict(str(error)) from error
            raise
        row_locks = is_postgresql(self._engine)
        self.ledger: LedgerRepository = SqlLedgerRepository(
            connection, row_locks=row_locks, named_ids=self._named_ids
        )
        self.idempotency: IdempotencyRepository = SqlIdempotencyRepository(
            connection, self._deferred
        )
        self.reconcile: ReconcileQueries = SqlReconcileQueries(connection)
        self.people: PeopleRepository = SqlPeopleRepository(connection, row_locks=row_locks)
        self.payouts: PayoutRepository = SqlPayoutRepository(connection, row_locks=row_locks)
        self.notifications: NotificationsRepository = SqlNotificationsRepository(
            connection, self._deferred, row_locks=row_locks
        )
        self.merchant_payments: MerchantPaymentsRepository = SqlMerchantPaymentsRepository(
            connection, row_locks=row_locks
        )
        self.escrow: EscrowRepository = SqlEscrowRepository(connection, row_locks=row_locks)
        self.shipments: ShipmentsRepository = SqlShipmentsRepository(
            connection, row_locks=row_locks
        )
        self.credit: CreditRepository = SqlCreditRepository(
            connection, self._deferred, row_locks=row_locks
        )
        self.fx: FxRepository = SqlFxRepository(connection, row_locks=row_locks)
        self.deposits: DepositRepository = SqlDepositRepository(connection, row_locks=row_locks)
        return self

    def _open(self) -> Connection:
        try:
            connection = self._engine.connect()
        except sa.exc.DBAPIError as error:
            if is_transient(error):
                raise TransientConflict(str(error)) from error
            raise
        if self._read_only:
            connection.execution_options(**{READ_ONLY_OPTION: True})
            if is_postgresql(self._engine):
                # One snapshot for the whole read: reconcile's checks must agree with each other
                # while payments keep committing.
                connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
        return connection

    def commit(self) -> None:
        assert self._connection is not None and self._transaction is not None
        assert not self._read_only
        try:
            self._deferred.commit(
                self._connection, self._transaction, pipelined=is_postgresql(self._engine)
            )
        except sa.exc.DBAPIError as error:
            if is_transient(error):
                raise TransientConflict(str(error)) from error
            raise
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, transaction = self._connection, self._transaction
        assert connection is not None and transaction is not None
        self._deferred.discard()
        reusable = False
        try:
            if not self._committed and transaction.is_active:
                transaction.rollback()
            # Kept only when it is certainly clean: no transaction open, in SQLAlchemy or in the
            # driver (a COMMIT that failed leaves SQLite's open), and not invalidated.
            reusable = (
                self._kept is not None
                and not connection.in_transaction()
                and not connection.invalidated
                and not self._kept[1].in_transaction
            )
        finally:
            if reusable:
                assert self._idle is not None and self._kept is not None
                self._idle.give(self._kept, self._read_only)
            else:
                connection.close()  # the pool's reset rolls back whatever is left
            if isinstance(transaction, _DriverTransaction):
                transaction.leave_gate()  # after the close: no other writer meets our lock
        if exc is not None and is_transient(exc):
            raise TransientConflict(str(exc)) from exc


class SqlUnitOfWorkFactory:
    """Opens units of work on one engine: the services' `UnitOfWorkFactory`."""

    def __init__(self, engine: Engine, *, sqlite_busy_timeout_ms: int = 10_000) -> None:
        self.engine = engine
        self._idle = None if is_postgresql(engine) else IdleConnections()
        database = engine.url.database
        self._gate = None if database is None or is_postgresql(engine) else writer_gate(database)
        self._wait_seconds = sqlite_busy_timeout_ms / 1000
        #: System accounts' ids by name, as the ledger repositories find them committed.
        self._named_ids: dict[str, str] = {}

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            read_only=read_only,
            idle=self._idle,
            gate=self._gate,
            wait_seconds=self._wait_seconds,
            named_ids=self._named_ids,
        )

    def close(self) -> None:
        """Close the connections kept between units of work (before the engine is disposed)."""
        if self._idle is not None:
            self._idle.close()
