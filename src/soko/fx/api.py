"""FX over HTTP: rates (operators set and import them), quotes, conversions, and positions.

A transfer or a merchant payment in another currency is `POST /v1/transfers` or
`POST /v1/merchant-payments` with a `quote_id`: their routers hand those to this feature's use
cases (ADR 0017).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, OperatorCaller
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, Page, problem_responses
from soko.fx import service as fx
from soko.fx.domain import Quote
from soko.fx.errors import FxQuoteNotFound
from soko.fx.schemas import (
    ConversionCreate,
    PositionsPublic,
    QuoteCreate,
    QuotePublic,
    RatePublic,
    RateSet,
    RatesImportedPublic,
)
from soko.payments.schemas import PaymentPublic

router = APIRouter(prefix="/v1/fx", tags=["fx"])

_READ = problem_responses(401, 404, 422, 503)
_OPERATOR_READ = problem_responses(401, 403, 422, 503)
_OPERATOR_WRITE = problem_responses(400, 401, 403, 413, 422, 503)


@router.get("/rates", operation_id="listFxRates", response_model=Page[RatePublic], responses=_READ)
def list_rates(caller: Caller, ctx: ContextDep) -> Page[RatePublic]:
    """The newest rate of each pair and source; `stale` ones no longer price quotes."""
    rates = fx.list_rates(ctx)
    return Page(
        items=[RatePublic.of(rate, stale=fx.is_stale(ctx, rate)) for rate in rates],
        next_cursor=None,
    )


@router.put(
    "/rates/{base}/{quote}",
    operation_id="setFxRate",
    response_model=RatePublic,
    responses=_OPERATOR_WRITE,
)
def set_rate(
    base: Annotated[str, Path(examples=["USD"], pattern=r"^[A-Z]{3}$")],
    quote: Annotated[str, Path(examples=["KES"], pattern=r"^[A-Z]{3}$")],
    body: RateSet,
    caller: OperatorCaller,
    ctx: ContextDep,
) -> RatePublic:
    """Set one rate, true from now (operator keys): `rate` units of quote per one base. The
    rate it replaces stays in the history."""
    made = fx.set_rate(ctx, base=base, quote=quote, rate=body.rate, source=body.source)
    return RatePublic.of(made, stale=False)


#: An operator CSV, the simplest of the three formats.
_RATE_FILE_EXAMPLE = (
    "base,quote,rate,as_of,source\n"
    "USD,KES,129.25,2026-12-06T09:00:00+03:00,cbk\n"
    "USD,UGX,3705.5,2026-12-06T09:00:00+03:00,bou\n"
)


@router.post(
    "/rates/imports",
    operation_id="importFxRates",
    status_code=201,
    response_model=RatesImportedPublic,
    responses=_OPERATOR_WRITE,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A rate file: the ECB's eurofxref-daily.xml or eurofxref.csv, or the "
            "operator CSV `base,quote,rate,as_of[,source]`. Detected from the content.",
            "content": {
                media: {"schema": {"type": "string"}, "example": _RATE_FILE_EXAMPLE}
                for media in ("text/csv", "application/xml", "text/xml", "text/plain")
            },
        }
    },
)
async def import_rates(
    request: Request, caller: OperatorCaller, ctx: ContextDep
) -> RatesImportedPublic:
    """Import a rate file, all of it or none (operator keys); importing it again adds nothing."""
    data = await request.body()
    made = await run_in_threadpool(fx.import_rates, ctx, data)
    return RatesImportedPublic.of(made)


def visible_quote(
    quote_id: Annotated[str, Path(examples=["fxq_01JH…"])], caller: Caller, ctx: ContextDep
) -> Quote:
    quote = fx.get_quote(ctx, quote_id)
    # Another user's quote answers exactly as an unknown id.
    if not caller.may_see(quote.owner_id):
        raise FxQuoteNotFound(quote_id=quote_id)
    return quote


VisibleQuote = Annotated[Quote, Depends(visible_quote)]


@router.post(
    "/quotes",
    operation_id="createFxQuote",
    status_code=201,
    response_model=QuotePublic,
    responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
)
def create_quote(
    body: QuoteCreate, caller: Caller, ctx: ContextDep, response: Response
) -> QuotePublic:
    """Price a conversion for the caller: mid rate, spread and fee apart, exact amounts on both
    sides. Accept it once, before `expires_at`, with its `quote_id` in a transfer, a merchant
    payment or a conversion."""
    quote = fx.create_quote(
        ctx,
        owner_id=caller.acting_for(body.payer_id, "payer_id"),
        source=body.source_currency,
        target=body.target_currency,
        source_amount=None if body.source_amount is None else body.source_amount.to_money(),
        target_amount=None if body.target_amount is None else body.target_amount.to_money(),
    )
    response.headers["Location"] = f"/v1/fx/quotes/{quote.id}"
    return QuotePublic.of(quote, now=ctx.clock.now())


@router.get(
    "/quotes/{quote_id}", operation_id="getFxQuote", response_model=QuotePublic, responses=_READ
)
def get_quote(quote: VisibleQuote, ctx: ContextDep) -> QuotePublic:
    """A quote and whether it is still open, used (by which payment) or expired."""
    return QuotePublic.of(quote, now=ctx.clock.now())


@router.post(
    "/conversions",
    operation_id="createFxConversion",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def convert(
    body: ConversionCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """Convert between the caller's own wallets at the caller's quote; the target wallet opens
    if needed. A retry with the same Idempotency-Key returns the first conversion."""
    payment = fx.convert(
        ctx,
        owner_id=caller.acting_for(body.owner_id, "owner_id"),
        quote_id=body.quote_id,
        idempotency_key=key,
    )
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    return PaymentPublic.of(payment)


@router.get(
    "/positions",
    operation_id="getFxPositions",
    response_model=PositionsPublic,
    responses=_OPERATOR_READ,
)
def positions(
    caller: OperatorCaller,
    ctx: ContextDep,
    since: Annotated[
        datetime | None, Query(description="Start of the period, ISO 8601 with its offset.")
    ] = None,
    until: Annotated[
        datetime | None,
        Query(description="End of the period (excluded); now by default. 30 days by default."),
    ] = None,
) -> PositionsPublic:
    """Per currency (operator keys): the FX liquidity balance now, and over the period the
    volume converted, the spread and fees earned, and what was paid out."""
    return PositionsPublic.of(fx.positions(ctx, since=since, until=until))
