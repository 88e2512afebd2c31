"""Escrow orders over HTTP: made by the seller, funded by the buyer, shipped, released,
refunded, disputed and resolved. An order is visible to its buyer, its seller and the operator;
to anyone else it does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from soko.channels.api.deps import (
    Caller,
    ContextDep,
    IdempotencyKey,
    OperatorCaller,
    Principal,
)
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, Page, problem_responses
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowOrder, OrderItem
from soko.escrow.errors import DeliveryCodeBuyerOnly, EscrowNotFound
from soko.escrow.schemas import (
    DeliveryCodeEnter,
    DeliveryCodePublic,
    DisputeAnswer,
    DisputeCreate,
    DisputePublic,
    DisputeResolve,
    EscrowActor,
    EscrowFund,
    EscrowOrderCreate,
    EscrowOrderPublic,
    EscrowShip,
)
from soko.kernel import limits

router = APIRouter(prefix="/v1", tags=["escrow"])

_READ_PROBLEMS = problem_responses(401, 404, 422, 503)
_MOVE_PROBLEMS = MONEY_MOVING_PROBLEMS


def visible_order(
    order_id: Annotated[str, Path(examples=["esc_01JH…"])], caller: Caller, ctx: ContextDep
) -> EscrowOrder:
    order = escrow.get_order(ctx, order_id)
    if not (caller.may_see(order.buyer_id) or caller.may_see(order.seller_id)):
        raise EscrowNotFound(order_id=order_id)
    return order


VisibleOrder = Annotated[EscrowOrder, Depends(visible_order)]


@router.post(
    "/escrow-orders",
    operation_id="createEscrowOrder",
    status_code=201,
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def create_order(
    body: EscrowOrderCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> EscrowOrderPublic:
    """The seller puts an order to a buyer (by id or phone number). Nothing is held until the
    buyer funds it. Called with the seller's key or session, or an operator key naming
    seller_id."""
    order = escrow.create_order(
        ctx,
        seller_id=caller.acting_for(body.seller_id, "seller_id"),
        buyer_id=body.buyer_id,
        buyer_phone=body.buyer_phone,
        default_region=body.default_region,
        amount=body.amount.to_money(),
        items=[OrderItem(item.name, item.quantity) for item in body.items],
        ship_by=body.ship_by,
        description=body.description,
        idempotency_key=key,
    )
    response.headers["Location"] = f"/v1/escrow-orders/{order.id}"
    return EscrowOrderPublic.of(order)


@router.get(
    "/escrow-orders",
    operation_id="listEscrowOrders",
    response_model=Page[EscrowOrderPublic],
    responses=_READ_PROBLEMS,
)
def list_orders(
    caller: Caller,
    ctx: ContextDep,
    user_id: Annotated[str | None, Query(description="Operator keys only: whose orders.")] = None,
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)] = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> Page[EscrowOrderPublic]:
    """The orders the caller buys or sells, newest first."""
    page = escrow.list_orders(
        ctx, caller.acting_for(user_id, "user_id"), limit=limit, cursor=cursor
    )
    return Page(
        items=[EscrowOrderPublic.of(order) for order in page.orders], next_cursor=page.next_cursor
    )


@router.get(
    "/escrow-orders/{order_id}",
    operation_id="getEscrowOrder",
    response_model=EscrowOrderPublic,
    responses=_READ_PROBLEMS,
)
def get_order(order: VisibleOrder) -> EscrowOrderPublic:
    """An order: its state, its money, its clocks."""
    return EscrowOrderPublic.of(order)


@router.get(
    "/escrow-orders/{order_id}/disputes",
    operation_id="listEscrowDisputes",
    response_model=list[DisputePublic],
    responses=_READ_PROBLEMS,
)
def list_disputes(order: VisibleOrder, ctx: ContextDep) -> list[DisputePublic]:
    """The order's disputes, oldest first (a withdrawn one stays on record)."""
    return [DisputePublic.of(found) for found in escrow.list_disputes(ctx, order.id)]


def _actor(caller: Principal, body: EscrowActor | DeliveryCodeEnter) -> str:
    return caller.acting_for(body.acting_user_id, "acting_user_id")


