"""The ports the use cases need (clock, ids, unit of work, repositories), implemented elsewhere.

Services depend only on these protocols; `storage/` implements them and `bootstrap.py` picks the
implementation. Tests pass a fake clock and the same storage on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from soko.domain.ledger import Account, LedgerPlan, PendingState, Transfer


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new(self, prefix: str) -> str:
        """A fresh time-ordered public id such as ``tr_01J…``."""
        ...


class TransientConflict(Exception):
    """Storage saw a serialization failure, deadlock or lost race: the whole use case may retry."""


class LedgerRepository(Protocol):
    def insert_account(self, account: Account, created_at: datetime) -> None:
        """Insert an account (counters must be zero)."""
        ...

    def get_account(self, account_id: str) -> Account | None: ...

    def get_account_by_name(self, name: str) -> Account | None: ...

    def lock_accounts(self, account_ids: Collection[str]) -> dict[str, Account]:
        """Read and lock the accounts for writing, in ascending id order (no deadlocks)."""
        ...

    def lock_transfers(
        self, transfer_ids: Collection[str]
    ) -> tuple[dict[str, Transfer], dict[str, PendingState]]:
        """Read transfers about to be resolved, and lock the states of the pending ones."""
        ...

    def apply(self, plan: LedgerPlan, before: dict[str, Account]) -> None:
        """Write a plan: transfers, counter changes from `before`, and pending states."""
        ...

    def get_transfer(self, transfer_id: str) -> Transfer | None: ...

    def pending_state(self, transfer_id: str) -> PendingState | None: ...

    def list_transfers(
        self, account_id: str, *, limit: int, before_id: str | None
    ) -> list[Transfer]:
        """An account's transfers, newest first, strictly older than `before_id` if given."""
        ...

    def due_pending_ids(self, now: datetime, limit: int) -> list[str]:
        """Open pending transfers whose timeout has passed, oldest first, skipping locked ones."""
        ...


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A use case's result kept under its idempotency key: the request's hash and the JSON."""

    fingerprint: str
    result: str


class IdempotencyRepository(Protocol):
    def get(self, scope: str, key: str) -> StoredResult | None: ...

    def put(self, scope: str, key: str, stored: StoredResult, created_at: datetime) -> None:
        """Store the result; raises `TransientConflict` if a concurrent request stored first."""
        ...

    def delete_older_than(self, cutoff: datetime, limit: int) -> int: ...


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@dataclass(frozen=True, slots=True)
class CounterMismatch:
    account_id: str
    counter: str
    stored: int
    from_transfers: int


class ReconcileQueries(Protocol):
    """Whole-ledger aggregates, each one query, for `soko reconcile`."""

    def currency_totals(self) -> list[CurrencyTotals]: ...

    def counter_mismatches(self, limit: int) -> list[CounterMismatch]: ...

    def accounts_breaking_balance_rules(self, limit: int) -> list[Account]: ...

    def pending_inconsistencies(self, limit: int) -> list[str]:
        """Human-readable descriptions of pending transfers whose state and history disagree."""
        ...

    def malformed_transfers(self, limit: int) -> list[str]:
        """Transfers whose currency differs from one of their accounts'."""
        ...

    def counts(self) -> tuple[int, int]:
        """(accounts, transfers)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction. Rolls back on exit unless `commit` was called."""

    ledger: LedgerRepository
    idempotency: IdempotencyRepository
    reconcile: ReconcileQueries

    def commit(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What every use case receives: where to store, what time it is, how to name things."""

    unit_of_work: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    #: Sleeps between retries of a conflicting transaction (a no-op in tests).
    backoff: Callable[[int], None]


def noop_backoff(attempt: int) -> None:
    """No wait between retries: for tests and single-threaded tools."""


__all__: Sequence[str] = (
    "Clock",
    "Context",
    "CounterMismatch",
    "CurrencyTotals",
    "IdGenerator",
    "IdempotencyRepository",
    "LedgerRepository",
    "ReconcileQueries",
    "StoredResult",
    "TransientConflict",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "noop_backoff",
)
