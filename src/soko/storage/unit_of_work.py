"""One database transaction holding the repositories; rolls back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RootTransaction

from soko.services.ports import (
    EscrowRepository,
    IdempotencyRepository,
    LedgerRepository,
    MerchantPaymentsRepository,
    NotificationsRepository,
    PayoutRepository,
    PeopleRepository,
    ReconcileQueries,
    ShipmentsRepository,
    TransientConflict,
    UnitOfWork,
)
from soko.storage.deferred import DeferredWrites
from soko.storage.engine import READ_ONLY_OPTION, is_postgresql
from soko.storage.escrow_repository import SqlEscrowRepository
from soko.storage.idempotency_repository import SqlIdempotencyRepository
from soko.storage.ledger_repository import SqlLedgerRepository
from soko.storage.merchant_payments_repository import SqlMerchantPaymentsRepository
from soko.storage.notifications_repository import SqlNotificationsRepository
from soko.storage.payouts_repository import SqlPayoutRepository
from soko.storage.people_repository import SqlPeopleRepository
from soko.storage.queries import SqlReconcileQueries
from soko.storage.shipments_repository import SqlShipmentsRepository

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


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._committed = False
        self._deferred = DeferredWrites()

    def __enter__(self) -> Self:
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
        self._connection = connection
        try:
            self._transaction = connection.begin()
        except sa.exc.DBAPIError as error:
            connection.close()
            if is_transient(error):
                raise TransientConflict(str(error)) from error
            raise
        row_locks = is_postgresql(self._engine)
        self.ledger: LedgerRepository = SqlLedgerRepository(connection, row_locks=row_locks)
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
        return self

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
        assert self._connection is not None and self._transaction is not None
        self._deferred.discard()
        try:
            if not self._committed and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._connection.close()
        if exc is not None and is_transient(exc):
            raise TransientConflict(str(exc)) from exc


class SqlUnitOfWorkFactory:
    """Opens units of work on one engine: the services' `UnitOfWorkFactory`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only)
