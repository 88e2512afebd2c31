"""`soko reconcile`: check every ledger invariant against the whole database."""

from __future__ import annotations

from dataclasses import dataclass, field

from soko import limits
from soko.services.ports import Context, UnitOfWork
from soko.services.transactions import in_transaction


@dataclass(frozen=True, slots=True)
class Check:
    """One invariant: its name, what it promises, and what broke it (empty when it holds)."""

    name: str
    promise: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    accounts: int
    transfers: int
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def reconcile(ctx: Context) -> ReconcileReport:
    """Run every check in one consistent snapshot (REPEATABLE READ on PostgreSQL)."""
    return in_transaction(ctx, _reconcile, read_only=True)


def _reconcile(uow: UnitOfWork) -> ReconcileReport:
    shown = limits.RECONCILE_PROBLEMS_SHOWN_MAX
    queries = uow.reconcile

    totals = []
    for row in queries.currency_totals():
        if row.debits_posted != row.credits_posted:
            totals.append(
                f"{row.currency}: posted debits {row.debits_posted} != "
                f"posted credits {row.credits_posted}"
            )
        if row.debits_pending != row.credits_pending:
            totals.append(
                f"{row.currency}: pending debits {row.debits_pending} != "
                f"pending credits {row.credits_pending}"
            )

    counters = [
        f"{m.account_id}: {m.counter} is {m.stored}, its transfers sum to {m.from_transfers}"
        for m in queries.counter_mismatches(shown)
    ]
    balances = [
        f"{a.id} ({a.code}, {a.currency}): debits {a.debits_posted}+{a.debits_pending} pending, "
        f"credits {a.credits_posted}+{a.credits_pending} pending, flags {int(a.flags)}"
        for a in queries.accounts_breaking_balance_rules(shown)
    ]
    accounts, transfers = queries.counts()
    return ReconcileReport(
        accounts=accounts,
        transfers=transfers,
        checks=[
            Check("debits_equal_credits", "per currency, total debits equal total credits", totals),
            Check(
                "counters_match_transfers",
                "each account's four counters equal the sums of its transfers",
                counters,
            ),
            Check(
                "balance_rules_hold",
                "no account breaks its balance rule: no customer account is below zero",
                balances,
            ),
            Check(
                "pending_transfers_consistent",
                "each hold is open or resolved exactly once, by a transfer that matches it",
                queries.pending_inconsistencies(shown),
            ),
            Check(
                "transfers_well_formed",
                "every transfer is in its accounts' currency",
                queries.malformed_transfers(shown),
            ),
            Check(
                "wallets_well_formed",
                "every wallet's account is a customer account in the wallet's currency",
                queries.wallet_inconsistencies(shown),
            ),
        ],
    )
