"""Payment requests (invoices, payment links): made by a merchant, paid once by a customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, RuntimeDep
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, Page, problem_responses
from soko.fx import service as fx
from soko.kernel import limits
from soko.payments import requests as payment_requests
from soko.payments.domain import PaymentRequest
from soko.payments.errors import PaymentRequestNotFound
from soko.payments.qr import service as qr
from soko.payments.qr.api import QR_IMAGE_RESPONSES, QrFormat, QrPayloadPublic, qr_response
from soko.payments.schemas import (
    PaymentPublic,
    PaymentRequestCreate,
    PaymentRequestPay,
    PaymentRequestPublic,
)

router = APIRouter(prefix="/v1", tags=["payment requests"])


def visible_request(
    request_id: Annotated[str, Path(examples=["prq_01JH…"])], caller: Caller, ctx: ContextDep
) -> PaymentRequest:
    """The request, to its merchant or the operator; to anyone else it does not exist."""
    found = payment_requests.get_request(ctx, request_id)
    if not caller.may_see(found.merchant_id):
        raise PaymentRequestNotFound(payment_request_id=request_id)
    return found


VisibleRequest = Annotated[PaymentRequest, Depends(visible_request)]


def _public(made: PaymentRequest, runtime: RuntimeDep) -> PaymentRequestPublic:
    now = runtime.context.clock.now()
    return PaymentRequestPublic.of(made, now=now, public_url=runtime.settings.base_url)


@router.post(
    "/payment-requests",
    operation_id="createPaymentRequest",
    status_code=201,
    response_model=PaymentRequestPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def create_request(
    body: PaymentRequestCreate,
    caller: Caller,
    key: IdempotencyKey,
    runtime: RuntimeDep,
    response: Response,
) -> PaymentRequestPublic:
    """Ask a customer for an amount: the answer carries the public pay page's address, and
    GET /v1/merchants/{id}/qr with the amount and reference draws its dynamic QR code.

    Called with the merchant's API key, or an operator key naming merchant_id.
    """
    made = payment_requests.create_request(
        runtime.context,
        merchant_id=caller.acting_for(body.merchant_id, "merchant_id"),
        amount=body.amount.to_money(),
        reference=body.reference,
        description=body.description,
        expires_in_seconds=body.expires_in_seconds,
        idempotency_key=key,
    )
    response.headers["Location"] = f"/v1/payment-requests/{made.id}"
    return _public(made, runtime)


@router.get(
    "/payment-requests",
    operation_id="listPaymentRequests",
    response_model=Page[PaymentRequestPublic],
    responses=problem_responses(401, 403, 404, 422, 503),
)
def list_requests(
    caller: Caller,
    runtime: RuntimeDep,
    merchant_id: Annotated[
        str | None, Query(description="Operator keys only: whose requests.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)] = limits.PAGE_SIZE_DEFAULT,
    cursor: str | None = None,
) -> Page[PaymentRequestPublic]:
    """The merchant's payment requests, newest first."""
    page = payment_requests.list_requests(
        runtime.context,
        caller.acting_for(merchant_id, "merchant_id"),
        limit=limit,
        cursor=cursor,
    )
    return Page(
        items=[_public(made, runtime) for made in page.requests], next_cursor=page.next_cursor
    )


@router.get(
    "/payment-requests/{request_id}",
    operation_id="getPaymentRequest",
    response_model=PaymentRequestPublic,
    responses=problem_responses(401, 404, 422, 503),
)
def get_request(made: VisibleRequest, runtime: RuntimeDep) -> PaymentRequestPublic:
    """A payment request and its status (open, paid, cancelled or expired)."""
    return _public(made, runtime)


@router.get(
    "/payment-requests/{request_id}/qr",
    operation_id="getPaymentRequestQr",
    response_model=QrPayloadPublic,
    responses={**QR_IMAGE_RESPONSES, **problem_responses(401, 404, 422, 503)},
)
def request_qr(
    made: VisibleRequest,
    ctx: ContextDep,
    format: Annotated[QrFormat, Query(description="payload (JSON), svg or png.")] = "payload",
) -> QrPayloadPublic | Response:
    """The request's dynamic EMVCo QR code: its amount and reference, and its id, so scanning
    it pays this request and no other."""
    return qr_response(qr.request_code(ctx, made), format)


@router.post(
    "/payment-requests/{request_id}/cancel",
    operation_id="cancelPaymentRequest",
    response_model=PaymentRequestPublic,
    responses=problem_responses(400, 401, 404, 409, 413, 422, 503),
)
def cancel_request(made: VisibleRequest, runtime: RuntimeDep) -> PaymentRequestPublic:
    """Withdraw an open request. A paid request stays paid: refund its payment instead."""
    cancelled = payment_requests.cancel_request(
        runtime.context, merchant_id=made.merchant_id, request_id=made.id
    )
    return _public(cancelled, runtime)


@router.post(
    "/payment-requests/{request_id}/pay",
    operation_id="payPaymentRequest",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def pay_request(
    request_id: Annotated[str, Path(examples=["prq_01JH…"])],
    body: PaymentRequestPay,
    *,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """Pay a request in full from the caller's own wallet. Anyone holding the request's id (the
    pay link) may pay it, once; an expired, cancelled or paid request is refused. With a
    `quote_id`, paid from a wallet in another currency: the merchant receives exactly the
    amount asked and the payer pays the quote's source amount.

    Called with the payer's session token, or an operator key naming payer_id.
    """
    payer_id = caller.acting_for(body.payer_id, "payer_id")
    amount = None if body.amount is None else body.amount.to_money()
    if body.quote_id is not None:
        # From a wallet in another currency: FX's use case (ADR 0018).
        payment = fx.pay_request_converted(
            ctx,
            payer_id=payer_id,
            request_id=request_id,
            quote_id=body.quote_id,
            amount=amount,
            idempotency_key=key,
        )
    else:
        payment = payment_requests.pay_request(
            ctx, payer_id=payer_id, request_id=request_id, amount=amount, idempotency_key=key
        )
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    return PaymentPublic.of(payment)
