"""Ledger use cases around the domain: opening accounts, Money at the edge, cursors."""

from __future__ import annotations

import pytest

from soko.context import Context
from soko.kernel.errors import CurrencyMismatch, CurrencyUnknown, CursorInvalid
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, AccountFlags, TransferCode
from soko.ledger.errors import CustomerAccountMayNotOverdraw


def test_customer_accounts_always_carry_the_no_overdraft_rule(ctx: Context) -> None:
    for code in (AccountCode.WALLET, AccountCode.MERCHANT, AccountCode.AGENT_FLOAT):
        assert ledger.open_account(ctx, currency="KES", code=code).flags == (
            AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        )
        with pytest.raises(CustomerAccountMayNotOverdraw):
            ledger.open_account(ctx, currency="KES", code=code, flags=AccountFlags.NONE)


def test_unknown_currency_is_refused(ctx: Context) -> None:
    with pytest.raises(CurrencyUnknown):
        ledger.open_account(ctx, currency="XYZ", code=AccountCode.WALLET)


def test_system_accounts_are_opened_once_per_currency(ctx: Context) -> None:
    first = ledger.system_account(ctx, AccountCode.FEES, "KES")
    assert ledger.system_account(ctx, AccountCode.FEES, "KES") == first
    assert first.name == "fees:KES"
    assert ledger.system_account(ctx, AccountCode.FEES, "UGX").id != first.id


def test_posting_a_hold_in_another_currency_is_refused(ctx: Context) -> None:
    bank = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES")
    wallet = ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)
    ledger.transfer(
        ctx,
        debit_account_id=bank.id,
        credit_account_id=wallet.id,
        amount=Money.of(1000, "KES"),
        code=TransferCode.DEPOSIT,
    )
    hold = ledger.hold_funds(
        ctx,
        debit_account_id=wallet.id,
        credit_account_id=bank.id,
        amount=Money.of(1000, "KES"),
        code=TransferCode.PAYOUT,
    )
    with pytest.raises(CurrencyMismatch):
        ledger.post_pending(ctx, hold.id, Money.of(10, "UGX"))
    assert ledger.get_account(ctx, wallet.id).debits_pending == 1000


def test_a_cursor_from_another_accounts_statement_is_refused(ctx: Context) -> None:
    bank = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES")
    a, b = (ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET) for _ in "ab")
    for wallet in (a, b):
        ledger.transfer(
            ctx,
            debit_account_id=bank.id,
            credit_account_id=wallet.id,
            amount=Money.of(1, "KES"),
            code=TransferCode.DEPOSIT,
        )
    b_transfer = ledger.list_transfers(ctx, b.id).transfers[0]
    with pytest.raises(CursorInvalid):
        ledger.list_transfers(ctx, a.id, cursor=b_transfer.id)
