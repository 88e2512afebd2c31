"""Users: register people and businesses, read them, record KYC tiers, set and unlock PINs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from soko.channels.api.deps import ContextDep, OperatorCaller, VisibleUserId
from soko.channels.api.schemas import Page, problem_responses
from soko.context import Context
from soko.kernel import limits
from soko.people import service as users
from soko.people.domain import User, UserKind
from soko.people.schemas import KycUpdate, PinSet, UserCreate, UserPublic
from soko.people.service import MerchantDetails

router = APIRouter(prefix="/v1", tags=["users"])

UserId = Annotated[str, Path(examples=["usr_01JH…"])]
_OPERATOR_WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)


@router.post(
    "/users",
    operation_id="createUser",
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
            city=body.merchant.city,
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
    "/users",
    operation_id="listUsers",
    response_model=Page[UserPublic],
    responses=problem_responses(401, 403, 422, 503),
)
def list_users(  # noqa: PLR0917 - FastAPI passes query parameters by name
    ctx: ContextDep,
    _caller: OperatorCaller,
    kind: Annotated[UserKind | None, Query(description="Only people of this kind.")] = None,
    phone: Annotated[
        str | None,
        Query(
            description="Only the one with this number (E.164, or local with default_region).",
            examples=["+254712345678"],
        ),
    ] = None,
    default_region: Annotated[
        str | None, Query(description="The country of a local phone number (ISO 3166).")
    ] = None,
    limit: Annotated[
        int,
        Query(
            description="Items per page.",
            # Documented here, checked by the use case (page_size_invalid).
            json_schema_extra={"minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
        ),
    ] = limits.PAGE_SIZE_DEFAULT,
    after: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> Page[UserPublic]:
    """People in the order they registered, or the one with a phone number (operator key)."""
    page = users.list_users(ctx, kind=kind, phone=phone, default_region=default_region,
                            limit=limit, after=after)  # fmt: skip
    return Page(
        items=[UserPublic.of(user, merchant, now=ctx.clock.now()) for user, merchant in page.users],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/users/{user_id}",
    operation_id="getUser",
    response_model=UserPublic,
    responses=problem_responses(401, 404, 422, 503),
)
def get_user(user_id: VisibleUserId, ctx: ContextDep) -> UserPublic:
    """A user: any with an operator key, only itself with a merchant key or session token."""
    return _public(ctx, users.get_user(ctx, user_id))


@router.put(
    "/users/{user_id}/kyc",
    operation_id="setKycTier",
    response_model=UserPublic,
    responses=_OPERATOR_WRITE,
)
def set_kyc_tier(
    user_id: UserId, body: KycUpdate, ctx: ContextDep, _caller: OperatorCaller
) -> UserPublic:
    """Record what the operator verified: tier 1 and above need the national id number."""
    return _public(ctx, users.set_kyc_tier(ctx, user_id, body.tier, body.national_id))


@router.post(
    "/users/{user_id}/pin",
    operation_id="setPin",
    response_model=UserPublic,
    responses=_OPERATOR_WRITE,
)
def set_pin(user_id: UserId, body: PinSet, ctx: ContextDep, _caller: OperatorCaller) -> UserPublic:
    """Set or reset the PIN; clears wrong tries and a lock, and ends the user's sessions."""
    return _public(ctx, users.set_pin(ctx, user_id, body.pin.get_secret_value()))


@router.post(
    "/users/{user_id}/pin/unlock",
    operation_id="unlockPin",
    response_model=UserPublic,
    responses=_OPERATOR_WRITE,
)
def unlock_pin(user_id: UserId, ctx: ContextDep, _caller: OperatorCaller) -> UserPublic:
    """Lift a PIN lock before it times out, after checking who is asking; the PIN stays the
    same, and the next lock is again the shortest."""
    return _public(ctx, users.unlock_pin(ctx, user_id))


def _public(ctx: Context, user: User) -> UserPublic:
    # The use cases return the person; a merchant's till and trading name are a second read.
    merchant = users.get_merchant(ctx, user.id) if user.kind is UserKind.MERCHANT else None
    return UserPublic.of(user, merchant, now=ctx.clock.now())
