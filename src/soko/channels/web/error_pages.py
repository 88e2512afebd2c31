"""The web's error pages: an unknown address, a wrong method, an address that cannot be read or
a failure on a web path (`/`, `/app...`, `/pay/...`) is a short HTML page with a way home, in the
visitor's language, not the API's problem+json. Every other path keeps the API's table
(channels/api/problems.py); app.py installs this after it, and this hands those paths back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from soko.channels import i18n
from soko.channels.api import problems
from soko.channels.web.messages import sentence_for, status_for
from soko.channels.web.routes import _HEADERS as HEADERS
from soko.channels.web.routes import templates
from soko.channels.web.session import language_of
from soko.kernel.errors import DomainError
from soko.kernel.i18n import N_

_log = logging.getLogger(__name__)

Handler = Callable[[Request, Exception], Awaitable[Response]]

#: Each status's heading and sentence.
_PAGES: Final[dict[int, tuple[str, str]]] = {
    404: (N_("Page not found"), N_("There is no page at this address. Check the link.")),
    405: (N_("Not possible here"), N_("This page cannot be used this way. Start again from home.")),
    422: (N_("Address not understood"), N_("Part of this address or form cannot be read.")),
    500: (N_("Something went wrong"), N_("Soko could not finish this. Please try again soon.")),
}
_OTHER: Final = (N_("Not possible"), N_("Soko could not do this."))


def is_web_path(path: str) -> bool:
    """The paths people visit in a browser: the home page, the app and the pay pages."""
    return path in {"/", "/app"} or path.startswith(("/app/", "/pay/"))


def error_page(
    request: Request, status: int, text: str | None = None, headers: dict[str, str] | None = None
) -> HTMLResponse:
    language = language_of(request)
    translate = i18n.translator(language)
    heading, sentence = _PAGES.get(status, _OTHER)
    return templates.TemplateResponse(
        request,
        "account_error.html",
        {
            "_": translate,
            "language": language,
            "heading": translate(heading),
            "text": text if text is not None else translate(sentence),
            "status": status,
        },
        status_code=status,
        headers=HEADERS | (headers or {}),
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = None
    if exc.status_code == 405:
        headers = {"Allow": problems._allowed_methods(request)}
    return error_page(request, exc.status_code, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    return error_page(request, 422)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    translate = i18n.translator(language_of(request))
    return error_page(request, status_for(exc), sentence_for(exc, translate))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The page says nothing of the failure: the log has it.
    _log.error("web page failed: %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500)


def _on_web_paths(web: Handler, api: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        return await (web if is_web_path(request.url.path) else api)(request, exc)

    return handle


def install(app: FastAPI) -> None:
    """Answer the web paths' errors with pages (after `problems.install`, whose handlers stay
    for every other path)."""
    app.add_exception_handler(
        HTTPException, _on_web_paths(_http_error, problems.http_error_handler)
    )
    app.add_exception_handler(
        RequestValidationError,
        _on_web_paths(_validation_error, problems.validation_error_handler),
    )
    app.add_exception_handler(
        DomainError, _on_web_paths(_domain_error, problems.domain_error_handler)
    )
    app.add_exception_handler(
        Exception, _on_web_paths(_unexpected, problems.unexpected_error_handler)
    )
