"""`soko reconcile` on SQLite and PostgreSQL: silent on a healthy ledger, loud on each corruption.

Each corruption is made with raw SQL, the way a bad migration, a hand-run fix or a bug below the
domain would make it, and each must be caught by the check that names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from credit_world import an_offer, funded_lender, trading_shop
from fakes import FakeClock
from merchants import consumer, kes, key, shop
from soko.bootstrap import Runtime
from soko.channels.cli.main import app
from soko.context import Context
from soko.credit import service as credit
from soko.db.metadata import metadata
from soko.escrow import service as escrow
from soko.escrow.domain import OrderItem
from soko.kernel import limits
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import Account, Transfer
from soko.ledger.reconcile import ReconcileReport, reconcile
from soko.ledger.tables import accounts
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import UserKind

CHECKS = {
    "debits_equal_credits",
    "counters_match_transfers",
    "balance_rules_hold",
    "pending_transfers_consistent",
    "transfers_well_formed",
    "wallets_well_formed",
    "escrow_holds_open_orders",
    "loans_receivable_matches_open_loans",
}

WALLET_RULE = "ck_accounts_debits_must_not_exceed_credits"


@dataclass(frozen=True)
class Ledger:
    """A small ledger with every kind of movement in it, in two currencies."""

    alice: Account
    bob: Account
    shop: Account
    payment: Transfer
    posted_hold: Transfer
    voided_hold: Transfer
    void: Transfer
    expired_hold: Transfer
    open_hold: Transfer
    transfers: int


def build_ledger(ctx: Context, clock: Any, open_wallet: Callable[..., Account]) -> Ledger:
    alice, bob = open_wallet(50_000), open_wallet(20_000)
    shop = open_wallet(code=AccountCode.MERCHANT)
    open_wallet(1_000_000, currency="UGX")
    fees = ledger.system_account(ctx, AccountCode.FEES, "KES")

    def kes(amount: int) -> Money:
        return Money.of(amount, "KES")

    def hold(amount: int, timeout: int = 0) -> Transfer:
        return ledger.hold_funds(
            ctx,
            debit_account_id=alice.id,
            credit_account_id=shop.id,
            amount=kes(amount),
            code=TransferCode.ESCROW_HOLD,
            timeout_seconds=timeout,
        )

    payment = ledger.transfer(
        ctx, debit_account_id=alice.id, credit_account_id=bob.id, amount=kes(1_500),
        code=TransferCode.P2P,
    )  # fmt: skip
    ledger.transfer(
        ctx, debit_account_id=bob.id, credit_account_id=fees.id, amount=kes(30),
        code=TransferCode.FEE,
    )  # fmt: skip
    posted_hold = hold(4_000)
    ledger.post_pending(ctx, posted_hold.id, kes(2_500))
    voided_hold = hold(700)
    void = ledger.void_pending(ctx, voided_hold.id)
    expired_hold = hold(900, timeout=60)
    open_hold = hold(1_200)
    clock.advance(61)
    assert len(ledger.expire_due(ctx)) == 1
    return Ledger(
        alice, bob, shop, payment, posted_hold, voided_hold, void, expired_hold, open_hold, 12
    )


@pytest.fixture
def books(any_ctx: Context, clock: Any, open_wallet: Callable[..., Account]) -> Ledger:
    return build_ledger(any_ctx, clock, open_wallet)


def failed(report: ReconcileReport) -> set[str]:
    assert {check.name for check in report.checks} == CHECKS
    return {check.name for check in report.checks if not check.passed}


def problems(report: ReconcileReport, name: str) -> list[str]:
    return next(check.problems for check in report.checks if check.name == name)


@contextmanager
def checks_off(runtime: Runtime) -> Iterator[Connection]:
    """A connection on which the wallets' CHECK no longer holds (restored on the way out).

    SQLite can ignore CHECK constraints per connection. PostgreSQL cannot, so the constraint is
    dropped; the next test's TRUNCATE would not bring it back, so it is put back here, after
    emptying the tables of the rows that break it.
    """
    engine = runtime.engine
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
            try:
                yield connection
            finally:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
        return
    (rule,) = (
        c
        for c in accounts.constraints
        if isinstance(c, sa.CheckConstraint) and c.name == WALLET_RULE
    )
    with engine.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE accounts DROP CONSTRAINT {WALLET_RULE}")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        tables = ", ".join(table.name for table in reversed(metadata.sorted_tables))
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            connection.execute(sa.schema.AddConstraint(rule))


def corrupt(runtime: Runtime, *statements: tuple[str, dict[str, Any]]) -> None:
    with runtime.engine.begin() as connection:
        for sql, params in statements:
            assert connection.execute(sa.text(sql), params).rowcount == 1, sql


# --- a healthy ledger -------------------------------------------------------------------------


def test_a_healthy_ledger_passes_every_check(any_ctx: Context, books: Ledger) -> None:
    report = reconcile(any_ctx)

    assert report.passed, report
    assert failed(report) == set()
    assert report.accounts == 7  # four customers, settlement KES and UGX, fees
    assert report.transfers == books.transfers


def test_an_empty_ledger_passes(any_ctx: Context) -> None:
    report = reconcile(any_ctx)
    assert report.passed and (report.accounts, report.transfers) == (0, 0)


def test_sums_past_64_bits_stay_exact(any_ctx: Context, open_wallet: Any) -> None:
    """Two counters at the largest amount sum past a BIGINT; SQLite's SUM would raise."""
    top = limits.AMOUNT_MINOR_MAX
    rich, richer = open_wallet(top), open_wallet()
    ledger.transfer(
        any_ctx,
        debit_account_id=rich.id,
        credit_account_id=richer.id,
        amount=Money.of(top, "KES"),
        code=TransferCode.P2P,
    )

    report = reconcile(any_ctx)

    assert report.passed, report


