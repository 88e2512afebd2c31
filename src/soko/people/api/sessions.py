"""Sessions: a person signs in with phone number and PIN for a short-lived bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from soko.channels.api.deps import ContextDep, bearer
from soko.channels.api.schemas import problem_responses
from soko.people import access
from soko.people.schemas import SessionCreate, SessionPublic

router = APIRouter(prefix="/v1", tags=["access"])


@router.post(
    "/sessions",
    operation_id="createSession",
    status_code=201,
    response_model=SessionPublic,
    responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
)
def sign_in(
    body: SessionCreate, ctx: ContextDep, request: Request, response: Response
) -> SessionPublic:
    """Phone number and PIN for a bearer token.

    A wrong PIN and a number without an account are refused alike (401 credentials_invalid,
    with `tries_left`). Wrong PINs count towards the PIN's lock (403 pin_locked, with
    `locked_until` and Retry-After), and towards a limit on the client's address (429).
    """
    session = access.sign_in(
        ctx,
        phone=body.phone,
        pin=body.pin.get_secret_value(),
        default_region=body.default_region,
        client=None if request.client is None else request.client.host,
    )
    response.headers["Cache-Control"] = "no-store"
    return SessionPublic.of(session)


@router.delete(
    "/sessions/current",
    operation_id="deleteCurrentSession",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 401, 422, 503),
)
def sign_out(
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """End the session whose token this is: it authenticates nothing from here on."""
    token = None if credentials is None else credentials.credentials
    access.authenticate_session(ctx, token)  # an unknown or ended token is 401
    assert token is not None
    access.sign_out(ctx, token)
    return Response(status_code=204)
