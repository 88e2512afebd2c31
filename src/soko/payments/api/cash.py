"""Cash at agents: cash in (cash for e-money), cash out (e-money for cash), float top-ups."""

from __future__ import annotations

from fastapi import APIRouter, Response

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, OperatorCaller
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS
from soko.payments import service as payments
from soko.payments.domain import Payment
from soko.payments.schemas import CashInCreate, CashOutCreate, FloatTopUpCreate, PaymentPublic

router = APIRouter(prefix="/v1", tags=["cash"])


@router.post(
    "/cash-ins",
    operation_id="createCashIn",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def cash_in(
    body: CashInCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """A customer hands an agent cash: the agent's float becomes the customer's e-money.

    Called with the agent's own session token, or an operator key naming agent_id.
    """
    payment = payments.cash_in(
        ctx,
        agent_id=caller.acting_for(body.agent_id, "agent_id"),
        customer_phone=body.customer_phone,
        amount=body.amount.to_money(),
        idempotency_key=key,
        default_region=body.default_region,
    )
    return _created(payment, response)


@router.post(
    "/cash-outs",
    operation_id="createCashOut",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def cash_out(
    body: CashOutCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """A customer takes cash from an agent, confirming with the PIN (a wrong one counts).

    Called with the customer's session token, or an operator key naming customer_id.
    """
    payment = payments.cash_out(
        ctx,
        customer_id=caller.acting_for(body.customer_id, "customer_id"),
        agent_id=body.agent_id,
        amount=body.amount.to_money(),
        pin=body.pin.get_secret_value(),
        idempotency_key=key,
    )
    return _created(payment, response)


@router.post(
    "/float-top-ups",
    operation_id="createFloatTopUp",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def top_up_float(
    body: FloatTopUpCreate,
    _caller: OperatorCaller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """The operator sells an agent e-money float against money received at its bank."""
    payment = payments.top_up_float(
        ctx, agent_id=body.agent_id, amount=body.amount.to_money(), idempotency_key=key
    )
    return _created(payment, response)


def _created(payment: Payment, response: Response) -> PaymentPublic:
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    return PaymentPublic.of(payment)
