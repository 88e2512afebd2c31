"""Paying merchants at their tills, and refunds of those payments.

A payment with a `quote_id` is paid from a wallet in another currency: this router hands it to
FX's use case (ADR 0017).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, VisiblePayment
from soko.channels.api.problems import amount_required
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, problem_responses
from soko.fx import service as fx
from soko.payments import service as payments
from soko.payments.schemas import MerchantPaymentCreate, PaymentPublic, RefundCreate, RefundPublic

router = APIRouter(prefix="/v1", tags=["merchant payments"])


@router.post(
    "/merchant-payments",
    operation_id="createMerchantPayment",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def pay_merchant(
    body: MerchantPaymentCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """Pay a merchant by till number or merchant id from the caller's own wallet.

    The merchant pays its discount rate (by category) out of the amount, as its own transfer.
    Called with the payer's session token, or an operator key naming payer_id. With a
    `quote_id`, the payer pays the quote's source amount from a wallet in another currency and
    the merchant receives its target amount in the merchant's own currency.
    """
    payer_id = caller.acting_for(body.payer_id, "payer_id")
    amount = None if body.amount is None else body.amount.to_money()
    if body.quote_id is not None:
        payment = fx.pay_merchant_converted(
            ctx,
            payer_id=payer_id,
            quote_id=body.quote_id,
            idempotency_key=key,
            till_number=body.till_number,
            merchant_id=body.merchant_id,
            amount=amount,
            message=body.message,
        )
    else:
        payment = payments.pay_merchant(
            ctx,
            payer_id=payer_id,
            amount=amount_required(amount),
            idempotency_key=key,
            till_number=body.till_number,
            merchant_id=body.merchant_id,
            message=body.message,
        )
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    return PaymentPublic.of(payment)


@router.post(
    "/payments/{payment_id}/refunds",
    operation_id="createRefund",
    status_code=201,
    response_model=RefundPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def refund(
    payment_id: str,
    body: RefundCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
) -> RefundPublic:
    """Give back all or part of a payment the merchant received; several partial refunds may
    follow each other, never more in total than was paid. The merchant gets back the same share
    of its discount fee.

    Called with the merchant's API key or session, or an operator key naming merchant_id.
    """
    made = payments.refund(
        ctx,
        merchant_id=caller.acting_for(body.merchant_id, "merchant_id"),
        payment_id=payment_id,
        amount=body.amount.to_money(),
        idempotency_key=key,
        reason=body.reason,
    )
    return RefundPublic.of(made)


@router.get(
    "/payments/{payment_id}/refunds",
    operation_id="listRefunds",
    response_model=list[RefundPublic],
    responses=problem_responses(401, 404, 422, 503),
)
def list_refunds(payment: VisiblePayment, ctx: ContextDep) -> list[RefundPublic]:
    """A payment's refunds, oldest first, to either side of the payment or the operator."""
    return [RefundPublic.of(made) for made in payments.list_refunds(ctx, payment.id)]
