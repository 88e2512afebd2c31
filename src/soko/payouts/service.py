"""Payouts: a merchant moves money out to a bank account or mobile money through the payout rail.

`request_payout` holds the amount (to settlement) and the payout fee (to fees) as pending
transfers that never expire, and records the payout, in one idempotent transaction. The worker's
`advance_payouts` then hands it to the rail and polls the rail until it answers; `settle` posts
both holds when the rail paid, or voids them when it failed (the money is back in the wallet), in
one transaction with the payout's state, a webhook event and an SMS.

Crash safety rests on three things. Rail calls happen outside any transaction, and the rail's
`submit` is idempotent by payout id, so a worker killed between the rail's answer and our record
resubmits and gets the same reference. A claim leases the payout: a killed worker's payouts come
back to the others once the lease runs out. And every state change is conditional on the state
it leaves, so two workers can never settle one payout twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import (
    CursorInvalid,
    PageSizeInvalid,
)
from soko.kernel.idempotency import run_idempotent
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import hold, post, void
from soko.ledger.errors import ExceedsCredits
from soko.notify import service as webhooks
from soko.notify import sms_service as sms
from soko.notify.domain import EventType
from soko.notify.sms import N_, Reader, compose, fits, gsm7_septets
from soko.payments.fees import FeeKind, fee_table
from soko.payouts.domain import (
    Destination,
    Payout,
    PayoutState,
    RailOutcome,
    RailStatus,
    check_destination,
    destination_fields,
    failure_reason,
    poll_delay_seconds,
    retry_delay_seconds,
)
from soko.payouts.errors import PayoutNotFound
from soko.payouts.ports import PayoutRailUnavailable
from soko.people.domain import UserKind
from soko.people.errors import NoWalletInCurrency, UserKindMismatch, UserNotFound
from soko.people.wallets import check_amount

log = logging.getLogger("soko.payouts")


def request_payout(
    ctx: Context,
    *,
    merchant_id: str,
    amount: Money,
    destination: Destination,
    idempotency_key: str | None,
) -> Payout:
    """Hold `amount` plus the payout fee in the merchant's wallet and queue the payout.

    Refusals (a bad destination, too little money) change nothing. A retry with the same key
    and request returns the first payout as it was first answered.
    """
    currency = amount.currency.code
    check_amount(ctx, amount)
    checked = check_destination(destination, currency)
    request = {
        "amount": amount.to_decimal_string(),
        "currency": currency,
        "destination": destination_fields(checked),
    }

    def work(uow: UnitOfWork) -> Payout:
        merchant = uow.people.get_user(merchant_id)
        if merchant is None:
            raise UserNotFound(user_id=merchant_id)
        if merchant.kind is not UserKind.MERCHANT:
            raise UserKindMismatch(
                f"{merchant_id} is a {merchant.kind.value}; only merchants take payouts"
            )
        wallet = uow.people.find_wallet(merchant.id, currency)
        if wallet is None:
            raise NoWalletInCurrency(
                f"no {currency} wallet: 0 available", available=0, currency=currency
            )
        fee = fee_table(ctx.tariff, currency, FeeKind.PAYOUT).fee_for(amount.amount_minor)
        account = uow.ledger.lock_accounts([wallet.account_id])[wallet.account_id]
        # Checked here for a message that names the fee; the ledger checks it again.
        if amount.amount_minor + fee > account.available:
            available = max(account.available, 0)

            def shown(minor: int) -> str:
                return Money(minor, amount.currency).to_display_string()

            raise ExceedsCredits(
                f"{shown(amount.amount_minor + fee)} needed (the amount and a fee of "
                f"{shown(fee)}), {shown(available)} available",
                account_id=account.id,
                available=available,
            )
        # Where the money leaves by: settlement for a bank, the M-Pesa float for M-Pesa.
        code, qualifier = ctx.payout_rail.ledger_account
        settlement_id = ledger.system_account_id_in(uow, ctx, code, currency, qualifier=qualifier)
        fees_id = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, currency,
                                              spread_by=wallet.account_id)  # fmt: skip
        payout_id = ctx.ids.new("po")
        hold_id = ctx.ids.new("tr")
        # Timeout 0: the holds never expire by themselves. Only the rail's answer may release
        # them, because an expiry while the rail still pays would pay the merchant twice.
        requests = [
            hold(hold_id, debit_account_id=wallet.account_id, credit_account_id=settlement_id,
                 amount=amount.amount_minor, currency=currency, code=TransferCode.PAYOUT,
                 timeout_seconds=0, reference=payout_id),
        ]  # fmt: skip
        fee_hold_id = None
        if fee:
            fee_hold_id = ctx.ids.new("tr")
            requests.append(
                hold(fee_hold_id, debit_account_id=wallet.account_id, credit_account_id=fees_id,
                     amount=fee, currency=currency, code=TransferCode.FEE, timeout_seconds=0,
                     reference=payout_id)
            )  # fmt: skip
        ledger.record(uow, ctx, requests)
        now = ctx.clock.now()
        payout = Payout(
            id=payout_id,
            merchant_id=merchant.id,
            wallet_id=wallet.id,
            currency=currency,
            amount=amount.amount_minor,
            fee=fee,
            destination=checked,
            state=PayoutState.REQUESTED,
            rail=ctx.payout_rail.name,
            rail_reference=None,
            hold_id=hold_id,
            fee_hold_id=fee_hold_id,
            failure_reason=None,
            polls=0,
            rail_errors=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.payouts.insert(payout)
        return payout

    return run_idempotent(
        ctx,
        scope=f"user:{merchant_id}:payout",
        key=idempotency_key,
        request=request,
        work=work,
        result=Payout,
    ).value


def get_payout(ctx: Context, payout_id: str) -> Payout:
    found = in_transaction(ctx, lambda uow: uow.payouts.get(payout_id), read_only=True)
    if found is None:
        raise PayoutNotFound(payout_id=payout_id)
    return found


@dataclass(frozen=True, slots=True)
class PayoutPage:
    payouts: list[Payout]
    #: Pass as `cursor` to read the next (older) page; None on the last page.
    next_cursor: str | None


def list_payouts(
    ctx: Context,
    merchant_id: str | None,
    *,
    limit: int = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> PayoutPage:
    """A merchant's payouts (every merchant's for None), newest first, a page at a time."""
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")

    def read(uow: UnitOfWork) -> PayoutPage:
        if cursor is not None:
            after = uow.payouts.get(cursor)
            # Another merchant's payout id as a cursor would reveal that it exists.
            if after is None or merchant_id not in (None, after.merchant_id):
                raise CursorInvalid()
        rows = uow.payouts.list_for(merchant_id, limit=limit + 1, before_id=cursor)
        page = rows[:limit]
        return PayoutPage(page, page[-1].id if len(rows) > limit else None)

    return in_transaction(ctx, read, read_only=True)


# --- the worker -------------------------------------------------------------------------------


def advance_payouts(ctx: Context, *, limit: int = limits.PAYOUTS_PER_TICK_MAX) -> int:
    """Move up to `limit` due payouts one step: submit the requested ones to the rail, ask the
    rail about the submitted ones, and settle those it has answered. Returns how many it took.

    Safe beside other workers: a claim leases each payout for `ctx.payout_lease_seconds`.
    """
    assert 0 < limit <= limits.PAYOUTS_PER_TICK_MAX, limit
    rail = ctx.payout_rail
    now = ctx.clock.now()
    lease_until = now + timedelta(seconds=ctx.payout_lease_seconds)
    claimed = in_transaction(
        ctx, lambda uow: uow.payouts.claim_due(rail.name, now, lease_until, limit)
    )
    for payout in claimed:
        # No transaction is open here: a rail call may take seconds, and must not hold locks.
        if payout.state is PayoutState.REQUESTED:
            _submit(ctx, payout)
        else:
            _poll(ctx, payout)
    return len(claimed)


def _submit(ctx: Context, payout: Payout) -> None:
    try:
        reference = ctx.payout_rail.submit(
            payout.id, payout.amount, payout.currency, payout.destination
        )
    except PayoutRailUnavailable as error:
        _retry_later(ctx, payout, error)
        return
    now = ctx.clock.now()
    # False when another worker recorded it first (our lease ran out): the rail gave it the
    # same reference, so there is nothing to do.
    in_transaction(
        ctx,
        lambda uow: uow.payouts.advance(
            payout.id,
            PayoutState.REQUESTED,
            state=PayoutState.SUBMITTED,
            now=now,
            next_attempt_at=now + timedelta(seconds=poll_delay_seconds(0)),
            rail_reference=reference,
            polls=0,
            rail_errors=0,
        ),
    )


def _poll(ctx: Context, payout: Payout) -> None:
    assert payout.state is PayoutState.SUBMITTED and payout.rail_reference is not None, payout
    try:
        status = ctx.payout_rail.status(payout.rail_reference)
    except PayoutRailUnavailable as error:
        _retry_later(ctx, payout, error)
        return
    if status.outcome is not RailOutcome.PENDING:
        settle(ctx, payout.id, status)
        return
    now = ctx.clock.now()
    polls = payout.polls + 1
    in_transaction(
        ctx,
        lambda uow: uow.payouts.advance(
            payout.id,
            PayoutState.SUBMITTED,
            state=PayoutState.SUBMITTED,
            now=now,
            next_attempt_at=now + timedelta(seconds=poll_delay_seconds(polls)),
            polls=polls,
            rail_errors=0,
        ),
    )


def _retry_later(ctx: Context, payout: Payout, error: PayoutRailUnavailable) -> None:
    """The rail erred: try the same step again after a backoff. Never give up on our own: the
    rail may have the payout, so only its answer may release the money."""
    rail_errors = payout.rail_errors + 1
    delay = retry_delay_seconds(rail_errors)
    log.warning(
        "payout %s: rail %s erred (%s in a row), retrying in %s s: %s",
        payout.id, payout.rail, rail_errors, delay, error,
    )  # fmt: skip
    now = ctx.clock.now()
    in_transaction(
        ctx,
        lambda uow: uow.payouts.advance(
            payout.id,
            payout.state,
            state=payout.state,
            now=now,
            next_attempt_at=now + timedelta(seconds=delay),
            rail_errors=rail_errors,
        ),
    )


def settle(ctx: Context, payout_id: str, status: RailStatus) -> bool:
    """Record the rail's final answer: post both holds (paid) or void them (failed), with the
    payout's new state, a webhook event and an SMS, in one transaction.

    Returns False, changing nothing, if the payout was settled already (by another worker).
    """
    assert status.outcome is not RailOutcome.PENDING, status
    paid = status.outcome is RailOutcome.PAID

    def work(uow: UnitOfWork) -> bool:
        payout = uow.payouts.get(payout_id)
        assert payout is not None, payout_id
        now = ctx.clock.now()
        reason = None if paid else failure_reason(status.reason or "")
        state = PayoutState.PAID if paid else PayoutState.FAILED
        # First, and conditional: the payout's row lock orders two settling workers, and the
        # second finds it settled and moves no money.
        if not uow.payouts.advance(
            payout_id,
            PayoutState.SUBMITTED,
            state=state,
            now=now,
            next_attempt_at=None,
            failure_reason=reason,
        ):
            return False
        holds = [payout.hold_id] + ([payout.fee_hold_id] if payout.fee_hold_id else [])
        resolve = post if paid else void
        ledger.record(uow, ctx, [resolve(ctx.ids.new("tr"), hold_id) for hold_id in holds])
        settled = replace(
            payout, state=state, failure_reason=reason, next_attempt_at=None, updated_at=now
        )
        _notify(uow, ctx, settled)
        return True

    return in_transaction(ctx, work)


def _notify(uow: UnitOfWork, ctx: Context, payout: Payout) -> None:
    webhooks.emit(
        uow,
        ctx,
        owner_id=payout.merchant_id,
        type=EventType(f"payout.{payout.state.value}"),
        data=event_data(payout),
    )
    merchant = uow.people.get_user(payout.merchant_id)
    assert merchant is not None, payout
    sms.queue(uow, ctx, phone=merchant.phone, text=sms_text(payout, sms.reader(merchant)))


def event_data(payout: Payout) -> dict[str, Any]:
    """The webhook event's `data`: the payout as the API shows it."""
    return {
        "id": payout.id,
        "status": payout.state.value,
        "amount": {"amount": _major(payout.amount, payout.currency), "currency": payout.currency},
        "fee": {"amount": _major(payout.fee, payout.currency), "currency": payout.currency},
        "destination": destination_fields(payout.destination),
        "rail": payout.rail,
        "rail_reference": payout.rail_reference,
        "failure_reason": payout.failure_reason,
    }


