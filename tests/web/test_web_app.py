"""The signed-in web app (/app) over HTTP, on both databases: sign-in and its cookie, pages that
need a session, and an escrow trade through the forms (the buyer pays and reads the delivery
code, the seller enters it), with refusals that move nothing and forms that act once."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from fakes import FakeClock
from merchants import available, balance, consumer, fees, kes, key, shop
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowOrder, EscrowState, OrderItem
from soko.kernel import limits
from soko.kernel.errors import SessionInvalid
from soko.ledger.reconcile import reconcile
from soko.people import access
from soko.people import service as users
from soko.people.domain import Merchant, User

S = EscrowState
BUYER_PIN, SELLER_PIN = "2468", "1357"
PRICE = 450_000  # KES 4,500.00
FEE = 2_250  # 0.5 % for the seller's category 5651


@dataclass
class Trade:
    ctx: Context
    clock: FakeClock
    app: FastAPI
    buyer: User
    seller: Merchant

    def order(self) -> EscrowOrder:
        return escrow.create_order(
            self.ctx, seller_id=self.seller.user_id, buyer_id=self.buyer.id,
            amount=kes("4500.00"), items=[OrderItem("Kitenge fabric, 6 yards", 2)],
            ship_by=self.clock.now() + timedelta(days=2), description="Deliver to Kisumu",
            idempotency_key=key(),
        )  # fmt: skip

    def funded(self) -> EscrowOrder:
        made = self.order()
        return escrow.fund(self.ctx, buyer_id=self.buyer.id, order_id=made.id,
                           idempotency_key=key())  # fmt: skip

    def client(self, base_url: str = "http://testserver") -> TestClient:
        return TestClient(self.app, base_url=base_url, follow_redirects=False)


@pytest.fixture
def trade(any_runtime: Runtime, clock: FakeClock) -> Iterator[Trade]:
    ctx = any_runtime.context
    seller = shop(ctx, "5651", name="Mama Njeri's Kiosk")
    users.set_pin(ctx, seller.user_id, SELLER_PIN)
    yield Trade(ctx, clock, create_app(any_runtime), consumer(ctx, funds="10000.00"), seller)
    assert reconcile(ctx).passed


def form_key(page: str, action: str) -> str:
    """The hidden key of the form that posts to `action`."""
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>.*?name="form_key" value="([^"]*)"', page, re.S
    )
    assert found is not None, page
    return found.group(1)


def sign_in(client: TestClient, user: User, pin: str) -> Response:
    page = client.get("/app/sign-in")
    assert page.status_code == 200, page.text
    return client.post(
        "/app/sign-in",
        data={"phone": user.phone, "pin": pin, "form_key": form_key(page.text, "/app/sign-in")},
    )


def signed_in(client: TestClient, user: User, pin: str) -> TestClient:
    response = sign_in(client, user, pin)
    assert response.status_code == 303 and response.headers["location"] == "/app", response.text
    return client


def post_form(
    client: TestClient, order_id: str, form: str, **fields: str
) -> tuple[Response, dict[str, str]]:
    """Post the form the order page draws for `form`, with its key; returns what was sent."""
    action = f"/app/orders/{order_id}/{form}"
    sent = {"form_key": form_key(client.get(f"/app/orders/{order_id}").text, action)} | fields
    return client.post(action, data=sent), sent


def code_sent_to(ctx: Context, buyer: User) -> str:
    """The delivery code from the buyer's funding text."""
    with ctx.unit_of_work(read_only=True) as uow:
        texts = uow.notifications.list_sms_to(buyer.phone, 100)
    [text] = [t.text for t in texts if "Give code" in t.text]
    return text.split("Give code ")[1][:6]


def shown_code(page: str) -> str:
    found = re.search(r'data-testid="delivery-code">(\d{6})<', page)
    assert found is not None, page
    return found.group(1)


