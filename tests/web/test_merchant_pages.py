"""The merchant's pages (/app/shop) over HTTP, on both databases: sales with the chart, refunds,
the QR sticker, payment requests, orders to ship, payouts and credit; each form acting once,
refusals that move nothing, and every page "not found" to anyone but a merchant."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from credit_world import funded_lender, trading_shop
from fakes import FakeClock
from merchants import available, balance, consumer, kes, key, shop
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.context import Context
from soko.credit import service as credit
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowState, OrderItem
from soko.escrow.tracking import service as tracking
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.qr import service as qr
from soko.payouts import service as payouts
from soko.people import service as users
from soko.people.domain import Merchant, User

PIN = "1357"
SHOPS = ["/app/shop", "/app/shop/qr", "/app/shop/requests", "/app/shop/orders",
         "/app/shop/payouts", "/app/shop/credit"]  # fmt: skip


@dataclass
class World:
    ctx: Context
    clock: FakeClock
    app: FastAPI
    merchant: Merchant
    buyer: User

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def signed_in(self, user_id: str | None = None, pin: str = PIN) -> TestClient:
        client = self.client()
        user = users.get_user(self.ctx, user_id or self.merchant.user_id)
        page = client.get("/app/sign-in")
        fields = {"phone": user.phone, "pin": pin}
        sent = client.post(
            "/app/sign-in", data=fields | {"form_key": form_key(page.text, "/app/sign-in")}
        )
        assert sent.status_code == 303, sent.text
        return client

    def sale(self, amount: str = "1500.00") -> str:
        return payments.pay_merchant(
            self.ctx, payer_id=self.buyer.id, merchant_id=self.merchant.user_id,
            amount=kes(amount), idempotency_key=key(),
        ).id  # fmt: skip


@pytest.fixture
def world(any_runtime: Runtime, clock: FakeClock) -> Iterator[World]:
    ctx = any_runtime.context
    merchant = shop(ctx, "5651", name="Nakato Fabrics")
    users.set_pin(ctx, merchant.user_id, PIN)
    buyer = consumer(ctx, funds="20000.00")
    yield World(ctx, clock, create_app(any_runtime), merchant, buyer)
    assert reconcile(ctx).passed


def form_key(page: str, action: str) -> str:
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>.*?name="form_key" value="([^"]*)"', page, re.S
    )
    assert found is not None, page
    return found.group(1)


def post(client: TestClient, page: str, action: str, **fields: str) -> Response:
    return client.post(action, data={"form_key": form_key(client.get(page).text, action)} | fields)


def alert(page: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', page)
    assert found is not None, page
    return found.group(1)


def test_every_shop_page_is_the_merchants_only(world: World) -> None:
    assert world.client().get("/app/shop").status_code == 303  # no session: sign in
    consumer_client = world.signed_in(world.buyer.id, "2468")
    for path in SHOPS:
        page = consumer_client.get(path)
        assert page.status_code == 404 and "Not found" in page.text, path
    merchant = world.signed_in()
    for path in SHOPS:
        page = merchant.get(path)
        assert page.status_code == 200, (path, page.text)
        assert 'name="viewport"' in page.text
        assert len(page.content) < 60_000, (path, len(page.content))
    assert 'href="/app/shop"' in merchant.get("/app").text


def test_the_sales_page_counts_today_and_the_month_and_draws_them(world: World) -> None:
    world.sale("1500.00")
    world.sale("500.00")
    world.clock.advance(86_400)
    world.sale("250.00")
    page = world.signed_in().get("/app/shop").text
    today = re.search(r'data-testid="sales-today">([^<]*)<', page)
    month = re.search(r'data-testid="sales-month">([^<]*)<', page)
    assert today is not None and month is not None
    assert today.group(1) == "KES 250.00"
    # The fake clock starts on the 1st: both days are this month.
    assert month.group(1) == "KES 2,250.00"
    svg = page[page.rindex("<svg", 0, page.index('data-testid="sales-chart"')) :]
    svg = svg[: svg.index("</svg>")]
    assert '<title id="chart-title">' in svg and "<desc" in svg and "viewBox" in svg
    assert svg.count('data-testid="bar"') == 2
    assert 'data-testid="sales-table"' in page and "KES 2,000.00" in page


def test_a_refund_gives_back_once_and_shows(world: World) -> None:
    paid = world.sale("1500.00")
    client = world.signed_in()
    before = balance(world.ctx, world.buyer.id)
    action = f"/app/shop/payments/{paid}/refund"
    sent = {"form_key": form_key(client.get("/app/shop").text, action), "amount": "500",
            "pin": PIN}  # fmt: skip
    first = client.post(action, data=sent)
    again = client.post(action, data=sent)  # a double tap
    assert first.status_code == again.status_code == 200, first.text
    assert "Refunded KES 500.00 to the customer." in first.text
    assert balance(world.ctx, world.buyer.id) == before + 50_000
    assert "Refunded KES 500.00 on" in client.get("/app/shop").text
    # Too much, a wrong PIN, letters, a forged key: a sentence, nothing moved.
    for fields, status in [
        ({"amount": "1000.01", "pin": PIN}, 422),
        ({"amount": "10", "pin": "9999"}, 422),
        ({"amount": "ten", "pin": PIN}, 422),
    ]:
        refused = post(client, "/app/shop", action, **fields)
        assert refused.status_code in (status, 401, 403, 409), refused.text
        assert alert(refused.text)
    forged = client.post(action, data={"form_key": "web_x.y", "amount": "10", "pin": PIN})
    assert forged.status_code == 403
    assert balance(world.ctx, world.buyer.id) == before + 50_000


def test_another_shops_payment_is_not_found(world: World) -> None:
    other = shop(world.ctx, name="Other Shop")
    theirs = payments.pay_merchant(world.ctx, payer_id=world.buyer.id,
                                   merchant_id=other.user_id, amount=kes("100"),
                                   idempotency_key=key()).id  # fmt: skip
    client = world.signed_in()
    refused = client.post(f"/app/shop/payments/{theirs}/refund",
                          data={"form_key": "x.y", "amount": "1", "pin": PIN})  # fmt: skip
    assert refused.status_code == 404


def test_payments_are_paged_newest_first(world: World) -> None:
    for n in range(22):
        world.sale(f"{100 + n}.00")
        world.clock.advance(60)
    client = world.signed_in()
    first = client.get("/app/shop").text
    assert first.index("KES 121.00") < first.index("KES 120.00")
    assert "KES 101.00" not in first and 'href="/app/shop?page=1"' in first
    second = client.get("/app/shop?page=1").text
    assert "KES 101.00" in second and "KES 100.00" in second and "KES 121.00" not in second
    for odd in ("abc", "-1", "99999"):
        assert client.get(f"/app/shop?page={odd}").status_code == 200


def test_the_qr_sticker_prints_the_till_and_the_shops_city(world: World) -> None:
    page = world.signed_in().get("/app/shop/qr").text
    assert "@page { size: A6" in page
    assert f'data-testid="till">{world.merchant.till_number}<' in page
    assert "Nakato Fabrics" in page and "Nairobi" in page
    assert "<svg" in page and "viewBox" in page and "<?xml" not in page


def test_a_request_is_made_once_shared_and_listed(world: World) -> None:
    client = world.signed_in()
    action = "/app/shop/requests"
    sent = {"form_key": form_key(client.get(action).text, action), "amount": "2,500",
            "description": "Two kitenge", "reference": "INV-7", "expires_in": "86400"}  # fmt: skip
    made = client.post(action, data=sent)
    client.post(action, data=sent)
    assert made.status_code == 200, made.text
    link = re.search(r'data-testid="share-link">([^<]*)<', made.text)
    assert link is not None and "/pay/prq_" in link.group(1)
    assert 'data-testid="share-reference">INV-7<' in made.text and "<svg" in made.text
    found = payment_requests.list_requests(world.ctx, world.merchant.user_id).requests
    assert len(found) == 1 and found[0].amount == 250_000
    # Paid, expired and open ones are told apart.
    payment_requests.pay_request(world.ctx, payer_id=world.buyer.id, request_id=found[0].id,
                                 amount=None, idempotency_key=key())  # fmt: skip
    payment_requests.create_request(world.ctx, merchant_id=world.merchant.user_id,
                                    amount=kes("10"), reference="OLD", expires_in_seconds=60,
                                    idempotency_key=key())  # fmt: skip
    world.clock.advance(120)
    listed = client.get(action).text
    assert 'data-state="paid"' in listed and 'data-state="expired"' in listed
    refused = post(client, action, action, amount="12.345", reference="X", expires_in="86400")
    assert refused.status_code == 422 and alert(refused.text)
    refused = post(client, action, action, amount="12", reference="", expires_in="86400")
    assert refused.status_code == 422 and alert(refused.text)
    assert len(payment_requests.list_requests(world.ctx, world.merchant.user_id).requests) == 2


def test_a_funded_order_is_marked_shipped(world: World) -> None:
    tracking.add_carrier(world.ctx, code="g4s", name="G4S Courier")
    order = escrow.create_order(
        world.ctx, seller_id=world.merchant.user_id, buyer_id=world.buyer.id,
        amount=kes("4500.00"), items=[OrderItem("Kitenge", 2)],
        ship_by=world.clock.now() + timedelta(days=2), idempotency_key=key(),
    )  # fmt: skip
    escrow.fund(world.ctx, buyer_id=world.buyer.id, order_id=order.id, idempotency_key=key())
    client = world.signed_in()
    action = f"/app/shop/orders/{order.id}/ship"
    page = client.get("/app/shop/orders").text
    assert 'data-state="funded"' in page and "Paid into escrow: ship it" in page
    refused = post(client, "/app/shop/orders", action, carrier="nope", tracking_number="AB12345")
    assert refused.status_code in (404, 422) and alert(refused.text)
    shipped = post(client, "/app/shop/orders", action, carrier="g4s", tracking_number="AB12345")
    assert shipped.status_code == 200, shipped.text
    assert escrow.get_order(world.ctx, order.id).state is EscrowState.SHIPPED
    assert action not in client.get("/app/shop/orders").text  # no second form


def test_a_payout_holds_the_money_once(world: World) -> None:
    world.sale("1500.00")
    client = world.signed_in()
    page = client.get("/app/shop/payouts").text
    assert "At most" in page
    action = "/app/shop/payouts"
    sent = {"form_key": form_key(page, action), "amount": "1000", "phone": "", "pin": PIN}
    first = client.post(action, data=sent)
    client.post(action, data=sent)
    assert first.status_code == 200, first.text
    assert len(payouts.list_payouts(world.ctx, world.merchant.user_id).payouts) == 1
    assert 'data-state="requested"' in client.get(action).text
    left = available(world.ctx, world.merchant.user_id)
    too_much = post(client, action, action, amount="100000", phone="", pin=PIN)
    assert too_much.status_code == 422 and alert(too_much.text)
    assert available(world.ctx, world.merchant.user_id) == left


def test_credit_without_history_says_why(world: World) -> None:
    page = world.signed_in().get("/app/shop/credit").text
    assert "No loan offer yet" in page and 'data-testid="reasons"' in page
    assert "You have taken payments with Soko for 0 days; an offer needs at least" in page


def test_credit_reasons_are_in_the_merchants_language(world: World) -> None:
    users.set_language(world.ctx, world.merchant.user_id, "sw")
    page = world.signed_in().get("/app/shop/credit").text
    assert "Umepokea malipo kwa Soko kwa siku 0; ofa inahitaji angalau" in page
    assert "Endelea kuuza na Soko: unaweza kupewa ofa ya mkopo kuanzia" in page
    assert "You have taken payments" not in page


def test_a_loan_is_taken_once_and_repaid_from_the_wallet(
    any_runtime: Runtime, clock: FakeClock
) -> None:
    ctx = any_runtime.context
    funded_lender(ctx)
    trader = trading_shop(ctx, clock, tenure_days=100)
    users.set_pin(ctx, trader.merchant.user_id, PIN)
    world = World(ctx, clock, create_app(any_runtime), trader.merchant, trader.payers[0])
    client = world.signed_in()
    page = client.get("/app/shop/credit").text
    assert 'data-testid="offer"' in page and "of every sale" in page
    offer = credit.credit_offers(ctx, trader.merchant.user_id).offers[0]
    action = "/app/shop/credit/loan"
    over = {"form_key": form_key(page, action), "offer_id": offer.id, "pin": PIN,
            "amount": str(offer.limit_minor // 100 + 1)}  # fmt: skip
    refused = client.post(action, data=over)
    assert refused.status_code == 422 and alert(refused.text)
    before = balance(ctx, trader.merchant.user_id)
    sent = over | {"amount": "1000"}
    taken = client.post(action, data=sent)
    client.post(action, data=sent)
    assert taken.status_code == 200, taken.text
    assert balance(ctx, trader.merchant.user_id) == before + 100_000
    assert 'data-testid="loan"' in taken.text and 'data-testid="offer"' not in taken.text
    [loan] = credit.list_loans(ctx, merchant_id=trader.merchant.user_id, status=None)
    repay = post(client, "/app/shop/credit", "/app/shop/credit/repay",
                 loan_id=loan.id, amount="300", pin=PIN)  # fmt: skip
    assert repay.status_code == 200 and "You repaid KES 300.00." in repay.text
    assert credit.get_loan(ctx, loan.id).outstanding_minor == loan.outstanding_minor - 30_000
    too_much = post(client, "/app/shop/credit", "/app/shop/credit/repay",
                    loan_id=loan.id, amount="999999", pin=PIN)  # fmt: skip
    assert too_much.status_code == 422 and alert(too_much.text)
    assert reconcile(ctx).passed


def test_the_qr_payload_the_sticker_draws_is_the_shops(world: World) -> None:
    payload = qr.merchant_code(world.ctx, world.merchant.user_id).payload()
    assert world.merchant.till_number in payload and "6007Nairobi" in payload


def test_the_pages_speak_the_merchants_language(world: World) -> None:
    users.set_language(world.ctx, world.merchant.user_id, "sw")
    client = world.signed_in()
    assert "Mauzo ya leo" in client.get("/app/shop").text
    assert "Namba ya till" in client.get("/app/shop/qr").text
    assert "Omba malipo" in client.get("/app/shop/requests").text
    assert "Toa pesa zako" in client.get("/app/shop/payouts").text


def test_money_forms_refuse_a_wrong_pin_and_move_nothing(world: World) -> None:
    world.sale("1500.00")
    client = world.signed_in()
    before = available(world.ctx, world.merchant.user_id)
    refused = post(client, "/app/shop/payouts", "/app/shop/payouts", amount="100", phone="",
                   pin="0000")  # fmt: skip
    assert refused.status_code in (401, 403, 422) and "PIN" in alert(refused.text)
    letters = post(client, "/app/shop/payouts", "/app/shop/payouts", amount="1oo", phone="",
                   pin=PIN)  # fmt: skip
    assert letters.status_code == 422 and "figures" in alert(letters.text)
    assert available(world.ctx, world.merchant.user_id) == before
    assert payouts.list_payouts(world.ctx, world.merchant.user_id).payouts == []
