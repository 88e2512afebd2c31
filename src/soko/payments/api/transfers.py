"""Transfers between people (by phone number or wallet id), and reading payments.

A transfer with a `quote_id` goes to another currency: this router hands it to FX's use case
(ADR 0017); payments' own use cases know nothing of FX.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, VisiblePayment
from soko.channels.api.problems import amount_required
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, problem_responses
from soko.fx import service as fx
from soko.payments import service as payments
from soko.payments.schemas import PaymentPublic, TransferCreate

router = APIRouter(prefix="/v1", tags=["payments"])


@router.post(
    "/transfers",
    operation_id="createTransfer",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def send_money(
    body: TransferCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """Send money from the caller's own wallet (an operator key names the sender_id).

    Money sent to a number with no Soko user waits for it, and goes back if it never registers.
    A retry with the same Idempotency-Key and body returns the first payment. With a
    `quote_id`, the money goes to a wallet in the quote's target currency (a registered
    recipient only): the sender pays the quote's source amount.
    """
    sender_id = caller.acting_for(body.sender_id, "sender_id")
    amount = None if body.amount is None else body.amount.to_money()
    if body.quote_id is not None:
        payment = fx.send_converted(
            ctx,
            sender_id=sender_id,
            quote_id=body.quote_id,
            idempotency_key=key,
            to_phone=body.to_phone,
            to_wallet_id=body.to_wallet_id,
            default_region=body.default_region,
            amount=amount,
            message=body.message,
        )
    else:
        payment = payments.send_money(
            ctx,
            sender_id=sender_id,
            amount=amount_required(amount),
            idempotency_key=key,
            to_phone=body.to_phone,
            to_wallet_id=body.to_wallet_id,
            default_region=body.default_region,
            message=body.message,
        )
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    return PaymentPublic.of(payment)


@router.get(
    "/payments/{payment_id}",
    operation_id="getPayment",
    response_model=PaymentPublic,
    responses=problem_responses(401, 404, 422, 503),
)
def get_payment(payment: VisiblePayment) -> PaymentPublic:
    """A payment, to the owner of either side or the operator."""
    return PaymentPublic.of(payment)
