"""Payouts over the API: request, read and list; who may see which; problems for bad input."""

from __future__ import annotations

from typing import Any

from world import PINS, Api, People

from soko.kernel.money import Money
from soko.payments.service import send_money
from soko.payouts import service as payouts

BANK = {
    "type": "bank_account",
    "bank_code": "01",
    "account_number": "1234567890",
    "account_name": "Wanjiru Kamau",
}


def kes(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "KES"}


def fund_shop(api: Api, people: People, amount: str = "3000.00") -> None:
    """Amina pays the shop by phone: the shop's wallet then holds `amount`."""
    send_money(
        api.ctx,
        sender_id=people.amina.id,
        to_phone=people.shop.phone,
        amount=Money.parse(amount, "KES"),
        idempotency_key=f"fund-{amount}",
    )


def without_ids(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k not in ("detail", "instance", "payout_id")}


def pay_out(api: Api, auth: dict[str, str], body: dict[str, Any], key: str | None = None) -> Any:
    return api.client.post("/v1/payouts", headers=api.moving(auth, key), json=body)


def test_a_merchant_pays_out_to_its_bank_and_the_worker_pays_it(
    any_api: Api, any_people: People
) -> None:
    api, people = any_api, any_people
    fund_shop(api, people)
    shop = api.merchant_key(people.shop)
    response = pay_out(api, shop, {"amount": kes("1000.00"), "destination": BANK})
    assert response.status_code == 201, response.text
    payout = response.json()
    assert response.headers["location"] == f"/v1/payouts/{payout['id']}"
    assert payout["status"] == "requested"
    assert (payout["amount"], payout["fee"]) == (kes("1000.00"), kes("10.00"))
    assert payout["destination"] == BANK
    assert payout["merchant_id"] == people.shop.id
    # Held: the balance stands, the available money does not.
    wallet = api.client.get(f"/v1/wallets/{payout['wallet_id']}", headers=shop).json()
    assert (wallet["balance"], wallet["available"]) == (kes("3000.00"), kes("1990.00"))

    for _ in range(40):
        payouts.advance_payouts(api.ctx)
        api.clock.advance(2)
    paid = api.client.get(f"/v1/payouts/{payout['id']}", headers=shop)
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid"
    assert paid.json()["rail_reference"].startswith("sbx_")
    assert api.balance(people.shop) == "1990.00"


def test_an_operator_pays_out_for_the_merchant_it_names(api: Api, people: People) -> None:
    fund_shop(api, people)
    phone = {"type": "mobile_money", "phone": "+254722123456"}
    unnamed = pay_out(api, api.operator, {"amount": kes("100.00"), "destination": phone})
    assert unnamed.status_code == 422
    assert unnamed.json()["code"] == "acting_for_required"
    named = pay_out(
        api,
        api.operator,
        {"amount": kes("100.00"), "destination": phone, "merchant_id": people.shop.id},
    )
    assert named.status_code == 201, named.text
    assert named.json()["destination"] == phone


def test_a_replay_returns_the_first_payout(api: Api, people: People) -> None:
    fund_shop(api, people)
    shop = api.merchant_key(people.shop)
    body = {"amount": kes("500.00"), "destination": BANK}
    first = pay_out(api, shop, body, "po-1")
    count = api.transfers()
    again = pay_out(api, shop, body, "po-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert api.transfers() == count
    other = pay_out(api, shop, {**body, "amount": kes("600.00")}, "po-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    missing = api.client.post("/v1/payouts", headers=shop, json=body)
    assert missing.status_code in (400, 422)
    assert api.transfers() == count


def test_another_merchants_payout_is_not_found(api: Api, people: People) -> None:
    fund_shop(api, people)
    shop = api.merchant_key(people.shop)
    other = api.merchant_key(people.other_shop)
    payout = pay_out(api, shop, {"amount": kes("100.00"), "destination": BANK}).json()
    theirs = api.client.get(f"/v1/payouts/{payout['id']}", headers=other)
    unknown = api.client.get("/v1/payouts/po_01JH000000000000000000000", headers=other)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["code"] == unknown.json()["code"] == "payout_not_found"
    # The same problem but for the id itself: nothing tells the two apart.
    assert without_ids(theirs.json()) == without_ids(unknown.json())
    assert api.client.get("/v1/payouts", headers=other).json()["items"] == []
    assert (
        api.client.get(f"/v1/payouts?merchant_id={people.shop.id}", headers=other).status_code
        == 404
    )
    # An operator sees it; the owner sees it in its list.
    assert api.client.get(f"/v1/payouts/{payout['id']}", headers=api.operator).status_code == 200
    mine = api.client.get("/v1/payouts", headers=shop).json()
    assert [p["id"] for p in mine["items"]] == [payout["id"]]


def test_the_list_pages_newest_first(api: Api, people: People) -> None:
    fund_shop(api, people)
    shop = api.merchant_key(people.shop)
    made = []
    for amount in ("10.00", "20.00", "30.00"):
        made.append(pay_out(api, shop, {"amount": kes(amount), "destination": BANK}).json()["id"])
        api.clock.advance(0.01)
    first = api.client.get("/v1/payouts?limit=2", headers=shop).json()
    assert [p["id"] for p in first["items"]] == made[:0:-1]
    rest = api.client.get(f"/v1/payouts?limit=2&cursor={first['next_cursor']}", headers=shop)
    assert ([p["id"] for p in rest.json()["items"]], rest.json()["next_cursor"]) == (
        [made[0]],
        None,
    )
    everyone = api.client.get("/v1/payouts", headers=api.operator).json()
    assert len(everyone["items"]) == 3
    bad = api.client.get("/v1/payouts?limit=0", headers=shop)
    assert (bad.status_code, bad.json()["code"]) == (422, "page_size_invalid")


def test_a_session_token_may_not_pay_out(api: Api, people: People) -> None:
    fund_shop(api, people)
    session = api.sign_in(people.shop, PINS["shop"])
    response = pay_out(api, session, {"amount": kes("10.00"), "destination": BANK})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "caller_not_allowed"


def test_bad_input_is_a_precise_problem_and_changes_nothing(api: Api, people: People) -> None:
    fund_shop(api, people)
    shop = api.merchant_key(people.shop)
    before = api.transfers()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**BANK, "bank_code": "!"}, 422, "bank_code_invalid"),
        ({**BANK, "account_name": "Wanjiru\tKamau"}, 422, "bank_account_name_invalid"),
        ({"type": "mobile_money", "phone": "+256772123456"}, 422,
         "mobile_money_currency_mismatch"),
        ({"type": "mobile_money", "phone": "+2547"}, 422, "phone_number_invalid"),
        ({"type": "carrier_pigeon"}, 422, "request_invalid"),
    ]  # fmt: skip
    for destination, status, code in cases:
        response = pay_out(api, shop, {"amount": kes("10.00"), "destination": destination})
        assert (response.status_code, response.json()["code"]) == (status, code), destination
        assert response.headers["content-type"] == "application/problem+json"
    too_much = pay_out(api, shop, {"amount": kes("3000.00"), "destination": BANK})
    assert (too_much.status_code, too_much.json()["code"]) == (422, "exceeds_credits")
    assert too_much.json()["available"] == 300000
    consumer = pay_out(
        api,
        api.operator,
        {"amount": kes("10.00"), "destination": BANK, "merchant_id": people.amina.id},
    )
    assert (consumer.status_code, consumer.json()["code"]) == (422, "user_kind_mismatch")
    assert api.transfers() == before
    assert api.client.get("/v1/payouts", headers=api.operator).json()["items"] == []
