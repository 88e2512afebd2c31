"""The consumer's pages of the web app over HTTP, on both databases: the statement (running
balance, search, paging, the currency switch), sending money (to a person, to a number not on
Soko yet), paying a till, a payment request and a pasted QR code, and the buyer's dispute.

Every money move is a form, then a confirmation with the PIN; the same confirmation sent twice
moves money once, and every refusal is a sentence on the form with nothing moved."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from fakes import FakeClock
from merchants import Snapshot, balance, consumer, kes, key, phone, shop
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.channels.web import consumer as pages
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState, OrderItem
from soko.kernel import limits
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import PaymentRequestStatus
from soko.payments.qr import service as qr
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import Merchant, User

PIN = "2468"


@dataclass
class World:
    ctx: Context
    clock: FakeClock
    client: TestClient
    amina: User
    baraka: User
    kiosk: Merchant

    def snapshot(self) -> tuple[int, int, Snapshot]:
        return (
            balance(self.ctx, self.amina.id),
            balance(self.ctx, self.baraka.id),
            Snapshot.of(self.ctx),
        )


@pytest.fixture
def w(any_runtime: Runtime, clock: FakeClock) -> Iterator[World]:
    ctx = any_runtime.context
    amina = consumer(ctx, "Amina Wanjiku", funds="10000.00")
    baraka = consumer(ctx, "Baraka Otieno")
    kiosk = shop(ctx, "5411", name="Mama Njeri's Kiosk")
    client = TestClient(create_app(any_runtime), follow_redirects=False)
    sign_in(client, amina)
    yield World(ctx, clock, client, amina, baraka, kiosk)
    assert reconcile(ctx).passed


def fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form that posts to `action` (its key and what it carries)."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None, page
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]*)" value="([^"]*)"', form.group(1)
        )
    }


def sign_in(client: TestClient, user: User) -> None:
    page = client.get("/app/sign-in").text
    response = client.post("/app/sign-in", data={
        "phone": user.phone, "pin": PIN, **fields(page, "/app/sign-in")})  # fmt: skip
    assert response.status_code == 303, response.text


def alert(page: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', page)
    assert found is not None, page
    return html.unescape(found.group(1))


def review_send(w: World, **typed: str) -> Response:
    sent = fields(w.client.get("/app/send").text, "/app/send") | typed
    return w.client.post("/app/send", data=sent)


def confirm(w: World, page: Response, action: str, pin: str = PIN) -> tuple[Response, dict]:
    sent = fields(page.text, action) | {"pin": pin}
    return w.client.post(action, data=sent), sent


# --- sending money --------------------------------------------------------------------------


def test_sending_shows_the_name_and_fee_before_the_pin_and_moves_money_once(w: World) -> None:
    review = review_send(w, phone=w.baraka.phone, amount="1,500.50", message="Rent")
    assert review.status_code == 200, review.text
    fee = payments.p2p_fee(w.ctx, kes("1500.50"))
    assert "Baraka Otieno" in review.text and "KES 1,500.50" in review.text
    assert f'data-testid="fee">KES {fee.amount_minor / 100:,.2f}' in review.text
    assert 'name="pin"' in review.text
    assert balance(w.ctx, w.baraka.id) == 0  # nothing moves before the PIN

    done, sent = confirm(w, review, "/app/send/confirm")
    assert done.status_code == 201, done.text
    assert "Sent" in done.text and "To Baraka Otieno" in done.text
    assert balance(w.ctx, w.baraka.id) == 150_050
    assert balance(w.ctx, w.amina.id) == 1_000_000 - 150_050 - fee.amount_minor
    # The same confirmation again (a double tap, a resent page): the same receipt, paid once.
    again = w.client.post("/app/send/confirm", data=sent)
    assert again.status_code == 201
    receipt = re.compile(r'data-testid="receipt">([^<]*)<')
    assert receipt.findall(again.text) == receipt.findall(done.text)
    assert balance(w.ctx, w.baraka.id) == 150_050


def test_a_number_not_on_soko_is_told_and_the_money_held_for_it(w: World) -> None:
    number = phone()
    review = review_send(w, phone=number, amount="200")
    assert "Not on Soko yet: they get an SMS" in review.text
    done, _ = confirm(w, review, "/app/send/confirm")
    assert done.status_code == 201
    assert "Held for them" in done.text and "is not on Soko yet" in done.text
    with w.ctx.unit_of_work(read_only=True) as uow:
        texts = uow.notifications.list_sms_to(number, 10)
    assert len(texts) == 1
    fee = payments.p2p_fee(w.ctx, kes("200")).amount_minor
    assert (
        next(v.available.amount_minor for v in wallets.list_wallets(w.ctx, w.amina.id))
        == 1_000_000 - 20_000 - fee
    )


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ({"amount": "15OO"}, "Type the amount in figures, like 1500 or 1500.50."),
        ({"amount": "10.505"}, "Type the amount in figures, like 1500 or 1500.50."),
        ({"amount": "-5"}, "Type the amount in figures, like 1500 or 1500.50."),
        ({"phone": "07x"}, "That phone number does not look right."),
        ({"currency": "UGX"}, "You have no UGX wallet to pay from."),
        ({"form_key": "web_forged.0123"}, "This form is out of date. Please try again."),
        ({"message": "x" * 141}, "The message is too long."),
    ],
)
def test_bad_input_on_the_send_form_is_a_sentence(
    w: World, typed: dict[str, str], sentence: str
) -> None:
    response = review_send(w, **({"phone": w.baraka.phone, "amount": "100"} | typed))
    assert response.status_code in (403, 422), response.text
    assert alert(response.text) == sentence
    assert 'action="/app/send"' in response.text  # the same form, filled in again
    assert 'name="pin"' not in response.text


def test_a_wrong_pin_or_a_changed_amount_moves_nothing(w: World) -> None:
    before = w.snapshot()
    review = review_send(w, phone=w.baraka.phone, amount="100")
    wrong, _ = confirm(w, review, "/app/send/confirm", pin="1111")
    assert wrong.status_code == 422
    assert alert(wrong.text) == "Wrong PIN. Please try again. 4 tries left."
    assert 'action="/app/send/confirm"' in wrong.text  # still the confirmation
    # A key drawn for KES 100 does not carry KES 9,000.
    tampered = fields(review.text, "/app/send/confirm") | {"pin": PIN, "amount": "9000.00"}
    response = w.client.post("/app/send/confirm", data=tampered)
    assert response.status_code == 403 and "out of date" in alert(response.text)
    # Too much: a sentence on the confirmation.
    big = review_send(w, phone=w.baraka.phone, amount="9999")
    poor, _ = confirm(w, big, "/app/send/confirm")
    assert alert(poor.text) == "Not enough money in your wallet."
    assert w.snapshot() == before


def test_a_locked_pin_says_so_and_ends_the_visit(w: World) -> None:
    review = review_send(w, phone=w.baraka.phone, amount="100")
    for _ in range(limits.PIN_ATTEMPTS_MAX - 1):
        confirm(w, review, "/app/send/confirm", pin="1111")
    locked, _ = confirm(w, review, "/app/send/confirm", pin="1111")
    assert "Your PIN is locked" in alert(locked.text)
    assert balance(w.ctx, w.baraka.id) == 0
    again, _ = confirm(w, review, "/app/send/confirm")
    assert (
        again.headers["location"].partition("?")[0] == "/app/sign-in"
    )  # the lock ended the session


def test_a_key_from_another_session_is_refused(w: World) -> None:
    review = review_send(w, phone=w.baraka.phone, amount="100")
    sent = fields(review.text, "/app/send/confirm") | {"pin": PIN}
    other = TestClient(w.client.app, follow_redirects=False)
    sign_in(other, w.amina)
    response = other.post("/app/send/confirm", data=sent)
    assert response.status_code == 403
    assert balance(w.ctx, w.baraka.id) == 0


# --- paying a till, a request, a code -------------------------------------------------------


def review_till(w: World, till: str, amount: str) -> Response:
    sent = fields(w.client.get("/app/pay").text, "/app/pay/till") | {"till": till, "amount": amount}
    return w.client.post("/app/pay/till", data=sent)


def test_paying_a_till_shows_the_shop_and_pays_once(w: World) -> None:
    review = review_till(w, w.kiosk.till_number, "750")
    assert review.status_code == 200
    assert 'data-testid="shop">Mama Njeri&#39;s Kiosk<' in review.text
    assert "KES 750.00" in review.text
    done, sent = confirm(w, review, "/app/pay/till/confirm")
    assert done.status_code == 201 and "Paid" in done.text
    assert balance(w.ctx, w.amina.id) == 1_000_000 - 75_000
    assert w.client.post("/app/pay/till/confirm", data=sent).status_code == 201
    assert balance(w.ctx, w.amina.id) == 1_000_000 - 75_000


@pytest.mark.parametrize(
    ("till", "amount", "sentence", "status"),
    [
        ("999999", "100", "There is no till with this number.", 422),
        ("", "100", "There is no till with this number.", 422),
        (None, "ten", "Type the amount in figures, like 1500 or 1500.50.", 422),
    ],
)
def test_bad_input_on_the_till_form_is_a_sentence(
    w: World, till: str | None, amount: str, sentence: str, status: int
) -> None:
    response = review_till(w, w.kiosk.till_number if till is None else till, amount)
    assert response.status_code == status
    assert alert(response.text) == sentence


def open_request(w: World, reference: str = "INV-7") -> str:
    made = payment_requests.create_request(
        w.ctx, merchant_id=w.kiosk.user_id, amount=kes("1200"), reference=reference,
        description="Two sacks of maize flour", idempotency_key=key(),
    )  # fmt: skip
    return made.id


@pytest.mark.parametrize("how", ["reference", "link", "id"])
def test_a_request_is_paid_by_its_reference_or_link(w: World, how: str) -> None:
    request_id = open_request(w)
    query = {
        "reference": {"ref": "INV-7", "till": w.kiosk.till_number},
        "link": {"ref": f"https://soko.example/pay/{request_id}"},
        "id": {"ref": request_id},
    }[how]
    review = w.client.get("/app/pay/request", params=query)
    assert review.status_code == 200, review.text
    assert "Two sacks of maize flour" in review.text and "KES 1,200.00" in review.text
    done, sent = confirm(w, review, "/app/pay/request/confirm")
    assert done.status_code == 201
    assert payment_requests.get_request(w.ctx, request_id).stored_status is (
        PaymentRequestStatus.PAID
    )
    assert w.client.post("/app/pay/request/confirm", data=sent).status_code == 201
    assert balance(w.ctx, w.amina.id) == 1_000_000 - 120_000
    # Paid: asked again, it says so.
    again = w.client.get("/app/pay/request", params=query)
    assert alert(again.text) == "This request has been paid already."


NO_REQUEST = "There is no payment request with this reference or link."


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ({"ref": "INV-7", "till": "000000"}, "There is no till with this number."),
        ({"ref": "INV-404", "till": "KIOSK"}, NO_REQUEST),
        ({"ref": "INV-7"}, "Type the till number too, or paste the whole link."),
        ({"ref": "https://soko.example/pay/nothing"}, NO_REQUEST),
        ({"ref": "prq_01JF0000000000000000000000"}, NO_REQUEST),
        ({"ref": ""}, "Type the reference or paste the link."),
    ],
)  # fmt: skip
def test_an_unknown_request_is_a_sentence(w: World, query: dict[str, str], sentence: str) -> None:
    open_request(w)
    if query.get("till") == "KIOSK":
        query = query | {"till": w.kiosk.till_number}
    response = w.client.get("/app/pay/request", params=query)
    assert response.status_code in (404, 422)
    assert alert(response.text) == sentence


def review_qr(w: World, payload: str) -> Response:
    sent = fields(w.client.get("/app/pay").text, "/app/pay/qr") | {"payload": payload}
    return w.client.post("/app/pay/qr", data=sent)


def test_a_pasted_qr_code_shows_the_shop_and_amount_and_pays(w: World) -> None:
    payload = qr.merchant_code(w.ctx, w.kiosk.user_id, amount=kes("320")).payload()
    review = review_qr(w, "  " + payload + "\n")
    assert review.status_code == 200, review.text
    assert "Mama Njeri&#39;s Kiosk" in review.text and "KES 320.00" in review.text
    done, sent = confirm(w, review, "/app/pay/qr/confirm")
    assert done.status_code == 201
    assert w.client.post("/app/pay/qr/confirm", data=sent).status_code == 201
    assert balance(w.ctx, w.amina.id) == 1_000_000 - 32_000


def test_a_request_s_qr_code_pays_the_request(w: World) -> None:
    request_id = open_request(w)
    made = payment_requests.get_request(w.ctx, request_id)
    review = review_qr(w, qr.request_code(w.ctx, made).payload())
    assert "Two sacks of maize flour" in review.text
    done, _ = confirm(w, review, "/app/pay/qr/confirm")
    assert done.status_code == 201
    assert payment_requests.get_request(w.ctx, request_id).stored_status is (
        PaymentRequestStatus.PAID
    )


def test_only_the_pay_page_runs_a_script_and_only_its_own(w: World) -> None:
    page = w.client.get("/app/pay")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/app/scan.js" defer>']
    script = w.client.get("/app/scan.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert "BarcodeDetector" in script.text
    for path in ("/app/send", "/app/statement"):
        other = w.client.get(path)
        assert "script" not in other.headers["content-security-policy"]
        assert "<script" not in other.text
    anonymous = TestClient(w.client.app, follow_redirects=False)
    assert anonymous.get("/app/scan.js").headers["location"].partition("?")[0] == "/app/sign-in"


def test_a_static_code_asks_the_amount_on_the_till_form(w: World) -> None:
    review = review_qr(w, qr.merchant_code(w.ctx, w.kiosk.user_id).payload())
    assert review.status_code == 200
    assert "This code is the till of Mama Njeri&#39;s Kiosk" in review.text
    assert f'value="{w.kiosk.till_number}"' in review.text  # the till form, filled in


@pytest.mark.parametrize(
    ("payload", "sentence"),
    [
        ("hello", "This is not a payment QR code, or part of it is missing."),
        ("", "Paste the text of the QR code."),
    ],
)
def test_a_bad_qr_code_is_a_sentence(w: World, payload: str, sentence: str) -> None:
    response = review_qr(w, payload)
    assert response.status_code == 422
    assert alert(response.text) == sentence


def test_a_damaged_qr_code_is_a_sentence(w: World) -> None:
    payload = qr.merchant_code(w.ctx, w.kiosk.user_id, amount=kes("320")).payload()
    damaged = payload.replace("320.00", "920.00")
    assert alert(review_qr(w, damaged).text) == "This QR code text is damaged. Copy it again."


def test_a_payer_without_a_wallet_in_the_currency_is_told_so(w: World) -> None:
    w.client.cookies.clear()
    sign_in(w.client, w.baraka)  # Baraka has no wallet yet
    response = review_till(w, w.kiosk.till_number, "10")
    assert alert(response.text) == "You have no KES wallet to pay from."
    request_id = open_request(w)
    response = w.client.get("/app/pay/request", params={"ref": request_id})
    assert alert(response.text) == "You have no KES wallet to pay from."


# --- the statement --------------------------------------------------------------------------


def lines(page: str) -> list[str]:
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split())
        for item in re.findall(r'<li data-testid="line">(.*?)</li>', page, re.S)
    ]


def test_the_statement_shows_each_line_with_the_balance_after_it_newest_first(w: World) -> None:
    payments.send_money(w.ctx, sender_id=w.amina.id, amount=kes("500"), to_phone=w.baraka.phone,
                        message="Lunch money", idempotency_key=key())  # fmt: skip
    w.clock.advance(300)
    payments.pay_merchant(w.ctx, payer_id=w.amina.id, till_number=w.kiosk.till_number,
                          amount=kes("250"), idempotency_key=key())  # fmt: skip
    page = w.client.get("/app/statement")
    assert page.status_code == 200
    shown = lines(page.text)
    fee = payments.p2p_fee(w.ctx, kes("500")).to_display_string()
    after_fee = 1_000_000 - 50_000 - payments.p2p_fee(w.ctx, kes("500")).amount_minor
    assert shown[0].startswith("Paid Mama Njeri's Kiosk")
    assert f"Balance KES {(after_fee - 25_000) / 100:,.2f}" in shown[0]
    assert shown[1].startswith("Fee") and fee.replace("KES ", "KES -") in shown[1]
    assert shown[2].startswith("Sent to Baraka Otieno") and "Lunch money" in shown[2]
    assert "KES -500.00" in shown[2] and "Balance KES 9,500.00" in shown[2]
    assert shown[-1].startswith("Cash deposit") and "Balance KES 10,000.00" in shown[-1]
    # Search: by name, by message, by dates.
    found = lines(w.client.get("/app/statement", params={"q": "baraka"}).text)
    assert len(found) == 2 and all("Baraka Otieno" in line for line in found)
    assert found[0].startswith("Fee: Baraka Otieno") and found[1].startswith("Sent to Baraka")
    assert (
        len(lines(w.client.get("/app/statement", params={"q": "LUNCH"}).text)) == 2
    )  # and its fee
    today = w.clock.now().astimezone(w.ctx.timezone).date()
    yesterday = today - timedelta(days=1)
    assert len(lines(w.client.get("/app/statement", params={"from": str(today)}).text)) == 4
    assert lines(w.client.get("/app/statement", params={"to": str(yesterday)}).text) == []
    day_first = f"{today.day}/{today.month}/{today.year}"
    assert len(lines(w.client.get("/app/statement", params={"to": day_first}).text)) == 4


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ({"from": "yesterday"}, "Type dates like 2026-12-07."),
        ({"from": "2026-02-30"}, "Type dates like 2026-12-07."),
        ({"from": "2026-12-08", "to": "2026-12-07"}, "The first date is after the last one."),
        ({"q": "x" * 101}, "Search for at most 100 characters."),
    ],
)
def test_a_bad_search_is_a_sentence(w: World, query: dict[str, str], sentence: str) -> None:
    response = w.client.get("/app/statement", params=query)
    assert response.status_code == 422
    assert alert(response.text) == sentence


def test_the_statement_pages_and_switches_currency(w: World) -> None:
    for _ in range(pages.PAGE_LINES):
        payments.pay_merchant(w.ctx, payer_id=w.amina.id, till_number=w.kiosk.till_number,
                              amount=kes("1"), idempotency_key=key())  # fmt: skip
    first = w.client.get("/app/statement").text
    older = re.search(r'href="/app/statement(\?[^"]*cursor=[^"]*)"', first)
    assert older is not None and len(lines(first)) == pages.PAGE_LINES
    second = w.client.get("/app/statement" + html.unescape(older.group(1))).text
    assert [line.split(" Balance")[0] for line in lines(second)][-1].startswith("Cash deposit")
    assert len(lines(second)) == 1  # 20 payments and the cash deposit
    # Searching pages too, and a search's page carries the search.
    searched = w.client.get("/app/statement", params={"q": "Mama Njeri"}).text
    assert len(lines(searched)) == pages.PAGE_LINES and "q=Mama+Njeri" in searched
    # Another wallet: a switch between them, and a cursor of one is no page of the other.
    wallets.open_wallet(w.ctx, w.amina.id, "UGX")
    switched = w.client.get("/app/statement", params={"currency": "UGX"}).text
    assert 'aria-current="page">UGX<' in switched and "No movements yet." in switched
    cursor = re.search(r"cursor=([^&\"]+)", html.unescape(older.group(1)))
    assert cursor is not None
    stale = w.client.get("/app/statement", params={"currency": "UGX", "cursor": cursor.group(1)})
    assert stale.status_code == 200 and "out of date" in alert(stale.text)
    # Someone with no wallet yet.
    w.client.cookies.clear()
    sign_in(w.client, w.baraka)
    assert "You have no wallet yet" in w.client.get("/app/statement").text


def test_odd_text_in_a_query_is_refused_as_any_other(w: World) -> None:
    # (A NUL anywhere in a query is refused by the app before any page: 400.)
    for query in ({"cursor": "tr_\x00"}, {"cursor": "x" * 500}, {"q": "\x00"}):
        assert w.client.get("/app/statement", params=query).status_code in (200, 400, 422)
    stale = w.client.get("/app/statement", params={"cursor": "x" * 500})
    assert "out of date" in alert(stale.text)
    for query in ({"ref": "INV-7", "till": "12\x00"}, {"ref": "INV-7", "till": "12 34"}):
        assert w.client.get("/app/pay/request", params=query).status_code in (400, 422)
    wide_digits = "".join(chr(0xFF10 + int(d)) for d in "123456")  # digits, but not ASCII
    response = w.client.get("/app/pay/request", params={"ref": "INV-7", "till": wide_digits})
    assert alert(response.text) == "There is no till with this number."


def test_the_pages_need_a_session(w: World) -> None:
    anonymous = TestClient(w.client.app, follow_redirects=False)
    for path in ("/app/statement", "/app/send", "/app/pay", "/app/pay/request?ref=x"):
        assert anonymous.get(path).headers["location"].partition("?")[0] == "/app/sign-in"
    for path in ("/app/send", "/app/send/confirm", "/app/pay/till", "/app/pay/qr"):
        assert (
            anonymous.post(path, data={"pin": PIN}).headers["location"].partition("?")[0]
            == "/app/sign-in"
        )


def test_the_pages_speak_kiswahili(w: World) -> None:
    users.set_language(w.ctx, w.amina.id, "sw")
    page = w.client.get("/app/send").text
    assert "Tuma pesa" in page and 'lang="sw"' in page
    review = review_send(w, phone=w.baraka.phone, amount="100")
    wrong, _ = confirm(w, review, "/app/send/confirm", pin="1111")
    assert alert(wrong.text) == "PIN si sahihi. Tafadhali jaribu tena. Zimebaki nafasi 4."


# --- the buyer's dispute --------------------------------------------------------------------


def test_the_buyer_opens_a_dispute_once_and_the_money_stays_frozen(w: World) -> None:
    order = escrow.create_order(
        w.ctx, seller_id=w.kiosk.user_id, buyer_id=w.amina.id, amount=kes("4500.00"),
        items=[OrderItem("Kitenge fabric, 6 yards", 2)],
        ship_by=w.clock.now() + timedelta(days=2), idempotency_key=key(),
    )  # fmt: skip
    action = f"/app/orders/{order.id}/dispute"
    assert action not in w.client.get(f"/app/orders/{order.id}").text  # not paid yet
    escrow.fund(w.ctx, buyer_id=w.amina.id, order_id=order.id, idempotency_key=key())
    page = w.client.get(f"/app/orders/{order.id}").text
    sent = fields(page, action) | {
        "reason": "not_received",
        "message": "Nothing came",
        "pin": "1111",
    }
    wrong = w.client.post(action, data=sent)
    assert wrong.status_code == 422 and "Wrong PIN" in alert(wrong.text)
    assert escrow.get_order(w.ctx, order.id).state is EscrowState.FUNDED
    sent |= {"pin": PIN}
    done = w.client.post(action, data=sent)
    assert done.status_code == 200 and "Dispute opened" in done.text
    assert w.client.post(action, data=sent).status_code == 200  # the same form again: once
    assert escrow.get_order(w.ctx, order.id).state is EscrowState.DISPUTED
    [opened] = escrow.list_disputes(w.ctx, order.id)
    assert (opened.reason, opened.message) == ("not_received", "Nothing came")
    assert action not in w.client.get(f"/app/orders/{order.id}").text
    # The seller has no such form, and a forged one is refused.
    forged = w.client.post(action, data=sent | {"form_key": "web_x.y"})
    assert forged.status_code == 403
