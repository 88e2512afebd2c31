"""Refusals as RFC 9457 problem+json: the API's one error table, domain errors and its own.

A domain error keeps its code and title and gets its status from its kind. The HTTP layer has a
few refusals of its own that no business rule makes (no such route, a body that is not JSON,
a credential of the wrong role): those are `ApiProblem`s, listed here too, with codes that no
domain error uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from soko import features
from soko.kernel import limits
from soko.kernel.errors import (
    DomainError,
    ErrorKind,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    NotFound,
    TextInvalid,
    TransactionConflict,
    all_error_classes,
)
from soko.kernel.money import Money
from soko.people.errors import PinBusy, PinTriesExceeded

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
    IdempotencyKeyReused: 422,
    IdempotencyKeyInvalid: 400,
    TransactionConflict: 503,
    # Other tries of the PIN are being checked: the same request may pass in a moment.
    PinBusy: 503,
    # RFC 6585: the client sent too many requests (wrong PINs from its address) in a while.
    PinTriesExceeded: 429,
}


@dataclass(frozen=True, slots=True)
class ApiProblem:
    """A refusal by the HTTP layer itself, not by a business rule."""

    code: str
    title: str
    status: int


REQUEST_INVALID: Final = ApiProblem(
    "request_invalid", "The request does not match the API's schema; see errors.", 422
)
REQUEST_MALFORMED: Final = ApiProblem(
    "request_malformed", "The request body is not valid JSON in UTF-8.", 400
)
METHOD_NOT_ALLOWED: Final = ApiProblem(
    "method_not_allowed", "The resource does not support this method.", 405
)
REQUEST_TOO_LARGE: Final = ApiProblem(
    "request_too_large", "The request body is larger than the API accepts.", 413
)
ACTING_FOR_REQUIRED: Final = ApiProblem(
    "acting_for_required",
    "An operator key moves money for someone: name them (sender_id, agent_id or customer_id).",
    422,
)
CALLER_NOT_ALLOWED: Final = ApiProblem(
    "caller_not_allowed", "This credential may not perform this operation.", 403
)
INTERNAL_ERROR: Final = ApiProblem(
    "internal_error", "The server failed; the request may or may not have taken effect.", 500
)
#: Every refusal of the HTTP layer. An unknown route is the domain's own `not_found`.
API_PROBLEMS: Final = (
    REQUEST_INVALID,
    ACTING_FOR_REQUIRED,
    REQUEST_MALFORMED,
    METHOD_NOT_ALLOWED,
    REQUEST_TOO_LARGE,
    CALLER_NOT_ALLOWED,
    INTERNAL_ERROR,
)
#: Starlette's and FastAPI's own HTTP errors, by status. 400 is a body that could not be read
#: (not UTF-8); 404 an unknown route.
PROBLEM_BY_HTTP_STATUS: Final[dict[int, ApiProblem | type[DomainError]]] = {
    400: REQUEST_MALFORMED,
    404: NotFound,
    405: METHOD_NOT_ALLOWED,
    413: REQUEST_TOO_LARGE,
}
#: Validation error types that are domain codes: schemas.py raises these for amounts and
#: currencies, so a JSON number as an amount is `amount_not_a_string`, not a generic 422.
features.modules("errors")  # the walk below finds only the error classes already imported
DOMAIN_ERROR_BY_CODE: Final = {cls.code: cls for cls in all_error_classes()}


def problem_codes() -> list[str]:
    """Every `code` a problem+json body may carry: the business rules' and the HTTP layer's
    (the OpenAPI document enumerates them, so a client can switch on them exhaustively)."""
    return sorted(set(DOMAIN_ERROR_BY_CODE) | {problem.code for problem in API_PROBLEMS})


#: A required header that is missing is the domain's refusal of its value.
MISSING_HEADER_ERRORS: Final[dict[str, type[DomainError]]] = {
    "idempotency-key": IdempotencyKeyInvalid,
}


class ApiError(Exception):
    """Raised by dependencies and routers for an `ApiProblem`."""

    def __init__(self, problem: ApiProblem, detail: str | None = None, **members: Any) -> None:
        self.problem = problem
        self.detail = detail or problem.title
        self.members = members
        super().__init__(self.detail)


def amount_required(amount: Money | None) -> Money:
    """A body's `amount`, which only a quote_id makes optional: missing, it is the schema's
    refusal, in the schema's words."""
    if amount is None:
        raise ApiError(
            REQUEST_INVALID,
            "body.amount: required without quote_id",
            errors=[
                {
                    "location": "body",
                    "field": "amount",
                    "message": "required without quote_id",
                    "type": "missing",
                }
            ],
        )
    return amount


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