# The merchant's texts, in their language (Kiswahili in locale/sw/LC_MESSAGES/sms.po).
PAID_TEXT: Final = N_("Soko: your payout of {amount} to {where} has been paid. Ref {payout}.")
FAILED_TEXT: Final = N_(
    "Soko: your payout of {amount} to {where} failed ({reason}). {back} is back in your wallet."
)


def sms_text(payout: Payout, to: Reader) -> str:
    """One SMS in GSM 7-bit, in the reader's language; the rail's reason is cut to fit."""
    amount = Money.of(payout.amount, payout.currency)
    where = payout.destination.masked(to._)
    if payout.state is PayoutState.PAID:
        text = compose(to, PAID_TEXT, amount=amount, where=where, payout=payout.id)
    else:
        back = Money.of(payout.amount + payout.fee, payout.currency)
        facts = {"amount": amount, "where": where, "back": back}
        room = limits.SMS_SEPTETS_MAX - len(compose(to, FAILED_TEXT, reason="", **facts))
        # Only characters of one septet, so that the count above is the reason's true cost.
        reason = "".join(c for c in payout.failure_reason or "" if gsm7_septets(c) == 1)
        text = compose(to, FAILED_TEXT, reason=reason[: max(room, 0)], **facts)
    assert gsm7_septets(text) is not None and fits(text), text
    return text


def _major(amount_minor: int, currency: str) -> str:
    return Money.of(amount_minor, currency).to_decimal_string()


# --- idempotent replay ------------------------------------------------------------------------


__all__ = [
    "PayoutPage",
    "advance_payouts",
    "event_data",
    "get_payout",
    "list_payouts",
    "request_payout",
    "settle",
    "sms_text",
]