@router.post(
    "/escrow-orders/{order_id}/fund",
    operation_id="fundEscrowOrder",
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def fund(
    order_id: str, body: EscrowFund, caller: Caller, key: IdempotencyKey, ctx: ContextDep
) -> EscrowOrderPublic:
    """The buyer pays into escrow: held, visible to both, spendable by neither. The buyer gets
    a one-time delivery code by SMS to give at handover. With a `quote_id`, the buyer pays the
    quote's source amount from a wallet in another currency and the order's amount is held in
    its own currency: the rate is locked now (docs/escrow.md, "Funded in another currency")."""
    return _public(escrow.fund(ctx, buyer_id=_actor(caller, body), order_id=order_id,
                               idempotency_key=key, quote_id=body.quote_id))  # fmt: skip


@router.post(
    "/escrow-orders/{order_id}/ship",
    operation_id="shipEscrowOrder",
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def ship(
    order_id: str, body: EscrowShip, caller: Caller, key: IdempotencyKey, ctx: ContextDep
) -> EscrowOrderPublic:
    """The seller hands the goods to a registered carrier, with its tracking number."""
    return _public(
        escrow.ship(
            ctx,
            seller_id=_actor(caller, body),
            order_id=order_id,
            carrier_code=body.carrier_code,
            tracking_number=body.tracking_number,
            idempotency_key=key,
        )
    )


@router.post(
    "/escrow-orders/{order_id}/confirm",
    operation_id="confirmEscrowReceipt",
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def confirm_receipt(
    order_id: str, body: EscrowActor, caller: Caller, key: IdempotencyKey, ctx: ContextDep
) -> EscrowOrderPublic:
    """The buyer has the goods: the money is released to the seller at once."""
    return _public(escrow.confirm_receipt(ctx, buyer_id=_actor(caller, body),
                                          order_id=order_id, idempotency_key=key))  # fmt: skip


@router.get(
    "/escrow-orders/{order_id}/delivery-code",
    operation_id="getDeliveryCode",
    response_model=DeliveryCodePublic,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
def show_delivery_code(order_id: str, caller: Caller, ctx: ContextDep) -> DeliveryCodePublic:
    """The buyer's one-time delivery code, shown again while it can still release the order.
    Only the buyer's own session or key sees it: not the seller, not an operator."""
    if caller.user_id is None:
        raise DeliveryCodeBuyerOnly()
    shown = escrow.delivery_code(ctx, buyer_id=caller.user_id, order_id=order_id)
    return DeliveryCodePublic(code=shown.code, tries_left=shown.tries_left)


@router.post(
    "/escrow-orders/{order_id}/delivery-code",
    operation_id="enterDeliveryCode",
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def enter_delivery_code(
    order_id: str, body: DeliveryCodeEnter, caller: Caller, key: IdempotencyKey, ctx: ContextDep
) -> EscrowOrderPublic:
    """At handover the seller (or an operator's courier desk) enters the code the buyer gave:
    delivery is confirmed and the money released at once. Wrong codes count; a few lock it."""
    seller_id = body.acting_user_id if caller.is_operator else _actor(caller, body)
    return _public(
        escrow.enter_delivery_code(
            ctx, order_id=order_id, code=body.code, seller_id=seller_id, idempotency_key=key
        )
    )


@router.post(
    "/escrow-orders/{order_id}/cancel",
    operation_id="cancelEscrowOrder",
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def cancel(
    order_id: str, body: EscrowActor, caller: Caller, key: IdempotencyKey, ctx: ContextDep
) -> EscrowOrderPublic:
    """The buyer withdraws an unpaid order, or the seller any order not yet shipped (a funded
    one is refunded in full)."""
    return _public(escrow.cancel(ctx, user_id=_actor(caller, body), order_id=order_id,
                                 idempotency_key=key))  # fmt: skip


@router.post(
    "/escrow-orders/{order_id}/disputes",
    operation_id="openEscrowDispute",
    status_code=201,
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def dispute(
    order_id: str, body: DisputeCreate, caller: Caller, key: IdempotencyKey, ctx: ContextDep
) -> EscrowOrderPublic:
    """The buyer disputes before release: the money is frozen and the timers pause until the
    dispute is withdrawn or an operator resolves it."""
    return _public(
        escrow.dispute(
            ctx,
            buyer_id=_actor(caller, body),
            order_id=order_id,
            reason=body.reason,
            message=body.message,
            evidence=body.evidence,
            idempotency_key=key,
        )
    )


@router.post(
    "/escrow-orders/{order_id}/disputes/answer",
    operation_id="answerEscrowDispute",
    response_model=DisputePublic,
    responses=problem_responses(400, 401, 404, 409, 413, 422, 503),
)
def answer_dispute(
    order_id: str, body: DisputeAnswer, caller: Caller, ctx: ContextDep
) -> DisputePublic:
    """The seller's side, for the operator who resolves the dispute."""
    answered = escrow.answer_dispute(
        ctx, seller_id=_actor(caller, body), order_id=order_id, answer=body.answer
    )
    return DisputePublic.of(answered)


@router.post(
    "/escrow-orders/{order_id}/disputes/withdraw",
    operation_id="withdrawEscrowDispute",
    response_model=EscrowOrderPublic,
    responses=_MOVE_PROBLEMS,
)
def withdraw_dispute(
    order_id: str, body: EscrowActor, caller: Caller, key: IdempotencyKey, ctx: ContextDep
) -> EscrowOrderPublic:
    """The buyer takes the dispute back; the order's clocks resume, lengthened by the pause."""
    return _public(escrow.withdraw_dispute(ctx, buyer_id=_actor(caller, body),
                                           order_id=order_id, idempotency_key=key))  # fmt: skip


@router.post(
    "/escrow-orders/{order_id}/disputes/resolve",
    operation_id="resolveEscrowDispute",
    response_model=EscrowOrderPublic,
    responses={**_MOVE_PROBLEMS, **problem_responses(403)},
)
def resolve(
    order_id: str, body: DisputeResolve, _caller: OperatorCaller, key: IdempotencyKey,
    ctx: ContextDep,
) -> EscrowOrderPublic:  # fmt: skip
    """An operator settles a dispute: release to the seller, refund the buyer, or split the
    held amount (the parts must add up to it). The seller's fee is on its part only."""
    return _public(
        escrow.resolve(
            ctx,
            order_id=order_id,
            outcome=body.outcome,
            to_buyer=None if body.to_buyer is None else body.to_buyer.to_money(),
            to_seller=None if body.to_seller is None else body.to_seller.to_money(),
            note=body.note,
            idempotency_key=key,
        )
    )


def _public(order: EscrowOrder) -> EscrowOrderPublic:
    return EscrowOrderPublic.of(order)
