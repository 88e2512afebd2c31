"""Escrow orders through the use cases, on both databases: funding holds the buyer's money,
release pays the seller less its fee, refunds and splits give back what they should, timers
move orders at their deadlines, and every refusal leaves the books as they were."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from fakes import FakeClock
from merchants import Snapshot, available, balance, consumer, fees, kes, key, phone, shop
from merchants import fund as fund_wallet
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowOrder, EscrowState, OrderItem
from soko.escrow.errors import (
    DeadlineInvalid,
    DeliveryCodeIncorrect,
    DeliveryCodeLocked,
    DisputeOutcomeUnknown,
    EscrowAlreadyFunded,
    EscrowAlreadyReleased,
    EscrowDisputed,
    EscrowNotFound,
    EscrowNotFunded,
    OrderItemsInvalid,
)
from soko.escrow.tables import escrow_orders
from soko.escrow.tracking import service as shipments
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, DomainError
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import Merchant, User, UserKind
from soko.people.errors import ExceedsDailyLimit, RecipientRequired, UserKindMismatch, UserNotFound

S = EscrowState
DAY = timedelta(days=1)
ITEMS = [OrderItem("Kitenge fabric, 6 yards", 2)]


@dataclass
class Trade:
    ctx: Context
    clock: FakeClock
    buyer: User
    seller: Merchant

    def order(self, amount: str = "4500.00", ship_in: timedelta = 2 * DAY) -> EscrowOrder:
        return escrow.create_order(
            self.ctx, seller_id=self.seller.user_id, buyer_id=self.buyer.id,
            amount=kes(amount), items=ITEMS, ship_by=self.clock.now() + ship_in,
            idempotency_key=key(),
        )  # fmt: skip

    def funded(self, amount: str = "4500.00") -> EscrowOrder:
        made = self.order(amount)
        return escrow.fund(self.ctx, buyer_id=self.buyer.id, order_id=made.id,
                           idempotency_key=key())  # fmt: skip

    def shipped(self, amount: str = "4500.00") -> EscrowOrder:
        made = self.funded(amount)
        return escrow.ship(
            self.ctx, seller_id=self.seller.user_id, order_id=made.id, carrier_code="sendy",
            tracking_number=f"SND-{key()}", idempotency_key=key(),
        )  # fmt: skip

    def held(self) -> int:
        account = ledger.system_account(self.ctx, AccountCode.ESCROW, "KES")
        return account.credits_pending - account.debits_pending


@pytest.fixture
def trade(any_ctx: Context, clock: FakeClock) -> Trade:
    shipments.add_carrier(any_ctx, code="sendy", name="Sendy")
    return Trade(any_ctx, clock, consumer(any_ctx, funds="10000.00"), shop(any_ctx, "5651"))


def test_funding_holds_the_money_and_release_pays_the_seller_less_its_fee(trade: Trade) -> None:
    ctx = trade.ctx
    made = trade.order()
    assert (made.state, made.hold_id, made.timer_due_at) == (S.CREATED, None, None)
    funded = escrow.fund(ctx, buyer_id=trade.buyer.id, order_id=made.id, idempotency_key=key())
    assert funded.state is S.FUNDED and funded.hold_id is not None
    assert funded.timer_due_at == made.deadlines.ship_by
    # Held: visible to both, spendable by neither.
    assert available(ctx, trade.buyer.id) == 1_000_000 - 450_000
    assert balance(ctx, trade.seller.user_id) == 0
    assert trade.held() == 450_000
    fees_before = fees(ctx)
    released = escrow.confirm_receipt(
        ctx, buyer_id=trade.buyer.id, order_id=made.id, idempotency_key=key()
    )
    # 0.5 % of KES 4,500.00 is KES 22.50.
    assert (released.state, released.released, released.fee, released.refunded) == (
        S.RELEASED, 450_000, 2_250, 0)  # fmt: skip
    assert balance(ctx, trade.seller.user_id) == 450_000 - 2_250
    assert fees(ctx) - fees_before == 2_250
    assert trade.held() == 0
    assert released.timer_due_at is None
    assert reconcile(ctx).passed


def test_the_buyer_gets_a_delivery_code_that_releases_at_handover(trade: Trade) -> None:
    ctx = trade.ctx
    order = trade.shipped()
    code = _code_sent_to(ctx, trade.buyer)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(DeliveryCodeIncorrect) as refused:
        enter(trade, order, wrong)
    assert refused.value.context == {"tries_left": limits.DELIVERY_CODE_ATTEMPTS_MAX - 1}
    assert escrow.get_order(ctx, order.id).code_failures == 1  # counted, though refused
    released = escrow.enter_delivery_code(
        ctx, order_id=order.id, code=code, seller_id=trade.seller.user_id, idempotency_key="c1"
    )
    assert released.state is S.RELEASED
    # A retry of the same request replays; the spent code cannot release anything again.
    assert (
        escrow.enter_delivery_code(
            ctx, order_id=order.id, code=code, seller_id=trade.seller.user_id, idempotency_key="c1"
        )
        == released
    )
    with pytest.raises(EscrowAlreadyReleased):
        enter(trade, order, code)
    assert reconcile(ctx).passed


def test_wrong_delivery_codes_lock_the_code(trade: Trade) -> None:
    ctx = trade.ctx
    order = trade.funded()
    code = _code_sent_to(ctx, trade.buyer)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(limits.DELIVERY_CODE_ATTEMPTS_MAX - 1):
        with pytest.raises(DeliveryCodeIncorrect):
            enter(trade, order, wrong)
    with pytest.raises(DeliveryCodeLocked):
        enter(trade, order, wrong)
    with pytest.raises(DeliveryCodeLocked):  # even the right one, now
        enter(trade, order, code)
    assert escrow.get_order(ctx, order.id).state is S.FUNDED
    # The buyer can still confirm receipt.
    escrow.confirm_receipt(ctx, buyer_id=trade.buyer.id, order_id=order.id, idempotency_key=key())


def test_the_buyer_alone_sees_the_delivery_code_while_it_can_release(trade: Trade) -> None:
    ctx = trade.ctx
    made = trade.order()
    with pytest.raises(EscrowNotFunded):  # no code before the money is held
        escrow.delivery_code(ctx, buyer_id=trade.buyer.id, order_id=made.id)
    escrow.fund(ctx, buyer_id=trade.buyer.id, order_id=made.id, idempotency_key=key())
    code = _code_sent_to(ctx, trade.buyer)
    shown = escrow.delivery_code(ctx, buyer_id=trade.buyer.id, order_id=made.id)
    assert shown == escrow.DeliveryCode(code, limits.DELIVERY_CODE_ATTEMPTS_MAX)
    # The seller (or anyone else) is told there is no such order.
    with pytest.raises(EscrowNotFound):
        escrow.delivery_code(ctx, buyer_id=trade.seller.user_id, order_id=made.id)
    with pytest.raises(DeliveryCodeIncorrect):
        enter(trade, made, "000000" if code != "000000" else "111111")
    shown = escrow.delivery_code(ctx, buyer_id=trade.buyer.id, order_id=made.id)
    assert shown.tries_left == limits.DELIVERY_CODE_ATTEMPTS_MAX - 1
    enter(trade, made, code)
    with pytest.raises(EscrowAlreadyReleased):  # spent
        escrow.delivery_code(ctx, buyer_id=trade.buyer.id, order_id=made.id)


def test_an_order_funded_before_codes_were_kept_still_takes_its_code(trade: Trade) -> None:
    """Migration 0008: such an order holds only an argon2 hash of its code."""
    ctx = trade.ctx
    order = trade.funded()
    engine = ctx.unit_of_work.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            escrow_orders.update()
            .where(escrow_orders.c.id == order.id)
            .values(delivery_code=None, delivery_code_hash=ctx.pins.hash("424242"))
        )
    assert escrow.delivery_code(ctx, buyer_id=trade.buyer.id, order_id=order.id).code is None
    with pytest.raises(DeliveryCodeIncorrect):
        enter(trade, order, "242424")
    assert enter(trade, order, "424242").state is S.RELEASED


def test_not_shipped_by_the_ship_by_date_refunds_in_full(trade: Trade) -> None:
    ctx, clock = trade.ctx, trade.clock
    order = trade.funded()
    clock.advance(2 * 86_400 - 1)
    assert escrow.run_timers(ctx) == 0
    clock.advance(1)
    assert escrow.run_timers(ctx) == 1
    refunded = escrow.get_order(ctx, order.id)
    assert (refunded.state, refunded.refunded, refunded.released) == (S.REFUNDED, 450_000, 0)
    assert available(ctx, trade.buyer.id) == 1_000_000
    assert escrow.run_timers(ctx) == 0  # nothing left to do, nothing done twice
    assert reconcile(ctx).passed


def test_delivered_and_not_disputed_releases_after_inspection(trade: Trade) -> None:
    ctx, clock = trade.ctx, trade.clock
    order = trade.shipped()
    with ctx.unit_of_work() as uow:
        assert escrow.apply_carrier_step_in(uow, ctx, order.id, escrow.EscrowAction.DELIVER)
        uow.commit()
    delivered = escrow.get_order(ctx, order.id)
    assert delivered.state is S.DELIVERED
    assert delivered.timer_due_at == clock.now() + timedelta(seconds=ctx.escrow.inspection_seconds)
    clock.advance(ctx.escrow.inspection_seconds)
    assert escrow.run_timers(ctx) == 1
    assert escrow.get_order(ctx, order.id).state is S.RELEASED
    assert balance(ctx, trade.seller.user_id) == 450_000 - 2_250


def test_a_dispute_freezes_the_money_and_pauses_the_clock(trade: Trade) -> None:
    ctx, clock = trade.ctx, trade.clock
    order = trade.shipped()
    deliver_by = order.deadlines.deliver_by
    disputed = escrow.dispute(
        ctx, buyer_id=trade.buyer.id, order_id=order.id, reason="not_as_described",
        message="The fabric is cotton, not wax print.", evidence=["photo:1"],
        idempotency_key=key(),
    )  # fmt: skip
    assert (disputed.state, disputed.timer_due_at) == (S.DISPUTED, None)
    with pytest.raises(EscrowDisputed):
        escrow.confirm_receipt(ctx, buyer_id=trade.buyer.id, order_id=order.id,
                               idempotency_key=key())  # fmt: skip
    clock.advance(30 * 86_400)
    assert escrow.run_timers(ctx) == 0  # paused: the deadline passed while disputed
    escrow.answer_dispute(ctx, seller_id=trade.seller.user_id, order_id=order.id,
                          answer="It is wax print; see the label.")  # fmt: skip
    resumed = escrow.withdraw_dispute(
        ctx, buyer_id=trade.buyer.id, order_id=order.id, idempotency_key=key()
    )
    assert resumed.state is S.SHIPPED
    assert resumed.deadlines.deliver_by == deliver_by + 30 * DAY
    assert resumed.timer_due_at == deliver_by + 30 * DAY
    [closed] = escrow.list_disputes(ctx, order.id)
    assert (closed.outcome, closed.seller_answer) == (
        "withdrawn",
        "It is wax print; see the label.",
    )


@pytest.mark.parametrize(
    ("outcome", "to_buyer", "to_seller", "buyer_gets", "seller_gets"),
    [
        ("release", None, None, 0, 450_000 - 2_250),
        ("refund", None, None, 450_000, 0),
        # No fee on the refunded part: 0.5 % of the seller's KES 3,000.00 only.
        ("split", "1500.00", "3000.00", 150_000, 300_000 - 1_500),
    ],
)
def test_an_operator_resolves_a_dispute(
    trade: Trade,
    *,
    outcome: str,
    to_buyer: str | None,
    to_seller: str | None,
    buyer_gets: int,
    seller_gets: int,
) -> None:
    ctx = trade.ctx
    order = trade.shipped()
    escrow.dispute(ctx, buyer_id=trade.buyer.id, order_id=order.id, reason="damaged",
                   message="Torn.", idempotency_key=key())  # fmt: skip
    resolved = escrow.resolve(
        ctx, order_id=order.id, outcome=outcome, idempotency_key=key(),
        to_buyer=None if to_buyer is None else kes(to_buyer),
        to_seller=None if to_seller is None else kes(to_seller), note="Photos checked.",
    )  # fmt: skip
    assert resolved.state is S.RESOLVED
    assert available(ctx, trade.buyer.id) == 1_000_000 - 450_000 + buyer_gets
    assert balance(ctx, trade.seller.user_id) == seller_gets
    assert trade.held() == 0
    [closed] = escrow.list_disputes(ctx, order.id)
    assert closed.outcome == outcome and closed.closed_at is not None
    assert reconcile(ctx).passed


def test_a_return_refunds_and_a_seller_may_cancel_before_shipping(trade: Trade) -> None:
    ctx = trade.ctx
    shipped = trade.shipped()
    with ctx.unit_of_work() as uow:
        assert escrow.apply_carrier_step_in(uow, ctx, shipped.id, escrow.EscrowAction.RETURN)
        uow.commit()
    assert escrow.get_order(ctx, shipped.id).state is S.REFUNDED
    funded = trade.funded()
    cancelled = escrow.cancel(ctx, user_id=trade.seller.user_id, order_id=funded.id,
                              idempotency_key=key())  # fmt: skip
    assert cancelled.state is S.REFUNDED
    unpaid = trade.order()
    assert escrow.cancel(ctx, user_id=trade.buyer.id, order_id=unpaid.id,
                         idempotency_key=key()).state is S.CANCELLED  # fmt: skip
    assert available(ctx, trade.buyer.id) == 1_000_000
    assert reconcile(ctx).passed


@pytest.mark.parametrize(
    "case",
    [
        "release twice",
        "refund a released order",
        "dispute after release",
        "a split that does not add up",
        "fund someone else's order",
        "fund with too little money",
        "ship before funding",
        "resolve without a dispute",
    ],
)
def test_bad_moves_are_refused_and_change_nothing(trade: Trade, case: str) -> None:
    ctx = trade.ctx
    order = trade.shipped()
    stranger = consumer(ctx, "Stranger", funds="10.00")
    match case:
        case "release twice" | "refund a released order" | "dispute after release":
            escrow.confirm_receipt(ctx, buyer_id=trade.buyer.id, order_id=order.id,
                                   idempotency_key=key())  # fmt: skip

    def attempt() -> None:
        match case:
            case "release twice":
                escrow.confirm_receipt(ctx, buyer_id=trade.buyer.id, order_id=order.id,
                                       idempotency_key=key())  # fmt: skip
            case "refund a released order":
                escrow.cancel(ctx, user_id=trade.seller.user_id, order_id=order.id,
                              idempotency_key=key())  # fmt: skip
            case "dispute after release":
                escrow.dispute(ctx, buyer_id=trade.buyer.id, order_id=order.id, reason="late",
                               message="Late.", idempotency_key=key())  # fmt: skip
            case "a split that does not add up":
                escrow.resolve(ctx, order_id=order.id, outcome="split", idempotency_key=key(),
                               to_buyer=kes("1000.00"), to_seller=kes("1000.00"))  # fmt: skip
            case "fund someone else's order":
                escrow.fund(ctx, buyer_id=stranger.id, order_id=trade.order().id,
                            idempotency_key=key())  # fmt: skip
            case "fund with too little money":
                made = escrow.create_order(
                    ctx, seller_id=trade.seller.user_id, buyer_id=stranger.id,
                    amount=kes("10.01"), items=ITEMS, ship_by=trade.clock.now() + DAY,
                    idempotency_key=key(),
                )  # fmt: skip
                escrow.fund(ctx, buyer_id=stranger.id, order_id=made.id, idempotency_key=key())
            case "ship before funding":
                escrow.ship(ctx, seller_id=trade.seller.user_id, order_id=trade.order().id,
                            carrier_code="sendy", tracking_number="SND-X1",
                            idempotency_key=key())  # fmt: skip
            case "resolve without a dispute":
                escrow.resolve(ctx, order_id=order.id, outcome="refund", idempotency_key=key())

    if case == "a split that does not add up":
        escrow.dispute(ctx, buyer_id=trade.buyer.id, order_id=order.id, reason="late",
                       message="Late.", idempotency_key=key())  # fmt: skip
    before = Snapshot.of(ctx)
    with pytest.raises(DomainError) as refused:
        attempt()
    expected = {
        "release twice": "escrow_already_released",
        "refund a released order": "escrow_already_released",
        "dispute after release": "escrow_already_released",
        "a split that does not add up": "escrow_split_mismatch",
        "fund someone else's order": "escrow_not_found",
        "fund with too little money": "exceeds_credits",
        "ship before funding": "escrow_not_funded",
        "resolve without a dispute": "escrow_not_disputed",
    }[case]
    assert refused.value.code == expected
    after = Snapshot.of(ctx)
    assert (after.transfers, after.fees) == (before.transfers, before.fees)
    assert reconcile(ctx).passed


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"items": []}, OrderItemsInvalid),
        ({"items": [OrderItem("Shoes", 0)]}, OrderItemsInvalid),
        ({"ship_in": -DAY}, DeadlineInvalid),
        ({"ship_in": timedelta(seconds=limits.ESCROW_SHIP_BY_SECONDS_MAX + 1)},
         DeadlineInvalid),
        ({"amount": "0"}, AmountMustBePositive),
        ({"seller": "consumer"}, UserKindMismatch),
    ],
)  # fmt: skip
def test_bad_orders_are_refused(
    trade: Trade, change: dict[str, object], error: type[DomainError]
) -> None:
    ctx, clock = trade.ctx, trade.clock
    ship_in = change.get("ship_in", DAY)
    assert isinstance(ship_in, timedelta)
    with pytest.raises(error):
        escrow.create_order(
            ctx,
            seller_id=trade.buyer.id if change.get("seller") else trade.seller.user_id,
            buyer_id=consumer(ctx, "Other").id if change.get("seller") else trade.buyer.id,
            amount=kes(str(change.get("amount", "10.00"))),
            items=change.get("items", ITEMS),  # type: ignore[arg-type]
            ship_by=clock.now() + ship_in,
            idempotency_key=key(),
        )
    assert escrow.list_orders(ctx, trade.buyer.id).orders == []


def test_funding_is_idempotent(trade: Trade) -> None:
    ctx = trade.ctx
    made = trade.order()
    first = escrow.fund(ctx, buyer_id=trade.buyer.id, order_id=made.id, idempotency_key="f1")
    assert escrow.fund(ctx, buyer_id=trade.buyer.id, order_id=made.id,
                       idempotency_key="f1") == first  # fmt: skip
    with pytest.raises(EscrowAlreadyFunded):
        escrow.fund(ctx, buyer_id=trade.buyer.id, order_id=made.id, idempotency_key="f2")
    assert trade.held() == 450_000


def enter(trade: Trade, order: EscrowOrder, code: str) -> EscrowOrder:
    """The seller enters a delivery code, with a fresh idempotency key."""
    return escrow.enter_delivery_code(
        trade.ctx, order_id=order.id, code=code, seller_id=trade.seller.user_id,
        idempotency_key=key(),
    )  # fmt: skip


def _code_sent_to(ctx: Context, buyer: User) -> str:
    """The delivery code from the buyer's funding text."""
    with ctx.unit_of_work(read_only=True) as uow:
        texts = uow.notifications.list_sms_to(buyer.phone, 100)
    [text] = [t.text for t in texts if "Give code" in t.text]
    return text.split("Give code ")[1][:6]


