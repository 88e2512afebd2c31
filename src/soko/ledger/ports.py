"""What the ledger's use cases need from storage."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from soko.ledger.chart import AccountCode
from soko.ledger.domain import Account, LedgerPlan, PendingState, Transfer


@dataclass(frozen=True, slots=True)
class SystemTotal:
    """A system role's four counters in one currency, summed over its buckets."""

    code: AccountCode
    currency: str
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def balance(self) -> int:
        """Posted credits less posted debits (what a credit-normal role such as fees holds)."""
        return self.credits_posted - self.debits_posted


class LedgerRepository(Protocol):
    def insert_account(self, account: Account, created_at: datetime) -> None:
        """Insert an account (counters must be zero)."""
        ...

    def get_account(self, account_id: str) -> Account | None: ...

    def get_account_by_name(self, name: str) -> Account | None: ...

    def account_id_by_name(self, name: str) -> str | None:
        """The id of the account named `name`. A name, once committed, always names the same
        account (accounts are never deleted or renamed), so an implementation may remember it."""
        ...

    def get_accounts_by_name(self, names: Collection[str]) -> list[Account]:
        """The accounts with these names that exist, in no particular order."""
        ...

    def system_totals(self) -> list[SystemTotal]:
        """Every system role per currency, summed over its buckets; by currency, then role."""
        ...

    def lock_accounts(self, account_ids: Collection[str]) -> dict[str, Account]:
        """Read and lock the accounts for writing, in the global lock order (chart.LOCK_RANKS,
        then id). Accounts this transaction already locked come back as it left them.

        Callers keep to that order across calls too: lock the paying customer first, and let
        `ledger.record` lock the merchants and system accounts it pays into (ADR 0011)."""
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
