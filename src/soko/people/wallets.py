"""Wallets: one per user and currency, opened on first need; balances and statements."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, CurrencyNotOffered
from soko.kernel.money import Currency, Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import Account, Transfer, TransferFlags, move, post
from soko.payments.domain import Payment
from soko.people.domain import (
    Party,
    User,
    UserKind,
    Wallet,
    home_currency,
    spreadsheet_text,
)
from soko.people.errors import UserNotFound, WalletNotFound

ACCOUNT_CODE: dict[UserKind, AccountCode] = {
    UserKind.CONSUMER: AccountCode.WALLET,
    UserKind.MERCHANT: AccountCode.MERCHANT,
    UserKind.AGENT: AccountCode.AGENT_FLOAT,
}
#: Transfers that change a posted balance: plain transfers and posts of holds.
_POSTED = frozenset({TransferFlags.NONE, TransferFlags.POST_PENDING})


@dataclass(frozen=True, slots=True)
class WalletBalance:
    wallet: Wallet
    #: Posted money: what the wallet holds.
    balance: Money
    #: What may still be spent: the balance less open holds.
    available: Money


def check_amount(ctx: Context, amount: Money) -> None:
    """The rules every movement of money checks first, before any wallet is read: a positive
    amount, in a currency the operator holds wallets in. Written once, here, so that every use
    case (and later rules such as compliance screening) meet the same step."""
    if amount.amount_minor <= 0:
        raise AmountMustBePositive()
    check_currency_offered(ctx, amount.currency.code)


def check_currency_offered(ctx: Context, currency: str) -> None:
    """The operator holds wallets in `currency`: it has set KYC limits for it."""
    if currency not in ctx.kyc_limits:
        raise CurrencyNotOffered(f"this operator holds no {currency} wallets")


def wallet_for(uow: UnitOfWork, ctx: Context, user: User, currency: str) -> Wallet:
    """The user's wallet in `currency`, opened (with its ledger account) on first need."""
    existing = uow.people.find_wallet(user.id, currency)
    if existing is not None:
        return existing
    Currency.of(currency)
    check_currency_offered(ctx, currency)
    account = ledger.open_account_in(uow, ctx, currency, ACCOUNT_CODE[user.kind])
    wallet = Wallet(
        id=ctx.ids.new("wal"), user_id=user.id, currency=currency, account_id=account.id
    )
    # Two requests opening the same wallet: the loser's insert conflicts and its whole
    # transaction retries, finding the winner's wallet.
    uow.people.insert_wallet(wallet, ctx.clock.now())
    return wallet


def claim_held_payments(uow: UnitOfWork, ctx: Context, user: User) -> list[Payment]:
    """Pay a newly registered number what was sent to it while it had no wallet.

    All in one batch: one `record` locks every sender and the suspense account in the global
    lock order, where a batch per payment would lock suspense before the next sender."""
    claimed = uow.people.unclaimed_payments(user.phone, limits.CLAIMS_PER_REGISTRATION_MAX)
    requests = []
    for payment in claimed:
        assert payment.hold_id is not None, payment
        wallet = wallet_for(uow, ctx, user, payment.currency)
        suspense_id = ledger.system_account_id_in(uow, ctx, AccountCode.SUSPENSE, payment.currency)
        requests.append(post(ctx.ids.new("tr"), payment.hold_id))
        if payment.fee_hold_id is not None:
            requests.append(post(ctx.ids.new("tr"), payment.fee_hold_id))
        requests.append(
            move(
                ctx.ids.new("tr"),
                debit_account_id=suspense_id,
                credit_account_id=wallet.account_id,
                amount=payment.amount,
                currency=payment.currency,
                code=TransferCode.P2P,
                reference=payment.id,
            )
        )
        uow.people.claim_payment(payment.id, wallet.id)
    if requests:
        ledger.record(uow, ctx, requests)
    return claimed


def open_wallet(ctx: Context, user_id: str, currency: str | None = None) -> WalletBalance:
    """Open (or find) the user's wallet; the currency defaults to the user's country's."""

    def work(uow: UnitOfWork) -> WalletBalance:
        user = uow.people.get_user(user_id)
        if user is None:
            raise UserNotFound(user_id=user_id)
        wallet = wallet_for(uow, ctx, user, currency or home_currency(user.country).code)
        return _balance(uow, wallet)

    return in_transaction(ctx, work)


def get_wallet(ctx: Context, wallet_id: str) -> WalletBalance:
    def work(uow: UnitOfWork) -> WalletBalance:
        return _balance(uow, _wallet(uow, wallet_id))

    return in_transaction(ctx, work, read_only=True)


def list_wallets(ctx: Context, user_id: str) -> list[WalletBalance]:
    def work(uow: UnitOfWork) -> list[WalletBalance]:
        if uow.people.get_user(user_id) is None:
            raise UserNotFound(user_id=user_id)
        return [_balance(uow, wallet) for wallet in uow.people.list_wallets(user_id)]

    return in_transaction(ctx, work, read_only=True)


