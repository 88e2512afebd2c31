"""Ledger use cases: open accounts, post transfers and holds, resolve and expire holds, read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import CurrencyMismatch, CursorInvalid, PageSizeInvalid
from soko.kernel.money import Currency, Money
from soko.kernel.transactions import in_transaction
from soko.ledger.chart import (
    CUSTOMER_ACCOUNT_CODES,
    SYSTEM_ACCOUNTS,
    AccountCode,
    AccountFlags,
    TransferCode,
)
from soko.ledger.domain import (
    RESOLUTIONS,
    Account,
    Transfer,
    TransferRequest,
    expire,
    hold,
    move,
    plan_transfers,
    post,
    validate_account,
    void,
)
from soko.ledger.errors import AccountNotFound, TransferNotFound
from soko.ledger.ports import SystemTotal


def open_account(
    ctx: Context, *, currency: str, code: AccountCode, flags: AccountFlags | None = None
) -> Account:
    """Open an account of `code` in `currency`, in its own transaction."""
    return in_transaction(ctx, lambda uow: open_account_in(uow, ctx, currency, code, flags))


def open_account_in(
    uow: UnitOfWork,
    ctx: Context,
    currency: str,
    code: AccountCode,
    flags: AccountFlags | None = None,
) -> Account:
    """Open an account inside the caller's transaction (for use cases that open and move)."""
    Currency.of(currency)
    if flags is None:
        flags = _default_flags(code)
    validate_account(code, flags)
    account = Account(id=ctx.ids.new("acc"), currency=currency, code=code, flags=flags)
    uow.ledger.insert_account(account, ctx.clock.now())
    return account


def system_account_in(
    uow: UnitOfWork,
    ctx: Context,
    code: AccountCode,
    currency: str,
    *,
    spread_by: str | None = None,
    qualifier: str | None = None,
) -> Account:
    """The operator's `code` account in `currency`, opened on first use.

    A role split into buckets (fees, ADR 0011) gives the bucket of `spread_by`, the account
    that pays into it: each payer always meets the same bucket, and payers with different
    buckets never wait for each other. Without `spread_by`, the first bucket. A `qualifier`
    names one of several accounts of a role (the M-Pesa float of one short code).

    Two transactions may both find it missing; the loser's insert hits the unique name and its
    whole transaction retries, finding the winner's account.
    """
    name = _system_name(code, currency, spread_by, qualifier)
    found = uow.ledger.get_account_by_name(name)
    if found is not None:
        return found
    Currency.of(currency)
    account = Account(
        id=ctx.ids.new("acc"),
        currency=currency,
        code=code,
        flags=SYSTEM_ACCOUNTS[code].flags,
        name=name,
    )
    uow.ledger.insert_account(account, ctx.clock.now())
    return account


def system_account_id_in(
    uow: UnitOfWork,
    ctx: Context,
    code: AccountCode,
    currency: str,
    *,
    spread_by: str | None = None,
    qualifier: str | None = None,
) -> str:
    """`system_account_in`'s id only: what a movement needs, and the storage may remember it
    (a payment then finds its fee bucket without a round trip)."""
    name = _system_name(code, currency, spread_by, qualifier)
    found = uow.ledger.account_id_by_name(name)
    if found is not None:
        return found
    return system_account_in(uow, ctx, code, currency, spread_by=spread_by, qualifier=qualifier).id


def _system_name(
    code: AccountCode, currency: str, spread_by: str | None, qualifier: str | None
) -> str:
    system = SYSTEM_ACCOUNTS[code]
    if qualifier is not None:
        assert spread_by is None, (spread_by, qualifier)
        return system.qualified_name(currency, qualifier)
    return system.name(currency, 0 if spread_by is None else system.bucket_for(spread_by))


def system_account(ctx: Context, code: AccountCode, currency: str) -> Account:
    """The role's first (for most roles, only) account; `system_total` sums a bucketed one."""
    return in_transaction(ctx, lambda uow: system_account_in(uow, ctx, code, currency))


def system_totals(ctx: Context) -> list[SystemTotal]:
    """Every system role in every currency it has been used in, by currency then role."""
    return in_transaction(ctx, lambda uow: uow.ledger.system_totals(), read_only=True)


def system_total(ctx: Context, code: AccountCode, currency: str) -> SystemTotal:
    """What the operator's `code` role holds in `currency`, over all its buckets."""
    Currency.of(currency)

    def work(uow: UnitOfWork) -> SystemTotal:
        found = uow.ledger.get_accounts_by_name(SYSTEM_ACCOUNTS[code].names(currency))
        return SystemTotal(
            code,
            currency,
            debits_pending=sum(a.debits_pending for a in found),
            debits_posted=sum(a.debits_posted for a in found),
            credits_pending=sum(a.credits_pending for a in found),
            credits_posted=sum(a.credits_posted for a in found),
        )

    return in_transaction(ctx, work, read_only=True)