def test_sign_in_sets_a_strict_http_only_cookie_for_the_app_only(trade: Trade) -> None:
    response = sign_in(trade.client(), trade.buyer, BUYER_PIN)
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("soko_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/app"} <= flags
    # Kept to the session's cap; the server ends it sooner when idle (sliding, test_account.py).
    assert f"max-age={limits.WEB_SESSION_SECONDS_MAX}" in flags
    assert "secure" not in flags  # plain http (a local try-out) would never send it back
    over_https = sign_in(trade.client("https://testserver"), trade.buyer, BUYER_PIN)
    cookie = next(
        c for c in over_https.headers.get_list("set-cookie") if c.startswith("soko_session=")
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")[1:]}


def test_a_wrong_pin_is_refused_on_the_form_and_counted(trade: Trade) -> None:
    client = trade.client()
    response = sign_in(client, trade.buyer, "1111")
    assert response.status_code == 401
    assert "The phone number or PIN is wrong. 4 tries left." in response.text
    assert "soko_session" not in response.headers.get("set-cookie", "")
    assert users.get_user(trade.ctx, trade.buyer.id).pin.failures == 1
    assert client.get("/app").status_code == 303
    # Local numbers are read as dialled in the country chosen on the form.
    local = "0" + trade.buyer.phone.removeprefix("+254")
    page = client.get("/app/sign-in").text
    assert '<option value="KE" selected>' in page  # the operator's first currency's country
    response = client.post("/app/sign-in", data={
        "phone": local, "country": "KE", "pin": BUYER_PIN,
        "form_key": form_key(page, "/app/sign-in")})  # fmt: skip
    assert response.status_code == 303
    assert users.get_user(trade.ctx, trade.buyer.id).pin.failures == 0


def test_every_page_needs_a_session_and_sign_out_ends_it(trade: Trade) -> None:
    made = trade.order()
    client = trade.client()
    for path in ("/app", "/app/orders", f"/app/orders/{made.id}"):
        response = client.get(path)
        back = "" if path == "/app" else "?" + urlencode({"next": path})  # back here after
        assert (response.status_code, response.headers["location"]) == (303, "/app/sign-in" + back)
    client.cookies.set("soko_session", "soko_st_forged", path="/app")
    assert client.get("/app").headers["location"] == "/app/sign-in"
    client.cookies.clear()
    signed_in(client, trade.buyer, BUYER_PIN)
    home = client.get("/app")
    assert home.status_code == 200 and "KES 10,000.00" in home.text
    # M-Pesa is not set up here: no link to a top-up page that could only say so.
    assert trade.ctx.mpesa is None and 'href="/app/top-up"' not in home.text
    for header, value in (
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ):
        assert home.headers[header] == value
    policy = home.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script" not in policy
    assert "<script" not in home.text and not re.search(
        r'(src|href|action)="(https?:)?//', home.text
    )
    # Signed in, the sign-in page sends you home.
    assert client.get("/app/sign-in").headers["location"] == "/app"
    token = client.cookies.get("soko_session")
    assert access.authenticate_session(trade.ctx, token).id == trade.buyer.id
    out = client.post("/app/sign-out", data={"form_key": form_key(home.text, "/app/sign-out")})
    assert (out.status_code, out.headers["location"]) == (303, "/app/sign-in")
    cleared = next(c for c in out.headers.get_list("set-cookie") if c.startswith("soko_session="))
    assert {"max-age=0", "path=/app"} <= {part.strip().lower() for part in cleared.split(";")}
    assert client.get("/app").status_code == 303
    # The session itself is over, not only the cookie: a copy of the token is worth nothing.
    with pytest.raises(SessionInvalid):
        access.authenticate_session(trade.ctx, token)
    client.cookies.set("soko_session", token, path="/app")
    assert client.get("/app").headers["location"] == "/app/sign-in"


def test_the_session_cookie_dies_when_the_pin_is_reset_or_locks(trade: Trade) -> None:
    client = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    assert client.get("/app").status_code == 200
    users.set_pin(trade.ctx, trade.buyer.id, "8642")  # an operator resets it
    assert client.get("/app").headers["location"] == "/app/sign-in"
    signed_in(client, trade.buyer, "8642")
    assert client.get("/app").status_code == 200
    for left in range(limits.PIN_ATTEMPTS_MAX - 1, 0, -1):
        response, _ = post_form(client, trade.order().id, "fund", pin="1111")
        assert f"{left} {'try' if left == 1 else 'tries'} left." in response.text
    response, _ = post_form(client, trade.order().id, "fund", pin="1111")
    assert "locked" in response.text and "15 minutes" in response.text
    assert client.get("/app").headers["location"] == "/app/sign-in"


def test_wrong_pins_at_sign_in_are_limited_per_address(trade: Trade) -> None:
    client = trade.client()
    for n in range(limits.PIN_TRIES_PER_ADDRESS_MAX):
        phone = trade.buyer.phone if n % 2 else f"+2547980000{n:02d}"
        response = sign_in(client, replace(trade.buyer, phone=phone), "1111")
        assert response.status_code in (401, 403, 422), response.text
        if n < limits.PIN_ATTEMPTS_MAX - 1:
            assert "The phone number or PIN is wrong." in response.text
    response = sign_in(client, trade.buyer, BUYER_PIN)
    assert response.status_code == 429
    assert "Too many wrong PINs" in response.text


def test_sign_out_and_sign_in_without_their_keys_are_refused(trade: Trade) -> None:
    client = trade.client()
    page = client.get("/app/sign-in").text
    # A page of another site cannot read the key, nor send our cookie: both must match.
    refused = client.post("/app/sign-in", data={
        "phone": trade.buyer.phone, "pin": BUYER_PIN, "form_key": "guessed"})  # fmt: skip
    assert refused.status_code == 403 and "out of date" in refused.text
    client.cookies.clear()
    refused = client.post("/app/sign-in", data={
        "phone": trade.buyer.phone, "pin": BUYER_PIN,
        "form_key": form_key(page, "/app/sign-in")})  # fmt: skip
    assert refused.status_code == 403
    signed_in(client, trade.buyer, BUYER_PIN)
    refused = client.post("/app/sign-out", data={})
    assert refused.status_code == 403 and "out of date" in refused.text
    assert client.get("/app").status_code == 200  # still signed in


def test_the_buyer_pays_sees_the_code_of_the_sms_and_the_seller_releases_with_it(
    trade: Trade,
) -> None:
    ctx = trade.ctx
    made = trade.order()
    buyer = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    listed = buyer.get("/app/orders").text
    assert made.id in listed and "You buy from Mama Njeri&#39;s Kiosk" in listed
    page = buyer.get(f"/app/orders/{made.id}").text
    assert "KES 4,500.00" in page and "2 &times; Kitenge fabric, 6 yards" in page
    assert "Pay KES 4,500.00 into escrow" in page and "Enter the buyer" not in page
    paid, _ = post_form(buyer, made.id, "fund", pin=BUYER_PIN)
    assert paid.status_code == 200, paid.text
    assert "Paid into escrow" in paid.text and "Give it only when you have the goods" in paid.text
    code = code_sent_to(ctx, trade.buyer)
    assert shown_code(paid.text) == code
    assert escrow.get_order(ctx, made.id).state is S.FUNDED
    assert available(ctx, trade.buyer.id) == 1_000_000 - PRICE
    # Back on the order: the code again, behind the PIN.
    page = buyer.get(f"/app/orders/{made.id}").text
    assert "Show my delivery code" in page and 'data-testid="delivery-code"' not in page
    shown, _ = post_form(buyer, made.id, "code", pin=BUYER_PIN)
    assert shown.status_code == 200 and shown_code(shown.text) == code
    assert f"{limits.DELIVERY_CODE_ATTEMPTS_MAX} wrong tries left" in shown.text

    seller = signed_in(trade.client(), users.get_user(ctx, trade.seller.user_id), SELLER_PIN)
    page = html.unescape(seller.get(f"/app/orders/{made.id}").text)
    assert "Enter the buyer's delivery code" in page and "Show my delivery code" not in page
    assert trade.buyer.phone in page
    wrong = "000000" if code != "000000" else "111111"
    refused, _ = post_form(seller, made.id, "delivery-code", code=wrong, pin=SELLER_PIN)
    assert refused.status_code == 422
    left = limits.DELIVERY_CODE_ATTEMPTS_MAX - 1
    assert f"That delivery code is wrong. {left} tries left." in refused.text
    assert escrow.get_order(ctx, made.id).state is S.FUNDED
    fees_before = fees(ctx)
    released, _ = post_form(seller, made.id, "delivery-code", code=code, pin=SELLER_PIN)
    assert released.status_code == 200, released.text
    assert "Released" in released.text and "KES 4,477.50" in released.text
    assert escrow.get_order(ctx, made.id).state is S.RELEASED
    assert balance(ctx, trade.seller.user_id) == PRICE - FEE
    assert balance(ctx, trade.buyer.id) == available(ctx, trade.buyer.id) == 1_000_000 - PRICE
    assert fees(ctx) - fees_before == FEE
    # Done: no more actions on either side.
    after = buyer.get(f"/app/orders/{made.id}").text
    assert "released" in after and "Confirm receipt" not in after and "Show my" not in after


def test_the_buyer_confirms_receipt_with_the_pin(trade: Trade) -> None:
    made = trade.funded()
    buyer = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    refused, _ = post_form(buyer, made.id, "confirm", pin="9999")
    assert refused.status_code == 422 and "Wrong PIN" in refused.text
    assert escrow.get_order(trade.ctx, made.id).state is S.FUNDED
    done, _ = post_form(buyer, made.id, "confirm", pin=BUYER_PIN)
    assert done.status_code == 200 and "Released" in done.text
    assert balance(trade.ctx, trade.seller.user_id) == PRICE - FEE


def test_a_double_posted_form_moves_money_once(trade: Trade) -> None:
    ctx = trade.ctx
    made = trade.order()
    buyer = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    first, sent = post_form(buyer, made.id, "fund", pin=BUYER_PIN)
    again = buyer.post(f"/app/orders/{made.id}/fund", data=sent)
    assert (first.status_code, again.status_code) == (200, 200)
    assert shown_code(first.text) == shown_code(again.text) == code_sent_to(ctx, trade.buyer)
    assert available(ctx, trade.buyer.id) == 1_000_000 - PRICE
    seller = signed_in(trade.client(), users.get_user(ctx, trade.seller.user_id), SELLER_PIN)
    code = code_sent_to(ctx, trade.buyer)
    first, sent = post_form(seller, made.id, "delivery-code", code=code, pin=SELLER_PIN)
    again = seller.post(f"/app/orders/{made.id}/delivery-code", data=sent)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert "Released" in again.text  # the same page again, from the stored result
    assert balance(ctx, trade.seller.user_id) == PRICE - FEE
    assert balance(ctx, trade.buyer.id) == 1_000_000 - PRICE


def test_a_form_without_a_valid_key_or_session_is_refused_and_moves_nothing(
    trade: Trade,
) -> None:
    ctx = trade.ctx
    made, other = trade.order(), trade.order()
    buyer = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    page = buyer.get(f"/app/orders/{made.id}").text
    good = form_key(page, f"/app/orders/{made.id}/fund")
    nonce, _, mac = good.partition(".")
    for sent in (
        {},  # no key at all
        {"form_key": "web_forged"},
        {"form_key": f"{nonce}.{'0' * len(mac)}"},  # a key not made by this app
        # A key drawn for another order's form.
        {"form_key": form_key(buyer.get(f"/app/orders/{other.id}").text,
                              f"/app/orders/{other.id}/fund")},
    ):  # fmt: skip
        refused = buyer.post(f"/app/orders/{made.id}/fund", data=sent | {"pin": BUYER_PIN})
        assert refused.status_code == 403 and "out of date" in refused.text
    # A key drawn for another session (the same person signed in elsewhere).
    elsewhere = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    foreign = form_key(elsewhere.get(f"/app/orders/{made.id}").text, f"/app/orders/{made.id}/fund")
    refused = buyer.post(
        f"/app/orders/{made.id}/fund", data={"form_key": foreign, "pin": BUYER_PIN}
    )
    assert refused.status_code == 403
    # No session: off to sign in, whatever the form says.
    anonymous = trade.client()
    refused = anonymous.post(
        f"/app/orders/{made.id}/fund", data={"form_key": good, "pin": BUYER_PIN}
    )
    assert (refused.status_code, refused.headers["location"]) == (303, "/app/sign-in")
    assert escrow.get_order(ctx, made.id).state is S.CREATED
    assert available(ctx, trade.buyer.id) == 1_000_000
    # The key that was good all along still is: nothing was spent on the refusals.
    assert buyer.post(f"/app/orders/{made.id}/fund",
                      data={"form_key": good, "pin": BUYER_PIN}).status_code == 200  # fmt: skip


def test_refusals_are_a_sentence_on_the_form_and_move_nothing(trade: Trade) -> None:
    ctx = trade.ctx
    made = trade.order()
    buyer = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    refused, _ = post_form(buyer, made.id, "fund", pin="9999")
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert "Wrong PIN. Please try again." in refused.text
    assert users.get_user(ctx, trade.buyer.id).pin.failures == 1
    refused, _ = post_form(buyer, made.id, "fund", pin="12")
    assert refused.status_code == 422 and "A PIN is 4 to 6 digits." in refused.text
    # More than the wallet holds.
    big = escrow.create_order(
        ctx, seller_id=trade.seller.user_id, buyer_id=trade.buyer.id, amount=kes("20000.00"),
        items=[OrderItem("Sofa", 1)], ship_by=trade.clock.now() + timedelta(days=2),
        idempotency_key=key(),
    )  # fmt: skip
    refused, _ = post_form(buyer, big.id, "fund", pin=BUYER_PIN)
    assert refused.status_code == 422 and "Not enough money in your wallet." in refused.text
    assert escrow.get_order(ctx, big.id).state is S.CREATED
    assert available(ctx, trade.buyer.id) == 1_000_000


def test_a_locked_code_says_so(trade: Trade) -> None:
    made = trade.funded()
    code = code_sent_to(trade.ctx, trade.buyer)
    wrong = "000000" if code != "000000" else "111111"
    seller = signed_in(trade.client(), users.get_user(trade.ctx, trade.seller.user_id), SELLER_PIN)
    for _ in range(limits.DELIVERY_CODE_ATTEMPTS_MAX - 1):
        refused, _ = post_form(seller, made.id, "delivery-code", code=wrong, pin=SELLER_PIN)
        assert refused.status_code == 422
    locked, _ = post_form(seller, made.id, "delivery-code", code=wrong, pin=SELLER_PIN)
    assert "the code is locked" in locked.text
    locked, _ = post_form(seller, made.id, "delivery-code", code=code, pin=SELLER_PIN)
    assert "the code is locked" in locked.text  # even the right one, now
    assert escrow.get_order(trade.ctx, made.id).state is S.FUNDED
    assert balance(trade.ctx, trade.seller.user_id) == 0


def test_someone_elses_order_is_not_found_as_an_unknown_one(trade: Trade) -> None:
    ctx = trade.ctx
    made = trade.order()
    stranger = consumer(ctx, "Baraka", funds="10000.00")
    client = signed_in(trade.client(), stranger, "2468")
    assert made.id not in client.get("/app/orders").text
    unknown = client.get("/app/orders/esc_01JH0000000000000000000000")
    theirs = client.get(f"/app/orders/{made.id}")
    assert unknown.status_code == theirs.status_code == 404
    assert "There is no such order." in theirs.text
    # Its forms too: a key of the stranger's own session does not make the order theirs.
    for form in ("fund", "code", "confirm", "delivery-code"):
        response = client.post(f"/app/orders/{made.id}/{form}",
                               data={"form_key": "x", "pin": "2468", "code": "123456"})  # fmt: skip
        assert response.status_code == 404
    assert escrow.get_order(ctx, made.id).state is S.CREATED
    assert available(ctx, stranger.id) == available(ctx, trade.buyer.id) == 1_000_000


def state_shown(page: str) -> str:
    found = re.search(r'data-testid="state">([^<]*)</span>\s*([^<]*)</p>', page)
    assert found is not None, page
    return f"{found.group(1)} | {found.group(2).strip()}"


def test_an_order_reads_in_words_and_each_side_reads_its_own_line(trade: Trade) -> None:
    made = trade.funded()
    ship_by = made.deadlines.ship_by.astimezone(trade.ctx.timezone).strftime("%d %b %Y %H:%M")
    buyer = signed_in(trade.client(), trade.buyer, BUYER_PIN)
    seller_user = users.get_user(trade.ctx, trade.seller.user_id)
    seller = signed_in(trade.client(), seller_user, SELLER_PIN)
    assert state_shown(buyer.get(f"/app/orders/{made.id}").text) == (
        f"In escrow | Paid into escrow. The seller ships by {ship_by}."
    )
    seller_page = seller.get(f"/app/orders/{made.id}").text
    assert state_shown(seller_page) == f"In escrow | Paid into escrow. Ship it by {ship_by}."
    assert "Waiting for the seller" not in seller_page
    listed = seller.get("/app/orders").text
    assert '<span class="state">In escrow</span>' in listed and ">funded<" not in listed
    # In Kiswahili, the words and the line are Kiswahili.
    users.set_language(trade.ctx, seller_user.id, "sw")
    assert state_shown(seller.get(f"/app/orders/{made.id}").text) == (
        f"Iko escrow | Imelipwa escrow. Isafirishe kabla ya {ship_by}."
    )
    assert '<span class="state">Iko escrow</span>' in seller.get("/app/orders").text
