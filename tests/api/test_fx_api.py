"""FX over HTTP: rates set and imported by operators, quotes, a transfer, a conversion and a till
payment with a quote_id, replays, problem bodies, and tenancy (another user's quote is 404).

The app runs with the UGX>KES corridor open (150 bp, tier 1) and a UGX 500 FX fee; Okello in
Kampala (UGX) pays Amina and Wanjiru's kiosk in Nairobi (KES).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from world import PINS, Api, People, bearer, populate

from fakes import FakeClock
from soko import bootstrap
from soko.channels.api.app import create_app
from soko.config import Settings
from soko.fx import service as fx
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import access
from soko.people import service as users
from soko.people.domain import User

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
CORRIDORS = '{"UGX>KES": {"spread_bps": 150, "min": "1000", "max": "5000000", "kyc_tier": 1}}'


@pytest.fixture
def fx_api(database_url: str, clock: FakeClock) -> Iterator[Api]:
    runtime = bootstrap.build(
        Settings(  # type: ignore[call-arg]
            database_url=database_url,
            pin_hash_time_cost=1,
            pin_hash_memory_kib=8,
            fx_corridors=CORRIDORS,
            tariff={"UGX": {"fx": [(7_000_000, 500)]}},
        ),
        clock=clock,
    )
    key = access.create_api_key(runtime.context, role="operator", name="tests")
    with TestClient(create_app(runtime)) as client:
        yield Api(client, runtime.context, clock, bearer(key.secret))
    assert reconcile(runtime.context).passed
    runtime.close()


@pytest.fixture
def fx_people(fx_api: Api) -> People:
    made = populate(fx_api.ctx)
    users.set_kyc_tier(fx_api.ctx, made.okello.id, 1, national_id="CM88001")
    for pair, rate in (("USD/KES", "129.25"), ("USD/UGX", "3652.40")):
        put = fx_api.client.put(
            f"/v1/fx/rates/{pair}", headers=fx_api.operator, json={"rate": rate}
        )
        assert put.status_code == 200, put.text
    fx.fund_liquidity(fx_api.ctx, amount=Money.parse("100000.00", "KES"), idempotency_key="kes")
    return made


def ugx(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "UGX"}


def kes(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "KES"}


def quote(api: Api, auth: dict[str, str], **amount: object) -> Any:
    body = {"source_currency": "UGX", "target_currency": "KES", **amount}
    return api.client.post("/v1/fx/quotes", headers=auth, json=body)


# --- rates --------------------------------------------------------------------------------------


def test_operators_set_and_import_rates_and_anyone_reads_them(
    fx_api: Api, fx_people: People
) -> None:
    rates = fx_api.client.get("/v1/fx/rates", headers=fx_api.operator).json()["items"]
    usd_kes = next(r for r in rates if (r["base"], r["quote"]) == ("USD", "KES"))
    assert (usd_kes["rate"], usd_kes["exact"], usd_kes["stale"]) == ("129.25", "517/4", False)

    data = (FIXTURES / "eurofxref-daily.xml").read_bytes()
    headers = {**fx_api.operator, "Content-Type": "application/xml"}
    imported = fx_api.client.post("/v1/fx/rates/imports", headers=headers, content=data)
    assert imported.status_code == 201, imported.text
    assert imported.json()["format"] == "ecb_xml" and imported.json()["added"] == 9
    again = fx_api.client.post("/v1/fx/rates/imports", headers=headers, content=data).json()
    assert (again["added"], again["unchanged"]) == (0, 9)

    bad = fx_api.client.post(
        "/v1/fx/rates/imports",
        headers={**fx_api.operator, "Content-Type": "text/csv"},
        content=b"base,quote,rate,as_of\nUSD,KES,1e3,2026-01-01T00:00:00Z\n",
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "fx_rate_file_invalid"

    amina = fx_api.sign_in(fx_people.amina, PINS["amina"])
    assert fx_api.client.get("/v1/fx/rates", headers=amina).status_code == 200
    refused = fx_api.client.put("/v1/fx/rates/USD/KES", headers=amina, json={"rate": "1"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "caller_not_allowed"


@pytest.mark.parametrize(
    ("rate", "code"),
    [("1e3", "fx_rate_invalid"), ("-1", "fx_rate_invalid"), ("0", "fx_rate_invalid")],
)
def test_a_bad_rate_is_a_problem(fx_api: Api, rate: str, code: str) -> None:
    response = fx_api.client.put(
        "/v1/fx/rates/USD/KES", headers=fx_api.operator, json={"rate": rate}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


# --- quotes -------------------------------------------------------------------------------------


def test_a_quote_shows_the_mid_rate_spread_and_fee_apart(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    response = quote(fx_api, okello, source_amount=ugx("100000"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/fx/quotes/{body['id']}"
    assert body["id"].startswith("fxq_")
    assert body["source_amount"] == ugx("100000")
    assert (body["converted"], body["spread"], body["fee"]) == (
        ugx("98007"),
        ugx("1493"),
        ugx("500"),
    )
    assert body["target_amount"] == kes("3468.24")
    assert body["mid_rate_exact"] == "2585/73048"
    assert body["mid_rate"] == "0.0353876903"
    assert body["spread_bps"] == 150 and body["status"] == "open"
    assert {(r["base"], r["quote"]) for r in body["derived_from"]} == {
        ("USD", "KES"),
        ("USD", "UGX"),
    }
    seen = fx_api.client.get(f"/v1/fx/quotes/{body['id']}", headers=okello)
    assert seen.json() == body

    by_target = quote(fx_api, okello, target_amount=kes("2000.00")).json()
    assert by_target["source_amount"] == ugx("57878")


@pytest.mark.parametrize(
    ("amounts", "status", "code"),
    [
        ({}, 422, "request_invalid"),
        ({"source_amount": ugx("1000"), "target_amount": kes("1.00")}, 422, "request_invalid"),
        ({"source_amount": ugx("999")}, 422, "fx_amount_outside_corridor"),
        ({"source_amount": kes("10.00")}, 422, "currency_mismatch"),
    ],
)
def test_a_quote_that_cannot_be_made_is_a_problem(
    fx_api: Api, fx_people: People, amounts: dict[str, object], status: int, code: str
) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    response = quote(fx_api, okello, **amounts)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_a_closed_corridor_and_a_low_tier_are_refused(fx_api: Api, fx_people: People) -> None:
    amina = fx_api.sign_in(fx_people.amina, PINS["amina"])
    closed = fx_api.client.post(
        "/v1/fx/quotes",
        headers=amina,
        json={"source_currency": "KES", "target_currency": "UGX", "source_amount": kes("10.00")},
    )
    assert (closed.status_code, closed.json()["code"]) == (422, "fx_corridor_disabled")
    users.set_kyc_tier(fx_api.ctx, fx_people.okello.id, 0)
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    low = quote(fx_api, okello, source_amount=ugx("100000"))
    assert (low.status_code, low.json()["code"]) == (403, "fx_tier_too_low")


def test_stale_rates_are_refused(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    fx_api.clock.advance(5 * 24 * 3600)
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    response = quote(fx_api, okello, source_amount=ugx("100000"))
    assert (response.status_code, response.json()["code"]) == (422, "fx_rate_stale")
    rates = fx_api.client.get("/v1/fx/rates", headers=okello).json()["items"]
    assert all(rate["stale"] for rate in rates)


def test_another_users_quote_is_404_and_an_operator_sees_it(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    made = quote(fx_api, okello, source_amount=ugx("100000")).json()
    amina = fx_api.sign_in(fx_people.amina, PINS["amina"])
    theirs = fx_api.client.get(f"/v1/fx/quotes/{made['id']}", headers=amina)
    unknown = fx_api.client.get("/v1/fx/quotes/fxq_01JH000000000000000000", headers=amina)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["code"] == unknown.json()["code"] == "fx_quote_not_found"
    assert theirs.json()["title"] == unknown.json()["title"]
    shop = fx_api.merchant_key(fx_people.shop)
    assert fx_api.client.get(f"/v1/fx/quotes/{made['id']}", headers=shop).status_code == 404
    seen = fx_api.client.get(f"/v1/fx/quotes/{made['id']}", headers=fx_api.operator)
    assert seen.status_code == 200
    # Using someone else's quote reads as an unknown quote too, and moves nothing.
    before = fx_api.transfers()
    used = fx_api.client.post(
        "/v1/transfers",
        headers=fx_api.moving(amina),
        json={"quote_id": made["id"], "to_phone": fx_people.shop.phone},
    )
    assert (used.status_code, used.json()["code"]) == (404, "fx_quote_not_found")
    assert fx_api.transfers() == before


# --- accepting a quote --------------------------------------------------------------------------


def test_a_transfer_with_a_quote_pays_across_currencies_and_replays(
    fx_api: Api, fx_people: People
) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    made = quote(fx_api, okello, source_amount=ugx("100000")).json()
    body = {"quote_id": made["id"], "to_phone": fx_people.amina.phone, "message": "for school"}
    first = fx_api.client.post("/v1/transfers", headers=fx_api.moving(okello, "fx-1"), json=body)
    assert first.status_code == 201, first.text
    payment = first.json()
    assert payment["kind"] == "fx_p2p"
    assert payment["amount"] == ugx("98007") and payment["fee"] == ugx("1993")
    assert payment["target_amount"] == kes("3468.24")
    assert fx_api.balance(fx_people.okello, "UGX") == "100000"
    assert fx_api.balance(fx_people.amina) == "8468.24"

    after = fx_api.transfers()
    again = fx_api.client.post("/v1/transfers", headers=fx_api.moving(okello, "fx-1"), json=body)
    assert again.status_code == 201 and again.json() == payment
    assert fx_api.transfers() == after

    reused = fx_api.client.post("/v1/transfers", headers=fx_api.moving(okello), json=body)
    assert (reused.status_code, reused.json()["code"]) == (409, "fx_quote_used")
    other_body = fx_api.client.post(
        "/v1/transfers", headers=fx_api.moving(okello, "fx-1"), json={**body, "message": "x"}
    )
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")

    status = fx_api.client.get(f"/v1/fx/quotes/{made['id']}", headers=okello).json()
    assert (status["status"], status["payment_id"]) == ("used", payment["id"])
    # Both sides may read the payment.
    amina = fx_api.sign_in(fx_people.amina, PINS["amina"])
    read = fx_api.client.get(f"/v1/payments/{payment['id']}", headers=amina)
    assert read.status_code == 200 and read.json()["target_amount"] == kes("3468.24")


def test_an_expired_quote_and_a_wrong_amount_are_refused(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    made = quote(fx_api, okello, source_amount=ugx("100000")).json()
    body = {"quote_id": made["id"], "to_phone": fx_people.amina.phone}
    wrong = fx_api.client.post(
        "/v1/transfers", headers=fx_api.moving(okello), json={**body, "amount": ugx("100001")}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "fx_quote_mismatch")
    fx_api.clock.advance(300)
    late = fx_api.client.post("/v1/transfers", headers=fx_api.moving(okello), json=body)
    assert (late.status_code, late.json()["code"]) == (409, "fx_quote_expired")
    shown = fx_api.client.get(f"/v1/fx/quotes/{made['id']}", headers=okello).json()
    assert shown["status"] == "expired"


def test_a_transfer_without_amount_or_quote_is_a_schema_problem(
    fx_api: Api, fx_people: People
) -> None:
    amina = fx_api.sign_in(fx_people.amina, PINS["amina"])
    response = fx_api.client.post(
        "/v1/transfers", headers=fx_api.moving(amina), json={"to_phone": fx_people.shop.phone}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "request_invalid"
    assert response.json()["errors"][0]["field"] == "amount"


def test_liquidity_short_of_the_target_is_refused(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    # KES 100,000 of liquidity; KES 3,468.24 per UGX 100,000: this one is too big.
    users.set_kyc_tier(fx_api.ctx, fx_people.okello.id, 2, national_id="CM88001")
    payments.cash_in(fx_api.ctx, agent_id=fx_people.agent.id, customer_phone=fx_people.okello.phone,
                     amount=Money.parse("4000000", "UGX"), idempotency_key="more")  # fmt: skip
    before = fx_api.transfers()
    made = quote(fx_api, okello, source_amount=ugx("4000000")).json()
    response = fx_api.client.post(
        "/v1/fx/conversions", headers=fx_api.moving(okello), json={"quote_id": made["id"]}
    )
    # About KES 138,000 to pay out of KES 100,000: refused before any leg is posted.
    assert response.status_code == 422
    assert response.json()["code"] == "fx_liquidity_insufficient"
    assert fx_api.transfers() == before  # the legs posted before the check rolled back
    assert fx_api.balance(fx_people.okello, "UGX") == "4200000"


def test_a_conversion_and_a_till_payment_with_a_quote(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    made = quote(fx_api, okello, target_amount=kes("500.00")).json()
    converted = fx_api.client.post(
        "/v1/fx/conversions", headers=fx_api.moving(okello, "c-1"), json={"quote_id": made["id"]}
    )
    assert converted.status_code == 201, converted.text
    assert converted.json()["kind"] == "fx_conversion"
    assert converted.json()["target_amount"] == made["target_amount"]
    replay = fx_api.client.post(
        "/v1/fx/conversions", headers=fx_api.moving(okello, "c-1"), json={"quote_id": made["id"]}
    )
    assert replay.status_code == 201 and replay.json() == converted.json()
    assert fx_api.balance(fx_people.okello, "KES") == made["target_amount"]["amount"]

    till = users.get_merchant(fx_api.ctx, fx_people.shop.id).till_number
    shop_quote = quote(fx_api, okello, source_amount=ugx("50000")).json()
    paid = fx_api.client.post(
        "/v1/merchant-payments",
        headers=fx_api.moving(okello),
        json={"quote_id": shop_quote["id"], "till_number": till, "amount": ugx("50000")},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["kind"] == "fx_merchant"
    assert paid.json()["target_amount"] == shop_quote["target_amount"]
    # The merchant sees the payment it received.
    shop = fx_api.merchant_key(fx_people.shop)
    seen = fx_api.client.get(f"/v1/payments/{paid.json()['id']}", headers=shop)
    assert seen.status_code == 200


def test_positions_are_for_operators(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    made = quote(fx_api, okello, source_amount=ugx("100000")).json()
    fx_api.client.post(
        "/v1/transfers",
        headers=fx_api.moving(okello),
        json={"quote_id": made["id"], "to_phone": fx_people.amina.phone},
    )
    report = fx_api.client.get("/v1/fx/positions", headers=fx_api.operator)
    assert report.status_code == 200, report.text
    items = {item["currency"]: item for item in report.json()["items"]}
    assert items["UGX"]["converted"] == ugx("98007") and items["UGX"]["spread"] == ugx("1493")
    assert items["KES"]["paid_out"] == kes("3468.24")
    assert items["KES"]["liquidity"] == kes("96531.76")
    assert fx_api.client.get("/v1/fx/positions", headers=okello).status_code == 403
    backwards = fx_api.client.get(
        "/v1/fx/positions",
        headers=fx_api.operator,
        params={"since": "2026-01-02T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"},
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "fx_period_invalid")


# --- payment requests and QR codes paid from another currency -----------------------------------


def ask(api: Api, shop: User, amount: str, reference: str = "INV-7") -> Any:
    made = api.client.post(
        "/v1/payment-requests",
        headers=api.moving(api.merchant_key(shop)),
        json={"amount": kes(amount), "reference": reference},
    )
    assert made.status_code == 201, made.text
    return made.json()


def test_a_payment_request_is_paid_from_ugx_with_a_quote(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    asked = ask(fx_api, fx_people.shop, "2000.00")
    # Shown before paying: the quote for the request's amount, on both sides.
    made = quote(fx_api, okello, target_amount=asked["amount"]).json()
    assert made["target_amount"] == kes("2000.00")
    assert made["source_amount"] == ugx("57878")
    path = f"/v1/payment-requests/{asked['id']}/pay"
    body = {"quote_id": made["id"], "amount": made["source_amount"]}
    paid = fx_api.client.post(path, headers=fx_api.moving(okello, "prq-fx-1"), json=body)
    assert paid.status_code == 201, paid.text
    payment = paid.json()
    assert payment["kind"] == "fx_merchant"
    assert payment["target_amount"] == kes("2000.00")
    replay = fx_api.client.post(path, headers=fx_api.moving(okello, "prq-fx-1"), json=body)
    assert replay.status_code == 201 and replay.json() == payment
    shop = fx_api.merchant_key(fx_people.shop)
    seen = fx_api.client.get(f"/v1/payment-requests/{asked['id']}", headers=shop).json()
    assert (seen["status"], seen["payment_id"]) == ("paid", payment["id"])
    assert fx_api.balance(fx_people.okello, "UGX") == str(200000 - 57878)
    # Paid once: another quote for the same request is refused, nothing moves.
    before = fx_api.transfers()
    again = quote(fx_api, okello, target_amount=asked["amount"]).json()
    twice = fx_api.client.post(path, headers=fx_api.moving(okello), json={"quote_id": again["id"]})
    assert twice.status_code == 409
    assert twice.json()["code"] == "payment_request_already_paid"
    assert fx_api.transfers() == before


@pytest.mark.parametrize(
    ("quoted", "code", "status"),
    [
        # A quote for another amount: the merchant would not get exactly what it asked.
        ({"source_amount": ugx("100000")}, "fx_quote_mismatch", 422),
        ({"target_amount": kes("1990.00")}, "fx_quote_mismatch", 422),
    ],
)
def test_a_quote_that_does_not_pay_the_request_is_refused(
    fx_api: Api, fx_people: People, quoted: dict[str, Any], code: str, status: int
) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    asked = ask(fx_api, fx_people.shop, "2000.00")
    made = quote(fx_api, okello, **quoted).json()
    before = fx_api.transfers()
    refused = fx_api.client.post(
        f"/v1/payment-requests/{asked['id']}/pay",
        headers=fx_api.moving(okello),
        json={"quote_id": made["id"]},
    )
    assert refused.status_code == status, refused.text
    assert refused.json()["code"] == code
    assert fx_api.transfers() == before
    # The quote was not used: it still pays what it was made for.
    kept = fx_api.client.get(f"/v1/fx/quotes/{made['id']}", headers=okello).json()
    assert kept["used_at"] is None


def test_an_expired_quote_or_another_amount_leaves_the_request_open(
    fx_api: Api, fx_people: People
) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    asked = ask(fx_api, fx_people.shop, "2000.00")
    made = quote(fx_api, okello, target_amount=asked["amount"]).json()
    path = f"/v1/payment-requests/{asked['id']}/pay"
    wrong = fx_api.client.post(
        path, headers=fx_api.moving(okello), json={"quote_id": made["id"], "amount": kes("20.00")}
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "amount_differs_from_request"
    fx_api.clock.advance(seconds=301)
    before = fx_api.transfers()
    expired = fx_api.client.post(path, headers=fx_api.moving(okello), json={"quote_id": made["id"]})
    assert expired.status_code == 409
    assert expired.json()["code"] == "fx_quote_expired"
    assert fx_api.transfers() == before
    shop = fx_api.merchant_key(fx_people.shop)
    assert (
        fx_api.client.get(f"/v1/payment-requests/{asked['id']}", headers=shop).json()["status"]
        == "open"
    )


def test_qr_codes_are_paid_from_ugx_with_a_quote(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    shop = fx_api.merchant_key(fx_people.shop)
    # A request's dynamic code: scanning it pays that request, exactly its amount.
    asked = ask(fx_api, fx_people.shop, "150.00", reference="TABLE-4")
    code = fx_api.client.get(f"/v1/payment-requests/{asked['id']}/qr", headers=shop).json()
    made = quote(fx_api, okello, target_amount=kes("150.00")).json()
    paid = fx_api.client.post(
        "/v1/qr-payments",
        headers=fx_api.moving(okello),
        json={"payload": code["payload"], "quote_id": made["id"]},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["target_amount"] == kes("150.00")
    seen = fx_api.client.get(f"/v1/payment-requests/{asked['id']}", headers=shop).json()
    assert seen["status"] == "paid"

    # A dynamic till code with an amount: the quote must be the one for that amount.
    dynamic = fx_api.client.get(
        f"/v1/merchants/{fx_people.shop.id}/qr", headers=shop, params={"amount": "80.00"}
    ).json()["payload"]
    wrong = quote(fx_api, okello, target_amount=kes("90.00")).json()
    refused = fx_api.client.post(
        "/v1/qr-payments",
        headers=fx_api.moving(okello),
        json={"payload": dynamic, "quote_id": wrong["id"]},
    )
    assert refused.status_code == 422 and refused.json()["code"] == "fx_quote_mismatch"
    right = quote(fx_api, okello, target_amount=kes("80.00")).json()
    paid = fx_api.client.post(
        "/v1/qr-payments",
        headers=fx_api.moving(okello, "qr-fx-dyn"),
        json={"payload": dynamic, "quote_id": right["id"], "amount": kes("80.00")},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["target_amount"] == kes("80.00")
    replay = fx_api.client.post(
        "/v1/qr-payments",
        headers=fx_api.moving(okello, "qr-fx-dyn"),
        json={"payload": dynamic, "quote_id": right["id"], "amount": kes("80.00")},
    )
    assert replay.json() == paid.json()

    # A static code: the merchant receives the quote's target amount.
    static = fx_api.client.get(f"/v1/merchants/{fx_people.shop.id}/qr", headers=shop).json()
    any_quote = quote(fx_api, okello, source_amount=ugx("20000")).json()
    paid = fx_api.client.post(
        "/v1/qr-payments",
        headers=fx_api.moving(okello),
        json={"payload": static["payload"], "quote_id": any_quote["id"]},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["target_amount"] == any_quote["target_amount"]
    # Someone else's quote reads as none.
    amina = fx_api.sign_in(fx_people.amina, PINS["amina"])
    stolen = fx_api.client.post(
        "/v1/qr-payments",
        headers=fx_api.moving(amina),
        json={"payload": static["payload"], "quote_id": right["id"]},
    )
    assert stolen.status_code == 404 and stolen.json()["code"] == "fx_quote_not_found"


# --- escrow orders funded from another currency -------------------------------------------------


def escrow_order(api: Api, people: People, amount: str) -> Any:
    made = api.client.post(
        "/v1/escrow-orders",
        json={
            "buyer_phone": people.okello.phone,
            "amount": kes(amount),
            "items": [{"name": "Kitenge fabric, 6 yards", "quantity": 2}],
            "ship_by": (api.clock.now() + timedelta(days=2)).isoformat(),
        },
        headers=api.moving(api.merchant_key(people.shop)),
    )
    assert made.status_code == 201, made.text
    return made.json()


def liquidity(api: Api, currency: str) -> int:
    """What the operator's FX liquidity in `currency` can still pay: escrow holds count."""
    return next(
        (total.balance - total.debits_pending for total in ledger.system_totals(api.ctx)
         if total.code is AccountCode.FX_LIQUIDITY and total.currency == currency),
        0,
    )  # fmt: skip


