"""Rows a process or a transaction remembers instead of reading again (ADR 0015): system
accounts' ids by name, and the wallets of the users a transaction has read. Each must give what
a fresh read would, and never remember what a rolled-back transaction wrote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from soko.bootstrap import Runtime
from soko.context import Context, UnitOfWork
from soko.db.metadata import metadata
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import SYSTEM_ACCOUNTS, AccountCode, TransferCode
from soko.ledger.tables import accounts
from soko.people import service as users
from soko.people.domain import UserKind, Wallet
from soko.people.wallets import wallet_for

FEES_0 = SYSTEM_ACCOUNTS[AccountCode.FEES].name("KES", 0)


@pytest.fixture
def statements(any_runtime: Runtime) -> Iterator[list[str]]:
    """Every statement sent through SQLAlchemy from here on."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(any_runtime.engine, "before_cursor_execute", record)
    yield seen
    event.remove(any_runtime.engine, "before_cursor_execute", record)


def _fees_id(ctx: Context) -> str:
    return in_transaction(
        ctx, lambda uow: ledger.system_account_id_in(uow, ctx, AccountCode.FEES, "KES")
    )


def _funded_wallet(ctx: Context) -> str:
    wallet = ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)
    settlement = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES")
    ledger.transfer(ctx, debit_account_id=settlement.id, credit_account_id=wallet.id,
                    amount=Money.of(500, "KES"), code=TransferCode.DEPOSIT)  # fmt: skip
    return wallet.id


def _pay_a_fee(ctx: Context, wallet_id: str) -> str:
    """Move 1.00 from the wallet to the fee account, as a payment would; its id."""

    def work(uow: UnitOfWork) -> str:
        fees = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, "KES")
        ledger.record(uow, ctx, [ledger.move(ctx.ids.new("tr"), debit_account_id=wallet_id,
                                             credit_account_id=fees, amount=100,
                                             currency="KES", code=TransferCode.FEE)])  # fmt: skip
        return fees

    return in_transaction(ctx, work)


def test_a_committed_system_account_id_is_read_once(
    any_ctx: Context, statements: list[str]
) -> None:
    opened = _fees_id(any_ctx)  # opened by this call
    assert _fees_id(any_ctx) == opened  # read: committed by the first call
    before = len([s for s in statements if "FROM accounts" in s])
    assert _fees_id(any_ctx) == opened  # remembered
    assert len([s for s in statements if "FROM accounts" in s]) == before
    assert ledger.system_account(any_ctx, AccountCode.FEES, "KES").id == opened


def test_an_account_opened_by_a_rolled_back_transaction_is_not_remembered(
    any_ctx: Context,
) -> None:
    def open_then_fail(uow: UnitOfWork) -> None:
        ledger.system_account_id_in(uow, any_ctx, AccountCode.FEES, "KES")
        assert uow.ledger.account_id_by_name(FEES_0) is not None  # our own row, seen
        raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        in_transaction(any_ctx, open_then_fail)
    assert in_transaction(any_ctx, lambda uow: uow.ledger.account_id_by_name(FEES_0)) is None
    opened = _fees_id(any_ctx)
    assert ledger.get_account(any_ctx, opened).name == FEES_0


def test_a_remembered_id_the_database_lost_is_forgotten_and_the_account_reopened(
    any_runtime: Runtime,
) -> None:
    ctx = any_runtime.context
    _fees_id(ctx)
    lost = _fees_id(ctx)  # remembered now
    with any_runtime.engine.begin() as connection:  # as a restore from an older backup would
        connection.execute(accounts.delete().where(accounts.c.id == lost))
    reopened = _pay_a_fee(ctx, _funded_wallet(ctx))
    assert reopened != lost
    assert ledger.get_account(ctx, reopened).credits_posted == 100


def _wallets_seen(ctx: Context, user_id: str) -> tuple[Wallet | None, Wallet]:
    def work(uow: UnitOfWork) -> tuple[Wallet | None, Wallet]:
        user = uow.people.get_user(user_id)
        assert user is not None
        missing = uow.people.find_wallet(user.id, "UGX")
        opened = wallet_for(uow, ctx, user, "UGX")  # opened in this transaction
        assert uow.people.find_wallet(user.id, "UGX") == opened
        return missing, opened

    return in_transaction(ctx, work)


def test_a_transaction_finds_the_wallets_of_the_users_it_read(any_ctx: Context) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001", name="Amina")
    kes = in_transaction(any_ctx, lambda uow: wallet_for(uow, any_ctx, amina, "KES"))

    def read(uow: UnitOfWork) -> tuple[object, ...]:
        by_id = uow.people.get_user(amina.id)
        return (
            by_id,
            uow.people.find_wallet(amina.id, "KES"),
            uow.people.find_wallet(amina.id, "TZS"),
        )

    assert in_transaction(any_ctx, read) == (amina, kes, None)
    by_phone = in_transaction(
        any_ctx,
        lambda uow: (
            uow.people.get_user_by_phone(amina.phone),
            uow.people.find_wallet(amina.id, "KES"),
        ),
    )
    assert by_phone == (amina, kes)
    missing, opened = _wallets_seen(any_ctx, amina.id)
    assert missing is None
    assert in_transaction(any_ctx, lambda uow: uow.people.find_wallet(amina.id, "UGX")) == opened


def test_a_user_with_no_wallet_reads_as_before(any_ctx: Context) -> None:
    baraka = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254722000002", name="Baraka")
    assert users.get_user(any_ctx, baraka.id) == baraka
    assert in_transaction(any_ctx, lambda uow: uow.people.find_wallet(baraka.id, "KES")) is None


def test_tables_emptied_under_a_running_process_start_again_cleanly(any_runtime: Runtime) -> None:
    ctx = any_runtime.context
    _fees_id(ctx)
    _fees_id(ctx)  # remembered
    with any_runtime.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    # The remembered id is stale; the first movement that meets it forgets it and retries.
    fees = _pay_a_fee(ctx, _funded_wallet(ctx))
    with any_runtime.engine.connect() as connection:
        rows = connection.execute(sa.select(accounts.c.id).where(accounts.c.name == FEES_0)).all()
    assert [row.id for row in rows] == [fees]
    assert _fees_id(ctx) == fees
