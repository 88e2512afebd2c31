"""The HTTP API application (FastAPI): health, the /v1 routers and the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, quote

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import soko
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.channels.api import docs, problems
from soko.channels.api.schemas import (
    document_schemas,
    problem_responses,
    refer_to_offered_currencies,
)
from soko.channels.ussd import gateway as ussd_gateway
from soko.channels.web import error_pages as web_errors
from soko.channels.web import forms as web_forms
from soko.channels.web import site as web_site
from soko.credit import api as credit
from soko.db import schema
from soko.deposits import api as deposits
from soko.escrow import api as escrow
from soko.escrow.tracking import api as shipments
from soko.fx import api as fx
from soko.kernel import limits
from soko.kernel.text import is_text, not_text_in
from soko.notify import api as webhooks
from soko.payments.api import cash, merchant_payments, payment_requests, transfers
from soko.payments.qr import api as qr
from soko.payouts import api as payouts
from soko.people.api import keys, sessions, users, wallets


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    database: Literal["sqlite", "postgresql"]
    schema_current: bool


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title=f"{runtime.settings.operator_name} API",
        version=soko.__version__,
        summary="Payments, wallets and escrow for small businesses: the Soko JSON API.",
        # Served by docs.install from the package's own files, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    # The last added runs first: the body limit counts what the text guard reads.
    app.add_middleware(TextGuard)
    app.add_middleware(BodyLimit, max_bytes=limits.REQUEST_BODY_BYTES_MAX)
    problems.install(app)
    docs.install(app)
    web_forms.install(app)
    web_errors.install(app)  # after problems: HTML pages on the web's own paths
    for module in (users, wallets, transfers, merchant_payments, payment_requests, cash, keys,
                   sessions, qr, webhooks, payouts, escrow, shipments, credit, fx,
                   deposits):  # fmt: skip
        app.include_router(module.router)
    # Daraja's callbacks: believed by path token and source network, outside the API document.
    app.include_router(deposits.callback_router)
    # The web (HTML, outside the JSON API's document): the public pay page of payment requests
    # and the signed-in app for people (/app).
    for router in web_site.ROUTERS:
        app.include_router(router)
    # USSD (off unless SOKO_USSD_TOKEN is set).
    app.include_router(ussd_gateway.router)
    _complete_document(app, offered_currencies=sorted(runtime.context.kyc_limits))

    @app.get(
        "/health",
        operation_id="getHealth",
        tags=["operations"],
        response_model=HealthPublic,
        responses={503: {"model": HealthPublic, "description": "The database is unreachable."}},
    )
    def health() -> HealthPublic | JSONResponse:
        """Whether this process can reach its database and the schema is up to date."""
        engine = runtime.engine
        database: Literal["sqlite", "postgresql"] = (
            "postgresql" if engine.dialect.name == "postgresql" else "sqlite"
        )
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            current = schema.is_current(engine)
        except sa.exc.DBAPIError:
            body = HealthPublic(
                status="degraded", version=soko.__version__, database=database, schema_current=False
            )
            return JSONResponse(body.model_dump(), status_code=503)
        return HealthPublic(
            status="ok" if current else "degraded",
            version=soko.__version__,
            database=database,
            schema_current=current,
        )

    return app


class BodyLimit:
    """Refuse request bodies over `max_bytes` as problem+json.

    FastAPI's own `max_body_size` answers in plain text whenever Content-Length is known, past
    every exception handler, so the limit lives here.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problems.api_problem_response(problems.REQUEST_TOO_LARGE, scope["path"])
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # A chunked body has no Content-Length: count what arrives. The router turns an
            # HTTPException from reading the body into the same 413 problem.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