@dataclass(frozen=True, slots=True)
class StatementEntry:
    transfer_id: str
    created_at: datetime
    code: str
    #: Signed: money in is positive, money out negative; zero-effect steps (a hold's release)
    #: show the amount with `pending` set.
    amount: Money
    pending: bool
    #: The posted balance right after this entry.
    balance_after: Money
    reference: str | None
    #: Who paid this wallet or was paid by it (phone masked), for payments and refunds.
    counterparty: Party | None = None
    #: The payer's message, or a refund's reason.
    message: str | None = None


@dataclass(frozen=True, slots=True)
class StatementPage:
    entries: list[StatementEntry]
    next_cursor: str | None


def statement(
    ctx: Context,
    wallet_id: str,
    *,
    limit: int = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> StatementPage:
    """The wallet's movements, newest first, each with the balance it left."""

    def work(uow: UnitOfWork) -> StatementPage:
        wallet = _wallet(uow, wallet_id)
        account = _account(uow, wallet)
        page = ledger.list_transfers_in(uow, account.id, limit=limit, cursor=cursor)
        currency = Currency.of(wallet.currency)
        if not page.transfers:
            return StatementPage([], None)
        newer = uow.people.net_after(account.id, page.transfers[0].id)
        balance = account.balance - newer
        sides = {
            found.reference: found
            for found in uow.people.payment_sides(
                {transfer.reference for transfer in page.transfers if transfer.reference}
            )
        }
        entries = []
        for transfer in page.transfers:
            effect = _effect(transfer, account.id)
            side = sides.get(transfer.reference or "")
            entries.append(
                StatementEntry(
                    transfer_id=transfer.id,
                    created_at=transfer.created_at,
                    code=transfer.code.value,
                    amount=Money(
                        effect if transfer.flags in _POSTED else _signed(transfer, account.id),
                        currency,
                    ),
                    pending=transfer.flags not in _POSTED,
                    balance_after=Money(balance, currency),
                    reference=transfer.reference,
                    counterparty=None if side is None else side.other_side(wallet.id),
                    message=None if side is None else side.message,
                )
            )
            balance -= effect
        return StatementPage(entries, page.next_cursor)

    return in_transaction(ctx, work, read_only=True)


def statement_csv(ctx: Context, wallet_id: str) -> str:
    """The newest `limits.STATEMENT_CSV_ROWS_MAX` movements as CSV, amounts in major units.

    Text that others wrote (names, messages) is escaped so that no cell runs as a formula in
    the spreadsheet it is opened in; the amounts are Soko's own numbers and stay numbers.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["transfer_id", "created_at", "code", "amount", "currency", "pending", "balance_after",
         "reference", "counterparty", "counterparty_phone", "message"]
    )  # fmt: skip
    cursor: str | None = None
    written = 0
    while written < limits.STATEMENT_CSV_ROWS_MAX:
        size = min(limits.PAGE_SIZE_MAX, limits.STATEMENT_CSV_ROWS_MAX - written)
        page = statement(ctx, wallet_id, limit=size, cursor=cursor)
        for entry in page.entries:
            writer.writerow(
                [
                    entry.transfer_id,
                    entry.created_at.isoformat(),
                    entry.code,
                    entry.amount.to_decimal_string(),
                    entry.amount.currency.code,
                    "yes" if entry.pending else "no",
                    entry.balance_after.to_decimal_string(),
                    *(spreadsheet_text(text or "") for text in _party_cells(entry)),
                ]
            )
        written += len(page.entries)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return out.getvalue()


def _party_cells(entry: StatementEntry) -> tuple[str | None, ...]:
    party = entry.counterparty
    return (
        entry.reference,
        None if party is None else party.name,
        None if party is None else party.phone,
        entry.message,
    )


def _wallet(uow: UnitOfWork, wallet_id: str) -> Wallet:
    wallet = uow.people.get_wallet(wallet_id)
    if wallet is None:
        raise WalletNotFound(wallet_id=wallet_id)
    return wallet


def _account(uow: UnitOfWork, wallet: Wallet) -> Account:
    account = uow.ledger.get_account(wallet.account_id)
    assert account is not None, wallet
    return account


def _balance(uow: UnitOfWork, wallet: Wallet) -> WalletBalance:
    account = _account(uow, wallet)
    currency = Currency.of(wallet.currency)
    return WalletBalance(
        wallet=wallet,
        balance=Money(account.balance, currency),
        available=Money(account.available, currency),
    )


def _signed(transfer: Transfer, account_id: str) -> int:
    return transfer.amount if transfer.credit_account_id == account_id else -transfer.amount


def _effect(transfer: Transfer, account_id: str) -> int:
    """How the transfer moved the account's posted balance."""
    return _signed(transfer, account_id) if transfer.flags in _POSTED else 0
