"""API keys: the operator issues keys (the secret shown once), lists and revokes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from soko.channels.api.deps import ContextDep, OperatorCaller
from soko.channels.api.schemas import Page, problem_responses
from soko.kernel import limits
from soko.people import access
from soko.people import service as people
from soko.people.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyListed

router = APIRouter(prefix="/v1", tags=["access"])


@router.post(
    "/keys",
    operation_id="createApiKey",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problem_responses(400, 401, 403, 404, 413, 422, 503),
)
def create_key(
    body: ApiKeyCreate, ctx: ContextDep, _caller: OperatorCaller, response: Response
) -> ApiKeyCreated:
    """Issue an operator key, or a merchant key that sees only that merchant's data.

    The secret is in this response only; Soko keeps its hash.
    """
    new = access.create_api_key(ctx, role=body.role, name=body.name, merchant_id=body.merchant_id)
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated.of_new(new)


@router.get(
    "/keys",
    operation_id="listApiKeys",
    response_model=Page[ApiKeyListed],
    responses=problem_responses(401, 403, 422, 503),
)
def list_keys(
    ctx: ContextDep,
    _caller: OperatorCaller,
    limit: Annotated[
        int,
        Query(
            description="Items per page.",
            json_schema_extra={"minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
        ),
    ] = limits.PAGE_SIZE_DEFAULT,
    after: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> Page[ApiKeyListed]:
    """Every key, revoked ones too, in the order they were made: never a secret."""
    page = people.list_api_keys(ctx, limit=limit, after=after)
    return Page(
        items=[ApiKeyListed.of_listed(key) for key in page.keys], next_cursor=page.next_cursor
    )


@router.delete(
    "/keys/{key_id}",
    operation_id="revokeApiKey",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422, 503),
)
def revoke_key(
    key_id: Annotated[str, Path(examples=["key_01JH…"])],
    ctx: ContextDep,
    _caller: OperatorCaller,
) -> Response:
    """Revoke a key: it stops working at once."""
    access.revoke_api_key(ctx, key_id)
    return Response(status_code=204)