class TextGuard:
    """Refuse text that is not text (a NUL, a lone surrogate) before any route reads it: in the
    path, the query, the headers (400) and a JSON body (422), as `text_invalid`.

    Once, here, rather than in each schema: a NUL reached PostgreSQL (which refuses it: 500) and
    SQLite (which kept it), and a lone surrogate the idempotency fingerprint (which cannot encode
    it: 500). A JSON body is decoded twice, here and by the route: a request body is at most
    `limits.REQUEST_BODY_BYTES_MAX` and decoding one takes microseconds. Form bodies (the web
    app, USSD) are their channel's to read and refuse on their own screens.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        instance = _printable_path(scope)
        found = _not_text_outside_the_body(scope)
        if found is not None:
            await problems.text_invalid_response(*found, instance)(scope, receive, send)
            return
        if not _json_body(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
        except HTTPException:  # the body limit, counting a chunked body
            response = problems.api_problem_response(problems.REQUEST_TOO_LARGE, instance)
            await response(scope, receive, send)
            return
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        try:
            decoded = json.loads(body) if body else None
        except ValueError:
            decoded = None  # not JSON: the route says so (request_malformed)
        where = not_text_in(decoded)
        if where is not None:
            field = ".".join(map(str, where))
            await problems.text_invalid_response("body", field, instance)(scope, receive, send)
            return
        whole: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        whole += [m for m in messages if m["type"] != "http.request"]

        async def replay() -> Message:
            return whole.pop(0) if whole else await receive()

        await self.app(scope, replay, send)


def _not_text_outside_the_body(scope: Scope) -> tuple[str, str] | None:
    """Where a NUL or lone surrogate is in the path, query or headers: (location, name)."""
    if not is_text(scope["path"]):
        return "path", ""
    query = scope.get("query_string", b"")
    if query:
        # As Starlette reads it: percent-decoded as UTF-8 (bad bytes become U+FFFD).
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if not (is_text(name) and is_text(value)):
                return "query", name if is_text(name) else ""
    for name, value in scope.get("headers", []):
        if b"\x00" in name or b"\x00" in value:
            return "header", name.decode("latin-1").replace("\x00", "")
    return None


def _json_body(scope: Scope) -> bool:
    """Whether FastAPI would read the body as JSON: no Content-Type, or a JSON one."""
    if scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return False
    content_type = Headers(scope=scope).get("content-type")
    if content_type is None:
        return True
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _printable_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw.isascii():
        return raw.decode("ascii")
    return quote(scope["path"], safe="/", errors="replace")


def _complete_document(app: FastAPI, offered_currencies: Iterable[str]) -> None:
    """Add the schemas routes refer to by hand: the Problem of every problem+json response, and
    the currencies this operator offers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = refer_to_offered_currencies(generate())
            # Any operation answers 400 text_invalid to a NUL in its path, query or headers.
            malformed = problem_responses(400)[400]
            for path, operations in document.get("paths", {}).items():
                if not path.startswith("/v1/"):
                    continue
                for operation in operations.values():
                    operation.setdefault("responses", {}).setdefault("400", malformed)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                document_schemas(offered_currencies)
            )
            code = document["components"]["schemas"]["Problem"]["properties"]["code"]
            code["enum"] = problems.problem_codes()
            _example_parameters(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


#: Examples for the query and path parameters many operations share; an operation's own
#: `Query(examples=...)` wins.
_PARAMETER_EXAMPLES: Final[dict[str, object]] = {
    "limit": 20,
    "cursor": "eyJhdCI6IjIwMjYtMTItMDZUMTQ6MDI6MDBaIn0",
    "merchant_id": "usr_01JH4Y8R3N9Y6U4W7P0C1D2E3F",
    "owner_id": "usr_01JH4Y8R3N9Y6U4W7P0C1D2E3F",
    "user_id": "usr_01JH4Y7Q2M8X5T3V6N9B0C1D2E",
    "order_id": "esc_01JH4ZA1B2C3D4E5F6G7H8J9K0",
    "format": "svg",
    "amount": "250.00",
    "currency": "KES",
    "reference": "INV-1",
    "status": "dead",
    "before": "loan_01JH4ZA1B2C3D4E5F6G7H8J9K0",
    "payment_id": "pay_01JH4ZA1B2C3D4E5F6G7H8J9K0",
    "kind": "merchant",
    "default_region": "KE",
    "after": "usr_01JH4Y7Q2M8X5T3V6N9B0C1D2E",
    "since": "2026-11-01T00:00:00+03:00",
    "until": "2026-12-01T00:00:00+03:00",
}


def _example_parameters(document: dict[str, Any]) -> None:
    """Give every parameter without an example the shared one for its name: each operation
    then documents a whole request."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if "example" in parameter or "examples" in parameter or "examples" in schema:
                    continue
                if parameter["name"] in _PARAMETER_EXAMPLES:
                    parameter["example"] = _PARAMETER_EXAMPLES[parameter["name"]]


def create_app_from_environment() -> FastAPI:
    """The uvicorn factory: each worker process builds its own runtime from SOKO_* settings."""
    return create_app(bootstrap.build())
