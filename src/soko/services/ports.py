"""The ports the use cases need (clock, ids, unit of work, repositories), implemented elsewhere.

Services depend only on these protocols; `storage/` implements them and `bootstrap.py` picks the
implementation. Tests pass a fake clock and the same storage on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import TracebackType
from typing import Protocol, Self

from soko.domain.fees import FeeKind, FeeTable
from soko.domain.kyc import TierLimits
from soko.domain.ledger import Account, LedgerPlan, PendingState, Transfer
from soko.domain.users import Merchant, User


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

    def wallet_inconsistencies(self, limit: int) -> list[str]:
        """Wallets whose ledger account is not a customer account in the wallet's currency."""
        ...

    def counts(self) -> tuple[int, int]:
        """(accounts, transfers)."""
        ...


@dataclass(frozen=True, slots=True)
class Wallet:
    id: str
    user_id: str
    currency: str
    account_id: str


@dataclass(frozen=True, slots=True)
class Payment:
    """The business record of a movement between people: who, how much, what fee, why."""

    id: str
    kind: str
    currency: str
    amount: int
    fee: int
    commission: int
    payer_wallet_id: str | None
    payee_wallet_id: str | None
    payee_phone: str | None
    message: str | None
    hold_id: str | None
    fee_hold_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: str
    merchant_id: str | None
    name: str
    revoked: bool


class PeopleRepository(Protocol):
    """Users, merchants, wallets, payments, API keys and sessions."""

    def insert_user(self, user: User, pin_hash: str | None, created_at: datetime) -> None:
        """Raises `PhoneNumberTaken` if the phone number is registered already."""
        ...

    def get_user(self, user_id: str, *, lock: bool = False) -> User | None: ...

    def get_user_by_phone(self, phone: str) -> User | None: ...

    def pin_hash(self, user_id: str) -> str | None: ...

    def update_user(self, user: User, *, pin_hash: str | None = None) -> None:
        """Store the user's mutable fields (tier, national id, PIN state, and a new PIN hash)."""
        ...

    def insert_merchant(self, merchant: Merchant) -> None:
        """Raises `TransientConflict` if the till number was taken meanwhile."""
        ...

    def get_merchant(self, user_id: str) -> Merchant | None: ...

    def get_merchant_by_till(self, till_number: str) -> Merchant | None: ...

    def insert_wallet(self, wallet: Wallet, created_at: datetime) -> None:
        """Raises `TransientConflict` if the user's wallet in that currency was opened meanwhile."""
        ...

    def get_wallet(self, wallet_id: str) -> Wallet | None: ...

    def find_wallet(self, user_id: str, currency: str) -> Wallet | None: ...

    def list_wallets(self, user_id: str) -> list[Wallet]: ...

    def outgoing_since(self, wallet_id: str, kinds: Collection[str], since: datetime) -> int:
        """Minor units the wallet paid out in payments of `kinds` since `since` (not counting
        held payments that expired back)."""
        ...

    def net_after(self, account_id: str, transfer_id: str) -> int:
        """Posted credits less posted debits of the account's transfers newer than this one."""
        ...

    def insert_payment(self, payment: Payment) -> None: ...

    def get_payment(self, payment_id: str) -> Payment | None: ...

    def unclaimed_payments(self, phone: str, limit: int) -> list[Payment]:
        """Payments to `phone` still held for it, oldest first."""
        ...

    def claim_payment(self, payment_id: str, payee_wallet_id: str) -> None: ...

    def insert_api_key(self, key: ApiKey, secret_hash: str, created_at: datetime) -> None: ...

    def get_api_key_by_hash(self, secret_hash: str) -> ApiKey | None: ...

    def revoke_api_key(self, key_id: str, revoked_at: datetime) -> bool: ...

    def insert_session(
        self, token_hash: str, user_id: str, expires_at: datetime, created_at: datetime
    ) -> None: ...

    def session_user(self, token_hash: str, now: datetime) -> str | None:
        """The user of an unexpired session, if any."""
        ...


class PinHasher(Protocol):
    def hash(self, pin: str) -> str: ...

    def verify(self, pin_hash: str, pin: str) -> bool: ...


class UnitOfWork(Protocol):
    """One database transaction. Rolls back on exit unless `commit` was called."""

    ledger: LedgerRepository
    idempotency: IdempotencyRepository
    reconcile: ReconcileQueries
    people: PeopleRepository

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
    pins: PinHasher
    #: The operator's pricing and limits (defaults from domain/fees.py and limits.py).
    tariff: Mapping[tuple[str, FeeKind], FeeTable]
    kyc_limits: Mapping[str, Mapping[int, TierLimits]]
    #: The operator's time zone: days and months for the KYC limits start at its midnight.
    timezone: tzinfo
    #: How long money sent to an unregistered number is held for it.
    unclaimed_transfer_seconds: int


def noop_backoff(attempt: int) -> None:
    """No wait between retries: for tests and single-threaded tools."""


__all__: Sequence[str] = (
    "ApiKey",
    "Clock",
    "Context",
    "CounterMismatch",
    "CurrencyTotals",
    "IdGenerator",
    "IdempotencyRepository",
    "LedgerRepository",
    "Payment",
    "PeopleRepository",
    "PinHasher",
    "ReconcileQueries",
    "StoredResult",
    "TransientConflict",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "Wallet",
    "noop_backoff",
)