# --- each corruption, caught ------------------------------------------------------------------


def test_a_counter_changed_without_a_transfer_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(
        any_runtime,
        (
            "UPDATE accounts SET credits_posted = credits_posted + 100 WHERE id = :id",
            {"id": books.bob.id},
        ),
    )

    report = reconcile(any_ctx)

    assert failed(report) == {"counters_match_transfers", "debits_equal_credits"}
    assert problems(report, "counters_match_transfers") == [
        f"{books.bob.id}: credits_posted is 21600, its transfers sum to 21500"
    ]
    assert problems(report, "debits_equal_credits") == [
        f"KES: posted debits {50_000 + 20_000 + 1_500 + 30 + 2_500} != "
        f"posted credits {50_000 + 20_000 + 1_500 + 30 + 2_500 + 100}"
    ]


def test_a_transfer_deleted_from_history_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(any_runtime, ("DELETE FROM transfers WHERE id = :id", {"id": books.payment.id}))

    report = reconcile(any_ctx)

    assert failed(report) == {"counters_match_transfers"}
    assert len(problems(report, "counters_match_transfers")) == 2  # alice's debit, bob's credit


def test_a_hold_marked_posted_without_a_post_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(
        any_runtime,
        (
            "UPDATE pending_transfers SET state = 'posted' WHERE transfer_id = :id",
            {"id": books.open_hold.id},
        ),
    )

    report = reconcile(any_ctx)

    assert "pending_transfers_consistent" in failed(report)
    assert problems(report, "pending_transfers_consistent") == [
        f"hold {books.open_hold.id}'s state disagrees with the transfer that resolves it"
    ]
    # Its reservation is still counted on the accounts, but no open hold explains it.
    assert failed(report) == {"pending_transfers_consistent", "counters_match_transfers"}


def test_a_hold_reopened_after_its_void_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(
        any_runtime,
        (
            "UPDATE pending_transfers SET state = 'pending' WHERE transfer_id = :id",
            {"id": books.voided_hold.id},
        ),
    )

    assert "pending_transfers_consistent" in failed(reconcile(any_ctx))


def test_a_hold_without_its_state_row_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(
        any_runtime,
        ("DELETE FROM pending_transfers WHERE transfer_id = :id", {"id": books.open_hold.id}),
    )

    report = reconcile(any_ctx)

    assert f"hold {books.open_hold.id} has no state row" in problems(
        report, "pending_transfers_consistent"
    )


def test_a_void_of_another_amount_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(any_runtime, ("UPDATE transfers SET amount = 1 WHERE id = :id", {"id": books.void.id}))

    report = reconcile(any_ctx)

    assert failed(report) == {"pending_transfers_consistent"}


def test_a_transfer_in_the_wrong_currency_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(
        any_runtime,
        ("UPDATE transfers SET currency = 'UGX' WHERE id = :id", {"id": books.payment.id}),
    )

    report = reconcile(any_ctx)

    assert failed(report) == {"transfers_well_formed"}
    assert problems(report, "transfers_well_formed") == [
        f"transfer {books.payment.id} is not in its accounts' currency"
    ]


def test_an_account_moved_to_another_currency_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(
        any_runtime, ("UPDATE accounts SET currency = 'UGX' WHERE id = :id", {"id": books.bob.id})
    )

    report = reconcile(any_ctx)

    assert failed(report) == {"transfers_well_formed", "debits_equal_credits"}


def test_a_wallet_that_lost_its_balance_rule_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(any_runtime, ("UPDATE accounts SET flags = 0 WHERE id = :id", {"id": books.bob.id}))

    report = reconcile(any_ctx)

    assert failed(report) == {"balance_rules_hold"}
    assert problems(report, "balance_rules_hold")[0].startswith(f"{books.bob.id} (wallet, KES)")


def test_a_wallet_below_zero_is_caught(
    any_ctx: Context, any_runtime: Runtime, books: Ledger, raw_rows: Any
) -> None:
    bob = ledger.get_account(any_ctx, books.bob.id)
    overdraft = bob.balance + 1
    # Consistent in every other way: a real transfer row, both counters moved by it.
    with checks_off(any_runtime) as connection:
        raw_rows.transfer(
            connection,
            id="tr_overdraft",
            debit_account_id=bob.id,
            credit_account_id=books.alice.id,
            amount=overdraft,
        )
        for column, account_id in (("debits_posted", bob.id), ("credits_posted", books.alice.id)):
            connection.execute(
                sa.text(f"UPDATE accounts SET {column} = {column} + :amount WHERE id = :id"),
                {"amount": overdraft, "id": account_id},
            )
        connection.commit()

        report = reconcile(any_ctx)

        assert failed(report) == {"balance_rules_hold"}
        assert problems(report, "balance_rules_hold") == [
            f"{bob.id} (wallet, KES): debits {bob.debits_posted + overdraft}+0 pending, "
            f"credits {bob.credits_posted}+0 pending, flags 1"
        ]