def test_an_escrow_order_funded_in_ugx_pays_the_seller_kes(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    order = escrow_order(fx_api, fx_people, "2000.00")
    made = quote(fx_api, okello, target_amount=order["amount"]).json()
    path = f"/v1/escrow-orders/{order['id']}"
    funded = fx_api.client.post(
        f"{path}/fund", headers=fx_api.moving(okello, "esc-fx"), json={"quote_id": made["id"]}
    )
    assert funded.status_code == 200, funded.text
    assert (funded.json()["state"], funded.json()["fx_quote_id"]) == ("funded", made["id"])
    replay = fx_api.client.post(
        f"{path}/fund", headers=fx_api.moving(okello, "esc-fx"), json={"quote_id": made["id"]}
    )
    assert replay.json() == funded.json()
    assert fx_api.balance(fx_people.okello, "UGX") == str(200000 - 57878)
    # The rate moves a lot after funding: the order stays what it was locked at.
    fx_api.client.put("/v1/fx/rates/USD/KES", headers=fx_api.operator, json={"rate": "100"})
    released = fx_api.client.post(f"{path}/confirm", headers=fx_api.moving(okello), json={})
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "released"
    # The seller gets exactly the order's amount less its discount fee, in KES.
    fee = released.json()["fee"]["amount"]
    paid = Money.parse("2000.00", "KES") - Money.parse(fee, "KES")
    assert fx_api.balance(fx_people.shop, "KES") == paid.to_decimal_string()


@pytest.mark.parametrize("how", ["seller_cancels", "split"])
def test_a_refund_gives_back_the_buyers_own_currency_at_the_locked_rate(
    fx_api: Api, fx_people: People, how: str
) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    shop = fx_api.merchant_key(fx_people.shop)
    before_ugx, before_kes = liquidity(fx_api, "UGX"), liquidity(fx_api, "KES")
    order = escrow_order(fx_api, fx_people, "2000.00")
    made = quote(fx_api, okello, target_amount=order["amount"]).json()
    path = f"/v1/escrow-orders/{order['id']}"
    funded = fx_api.client.post(
        f"{path}/fund", headers=fx_api.moving(okello), json={"quote_id": made["id"]}
    )
    assert funded.status_code == 200, funded.text
    assert liquidity(fx_api, "KES") == before_kes - 200000  # held from the KES liquidity
    # Whatever the rate does meanwhile, a refund is at the rate locked at funding.
    fx_api.client.put("/v1/fx/rates/USD/UGX", headers=fx_api.operator, json={"rate": "5000"})
    if how == "seller_cancels":
        done = fx_api.client.post(f"{path}/cancel", headers=fx_api.moving(shop), json={})
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "refunded"
        # All of it back, spread and fee included; both liquidities as before.
        assert fx_api.balance(fx_people.okello, "UGX") == "200000"
        assert (liquidity(fx_api, "UGX"), liquidity(fx_api, "KES")) == (before_ugx, before_kes)
        return
    disputed = fx_api.client.post(
        f"{path}/disputes",
        json={"reason": "not_as_described", "message": "Wrong colour.", "evidence": []},
        headers=fx_api.moving(okello),
    )
    assert disputed.status_code == 201, disputed.text
    resolved = fx_api.client.post(
        f"{path}/disputes/resolve",
        headers=fx_api.moving(fx_api.operator),
        json={"outcome": "split", "to_buyer": kes("500.00"), "to_seller": kes("1500.00")},
    )
    assert resolved.status_code == 200, resolved.text
    # A quarter back: of UGX 56,517 converted 14,129 (rounded down), of UGX 1,361 spread and
    # fee 340: UGX 14,469 in all.
    assert fx_api.balance(fx_people.okello, "UGX") == str(200000 - 57878 + 14129 + 340)
    assert liquidity(fx_api, "KES") == before_kes - 150000


def test_escrow_funding_with_a_wrong_quote_changes_nothing(fx_api: Api, fx_people: People) -> None:
    okello = fx_api.sign_in(fx_people.okello, PINS["okello"])
    order = escrow_order(fx_api, fx_people, "2000.00")
    path = f"/v1/escrow-orders/{order['id']}/fund"
    before = fx_api.transfers()
    wrong = quote(fx_api, okello, target_amount=kes("1000.00")).json()
    refused = fx_api.client.post(
        path, headers=fx_api.moving(okello), json={"quote_id": wrong["id"]}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "fx_quote_mismatch"
    right = quote(fx_api, okello, target_amount=kes("2000.00")).json()
    fx_api.clock.advance(seconds=301)
    expired = fx_api.client.post(
        path, headers=fx_api.moving(okello), json={"quote_id": right["id"]}
    )
    assert expired.status_code == 409 and expired.json()["code"] == "fx_quote_expired"
    assert fx_api.transfers() == before
    shop = fx_api.merchant_key(fx_people.shop)
    assert (
        fx_api.client.get(f"/v1/escrow-orders/{order['id']}", headers=shop).json()["state"]
        == "created"
    )