def test_paying_into_escrow_counts_towards_the_daily_limit(
    any_ctx: Context, clock: FakeClock
) -> None:
    ctx = any_ctx
    # Tier 0 in KES: KES 10,000 a payment, KES 20,000 a day.
    buyer = users.register(ctx, kind=UserKind.CONSUMER, phone=phone(), name="New", pin="2468")
    fund_wallet(ctx, buyer, kes("20000.00"))
    seller = shop(ctx)
    held = []
    for _ in range(2):
        made = escrow.create_order(
            ctx, seller_id=seller.user_id, buyer_id=buyer.id, amount=kes("10000.00"),
            items=ITEMS, ship_by=clock.now() + DAY, idempotency_key=key(),
        )  # fmt: skip
        held.append(escrow.fund(ctx, buyer_id=buyer.id, order_id=made.id, idempotency_key=key()))
    with pytest.raises(ExceedsDailyLimit):
        payments.pay_merchant(ctx, payer_id=buyer.id, merchant_id=seller.user_id,
                              amount=kes("0.01"), idempotency_key=key())  # fmt: skip
    # Refunded, an escrow payment no longer counts: its hold was voided.
    escrow.cancel(ctx, user_id=seller.user_id, order_id=held[0].id, idempotency_key=key())
    payments.pay_merchant(ctx, payer_id=buyer.id, merchant_id=seller.user_id,
                          amount=kes("0.01"), idempotency_key=key())  # fmt: skip


