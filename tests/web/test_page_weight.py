"""Every page people reach is light: signed in as a consumer, a merchant and an agent, and signed
out, crawl every same-origin GET link from `/app` and from `/`, and fail on any page heavier than
60 KB with what it loads (inline styles count with the HTML; linked styles, images and scripts
are fetched and added). Pages other groups add are picked up by the crawl: they are linked from
the menu or from another page."""

from __future__ import annotations

import re
from collections import deque
from datetime import timedelta
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from fakes import FakeClock
from merchants import consumer, kes, key, phone, shop
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.escrow import service as escrow
from soko.escrow.domain import OrderItem
from soko.people import service as users
from soko.people.domain import User, UserKind

LIMIT = 60 * 1024
PIN = "2468"
#: More pages than the app has; a crawl that reaches it is following an endless list.
PAGES_MAX = 400
ORIGIN = "http://testserver"
_LINK = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*["']([^"']+)["']""", re.I)
_ASSET = re.compile(
    r"""<(?:link\b[^>]*?\bhref|img\b[^>]*?\bsrc|script\b[^>]*?\bsrc|source\b[^>]*?\bsrc)"""
    r"""\s*=\s*["']([^"']+)["']""",
    re.I,
)


def same_origin(base: str, href: str) -> str | None:
    """The local address a link leads to, or None for another site, scheme or a fragment."""
    if href.startswith(("mailto:", "tel:", "sms:", "javascript:", "data:", "#")):
        return None
    target, _ = urldefrag(urljoin(base, href))
    parts = urlsplit(target)
    if f"{parts.scheme}://{parts.netloc}" != ORIGIN:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def crawl(client: TestClient, starts: list[str]) -> dict[str, int]:
    """Each page reached by GET links from `starts`: its weight with its assets, in bytes."""
    weights: dict[str, int] = {}
    queue = deque(starts)
    while queue:
        path = queue.popleft()
        if path in weights:
            continue
        assert len(weights) < PAGES_MAX, sorted(weights)
        response = client.get(path)
        assert response.status_code < 500, (path, response.status_code)
        page = response.text
        base = str(response.url)
        weight = len(response.content)
        if "html" in response.headers.get("content-type", ""):
            for href in _ASSET.findall(page):
                asset = same_origin(base, href)
                assert asset is not None or href.startswith("data:"), (path, "outside", href)
                if asset is not None:
                    weight += len(client.get(asset).content)
            for href in _LINK.findall(page):
                found = same_origin(base, href.replace("&amp;", "&"))
                if found is not None and found not in weights:
                    queue.append(found)
        weights[path] = weight
    return weights


def sign_in(client: TestClient, user: User) -> None:
    page = client.get("/app/sign-in").text
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    response = client.post("/app/sign-in", data=hidden | {"phone": user.phone, "pin": PIN},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text


@pytest.fixture
def people(runtime: Runtime, clock: FakeClock) -> dict[str, User]:
    ctx = runtime.context
    buyer = consumer(ctx, "Amina", funds="5000.00")
    seller = shop(ctx, "5651", name="Mama Njeri's Kiosk")
    users.set_pin(ctx, seller.user_id, PIN)
    agent = users.register(ctx, kind=UserKind.AGENT, phone=phone(), name="Juma Agent", pin=PIN)
    # An order, so that the order pages are reached too.
    escrow.create_order(
        ctx, seller_id=seller.user_id, buyer_id=buyer.id, amount=kes("1200.00"),
        items=[OrderItem("Kitenge", 1)], ship_by=clock.now() + timedelta(days=2),
        idempotency_key=key(),
    )  # fmt: skip
    return {
        "consumer": buyer,
        "merchant": users.get_user(ctx, seller.user_id),
        "agent": agent,
    }


@pytest.mark.parametrize("role", [None, "consumer", "merchant", "agent"])
def test_every_page_weighs_under_60_kb(runtime: Runtime, people: dict[str, User],
                                       role: str | None) -> None:  # fmt: skip
    client = TestClient(create_app(runtime), base_url=ORIGIN)
    if role is not None:
        sign_in(client, people[role])
    weights = crawl(client, ["/", "/app"])
    assert {"/", "/app/sign-up"} <= set(weights) or role is not None, sorted(weights)
    if role is not None:
        assert "/app/account" in weights and any(p.startswith("/app/orders") for p in weights)
    heavy = {path: size for path, size in weights.items() if size > LIMIT}
    assert not heavy, heavy
