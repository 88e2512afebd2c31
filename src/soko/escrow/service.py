"""Escrow orders ("guaranteed trade"): the buyer's money held until the goods arrive.

Every move of an order goes through `_move`: the domain's table says where the action leads
(escrow/domain.py), the ledger moves the money (docs/money-flows.md, "Escrow"), the order is
stored only if it is still in the state it was read in (its row is locked first, before any
account), and the events and texts go out in the same transaction. The buyer's money is a
pending transfer to escrow:CUR that never expires by itself: only a release, refund or split
resolves it, so a timer can never race the money.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Final

from soko.context import Context, UnitOfWork
from soko.escrow.domain import (
    TRANSITIONS,
    Deadlines,
    EscrowAction,
    EscrowDispute,
    EscrowOrder,
    EscrowState,
    OrderItem,
    check_split,
    next_state,
    next_timer,
    refusal,
)
from soko.escrow.errors import (
    DeadlineInvalid,
    DeliveryCodeIncorrect,
    DeliveryCodeLocked,
    DisputeOutcomeUnknown,
    EscrowNotDisputed,
    EscrowNotFound,
    EscrowSplitMismatch,
    OrderItemsInvalid,
)
from soko.escrow.tracking import service as shipments
from soko.escrow.tracking.domain import ShipmentStep
from soko.fx import service as fx
from soko.kernel import limits
from soko.kernel.errors import (
    CurrencyMismatch,
    CursorInvalid,
    IdempotencyKeyReused,
    PageSizeInvalid,
)
from soko.kernel.idempotency import fingerprint, run_idempotent
from soko.kernel.money import Currency, Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import TransferRequest, hold, move, post, void
from soko.notify import service as webhooks
from soko.notify import sms_service as sms
from soko.notify.domain import EventType
from soko.notify.sms import N_, compose, fits
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentKind, text_name
from soko.payments.fees import merchant_rate
from soko.people.domain import User, UserKind, parse_phone
from soko.people.errors import (
    MessageTooLong,
    NoWalletInCurrency,
    RecipientIsSender,
    RecipientRequired,
    UserKindMismatch,
    UserNotFound,
)
from soko.people.wallets import check_amount, wallet_for

A, S = EscrowAction, EscrowState

#: The webhook event each new state sends the seller.
_EVENTS = {
    S.FUNDED: EventType.ESCROW_FUNDED,
    S.SHIPPED: EventType.ESCROW_SHIPPED,
    S.DELIVERED: EventType.ESCROW_DELIVERED,
    S.RELEASED: EventType.ESCROW_RELEASED,
    S.REFUNDED: EventType.ESCROW_REFUNDED,
    S.DISPUTED: EventType.ESCROW_DISPUTED,
    S.RESOLVED: EventType.ESCROW_RESOLVED,
}


# --- making and reading orders --------------------------------------------------------------


def create_order(
    ctx: Context,
    *,
    seller_id: str,
    amount: Money,
    items: Sequence[OrderItem],
    ship_by: datetime,
    idempotency_key: str | None,
    buyer_id: str | None = None,
    buyer_phone: str | None = None,
    default_region: str | None = None,
    description: str | None = None,
) -> EscrowOrder:
    """An order the seller puts to a buyer (named by user id or phone number): nothing is held
    until the buyer funds it."""
    if (buyer_id is None) == (buyer_phone is None):
        raise RecipientRequired("name the buyer by buyer_id or buyer_phone")
    phone = None if buyer_phone is None else parse_phone(buyer_phone, default_region)
    check_amount(ctx, amount)
    checked_items = _checked_items(items)
    if description is not None and len(description) > limits.MESSAGE_LENGTH_MAX:
        raise MessageTooLong(f"a description is at most {limits.MESSAGE_LENGTH_MAX} characters")
    if ship_by.tzinfo is None:
        raise DeadlineInvalid("ship_by needs its time zone")
    request = {
        "buyer_id": buyer_id,
        "buyer_phone": phone,
        "amount": amount.to_decimal_string(),
        "currency": amount.currency.code,
        "items": [[item.name, item.quantity] for item in checked_items],
        "ship_by": ship_by.isoformat(),
        "description": description,
    }

    def work(uow: UnitOfWork) -> EscrowOrder:
        # Checked here, not before the idempotency lookup: a retry after the ship-by date
        # must replay the order it made, not be refused.
        now = ctx.clock.now()
        if not now < ship_by <= now + timedelta(seconds=limits.ESCROW_SHIP_BY_SECONDS_MAX):
            raise DeadlineInvalid(
                f"ship_by is after now and at most {limits.ESCROW_SHIP_BY_SECONDS_MAX // 86_400}"
                " days ahead"
            )
        seller = _user(uow, seller_id)
        if phone is not None:
            found = uow.people.get_user_by_phone(phone)
            if found is None:
                raise UserNotFound(phone=phone)
            buyer = found
        else:
            assert buyer_id is not None
            buyer = _user(uow, buyer_id)
        if seller.kind is not UserKind.MERCHANT:
            raise UserKindMismatch(f"{seller_id} is a {seller.kind.value}, not a merchant")
        if buyer.kind is UserKind.AGENT:
            raise UserKindMismatch("an agent's float serves cash in and out, not purchases")
        if buyer.id == seller.id:
            raise RecipientIsSender()
        created = ctx.clock.now()
        order = EscrowOrder(
            id=ctx.ids.new("esc"),
            seller_id=seller.id,
            buyer_id=buyer.id,
            currency=amount.currency.code,
            amount=amount.amount_minor,
            description=description,
            items=checked_items,
            state=S.CREATED,
            disputed_from=None,
            disputed_at=None,
            deadlines=Deadlines(
                ship_by=ship_by,
                deliver_by=ship_by + timedelta(seconds=ctx.escrow.delivery_seconds),
            ),
            timer_action=None,
            timer_due_at=None,
            hold_id=None,
            code_failures=0,
            released=0,
            fee=0,
            refunded=0,
            created_at=created,
            updated_at=created,
        )
        uow.escrow.insert_order(order)
        return order

    return _idempotent(ctx, f"user:{seller_id}:escrow_order", idempotency_key, request, work)


def get_order(ctx: Context, order_id: str) -> EscrowOrder:
    found = in_transaction(ctx, lambda uow: uow.escrow.get_order(order_id), read_only=True)
    if found is None:
        raise EscrowNotFound(order_id=order_id)
    return found


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[EscrowOrder]
    #: Pass as `cursor` for the next (older) page; None on the last page.
    next_cursor: str | None


def list_orders(
    ctx: Context, user_id: str, *, limit: int = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> OrderPage:  # fmt: skip
    """The orders a user buys or sells, newest first."""
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise PageSizeInvalid(f"page size {limit}; allowed 1 to {limits.PAGE_SIZE_MAX}")

    def work(uow: UnitOfWork) -> OrderPage:
        if cursor is not None:
            after = uow.escrow.get_order(cursor)
            if after is None or user_id not in (after.buyer_id, after.seller_id):
                raise CursorInvalid()
        rows = uow.escrow.list_orders(user_id, limit=limit + 1, before_id=cursor)
        page = rows[:limit]
        return OrderPage(page, page[-1].id if len(rows) > limit else None)

    return in_transaction(ctx, work, read_only=True)


def list_disputes(ctx: Context, order_id: str) -> list[EscrowDispute]:
    return in_transaction(ctx, lambda uow: uow.escrow.list_disputes(order_id), read_only=True)


# --- the buyer's and seller's moves ---------------------------------------------------------


def fund(
    ctx: Context,
    *,
    buyer_id: str,
    order_id: str,
    idempotency_key: str | None,
    quote_id: str | None = None,
) -> EscrowOrder:
    """The buyer pays: the amount moves from the wallet into escrow as a hold, and the buyer
    gets a one-time delivery code by SMS to give at handover.

    With `quote_id`, the buyer pays from a wallet in another currency at that FX quote (the
    least one for the order's amount): the rate is locked now, the order's amount is held in
    its own currency out of the operator's FX liquidity, and a refund later gives back the
    buyer's own currency at the same quote (ADR 0022)."""
    request: dict[str, Any] = {"order_id": order_id}
    if quote_id is not None:
        request["quote_id"] = quote_id

    def work(uow: UnitOfWork) -> EscrowOrder:
        order = _locked(uow, order_id, buyer_id=buyer_id)
        return _move(uow, ctx, order, A.FUND, quote_id=quote_id)

    return _idempotent(ctx, f"user:{buyer_id}:escrow_fund", idempotency_key, request, work)


def ship(
    ctx: Context,
    *,
    seller_id: str,
    order_id: str,
    carrier_code: str,
    tracking_number: str,
    idempotency_key: str | None,
) -> EscrowOrder:
    """The seller hands the goods to a carrier; the delivery deadline now runs."""
    request = {"order_id": order_id, "carrier_code": carrier_code,
               "tracking_number": tracking_number}  # fmt: skip

    def work(uow: UnitOfWork) -> EscrowOrder:
        order = _locked(uow, order_id, seller_id=seller_id)
        _allowed(order, A.SHIP)
        shipment_id = shipments.add_shipment_in(
            uow, ctx, order_id=order.id, carrier_code=carrier_code, tracking_number=tracking_number
        )
        return replace(_move(uow, ctx, order, A.SHIP), shipment_id=shipment_id)

    return _idempotent(ctx, f"user:{seller_id}:escrow_ship", idempotency_key, request, work)


def confirm_receipt(
    ctx: Context, *, buyer_id: str, order_id: str, idempotency_key: str | None
) -> EscrowOrder:
    """The buyer has the goods: the money is released to the seller at once."""

    def work(uow: UnitOfWork) -> EscrowOrder:
        return _move(uow, ctx, _locked(uow, order_id, buyer_id=buyer_id), A.CONFIRM_RECEIPT)

    return _idempotent(
        ctx, f"user:{buyer_id}:escrow_confirm", idempotency_key, {"order_id": order_id}, work
    )


def enter_delivery_code(
    ctx: Context,
    *,
    order_id: str,
    code: str,
    seller_id: str | None,
    idempotency_key: str | None,
) -> EscrowOrder:
    """The courier or seller enters the code the buyer gave at handover: delivery confirmed and
    the money released at once. Wrong codes are counted (and committed) before the refusal, and
    after a few the code locks: the buyer then confirms receipt instead. `seller_id` None is an
    operator (a courier desk) entering it."""
    if not code.isascii() or not code.isdigit() or len(code) != limits.DELIVERY_CODE_DIGITS:
        raise DeliveryCodeIncorrect(f"a delivery code is {limits.DELIVERY_CODE_DIGITS} digits")

    def check(uow: UnitOfWork) -> int | None:
        order = _locked(uow, order_id, seller_id=seller_id)
        _allowed(order, A.ENTER_DELIVERY_CODE)
        if order.code_failures >= limits.DELIVERY_CODE_ATTEMPTS_MAX:
            raise DeliveryCodeLocked()
        kept, legacy_hash = uow.escrow.delivery_code(order.id)
        if kept is not None and hmac.compare_digest(kept, code):
            return None
        if kept is None and legacy_hash is not None and ctx.pins.verify(legacy_hash, code):
            return None
        return uow.escrow.count_code_failure(order.id)

    # Replays skip the check: the code that released the order is spent.
    replay_scope = f"user:{seller_id or 'operator'}:escrow_code"
    request = {"order_id": order_id, "code": code}
    replayed = _replayable(ctx, replay_scope, idempotency_key, request)
    failures = None if replayed else in_transaction(ctx, check)
    if failures is not None:
        if failures >= limits.DELIVERY_CODE_ATTEMPTS_MAX:
            raise DeliveryCodeLocked()
        left = limits.DELIVERY_CODE_ATTEMPTS_MAX - failures
        raise DeliveryCodeIncorrect(f"wrong code; {left} tries left", tries_left=left)

    def work(uow: UnitOfWork) -> EscrowOrder:
        order = _locked(uow, order_id, seller_id=seller_id)
        return _move(uow, ctx, order, A.ENTER_DELIVERY_CODE)

    return _idempotent(ctx, replay_scope, idempotency_key, request, work)


@dataclass(frozen=True, slots=True)
class DeliveryCode:
    #: None for an order funded before the code was kept (migration 0008): its code went by SMS.
    code: str | None
    tries_left: int


def delivery_code(ctx: Context, *, buyer_id: str, order_id: str) -> DeliveryCode:
    """The buyer's delivery code, to show again in the web app or on USSD while it can still
    release the order. Only the buyer sees it: to anyone else the order does not exist."""

    def work(uow: UnitOfWork) -> DeliveryCode:
        order = uow.escrow.get_order(order_id)
        if order is None or order.buyer_id != buyer_id:
            raise EscrowNotFound(order_id=order_id)
        _allowed(order, A.ENTER_DELIVERY_CODE)
        kept, _ = uow.escrow.delivery_code(order.id)
        tries_left = max(0, limits.DELIVERY_CODE_ATTEMPTS_MAX - order.code_failures)
        return DeliveryCode(kept, tries_left)

    return in_transaction(ctx, work, read_only=True)


def cancel(
    ctx: Context, *, user_id: str, order_id: str, idempotency_key: str | None
) -> EscrowOrder:
    """The buyer withdraws before paying, or the seller before shipping (refunding the buyer
    in full if it had paid)."""

    def work(uow: UnitOfWork) -> EscrowOrder:
        order = _locked(uow, order_id, party=user_id)
        action = A.CANCEL_BY_SELLER if user_id == order.seller_id else A.CANCEL_BY_BUYER
        return _move(uow, ctx, order, action)

    return _idempotent(
        ctx, f"user:{user_id}:escrow_cancel", idempotency_key, {"order_id": order_id}, work
    )


# --- disputes -------------------------------------------------------------------------------


def dispute(
    ctx: Context,
    *,
    buyer_id: str,
    order_id: str,
    reason: str,
    message: str,
    evidence: Sequence[str] = (),
    idempotency_key: str | None,
) -> EscrowOrder:
    """The buyer disputes before release: the money is frozen and the timers pause."""
    _check_dispute_text(reason, message, evidence)
    request = {"order_id": order_id, "reason": reason, "message": message,
               "evidence": list(evidence)}  # fmt: skip

    def work(uow: UnitOfWork) -> EscrowOrder:
        order = _locked(uow, order_id, buyer_id=buyer_id)
        moved = _move(uow, ctx, order, A.DISPUTE)
        uow.escrow.insert_dispute(
            EscrowDispute(
                id=ctx.ids.new("dsp"), order_id=order.id, reason=reason, message=message,
                evidence=tuple(evidence), seller_answer=None, answered_at=None, outcome=None,
                to_buyer=None, to_seller=None, note=None, opened_at=ctx.clock.now(),
                closed_at=None,
            )
        )  # fmt: skip
        return moved

    return _idempotent(ctx, f"user:{buyer_id}:escrow_dispute", idempotency_key, request, work)


def answer_dispute(ctx: Context, *, seller_id: str, order_id: str, answer: str) -> EscrowDispute:
    """The seller's side of the story, for the operator who resolves it."""
    if not 1 <= len(answer.strip()) <= limits.DISPUTE_TEXT_LENGTH_MAX:
        raise MessageTooLong(f"an answer is 1 to {limits.DISPUTE_TEXT_LENGTH_MAX} characters")

    def work(uow: UnitOfWork) -> EscrowDispute:
        order = _locked(uow, order_id, seller_id=seller_id)
        found = uow.escrow.open_dispute(order.id)
        if order.state is not S.DISPUTED or found is None:
            raise EscrowNotDisputed(state=order.state.value)
        answered = replace(found, seller_answer=answer, answered_at=ctx.clock.now())
        uow.escrow.update_dispute(answered)
        return answered

    return in_transaction(ctx, work)


def withdraw_dispute(
    ctx: Context, *, buyer_id: str, order_id: str, idempotency_key: str | None
) -> EscrowOrder:
    """The buyer takes the dispute back: the order goes back where it was, its clocks resume
    with the time the dispute lasted added."""

    def work(uow: UnitOfWork) -> EscrowOrder:
        order = _locked(uow, order_id, buyer_id=buyer_id)
        moved = _move(uow, ctx, order, A.WITHDRAW_DISPUTE)
        _close_dispute(uow, ctx, order.id, outcome="withdrawn")
        # A carrier step that arrived while the order was frozen takes effect now.
        shipment = uow.shipments.shipment_for_order(order.id)
        if shipment is not None and moved.state in (S.SHIPPED, S.DELIVERED):
            late = {ShipmentStep.DELIVERED: A.DELIVER, ShipmentStep.RETURNED: A.RETURN}
            action = late.get(shipment.step)
            if action is not None and (moved.state, action) in TRANSITIONS:
                moved = _move(uow, ctx, moved, action)
        return moved

    return _idempotent(
        ctx, f"user:{buyer_id}:escrow_withdraw", idempotency_key, {"order_id": order_id}, work
    )


def resolve(
    ctx: Context,
    *,
    order_id: str,
    outcome: str,
    idempotency_key: str | None,
    to_buyer: Money | None = None,
    to_seller: Money | None = None,
    note: str | None = None,
) -> EscrowOrder:
    """An operator settles a dispute: `release` to the seller, `refund` to the buyer, or
    `split` (any two parts that add up to the held amount). The seller's fee is charged on
    the seller's part only."""
    if outcome not in ("release", "refund", "split"):
        raise DisputeOutcomeUnknown(outcome=outcome)
    if note is not None and len(note) > limits.DISPUTE_TEXT_LENGTH_MAX:
        raise MessageTooLong(f"a note is at most {limits.DISPUTE_TEXT_LENGTH_MAX} characters")
    request = {
        "order_id": order_id,
        "outcome": outcome,
        "to_buyer": None if to_buyer is None else str(to_buyer),
        "to_seller": None if to_seller is None else str(to_seller),
        "note": note,
    }

    def work(uow: UnitOfWork) -> EscrowOrder:
        order = _locked(uow, order_id)
        _allowed(order, A.RESOLVE)
        match outcome:
            case "release":
                buyer_part, seller_part = 0, order.amount
            case "refund":
                buyer_part, seller_part = order.amount, 0
            case _:
                if to_buyer is None or to_seller is None:
                    raise EscrowSplitMismatch("a split names to_buyer and to_seller")
                for part in (to_buyer, to_seller):
                    if part.currency.code != order.currency:
                        raise CurrencyMismatch(f"the order is in {order.currency}")
                buyer_part, seller_part = to_buyer.amount_minor, to_seller.amount_minor
        check_split(order.amount, buyer_part, seller_part)
        moved = _move(uow, ctx, order, A.RESOLVE, to_seller=seller_part)
        _close_dispute(uow, ctx, order.id, outcome=outcome, to_buyer=buyer_part,
                       to_seller=seller_part, note=note)  # fmt: skip
        return moved

    return _idempotent(ctx, "operator:escrow_resolve", idempotency_key, request, work)


# --- carriers and timers --------------------------------------------------------------------


def apply_carrier_step_in(
    uow: UnitOfWork, ctx: Context, order_id: str, action: EscrowAction
) -> bool:
    """A carrier's furthest step reached delivered (`DELIVER`) or returned (`RETURN`), inside
    the caller's transaction. False when the order's state does not take it (released already
    by the delivery code, say): the carrier's event still stands as a record."""
    assert action in (A.DELIVER, A.RETURN), action
    order = _locked(uow, order_id)
    if (order.state, action) not in TRANSITIONS:
        return False
    _move(uow, ctx, order, action)
    return True


def run_timers(
    ctx: Context,
    *,
    limit: int = limits.ESCROW_TIMERS_PER_BATCH_MAX,
    after_each: Callable[[str], None] | None = None,
) -> int:
    """Run the due timers (ship-by, delivery deadline, end of inspection), each order in its
    own transaction, re-read under its lock: two workers, or a worker restarted after a crash,
    never move an order twice. Returns how many orders moved."""
    assert 0 < limit <= limits.ESCROW_TIMERS_PER_BATCH_MAX, limit
    now = ctx.clock.now()
    due = in_transaction(ctx, lambda uow: uow.escrow.due_order_ids(now, limit))
    moved = 0
    for order_id in due:

        def tick(uow: UnitOfWork, order_id: str = order_id) -> bool:
            order = _locked(uow, order_id)
            action, due_at = order.timer_action, order.timer_due_at
            if action is None or due_at is None or due_at > ctx.clock.now():
                return False  # another worker (or the buyer) moved it meanwhile
            _move(uow, ctx, order, action)
            return True

        if in_transaction(ctx, tick):
            moved += 1
            if after_each is not None:
                after_each(order_id)
    return moved


# --- the one place an order moves -----------------------------------------------------------


def _move(
    uow: UnitOfWork, ctx: Context, order: EscrowOrder, action: EscrowAction, *,
    to_seller: int | None = None, quote_id: str | None = None,
) -> EscrowOrder:  # fmt: skip
    """Apply `action` to a locked order: the money, the new state and clocks, events, texts."""
    now = ctx.clock.now()
    state = next_state(
        order.state, action, disputed_from=order.disputed_from, undelivered=ctx.escrow.undelivered
    )
    moved = replace(order, state=state, updated_at=now)
    if action is A.FUND:
        moved = (
            _fund(uow, ctx, moved)
            if quote_id is None
            else _fund_converted(uow, ctx, moved, quote_id)
        )
    elif state is S.DISPUTED:
        moved = replace(moved, disputed_from=order.state, disputed_at=now)
    elif action is A.WITHDRAW_DISPUTE:
        assert order.disputed_at is not None
        paused = now - order.disputed_at
        moved = replace(moved, disputed_from=None, disputed_at=None,
                        deadlines=order.deadlines.shifted(paused))  # fmt: skip
    elif state is S.DELIVERED:
        ends = now + timedelta(seconds=ctx.escrow.inspection_seconds)
        moved = replace(moved, deadlines=replace(order.deadlines, inspection_ends=ends))
    elif state in (S.RELEASED, S.REFUNDED, S.RESOLVED):
        seller_part = {S.RELEASED: order.amount, S.REFUNDED: 0}.get(state, to_seller)
        assert seller_part is not None
        moved = _settle(uow, ctx, moved, seller_part)
    if state is not S.DISPUTED and moved.disputed_from is not None:
        moved = replace(moved, disputed_from=None)
    timer = next_timer(state, moved.deadlines)
    moved = replace(
        moved,
        timer_action=None if timer is None else timer[0],
        timer_due_at=None if timer is None else timer[1],
    )
    uow.escrow.update_order(moved, expected_state=order.state)
    _announce(uow, ctx, moved)
    return moved


def _fund(uow: UnitOfWork, ctx: Context, order: EscrowOrder) -> EscrowOrder:
    buyer = _user(uow, order.buyer_id)
    amount = Money(order.amount, Currency.of(order.currency))
    wallet = uow.people.find_wallet(buyer.id, order.currency)
    if wallet is None:
        raise NoWalletInCurrency(
            f"no {order.currency} wallet: 0 available", available=0, currency=order.currency
        )
    uow.ledger.lock_accounts([wallet.account_id])
    payments.check_spending_limits(uow, ctx, buyer, wallet.id, amount)
    escrow = ledger.system_account_in(uow, ctx, AccountCode.ESCROW, order.currency)
    hold_id = ctx.ids.new("tr")
    ledger.record(uow, ctx, [
        # No timeout: only a release, refund or split may resolve the buyer's money.
        hold(hold_id, debit_account_id=wallet.account_id, credit_account_id=escrow.id,
             amount=order.amount, currency=order.currency, code=TransferCode.ESCROW_HOLD,
             timeout_seconds=0, reference=order.id),
    ])  # fmt: skip
    # The buyer's payment on record: it counts towards the daily and monthly limits while held
    # and once released, not once refunded (its hold voided).
    seller_wallet = wallet_for(uow, ctx, _user(uow, order.seller_id), order.currency)
    uow.people.insert_payment(
        Payment(
            id=ctx.ids.new("pay"), kind=PaymentKind.ESCROW, currency=order.currency,
            amount=order.amount,
            fee=0, commission=0, payer_wallet_id=wallet.id, payee_wallet_id=seller_wallet.id,
            payee_phone=None, message=f"escrow order {order.id}", hold_id=hold_id,
            fee_hold_id=None, created_at=ctx.clock.now(),
        )
    )  # fmt: skip
    code = ctx.ids.digits(limits.DELIVERY_CODE_DIGITS)
    uow.escrow.set_delivery_code(order.id, code)
    seller = uow.people.get_merchant(order.seller_id)
    to = sms.reader(buyer)
    seller_name = seller.trading_name if seller is not None else to._(THE_SELLER)
    _text(uow, ctx, buyer.phone, compose(to, HELD, amount=amount, ref=order.id[-8:],
                                         name=text_name(seller_name), code=code))  # fmt: skip
    return replace(order, hold_id=hold_id, code_failures=0)


def _fund_converted(
    uow: UnitOfWork, ctx: Context, order: EscrowOrder, quote_id: str
) -> EscrowOrder:
    """Fund the order from the buyer's wallet in another currency at their FX quote, in one
    batch (docs/escrow.md, "Funded in another currency"): the buyer's currency goes to its FX
    liquidity (with the spread and fee to fee income), and the order's amount is held from the
    order currency's liquidity into escrow, the same hold a release posts and a refund voids."""
    buyer = _user(uow, order.buyer_id)
    amount = Money(order.amount, Currency.of(order.currency))
    if buyer.kind is UserKind.AGENT:
        raise UserKindMismatch("an agent's float serves cash in and out, not purchases")
    quote = fx.take_quote(uow, ctx, payer=buyer, quote_id=quote_id, price=amount)
    source = quote.source.code
    wallet = uow.people.find_wallet(buyer.id, source)
    if wallet is None:
        raise NoWalletInCurrency(f"no {source} wallet: 0 available", available=0, currency=source)
    uow.ledger.lock_accounts([wallet.account_id])
    # The buyer's limits count what they converted, in their currency, as for any FX payment.
    payments.check_spending_limits(uow, ctx, buyer, wallet.id, quote.amounts.converted)
    escrow = ledger.system_account_in(uow, ctx, AccountCode.ESCROW, order.currency)
    liquidity = ledger.system_account_id_in(uow, ctx, AccountCode.FX_LIQUIDITY, order.currency)
    hold_id = ctx.ids.new("tr")
    requests = fx.funding_legs(uow, ctx, quote, payer_account_id=wallet.account_id,
                               reference=order.id)  # fmt: skip
    requests.append(
        # No timeout, as for any order: only a release, refund or split resolves it, and what
        # is not posted to the seller goes back to the liquidity it came from.
        hold(hold_id, debit_account_id=liquidity, credit_account_id=escrow.id,
             amount=order.amount, currency=order.currency, code=TransferCode.ESCROW_HOLD,
             timeout_seconds=0, reference=order.id)
    )  # fmt: skip
    ledger.record(uow, ctx, requests)
    fx.check_liquidity(uow, ctx, order.currency, amount)
    seller_wallet = wallet_for(uow, ctx, _user(uow, order.seller_id), order.currency)
    payment = Payment(
        id=ctx.ids.new("pay"), kind=PaymentKind.ESCROW, currency=source,
        amount=quote.amounts.converted.amount_minor,
        fee=(quote.amounts.spread + quote.amounts.fee).amount_minor, commission=0,
        payer_wallet_id=wallet.id, payee_wallet_id=seller_wallet.id, payee_phone=None,
        message=f"escrow order {order.id}", hold_id=hold_id, fee_hold_id=None,
        created_at=ctx.clock.now(),
    )  # fmt: skip
    uow.people.insert_payment(payment)
    fx.mark_quote_used(uow, ctx, quote.id, payment_id=payment.id)
    code = ctx.ids.digits(limits.DELIVERY_CODE_DIGITS)
    uow.escrow.set_delivery_code(order.id, code)
    seller = uow.people.get_merchant(order.seller_id)
    seller_name = seller.trading_name if seller is not None else "the seller"
    text = (
        f"Soko: {quote.amounts.source_debit} paid, {amount} held for order {order.id[-8:]} from "
        f"{text_name(seller_name)}. Give code {code} to the courier only when you have the goods."
    )
    _text(uow, ctx, buyer.phone, text)
    return replace(order, hold_id=hold_id, code_failures=0, fx_quote_id=quote.id)


def _settle(uow: UnitOfWork, ctx: Context, order: EscrowOrder, seller_part: int) -> EscrowOrder:
    """Resolve the buyer's hold: `seller_part` posted to escrow and paid to the seller less its
    fee, the rest back to the buyer. One batch (docs/money-flows.md, "Escrow")."""
    assert order.hold_id is not None and 0 <= seller_part <= order.amount, order
    requests: list[TransferRequest] = []
    fee = 0
    if seller_part == 0:
        requests.append(void(ctx.ids.new("tr"), order.hold_id))
    else:
        seller = _user(uow, order.seller_id)
        merchant = uow.people.get_merchant(seller.id)
        assert merchant is not None, order.seller_id
        fee = merchant_rate(ctx.merchant_rates, order.currency, merchant.category_code).fee_for(
            seller_part
        )
        escrow = ledger.system_account_in(uow, ctx, AccountCode.ESCROW, order.currency)
        seller_wallet = wallet_for(uow, ctx, seller, order.currency)
        fees = ledger.system_account_in(uow, ctx, AccountCode.FEES, order.currency,
                                        spread_by=seller_wallet.account_id)  # fmt: skip
        # Posting part of a hold releases the rest to the buyer in the same step.
        requests.append(post(ctx.ids.new("tr"), order.hold_id, seller_part))
        for credit, amount, code in (
            (seller_wallet.account_id, seller_part - fee, TransferCode.ESCROW_RELEASE),
            (fees.id, fee, TransferCode.FEE),
        ):
            if amount:
                requests.append(
                    move(ctx.ids.new("tr"), debit_account_id=escrow.id, credit_account_id=credit,
                         amount=amount, currency=order.currency, code=code, reference=order.id)
                )  # fmt: skip
        if merchant.open_loan_id is not None:
            # A release is a sale: part of it repays the seller's loan (soko.credit).
            requests.extend(
                ctx.repay_from_sale(uow, ctx, loan_id=merchant.open_loan_id,
                                    wallet_account_id=seller_wallet.account_id,
                                    sale_minor=seller_part, payment_id=order.id)
            )  # fmt: skip
    refunded = order.amount - seller_part
    if order.fx_quote_id is not None and refunded:
        # Funded from another currency: the buyer's share comes back in the buyer's currency at
        # the rate locked at funding, spread and fee included (ADR 0022); the order currency's
        # share went back to its liquidity when the hold was voided or partly posted.
        requests.extend(
            fx.unwinding_legs(uow, ctx, order.fx_quote_id,
                              share=Fraction(refunded, order.amount), reference=order.id)
        )  # fmt: skip
    ledger.record(uow, ctx, requests)
    return replace(order, released=seller_part, fee=fee, refunded=refunded)


def _announce(uow: UnitOfWork, ctx: Context, order: EscrowOrder) -> None:
    """The seller's webhook event and both sides' texts for the state the order reached."""
    event = _EVENTS.get(order.state)
    if event is not None:
        webhooks.emit(uow, ctx, owner_id=order.seller_id, type=event, data=order_event(order))
    currency = Currency.of(order.currency)
    ref = order.id[-8:]
    buyer = _user(uow, order.buyer_id)
    seller = _user(uow, order.seller_id)
    to_buyer, to_seller = sms.reader(buyer), sms.reader(seller)
    match order.state:
        case S.SHIPPED:
            _text(uow, ctx, buyer.phone, compose(to_buyer, SHIPPED, ref=ref))
        case S.DELIVERED:
            days = max(1, ctx.escrow.inspection_seconds // 86_400)
            _text(uow, ctx, buyer.phone, compose(to_buyer, DELIVERED, ref=ref, days=days))
        case S.DISPUTED:
            _text(uow, ctx, seller.phone, compose(to_seller, DISPUTED, ref=ref))
        case S.RELEASED | S.RESOLVED | S.REFUNDED:
            if order.released:
                paid = Money(order.released - order.fee, currency)
                _text(uow, ctx, seller.phone, compose(to_seller, RELEASED, amount=paid, ref=ref))
            if order.refunded:
                back = Money(order.refunded, currency)
                _text(uow, ctx, buyer.phone, compose(to_buyer, REFUNDED, amount=back, ref=ref))
        case _:
            pass


def order_event(order: EscrowOrder) -> dict[str, Any]:
    """An order as webhook events carry it: amounts as decimal strings."""
    currency = Currency.of(order.currency)
    return {
        "order_id": order.id,
        "state": order.state.value,
        "buyer_id": order.buyer_id,
        "amount": Money(order.amount, currency).to_decimal_string(),
        "currency": order.currency,
        "released": Money(order.released, currency).to_decimal_string(),
        "fee": Money(order.fee, currency).to_decimal_string(),
        "refunded": Money(order.refunded, currency).to_decimal_string(),
    }


# --- the pieces -----------------------------------------------------------------------------


def _locked(
    uow: UnitOfWork,
    order_id: str,
    *,
    buyer_id: str | None = None,
    seller_id: str | None = None,
    party: str | None = None,
) -> EscrowOrder:
    """The order, locked for this transaction, if the caller may act on it; someone else's
    order reads as no order at all."""
    order = uow.escrow.get_order(order_id, lock=True)
    allowed = order is not None and (
        (buyer_id is None or order.buyer_id == buyer_id)
        and (seller_id is None or order.seller_id == seller_id)
        and (party is None or party in (order.buyer_id, order.seller_id))
    )
    if order is None or not allowed:
        raise EscrowNotFound(order_id=order_id)
    return order


def _allowed(order: EscrowOrder, action: EscrowAction) -> None:
    if (order.state, action) not in TRANSITIONS:
        raise refusal(order.state, action)


def _user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.people.get_user(user_id)
    if user is None:
        raise UserNotFound(user_id=user_id)
    return user


def _checked_items(items: Sequence[OrderItem]) -> tuple[OrderItem, ...]:
    if not 1 <= len(items) <= limits.ESCROW_ITEMS_MAX or not all(
        isinstance(item, OrderItem)
        and 1 <= len(item.name.strip()) <= limits.ESCROW_ITEM_NAME_LENGTH_MAX
        and item.name.isprintable()
        and isinstance(item.quantity, int)
        and 1 <= item.quantity <= limits.ESCROW_ITEM_QUANTITY_MAX
        for item in items
    ):
        raise OrderItemsInvalid()
    return tuple(OrderItem(item.name.strip(), item.quantity) for item in items)


def _check_dispute_text(reason: str, message: str, evidence: Sequence[str]) -> None:
    if not 1 <= len(reason) <= 32 or not reason.replace("_", "").isalnum() or not reason.isascii():
        raise MessageTooLong("a reason is 1 to 32 letters, digits or underscores")
    if not 1 <= len(message.strip()) <= limits.DISPUTE_TEXT_LENGTH_MAX:
        raise MessageTooLong(f"a message is 1 to {limits.DISPUTE_TEXT_LENGTH_MAX} characters")
    if len(evidence) > limits.DISPUTE_EVIDENCE_MAX or not all(
        1 <= len(ref) <= limits.DISPUTE_EVIDENCE_LENGTH_MAX for ref in evidence
    ):
        raise MessageTooLong(
            f"at most {limits.DISPUTE_EVIDENCE_MAX} evidence references of "
            f"{limits.DISPUTE_EVIDENCE_LENGTH_MAX} characters"
        )


def _close_dispute(uow: UnitOfWork, ctx: Context, order_id: str, *, outcome: str,
                   to_buyer: int | None = None, to_seller: int | None = None,
                   note: str | None = None) -> None:  # fmt: skip
    found = uow.escrow.open_dispute(order_id)
    if found is None:
        return  # opened by the delivery-deadline rule: no buyer's dispute row to close
    uow.escrow.update_dispute(
        replace(found, outcome=outcome, to_buyer=to_buyer, to_seller=to_seller, note=note,
                closed_at=ctx.clock.now())
    )  # fmt: skip


# The texts each side gets, in their language (Kiswahili in locale/sw/LC_MESSAGES/sms.po).
HELD: Final = N_(
    "Soko: {amount} held for order {ref} from {name}. Give code {code} to the courier only when "
    "you have the goods."
)
THE_SELLER: Final = N_("the seller")
SHIPPED: Final = N_(
    "Soko: order {ref} has shipped. Your money stays held until you have the goods."
)
DELIVERED: Final = N_(
    "Soko: order {ref} was delivered. Dispute within {days} days if anything is wrong; then it "
    "is paid."
)
DISPUTED: Final = N_(
    "Soko: the buyer disputed order {ref}. The money is frozen until Soko resolves it."
)
RELEASED: Final = N_("Soko: {amount} released to you for order {ref}.")
REFUNDED: Final = N_("Soko: {amount} refunded to you for order {ref}.")


def _text(uow: UnitOfWork, ctx: Context, phone: str, text: str) -> None:
    assert fits(text), text
    sms.queue(uow, ctx, phone=phone, text=text)


def _replayable(ctx: Context, scope: str, key: str | None, request: dict[str, Any]) -> bool:
    """Whether `key` already holds this request's result in `scope` (a retry of a request that
    succeeded); the same key with another request is refused at once."""
    if key is None:
        return False
    stored = in_transaction(ctx, lambda uow: uow.idempotency.get(scope, key), read_only=True)
    if stored is None:
        return False
    if stored.fingerprint != fingerprint(request):
        raise IdempotencyKeyReused()
    return True


def _idempotent(
    ctx: Context,
    scope: str,
    key: str | None,
    request: dict[str, Any],
    work: Callable[[UnitOfWork], EscrowOrder],
) -> EscrowOrder:
    return run_idempotent(
        ctx, scope=scope, key=key, request=request, work=work, result=EscrowOrder,
    ).value  # fmt: skip


__all__ = [
    "DeliveryCode",
    "OrderPage",
    "answer_dispute",
    "apply_carrier_step_in",
    "cancel",
    "confirm_receipt",
    "create_order",
    "delivery_code",
    "dispute",
    "enter_delivery_code",
    "fund",
    "get_order",
    "list_disputes",
    "list_orders",
    "order_event",
    "resolve",
    "run_timers",
    "ship",
    "withdraw_dispute",
]