def api_problem_body(
    problem: ApiProblem, detail: str | None = None, instance: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + problem.code,
        "title": problem.title,
        "status": problem.status,
        "detail": detail or problem.title,
        "code": problem.code,
    }
    if instance is not None:
        body["instance"] = instance
    return body


def api_problem_response(problem: ApiProblem, instance: str) -> JSONResponse:
    """For middleware, which answers before any exception handler could."""
    return _reply(api_problem_body(problem, instance=instance))


def text_invalid_response(location: str, field: str, instance: str) -> JSONResponse:
    """For the text guard (app.py): a NUL or lone surrogate, 422 in a body and 400 elsewhere
    (a path, a query, a header: the request itself is malformed)."""
    where = ".".join(filter(None, [location, field]))
    body = problem_body(TextInvalid(f"{where}: holds a NUL character or a lone surrogate"),
                        instance)  # fmt: skip
    body["status"] = 422 if location == "body" else 400
    body["errors"] = [
        {
            "location": location,
            "field": field,
            "message": "a NUL character or a lone surrogate is not text",
            "type": TextInvalid.code,
        }
    ]
    return _reply(body)


def _reply(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    headers = dict(headers or {})
    if body["status"] == 401:
        # RFC 9110: a 401 names the scheme that would work.
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    body = problem_body(exc, instance=request.url.path)
    return _reply(body, _retry_after(exc))


def _retry_after(error: DomainError) -> dict[str, str] | None:
    """RFC 9110 Retry-After: the seconds a refusal names (a PIN lock, an address's limit), or
    one for a transient error."""
    seconds = error.context.get("retry_after")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        return {"Retry-After": str(seconds)}
    return {"Retry-After": "1"} if error.transient else None


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = api_problem_body(exc.problem, exc.detail, request.url.path)
    for name, value in exc.members.items():
        body.setdefault(name, value)
    return _reply(body)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = list(exc.errors())
    instance = request.url.path
    for error in found:
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "JSON decode error")
            detail = f"The body is not valid JSON: {reason} (at character {error['loc'][-1]})."
            return _reply(api_problem_body(REQUEST_MALFORMED, detail, instance))
        if tuple(error["loc"]) == ("body",) and isinstance(error.get("input"), bytes):
            # FastAPI hands over the raw bytes when the Content-Type is not JSON.
            detail = "Send the body as JSON, with Content-Type: application/json."
            return _reply(api_problem_body(REQUEST_MALFORMED, detail, instance))
    listed = [_field_error(error) for error in found[: limits.FIELD_ERRORS_SHOWN_MAX]]
    domain = next((d for d in map(_as_domain_error, found) if d is not None), None)
    if domain is not None:
        body = problem_body(domain, instance)
    else:
        first = listed[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        where = ".".join(filter(None, [first["location"], first["field"]]))
        body = api_problem_body(REQUEST_INVALID, f"{where}: {first['message']}{more}", instance)
    body["errors"] = listed
    return _reply(body)


def _as_domain_error(error: Any) -> DomainError | None:
    cls = DOMAIN_ERROR_BY_CODE.get(error["type"])
    if cls is not None:
        return cls(error["msg"])
    location = error["loc"]
    if error["type"] == "missing" and len(location) == 2 and location[0] == "header":
        missing = MISSING_HEADER_ERRORS.get(str(location[1]).lower())
        if missing is not None:
            return missing(f"send the {location[1]} header")
    return None


def _field_error(error: Any) -> dict[str, str]:
    """Where and what, never the input: it may be a PIN."""
    location = [str(part) for part in error["loc"]]
    return {
        "location": location[0] if location else "",
        "field": ".".join(location[1:]),
        "message": str(error["msg"]),
        "type": str(error["type"]),
    }


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    instance = request.url.path
    known = PROBLEM_BY_HTTP_STATUS.get(exc.status_code)
    headers = dict(exc.headers or {})
    if known is NotFound:
        body = problem_body(NotFound(f"no route {request.method} {instance}"), instance)
    elif isinstance(known, ApiProblem):
        body = api_problem_body(known, instance=instance)
        if exc.status_code == 405:
            headers = {**headers, "Allow": _allowed_methods(request)}
    else:
        # A status the table does not name (none today): keep it, named by its reason phrase.
        phrase = HTTPStatus(exc.status_code).phrase
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        body = api_problem_body(ApiProblem(code, phrase + ".", exc.status_code), instance=instance)
    return _reply(body, headers)


#: The methods a 405 may name in Allow.
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method the resource answers. Starlette names only those of the first route that
    matched the path, and GET and POST on one path are two routes: ask the router about each."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Nothing about the failure goes out: it may hold data of any caller. The log has it.
    return _reply(api_problem_body(INTERNAL_ERROR, instance=request.url.path))


def install(app: FastAPI) -> None:
    """Route every refusal, of any origin, through this table."""
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