def record(uow: UnitOfWork, ctx: Context, requests: Sequence[TransferRequest]) -> list[Transfer]:
    """Post `requests` atomically inside the caller's transaction: the heart of every movement.

    Locks pending transfers (by id), then accounts (in the global lock order,
    chart.LOCK_RANKS), so that concurrent use cases never deadlock; checks every rule in the
    domain; writes the plan. The database's CHECK constraints check the balance rules a second
    time.
    """
    pending_ids = {
        request.pending_id
        for request in requests
        if request.flags in RESOLUTIONS and request.pending_id is not None
    }
    referenced, states = uow.ledger.lock_transfers(pending_ids) if pending_ids else ({}, {})
    account_ids: set[str] = set()
    for request in requests:
        if request.debit_account_id is not None:
            account_ids.add(request.debit_account_id)
        if request.credit_account_id is not None:
            account_ids.add(request.credit_account_id)
    for transfer in referenced.values():
        account_ids.add(transfer.debit_account_id)
        account_ids.add(transfer.credit_account_id)
    accounts = uow.ledger.lock_accounts(account_ids)
    plan = plan_transfers(accounts, referenced, states, requests, ctx.clock.now())
    uow.ledger.apply(plan, accounts)
    return plan.transfers


def create_transfers(ctx: Context, requests: Sequence[TransferRequest]) -> list[Transfer]:
    """Post a batch of transfers, all or none, in one transaction."""
    return in_transaction(ctx, lambda uow: record(uow, ctx, requests))


def transfer(
    ctx: Context,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount: Money,
    code: TransferCode,
    reference: str | None = None,
) -> Transfer:
    """Move `amount` from one account to another now."""
    request = move(
        ctx.ids.new("tr"),
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount=amount.amount_minor,
        currency=amount.currency.code,
        code=code,
        reference=reference,
    )
    return create_transfers(ctx, [request])[0]


def hold_funds(
    ctx: Context,
    *,
    debit_account_id: str,
    credit_account_id: str,
    amount: Money,
    code: TransferCode,
    timeout_seconds: int = 0,
    reference: str | None = None,
) -> Transfer:
    """Reserve `amount` as a pending transfer that a later post, void or expiry resolves."""
    request = hold(
        ctx.ids.new("tr"),
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount=amount.amount_minor,
        currency=amount.currency.code,
        code=code,
        timeout_seconds=timeout_seconds,
        reference=reference,
    )
    return create_transfers(ctx, [request])[0]


def post_pending(ctx: Context, pending_id: str, amount: Money | None = None) -> Transfer:
    """Post a hold: all of it, or `amount` of it with the rest released to the debit account."""
    request = post(ctx.ids.new("tr"), pending_id, None if amount is None else amount.amount_minor)

    def work(uow: UnitOfWork) -> Transfer:
        if amount is not None:
            # Money carries its currency; the ledger request only minor units: compare here, in
            # the same transaction, so the answers match those of a post without an amount.
            pending = uow.ledger.get_transfer(pending_id)
            if pending is not None and amount.currency.code != pending.currency:
                raise CurrencyMismatch(
                    f"posting {amount.currency.code} against a {pending.currency} hold"
                )
        return record(uow, ctx, [request])[0]

    return in_transaction(ctx, work)


def void_pending(ctx: Context, pending_id: str) -> Transfer:
    """Release a hold's whole amount."""
    return create_transfers(ctx, [void(ctx.ids.new("tr"), pending_id)])[0]


def expire_due(ctx: Context, *, limit: int = limits.EXPIRIES_PER_BATCH_MAX) -> list[Transfer]:
    """Expire up to `limit` holds whose timeout has passed; safe with several workers at once."""
    assert 0 < limit <= limits.EXPIRIES_PER_BATCH_MAX, limit

    def work(uow: UnitOfWork) -> list[Transfer]:
        due = uow.ledger.due_pending_ids(ctx.clock.now(), limit)
        if not due:
            return []
        return record(uow, ctx, [expire(ctx.ids.new("tr"), pending_id) for pending_id in due])

    return in_transaction(ctx, work)


def get_account(ctx: Context, account_id: str) -> Account:
    found = in_transaction(ctx, lambda uow: uow.ledger.get_account(account_id), read_only=True)
    if found is None:
        raise AccountNotFound(account_id=account_id)
    return found


def get_transfer(ctx: Context, transfer_id: str) -> Transfer:
    found = in_transaction(ctx, lambda uow: uow.ledger.get_transfer(transfer_id), read_only=True)
    if found is None:
        raise TransferNotFound(transfer_id=transfer_id)
    return found


@dataclass(frozen=True, slots=True)
class TransferPage:
    transfers: list[Transfer]
    #: Pass as `cursor` to read the next (older) page; None on the last page.
    next_cursor: str | None


def list_transfers(
    ctx: Context,
    account_id: str,
    *,
    limit: int = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> TransferPage:
    """An account's transfers, newest first, one bounded page at a time."""
    return in_transaction(
        ctx,
        lambda uow: list_transfers_in(uow, account_id, limit=limit, cursor=cursor),
        read_only=True,
    )


def list_transfers_in(
    uow: UnitOfWork, account_id: str, *, limit: int, cursor: str | None
) -> TransferPage:
    """`list_transfers` inside the caller's transaction."""
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")
    if uow.ledger.get_account(account_id) is None:
        raise AccountNotFound(account_id=account_id)
    if cursor is not None:
        after = uow.ledger.get_transfer(cursor)
        # A cursor from another account's statement would page through the wrong history.
        if after is None or account_id not in (after.debit_account_id, after.credit_account_id):
            raise CursorInvalid()
    rows = uow.ledger.list_transfers(account_id, limit=limit + 1, before_id=cursor)
    more = len(rows) > limit
    page = rows[:limit]
    return TransferPage(page, page[-1].id if more else None)


def _default_flags(code: AccountCode) -> AccountFlags:
    if code in CUSTOMER_ACCOUNT_CODES:
        return AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    if code in SYSTEM_ACCOUNTS:
        return SYSTEM_ACCOUNTS[code].flags
    return AccountFlags.NONE
