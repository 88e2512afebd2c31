"""API keys: the operator issues keys (the secret shown once) and revokes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from soko.channels.api.deps import ContextDep, OperatorCaller
from soko.channels.api.schemas import problem_responses
from soko.people import access
from soko.people.schemas import ApiKeyCreate, ApiKeyCreated

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
