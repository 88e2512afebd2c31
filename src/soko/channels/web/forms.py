"""The web's forms hold text only: a field with a NUL (or a lone surrogate) is refused on a page
of its own before any route reads it, as the JSON API's text guard refuses it in a body."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from soko.channels.web.messages import message_for
from soko.kernel.errors import TextInvalid
from soko.kernel.text import is_text

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
#: As every web page: loads nothing, may not be framed, is not kept.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class FormTextInvalid(Exception):
    """A posted form holds text that is not text."""


async def text_only(request: Request) -> None:
    """A router dependency of the web's routers. FastAPI has read the form before it solves
    dependencies, and Starlette keeps it: this reads nothing twice."""
    if request.method != "POST" or not request.headers.get("content-type", "").startswith(_FORMS):
        return
    form = await request.form()
    for name, value in form.multi_items():
        if not is_text(name) or (isinstance(value, str) and not is_text(value)):
            raise FormTextInvalid


async def refuse(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormTextInvalid)
    text = html.escape(message_for(TextInvalid()))
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Not sent</title>"
        f'<p role="alert">{text}</p><p><a href="/">Soko</a></p></html>'
    )
    return HTMLResponse(page, status_code=422, headers=_HEADERS)


def install(app: FastAPI) -> None:
    """Refuse such forms with this page (app.py installs it beside the API's problems)."""
    app.add_exception_handler(FormTextInvalid, refuse)
