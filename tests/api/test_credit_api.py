"""Merchant credit over the API: offers and why not, loans taken, replayed, refused and repaid,
schedules, who may see which loan, and the operator's portfolio (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from world import PINS, Api, People, bearer

from credit_world import DAY_SECONDS, funded_lender, trading_shop
from soko.people import access
from soko.people import service as users
from soko.people.domain import Merchant

UNKNOWN_LOAN = "loan_01JH0000000000000000000000"


def kes(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "KES"}


def key_of(api: Api, merchant: Merchant) -> dict[str, str]:
    new = access.create_api_key(api.ctx, role="merchant", name="till", merchant_id=merchant.user_id)
    return bearer(new.secret)


def without_ids(problem: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k not in {"detail", "instance", *names}}


def offers(api: Api, merchant_id: str, auth: dict[str, str]) -> Any:
    return api.client.get(f"/v1/merchants/{merchant_id}/credit-offers", headers=auth)


def borrow(api: Api, auth: dict[str, str], body: dict[str, Any], key: str | None = None) -> Any:
    return api.client.post("/v1/loans", headers=api.moving(auth, key), json=body)


@pytest.fixture
def trader(api: Api) -> Merchant:
    """A shop with six months on Soko, three of them selling five days a week; the lender funded."""
    funded_lender(api.ctx)
    return trading_shop(api.ctx, api.clock, tenure_days=100).merchant


def test_a_new_merchant_is_told_why_there_is_no_offer(api: Api, people: People) -> None:
    shop = api.merchant_key(people.shop)
    response = offers(api, people.shop.id, shop)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["offers"] == []
    assert "tenure_too_short" in [r["code"] for r in body["reasons"]]
    assert body["improvements"] and body["decision_id"].startswith("cdec_")
    assert body["scorecard_version"] == api.ctx.credit.scorecard.version
    assert isinstance(body["score"], int) and body["grade"]
    # The merchant's own session sees the same; the operator too.
    session = api.sign_in(people.shop, PINS["shop"])
    assert offers(api, people.shop.id, session).json() == body
    assert offers(api, people.shop.id, api.operator).json() == body


def test_another_merchants_offers_are_not_found(api: Api, people: People) -> None:
    other = api.merchant_key(people.other_shop)
    theirs = offers(api, people.shop.id, other)
    unknown = offers(api, "usr_01JH0000000000000000000000", other)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["code"] == unknown.json()["code"] == "user_not_found"
    assert without_ids(theirs.json(), "user_id") == without_ids(unknown.json(), "user_id")
    consumer = offers(api, people.amina.id, api.operator)
    assert (consumer.status_code, consumer.json()["code"]) == (422, "user_kind_mismatch")


def test_a_trading_merchant_borrows_and_a_replay_lends_nothing_twice(
    any_api: Api,
) -> None:
    api = any_api
    funded_lender(api.ctx)
    merchant = trading_shop(api.ctx, api.clock, tenure_days=100).merchant
    auth = key_of(api, merchant)
    found = offers(api, merchant.user_id, auth).json()
    [offer] = found["offers"]
    assert offer["status"] == "open" and offer["limit"]["currency"] == "KES"
    assert found["reasons"] is not None and found["decision_id"] == offer["decision_id"]

    body = {"offer_id": offer["id"], "amount": kes("1000.00")}
    first = borrow(api, auth, body, "loan-1")
    assert first.status_code == 201, first.text
    loan = first.json()
    assert first.headers["location"] == f"/v1/loans/{loan['id']}"
    assert (loan["status"], loan["repayment"], loan["principal"]) == (
        "active",
        "revenue",
        kes("1000.00"),
    )
    assert loan["merchant_id"] == merchant.user_id and loan["instalments"] is None
    count = api.transfers()
    again = borrow(api, auth, body, "loan-1")
    assert (again.status_code, again.json()) == (201, loan)
    assert api.transfers() == count
    other = borrow(api, auth, {**body, "amount": kes("999.00")}, "loan-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")

    # Used: the offer cannot lend again, and the merchant is told its loan is open.
    used = borrow(api, auth, body)
    assert (used.status_code, used.json()["code"]) == (409, "offer_already_used")
    assert offers(api, merchant.user_id, auth).json()["reasons"][0]["code"] == "loan_open"
    shown = api.client.get(f"/v1/loans/{loan['id']}", headers=auth).json()
    assert shown["repayments"] == [] and shown["outstanding"] == loan["total_repayable"]


def test_refusals_have_their_codes_and_change_nothing(api: Api, trader: Merchant) -> None:
    auth = key_of(api, trader)
    [offer] = offers(api, trader.user_id, auth).json()["offers"]
    before = api.transfers()
    over = borrow(api, auth, {"offer_id": offer["id"], "amount": kes("9999999.00")})
    assert (over.status_code, over.json()["code"]) == (422, "exceeds_offer_limit")
    assert over.json()["limit"] == offer["limit"]["amount"]
    unknown = borrow(api, auth, {"offer_id": "off_unknown", "amount": kes("10.00")})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "offer_not_found")
    mixed = borrow(
        api,
        auth,
        {"offer_id": offer["id"], "amount": kes("10.00"), "repayment": "instalments"},
    )
    assert (mixed.status_code, mixed.json()["code"]) == (422, "invalid_input")
    zero = borrow(api, auth, {"offer_id": offer["id"], "amount": kes("0.00")})
    assert (zero.status_code, zero.json()["code"]) == (422, "amount_must_be_positive")
    api.clock.advance(8 * DAY_SECONDS)
    expired = borrow(api, auth, {"offer_id": offer["id"], "amount": kes("10.00")})
    assert (expired.status_code, expired.json()["code"]) == (409, "offer_expired")
    assert api.transfers() == before


def test_another_merchants_offer_and_loan_are_not_found(
    api: Api, people: People, trader: Merchant
) -> None:
    auth = key_of(api, trader)
    other = api.merchant_key(people.other_shop)
    [offer] = offers(api, trader.user_id, auth).json()["offers"]
    theirs = borrow(api, other, {"offer_id": offer["id"], "amount": kes("10.00")})
    unknown = borrow(api, other, {"offer_id": "off_01JH0000000000000000000000", "amount":
                                  kes("10.00")})  # fmt: skip
    assert theirs.status_code == unknown.status_code == 404
    assert without_ids(theirs.json(), "offer_id") == without_ids(unknown.json(), "offer_id")

    loan = borrow(api, auth, {"offer_id": offer["id"], "amount": kes("500.00")}).json()
    for path in ("/v1/loans/{}", "/v1/loans/{}/schedule"):
        mine = api.client.get(path.format(loan["id"]), headers=other)
        missing = api.client.get(path.format(UNKNOWN_LOAN), headers=other)
        assert mine.status_code == missing.status_code == 404, path
        assert mine.json()["code"] == "loan_not_found"
        assert without_ids(mine.json(), "loan_id") == without_ids(missing.json(), "loan_id")
    repay = api.client.post(
        f"/v1/loans/{loan['id']}/repayments",
        headers=api.moving(other),
        json={"amount": kes("1.00")},
    )
    assert (repay.status_code, repay.json()["code"]) == (404, "loan_not_found")
    assert api.client.get("/v1/loans", headers=other).json()["items"] == []
    listed = api.client.get(f"/v1/loans?merchant_id={trader.user_id}", headers=other)
    assert listed.status_code == 404
    # The owner and the operator see it.
    assert [item["id"] for item in api.client.get("/v1/loans", headers=auth).json()["items"]] == [
        loan["id"]
    ]
    everyone = api.client.get("/v1/loans?status=active", headers=api.operator).json()
    assert [item["id"] for item in everyone["items"]] == [loan["id"]]
    assert api.client.get("/v1/loans?status=repaid", headers=api.operator).json()["items"] == []


def test_the_operator_may_not_borrow_or_repay_for_a_merchant(api: Api, trader: Merchant) -> None:
    auth = key_of(api, trader)
    [offer] = offers(api, trader.user_id, auth).json()["offers"]
    body = {"offer_id": offer["id"], "amount": kes("10.00")}
    refused = borrow(api, api.operator, body)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "caller_not_allowed"
    loan = borrow(api, auth, body).json()
    repay = api.client.post(
        f"/v1/loans/{loan['id']}/repayments",
        headers=api.moving(api.operator),
        json={"amount": kes("1.00")},
    )
    assert (repay.status_code, repay.json()["code"]) == (403, "caller_not_allowed")


def test_a_merchant_repays_early_and_reads_its_schedule(api: Api, trader: Merchant) -> None:
    auth = key_of(api, trader)
    [offer] = offers(api, trader.user_id, auth).json()["offers"]
    loan = borrow(api, auth, {"offer_id": offer["id"], "amount": kes("600.00")}).json()
    schedule = api.client.get(f"/v1/loans/{loan['id']}/schedule", headers=auth)
    assert schedule.status_code == 200, schedule.text
    items = schedule.json()["items"]
    assert items and not items[0]["met"]
    assert items[-1]["cumulative"] == loan["total_repayable"]

    path = f"/v1/loans/{loan['id']}/repayments"
    first = api.client.post(path, headers=api.moving(auth, "r-1"), json={"amount": kes("100.00")})
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["kind"] == "manual" and made["amount"] == kes("100.00")
    parts = [made["principal_part"]["amount"], made["fee_part"]["amount"]]
    assert sum(float(part) for part in parts) == pytest.approx(100.0)
    again = api.client.post(path, headers=api.moving(auth, "r-1"), json={"amount": kes("100.00")})
    assert again.json() == made
    too_much = api.client.post(path, headers=api.moving(auth), json={"amount": kes("99999.00")})
    assert (too_much.status_code, too_much.json()["code"]) == (
        422,
        "repayment_exceeds_outstanding",
    )
    shown = api.client.get(f"/v1/loans/{loan['id']}", headers=auth).json()
    assert [r["id"] for r in shown["repayments"]] == [made["id"]]
    rest = shown["outstanding"]
    paid = api.client.post(path, headers=api.moving(auth), json={"amount": rest})
    assert paid.status_code == 201
    closed = api.client.get(f"/v1/loans/{loan['id']}", headers=auth).json()
    assert (closed["status"], closed["outstanding"]) == ("repaid", kes("0.00"))
    done = api.client.get(f"/v1/loans/{loan['id']}/schedule", headers=auth).json()["items"]
    assert all(item["met"] for item in done)


def test_an_instalment_loan_from_a_session(api: Api, trader: Merchant) -> None:
    pin = "2580"
    users.set_pin(api.ctx, trader.user_id, pin)
    user = users.get_user(api.ctx, trader.user_id)
    session = api.sign_in(user, pin)
    [offer] = offers(api, trader.user_id, session).json()["offers"]
    terms = {"count": 4, "frequency": "weekly", "method": "declining"}
    response = borrow(
        api,
        session,
        {"offer_id": offer["id"], "amount": kes("800.00"), "repayment": "instalments",
         "instalments": terms},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    loan = response.json()
    assert loan["instalments"] == terms and loan["withhold_bps"] == 0
    items = api.client.get(f"/v1/loans/{loan['id']}/schedule", headers=session).json()["items"]
    assert len(items) == 4
    assert items[-1]["cumulative"] == loan["total_repayable"]


def test_the_portfolio_is_the_operators_in_json_and_csv(
    api: Api, people: People, trader: Merchant
) -> None:
    auth = key_of(api, trader)
    [offer] = offers(api, trader.user_id, auth).json()["offers"]
    borrow(api, auth, {"offer_id": offer["id"], "amount": kes("1000.00")})
    for path in ("/v1/credit/portfolio", "/v1/credit/portfolio.csv"):
        for caller in (auth, api.sign_in(people.shop, PINS["shop"])):
            refused = api.client.get(path, headers=caller)
            assert (refused.status_code, refused.json()["code"]) == (403, "caller_not_allowed")
    response = api.client.get("/v1/credit/portfolio", headers=api.operator)
    assert response.status_code == 200, response.text
    [book] = response.json()["items"]
    assert (book["currency"], book["loans"], book["active"]) == ("KES", 1, 1)
    assert book["disbursed"] == kes("1000.00") and book["par1"] == kes("0.00")
    assert [s["key"] for s in book["by_scorecard"]] == [api.ctx.credit.scorecard.version]
    exported = api.client.get("/v1/credit/portfolio.csv", headers=api.operator)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    total = next(row for row in rows if row["segment"] == "total")
    assert (total["currency"], total["loans"], total["disbursed"]) == ("KES", "1", "1000.00")
    assert {row["segment"] for row in rows} == {"total", "grade", "scorecard"}


def test_list_pages_and_bad_limits(api: Api, trader: Merchant) -> None:
    auth = key_of(api, trader)
    empty = api.client.get("/v1/loans?limit=1", headers=auth).json()
    assert empty == {"items": [], "next_cursor": None}
    bad = api.client.get("/v1/loans?limit=0", headers=auth)
    assert (bad.status_code, bad.json()["code"]) == (422, "page_size_invalid")
    status = api.client.get("/v1/loans?status=late", headers=auth)
    assert (status.status_code, status.json()["code"]) == (422, "request_invalid")
