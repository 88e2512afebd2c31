"""`soko reconcile`: check every ledger invariant against the whole database."""

from __future__ import annotations

from dataclasses import dataclass, field

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.transactions import in_transaction
from soko.ledger.chart import SYSTEM_ACCOUNTS, AccountCode


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
    escrow = _escrow_problems(uow, {row.currency for row in queries.currency_totals()})
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
            Check(
                "escrow_holds_open_orders",
                "per currency, escrow holds exactly the open orders' money and nothing posted",
                escrow,
            ),
            Check(
                "loans_receivable_matches_open_loans",
                "per currency, loans receivable equals the principal still owed on active loans",
                _loan_problems(uow),
            ),
        ],
    )


def _loan_problems(uow: UnitOfWork) -> list[str]:
    """loans_receivable:CUR, over its buckets, is the principal lent and not yet repaid or
    written off: the active loans' outstanding principal."""
    owed = uow.credit.outstanding_principal_by_currency()
    lent = {
        total.currency: total.debits_posted - total.credits_posted
        for total in uow.ledger.system_totals()
        if total.code is AccountCode.LOANS_RECEIVABLE
    }
    return [
        f"{currency}: loans receivable {lent.get(currency, 0)}, open loans {owed.get(currency, 0)}"
        for currency in sorted(set(owed) | set(lent))
        if lent.get(currency, 0) != owed.get(currency, 0)
    ]


def _escrow_problems(uow: UnitOfWork, currencies: set[str]) -> list[str]:
    """escrow:CUR's pending credits are the sum of the funded, open orders; its posted balance
    is zero (a release posts into escrow and pays out of it in one batch)."""
    open_orders = uow.escrow.holding_by_currency()
    problems = []
    for currency in sorted(currencies | set(open_orders)):
        held = open_orders.get(currency, 0)
        name = SYSTEM_ACCOUNTS[AccountCode.ESCROW].name(currency)
        account = uow.ledger.get_account_by_name(name)
        pending = 0 if account is None else account.credits_pending - account.debits_pending
        posted = 0 if account is None else account.credits_posted - account.debits_posted
        if pending != held:
            problems.append(f"{currency}: escrow holds {pending}, open orders {held}")
        if posted != 0:
            problems.append(f"{currency}: escrow has {posted} posted and not paid out")
    return problems
