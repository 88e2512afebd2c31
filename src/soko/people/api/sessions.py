"""Sessions: a person signs in with phone number and PIN for a short-lived bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Response

from soko.channels.api.deps import ContextDep
from soko.channels.api.schemas import problem_responses
from soko.people import access
from soko.people.schemas import SessionCreate, SessionPublic

router = APIRouter(prefix="/v1", tags=["access"])


@router.post(
    "/sessions",
    operation_id="createSession",
    status_code=201,
    response_model=SessionPublic,
    responses=problem_responses(400, 403, 404, 413, 422, 503),
)
def sign_in(body: SessionCreate, ctx: ContextDep, response: Response) -> SessionPublic:
    """Phone number and PIN for a bearer token; wrong PINs count towards the lock."""
    session = access.sign_in(
        ctx, phone=body.phone, pin=body.pin.get_secret_value(), default_region=body.default_region
    )
    response.headers["Cache-Control"] = "no-store"
    return SessionPublic.of(session)
