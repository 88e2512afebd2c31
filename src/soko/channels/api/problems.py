"""Domain errors as RFC 9457 problem+json: the API's one error table."""

from __future__ import annotations

from typing import Any, Final

from fastapi import Request
from fastapi.responses import JSONResponse

from soko.domain import errors
from soko.domain.errors import DomainError, ErrorKind

PROBLEM_JSON: Final = "application/problem+json"
TYPE_BASE: Final = "https://soko.dev/problems/"

STATUS_BY_KIND: Final[dict[ErrorKind, int]] = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "rejected": 422,
    "forbidden": 403,
    "unauthenticated": 401,
}
#: Errors whose status differs from their kind's.
STATUS_BY_ERROR: Final[dict[type[DomainError], int]] = {
    # IETF httpapi idempotency draft: a key reused with another request is 422, not 409.
    errors.IdempotencyKeyReused: 422,
    errors.IdempotencyKeyInvalid: 400,
    errors.TransactionConflict: 503,
}


def status_for(error: type[DomainError]) -> int:
    for cls in error.__mro__:
        if cls in STATUS_BY_ERROR and issubclass(cls, DomainError):
            return STATUS_BY_ERROR[cls]
    return STATUS_BY_KIND[error.kind]


def problem_body(error: DomainError, instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + error.code,
        "title": error.title,
        "status": status_for(type(error)),
        "detail": error.detail,
        "code": error.code,
    }
    if instance is not None:
        body["instance"] = instance
    # Only plain facts go out: ints and short strings (an index, the amount still allowed).
    for name, value in error.context.items():
        if isinstance(value, int | str) and name not in body:
            body[name] = value
    return body


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    body = problem_body(exc, instance=request.url.path)
    headers = {"Retry-After": "1"} if exc.transient else None
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)