def test_a_delivery_reported_during_a_dispute_counts_once_it_is_withdrawn(trade: Trade) -> None:
    ctx, clock = trade.ctx, trade.clock
    order = trade.shipped()
    escrow.dispute(ctx, buyer_id=trade.buyer.id, order_id=order.id, reason="late",
                   message="Where is it?", idempotency_key=key())  # fmt: skip
    shipment = shipments.shipment_for_order(ctx, order.id)
    assert shipment is not None
    shipments.record_event(ctx, shipment_id=shipment.id, kind="delivered",
                           occurred_at=clock.now(), event_id="ev-1")  # fmt: skip
    assert escrow.get_order(ctx, order.id).state is S.DISPUTED  # frozen meanwhile
    resumed = escrow.withdraw_dispute(
        ctx, buyer_id=trade.buyer.id, order_id=order.id, idempotency_key=key()
    )
    assert resumed.state is S.DELIVERED
    assert resumed.timer_due_at == clock.now() + timedelta(seconds=ctx.escrow.inspection_seconds)


def test_the_buyer_is_named_by_id_or_phone_exactly_once(trade: Trade) -> None:
    ctx, clock = trade.ctx, trade.clock
    common = {"seller_id": trade.seller.user_id, "amount": kes("10.00"), "items": ITEMS,
              "ship_by": clock.now() + DAY}  # fmt: skip
    by_phone = escrow.create_order(ctx, buyer_phone=trade.buyer.phone, idempotency_key=key(),
                                   **common)  # type: ignore[arg-type]  # fmt: skip
    assert by_phone.buyer_id == trade.buyer.id
    for named in ({}, {"buyer_id": trade.buyer.id, "buyer_phone": trade.buyer.phone}):
        with pytest.raises(RecipientRequired):
            escrow.create_order(ctx, idempotency_key=key(), **common, **named)  # type: ignore[arg-type]
    with pytest.raises(UserNotFound):
        escrow.create_order(ctx, buyer_phone="+254700000009", idempotency_key=key(),
                            **common)  # type: ignore[arg-type]  # fmt: skip
    assert [o.id for o in escrow.list_orders(ctx, trade.buyer.id).orders] == [by_phone.id]


def test_a_dispute_is_resolved_only_by_a_known_outcome(trade: Trade) -> None:
    order = trade.shipped()
    escrow.dispute(trade.ctx, buyer_id=trade.buyer.id, order_id=order.id, reason="late",
                   message="Late.", idempotency_key=key())  # fmt: skip
    with pytest.raises(DisputeOutcomeUnknown):
        escrow.resolve(trade.ctx, order_id=order.id, outcome="halve", idempotency_key=key())
    assert escrow.get_order(trade.ctx, order.id).state is S.DISPUTED
