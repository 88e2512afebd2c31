"""Payouts: a merchant moves money out to a bank account or mobile money; read one, list them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey
from soko.channels.api.problems import CALLER_NOT_ALLOWED, ApiError
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, Page, problem_responses
from soko.kernel import limits
from soko.payouts import service as payouts
from soko.payouts.domain import Payout
from soko.payouts.errors import PayoutNotFound
from soko.payouts.schemas import PayoutCreate, PayoutPublic

router = APIRouter(prefix="/v1", tags=["payouts"])

_READ = problem_responses(401, 404, 422, 503)


def visible_payout(
    payout_id: Annotated[str, Path(examples=["po_01JH…"])], caller: Caller, ctx: ContextDep
) -> Payout:
    payout = payouts.get_payout(ctx, payout_id)
    # Another merchant's payout answers exactly as an unknown id.
    if not caller.may_see(payout.merchant_id):
        raise PayoutNotFound(payout_id=payout_id)
    return payout


VisiblePayout = Annotated[Payout, Depends(visible_payout)]


@router.post(
    "/payouts",
    operation_id="createPayout",
    status_code=201,
    response_model=PayoutPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def create_payout(
    body: PayoutCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PayoutPublic:
    """Pay money out of the merchant's wallet to a bank account or a mobile-money number.

    The amount and the payout fee are held at once; the payout then goes to the rail, and ends
    `paid` or `failed` (everything back in the wallet). Called with the merchant's API key, or
    an operator key naming merchant_id.
    """
    if caller.role == "user":
        # Money leaves Soko here: a signed-in person's session is not enough, a key is.
        raise ApiError(CALLER_NOT_ALLOWED, "a payout needs a merchant or operator API key")
    payout = payouts.request_payout(
        ctx,
        merchant_id=caller.acting_for(body.merchant_id, "merchant_id"),
        amount=body.amount.to_money(),
        destination=body.destination.to_destination(),
        idempotency_key=key,
    )
    response.headers["Location"] = f"/v1/payouts/{payout.id}"
    return PayoutPublic.of(payout)


@router.get(
    "/payouts/{payout_id}", operation_id="getPayout", response_model=PayoutPublic, responses=_READ
)
def get_payout(payout: VisiblePayout) -> PayoutPublic:
    """A payout and where it stands."""
    return PayoutPublic.of(payout)


@router.get(
    "/payouts", operation_id="listPayouts", response_model=Page[PayoutPublic], responses=_READ
)
def list_payouts(
    caller: Caller,
    ctx: ContextDep,
    merchant_id: Annotated[
        str | None,
        Query(description="Operator keys: one merchant's payouts (all merchants' without it)."),
    ] = None,
    limit: Annotated[
        int,
        Query(
            description="Payouts per page.",
            # Documented here, checked by the use case (page_size_invalid).
            json_schema_extra={"minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
        ),
    ] = limits.PAGE_SIZE_DEFAULT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> Page[PayoutPublic]:
    """The caller's payouts, newest first."""
    if caller.is_operator:
        owner = merchant_id
    else:
        assert caller.user_id is not None, caller
        if merchant_id is not None and merchant_id != caller.user_id:
            raise caller.not_theirs(merchant_id)
        owner = caller.user_id
    page = payouts.list_payouts(ctx, owner, limit=limit, cursor=cursor)
    return Page(
        items=[PayoutPublic.of(payout) for payout in page.payouts], next_cursor=page.next_cursor
    )