def test_the_wallet_check_is_back_after_it_was_switched_off(
    any_runtime: Runtime, raw_rows: Any
) -> None:
    """`checks_off` must not leak: the constraint holds again for every connection afterwards."""
    with checks_off(any_runtime):
        pass
    for _ in range(3):  # SQLite pools its connections: try more than the one that ignored checks
        with pytest.raises(sa.exc.IntegrityError), any_runtime.engine.begin() as connection:
            raw_rows.account(connection, id="acc_overdrawn", debits_posted=11, credits_posted=10)


# --- the command ------------------------------------------------------------------------------


def run_cli(database_url: str) -> Any:
    result = CliRunner().invoke(app, ["reconcile"], env={"SOKO_DATABASE_URL": database_url})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_the_command_exits_0_on_a_healthy_ledger(database_url: str, books: Ledger) -> None:
    result = run_cli(database_url)

    assert result.exit_code == 0, result.output
    assert "All invariants hold." in result.stdout
    assert f"{books.transfers} transfers" in result.stdout


def test_the_command_exits_1_with_the_report_on_a_corrupted_ledger(
    database_url: str, any_runtime: Runtime, books: Ledger
) -> None:
    corrupt(
        any_runtime,
        (
            "UPDATE accounts SET debits_posted = debits_posted + 1 WHERE id = :id",
            {"id": books.alice.id},
        ),
    )

    result = run_cli(database_url)

    assert result.exit_code == 1, result.output
    assert "All invariants hold." not in result.output
    assert (
        f"counters_match_transfers: {books.alice.id}: debits_posted is "
        in result.stderr.replace("\n", "")
    )
    assert "debits_equal_credits: KES: posted debits" in result.stderr.replace("\n", "")


def test_a_wallet_whose_account_changed_currency_is_caught(
    any_ctx: Context, any_runtime: Runtime
) -> None:
    user = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254711000222", name="Amina")
    wallet = wallets.open_wallet(any_ctx, user.id, "KES").wallet
    corrupt(any_runtime, ("UPDATE wallets SET currency = 'UGX' WHERE id = :id", {"id": wallet.id}))

    report = reconcile(any_ctx)

    assert failed(report) == {"wallets_well_formed"}
    assert problems(report, "wallets_well_formed") == [
        f"wallet {wallet.id}'s account is not a customer account in its currency"
    ]


def test_escrow_that_does_not_match_its_open_orders_is_caught(
    any_ctx: Context, any_runtime: Runtime
) -> None:
    buyer = consumer(any_ctx, funds="100.00")
    seller = shop(any_ctx)
    order = escrow.create_order(
        any_ctx, seller_id=seller.user_id, buyer_id=buyer.id, amount=kes("40.00"),
        items=[OrderItem("Mangoes", 10)], ship_by=any_ctx.clock.now() + timedelta(days=1),
        idempotency_key=key(),
    )  # fmt: skip
    escrow.fund(any_ctx, buyer_id=buyer.id, order_id=order.id, idempotency_key=key())
    assert reconcile(any_ctx).passed
    # An order's amount edited behind the ledger's back: escrow now holds less than it owes.
    corrupt(
        any_runtime,
        ("UPDATE escrow_orders SET amount = amount + 1 WHERE id = :id", {"id": order.id}),
    )
    report = reconcile(any_ctx)
    assert failed(report) == {"escrow_holds_open_orders"}
    assert problems(report, "escrow_holds_open_orders") == [
        "KES: escrow holds 4000, open orders 4001"
    ]


def test_a_loan_repaid_behind_the_ledgers_back_is_caught(
    any_ctx: Context, any_runtime: Runtime, clock: FakeClock
) -> None:
    trader = trading_shop(any_ctx, clock, tenure_days=100)
    funded_lender(any_ctx)
    offer = an_offer(any_ctx, trader.merchant)
    loan = credit.accept_offer(any_ctx, merchant_id=trader.merchant.user_id, offer_id=offer.id,
                               amount=kes("1000.00"), idempotency_key=key())  # fmt: skip
    assert reconcile(any_ctx).passed
    # A repayment written into the loan's row with no transfer behind it: the book says less is
    # owed than loans_receivable holds.
    corrupt(
        any_runtime,
        ("UPDATE loans SET repaid_principal = repaid_principal + 1 WHERE id = :id",
         {"id": loan.id}),
    )  # fmt: skip
    report = reconcile(any_ctx)
    assert failed(report) == {"loans_receivable_matches_open_loans"}
    assert problems(report, "loans_receivable_matches_open_loans") == [
        "KES: loans receivable 100000, open loans 99999"
    ]
