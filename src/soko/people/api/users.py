"""Users: register people and businesses, read them, record KYC tiers, set and unlock PINs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from soko.channels.api.deps import ContextDep, OperatorCaller, VisibleUserId
from soko.channels.api.schemas import problem_responses
from soko.context import Context
from soko.people import service as users
from soko.people.domain import User, UserKind
from soko.people.schemas import KycUpdate, PinSet, UserCreate, UserPublic
from soko.people.service import MerchantDetails

router = APIRouter(prefix="/v1", tags=["users"])

UserId = Annotated[str, Path(examples=["usr_01JH…"])]
_OPERATOR_WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)


@router.post(
    "/users",
    status_code=201,
    response_model=UserPublic,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 503),
)
def register_user(body: UserCreate, ctx: ContextDep, _caller: OperatorCaller) -> UserPublic:
    """Register a consumer, merchant (with its till number) or agent by phone number."""
    merchant = (
        None
        if body.merchant is None
        else MerchantDetails(
            trading_name=body.merchant.trading_name,
            category_code=body.merchant.category_code,
            settlement_currency=body.merchant.settlement_currency,
        )
    )
    user = users.register(
        ctx,
        kind=body.kind,
        phone=body.phone,
        name=body.name,
        country=body.country,
        default_region=body.default_region,
        pin=None if body.pin is None else body.pin.get_secret_value(),
        merchant=merchant,
    )
    return _public(ctx, user)


@router.get(
    "/users/{user_id}",
    response_model=UserPublic,
    responses=problem_responses(401, 404, 422, 503),
)
def get_user(user_id: VisibleUserId, ctx: ContextDep) -> UserPublic:
    """A user: any with an operator key, only itself with a merchant key or session token."""
    return _public(ctx, users.get_user(ctx, user_id))


@router.put("/users/{user_id}/kyc", response_model=UserPublic, responses=_OPERATOR_WRITE)
def set_kyc_tier(
    user_id: UserId, body: KycUpdate, ctx: ContextDep, _caller: OperatorCaller
) -> UserPublic:
    """Record what the operator verified: tier 1 and above need the national id number."""
    return _public(ctx, users.set_kyc_tier(ctx, user_id, body.tier, body.national_id))


@router.post("/users/{user_id}/pin", response_model=UserPublic, responses=_OPERATOR_WRITE)
def set_pin(user_id: UserId, body: PinSet, ctx: ContextDep, _caller: OperatorCaller) -> UserPublic:
    """Set or reset the PIN; clears wrong tries and a lock, and ends the user's sessions."""
    return _public(ctx, users.set_pin(ctx, user_id, body.pin.get_secret_value()))


@router.post("/users/{user_id}/pin/unlock", response_model=UserPublic, responses=_OPERATOR_WRITE)
def unlock_pin(user_id: UserId, ctx: ContextDep, _caller: OperatorCaller) -> UserPublic:
    """Lift a PIN lock before it times out, after checking who is asking; the PIN stays the
    same, and the next lock is again the shortest."""
    return _public(ctx, users.unlock_pin(ctx, user_id))


def _public(ctx: Context, user: User) -> UserPublic:
    # The use cases return the person; a merchant's till and trading name are a second read.
    merchant = users.get_merchant(ctx, user.id) if user.kind is UserKind.MERCHANT else None
    return UserPublic.of(user, merchant, now=ctx.clock.now())
