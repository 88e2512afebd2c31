"""M-Pesa over HTTP: deposits by STK push, operators' reversals and suspense, and the callback
routes Daraja POSTs to.

The callback routes (`/callbacks/<token>/...`, outside the public API document) believe a body only
when the path carries the secret token and the peer is in the configured networks. Whatever the
body holds, Daraja gets the answer it expects (a malformed, unknown or mismatched one is logged
and acknowledged, and moves nothing), so it does not retry a callback that can never be used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, OperatorCaller
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, problem_responses
from soko.context import Context
from soko.deposits import service as deposits
from soko.deposits.domain import CheckKind, Deposit
from soko.deposits.errors import DepositNotFound
from soko.deposits.ports import Mpesa
from soko.deposits.schemas import (
    DepositCreate,
    DepositPublic,
    MpesaAssignmentCreate,
    MpesaPaymentPublic,
    MpesaReversalCreate,
    MpesaReversalPublic,
)
from soko.kernel import limits
from soko.rails.mpesa import callbacks

log = logging.getLogger("soko.mpesa.callbacks")

router = APIRouter(prefix="/v1", tags=["mpesa"])
#: Daraja refuses C2B URLs with "mpesa" in them, so the callbacks live under /callbacks: set
#: SOKO_MPESA_CALLBACK_BASE_URL to https://<this server>/callbacks.
callback_router = APIRouter(prefix="/callbacks/{token}", include_in_schema=False)

_READ = problem_responses(401, 404, 422, 503)
_OPERATOR = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)


def visible_deposit(
    deposit_id: Annotated[str, Path(examples=["dep_01JH…"])], caller: Caller, ctx: ContextDep
) -> Deposit:
    deposit = deposits.get_deposit(ctx, deposit_id)
    # Another's deposit answers exactly as an unknown id.
    if not caller.may_see(deposit.user_id):
        raise DepositNotFound(deposit_id=deposit_id)
    return deposit


@router.post(
    "/deposits",
    operation_id="createDeposit",
    status_code=201,
    response_model=DepositPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def create_deposit(
    body: DepositCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> DepositPublic:
    """Bring money in from M-Pesa: the phone gets an STK prompt to pay, and the wallet is
    credited once M-Pesa confirms (poll GET /v1/deposits/{id}, or wait for the SMS).

    A person's session deposits into its own wallet; an operator key names user_id. A retry
    with the same Idempotency-Key returns the same deposit and never prompts twice.
    """
    deposit = deposits.request_deposit(
        ctx,
        user_id=caller.acting_for(body.user_id, "user_id"),
        amount=body.amount.to_money(),
        phone=body.phone,
        idempotency_key=key,
    )
    response.headers["Location"] = f"/v1/deposits/{deposit.id}"
    return DepositPublic.of(deposit)


@router.get(
    "/deposits/{deposit_id}",
    operation_id="getDeposit",
    response_model=DepositPublic,
    responses=_READ,
)
def get_deposit(deposit: Annotated[Deposit, Depends(visible_deposit)]) -> DepositPublic:
    """A deposit and where it stands."""
    return DepositPublic.of(deposit)


@router.post(
    "/mpesa/reversals",
    operation_id="createMpesaReversal",
    status_code=201,
    response_model=MpesaReversalPublic,
    responses=_OPERATOR,
)
def create_mpesa_reversal(
    body: MpesaReversalCreate, caller: OperatorCaller, ctx: ContextDep
) -> MpesaReversalPublic:
    """Operators: send an M-Pesa deposit or C2B payment back to its payer. The money is held
    at once and leaves the ledger only when M-Pesa confirms the reversal."""
    return MpesaReversalPublic.of(deposits.request_reversal(ctx, body.trans_id))


@router.post(
    "/mpesa/payments/{trans_id}/assignment",
    operation_id="assignMpesaPayment",
    response_model=MpesaPaymentPublic,
    responses=_OPERATOR,
)
def assign_mpesa_payment(
    trans_id: Annotated[str, Path(examples=["SAB1C2D3E4"], max_length=20)],
    body: MpesaAssignmentCreate,
    caller: OperatorCaller,
    ctx: ContextDep,
) -> MpesaPaymentPublic:
    """Operators: give a C2B payment held in suspense (its account reference named no one)
    to the user it was meant for."""
    return MpesaPaymentPublic.of(deposits.assign_c2b(ctx, trans_id, body.user_id))


# --- Daraja's callbacks --------------------------------------------------------------------------

_FORBIDDEN = {"ResultCode": 1, "ResultDesc": "Rejected"}
_Apply = Callable[[Context, Mpesa, object], str]
_Answer = Callable[[str], dict[str, object]]


def _believed(ctx: Context, token: str, request: Request) -> Mpesa | JSONResponse:
    """The M-Pesa settings if this callback may be believed, else the answer that refuses it."""
    settings = ctx.mpesa
    if settings is None or not callbacks.callback_token_matches(token, settings.callback_token):
        # As if there were no such route: a wrong token learns nothing.
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    peer = request.client.host if request.client is not None else ""
    if not callbacks.callback_source_allowed(peer, settings.callback_networks):
        log.warning("M-Pesa callback %s from %s, outside the allowed networks; refused",
                    request.url.path.rsplit("/", 2)[-2:], peer)  # fmt: skip
        return JSONResponse(_FORBIDDEN, status_code=403)
    return settings


async def _body(request: Request) -> object:
    raw = await request.body()
    if len(raw) > limits.REQUEST_BODY_BYTES_MAX:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def _handle(
    request: Request,
    token: str,
    what: str,
    apply: _Apply,
    answer: _Answer | None = None,
) -> JSONResponse:
    ctx: Context = request.app.state.runtime.context
    believed = _believed(ctx, token, request)
    if isinstance(believed, JSONResponse):
        return believed
    body = await _body(request)
    try:
        # Off the event loop: the use cases write the database and may call Daraja.
        outcome = await run_in_threadpool(apply, ctx, believed, body)
    except callbacks.CallbackMalformed as malformed:
        log.warning("M-Pesa %s callback malformed (%s); acknowledged, nothing moved",
                    what, malformed.reason)  # fmt: skip
        outcome = "malformed"
    else:
        log.info("M-Pesa %s callback: %s", what, outcome)
    return JSONResponse(answer(outcome) if answer else callbacks.acknowledgement())


def _stk(ctx: Context, settings: Mpesa, body: object) -> str:
    return deposits.record_stk_callback(ctx, callbacks.parse_stk_callback(body))


def _c2b_validation(ctx: Context, settings: Mpesa, body: object) -> str:
    rejection = deposits.validate_c2b(ctx, callbacks.parse_c2b_validation(body))
    return "accepted" if rejection is None else rejection.value


def _c2b_confirmation(ctx: Context, settings: Mpesa, body: object) -> str:
    return deposits.confirm_c2b(ctx, callbacks.parse_c2b_confirmation(body))


def _b2c_result(ctx: Context, settings: Mpesa, body: object) -> str:
    result = callbacks.parse_b2c_result(body)
    if settings.b2c is None or not settings.b2c.record_result(result):
        return "unknown"
    return "recorded"


def _b2c_timeout(ctx: Context, settings: Mpesa, body: object) -> str:
    timeout = callbacks.parse_queue_timeout(body)
    if settings.b2c is None or not settings.b2c.record_timeout(timeout):
        return "unknown"
    return "recorded"


def _status_result(ctx: Context, settings: Mpesa, body: object) -> str:
    result = callbacks.parse_transaction_status_result(body)
    if settings.b2c is None or not settings.b2c.record_status(result):
        return "unknown"
    return "recorded"


def _status_timeout(ctx: Context, settings: Mpesa, body: object) -> str:
    callbacks.parse_queue_timeout(body)
    return "ignored"  # the next status poll asks again


def _c2b_status_result(ctx: Context, settings: Mpesa, body: object) -> str:
    result = callbacks.parse_transaction_status_result(body)
    return deposits.record_status_result(ctx, CheckKind.C2B, result)


def _reversal_status_result(ctx: Context, settings: Mpesa, body: object) -> str:
    result = callbacks.parse_transaction_status_result(body)
    return deposits.record_status_result(ctx, CheckKind.REVERSAL, result)


def _reversal_result(ctx: Context, settings: Mpesa, body: object) -> str:
    return deposits.record_reversal_result(ctx, callbacks.parse_reversal_result(body))


def _reversal_timeout(ctx: Context, settings: Mpesa, body: object) -> str:
    return deposits.record_reversal_timeout(ctx, callbacks.parse_queue_timeout(body))


def _validation_answer(outcome: str) -> dict[str, object]:
    if outcome in ("accepted", "malformed"):
        # A body we cannot read is let through: the confirmation decides (suspense at worst),
        # and refusing would cost the customer a payment M-Pesa would have made.
        return callbacks.validation_accepted()
    return callbacks.validation_rejected(callbacks.C2BRejection(outcome))


_ROUTES: dict[str, tuple[_Apply, _Answer | None]] = {
    "stk": (_stk, None),
    "c2b/validation": (_c2b_validation, _validation_answer),
    "c2b/confirmation": (_c2b_confirmation, None),
    "b2c/result": (_b2c_result, None),
    "b2c/timeout": (_b2c_timeout, None),
    "status/result": (_status_result, None),
    "status/timeout": (_status_timeout, None),
    "reversal/result": (_reversal_result, None),
    "reversal/timeout": (_reversal_timeout, None),
    # Transaction status queries Soko sends for C2B payments and reversals (its worker asks
    # again after a timeout).
    "status/c2b/result": (_c2b_status_result, None),
    "status/c2b/timeout": (_status_timeout, None),
    "status/reversal/result": (_reversal_status_result, None),
    "status/reversal/timeout": (_status_timeout, None),
}


def _route(path: str) -> None:
    apply, answer = _ROUTES[path]

    async def callback(request: Request, token: str) -> JSONResponse:
        return await _handle(request, token, path, apply, answer)

    callback.__name__ = "mpesa_" + path.replace("/", "_")
    callback_router.add_api_route(f"/{path}", callback, methods=["POST"])


for _path in _ROUTES:
    _route(_path)
