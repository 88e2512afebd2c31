"""Cash at agents over the API: cash-ins, cash-outs (with the PIN) and float top-ups."""

from __future__ import annotations

from world import PINS, Api, People


def kes(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "KES"}


def test_an_agent_cashes_in_for_a_customer_with_its_own_token(
    any_api: Api, any_people: People
) -> None:
    agent = any_api.sign_in(any_people.agent, PINS["agent"])
    response = any_api.client.post(
        "/v1/cash-ins",
        headers=any_api.moving(agent),
        json={"customer_phone": "0712 345678", "default_region": "KE", "amount": kes("1000.00")},
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert response.headers["location"] == f"/v1/payments/{payment['id']}"
    assert payment["kind"] == "cash_in"
    assert payment["fee"] == kes("0.00")
    assert payment["commission"] == kes("5.00")
    assert payment["payee_wallet_id"] == any_api.wallet_id(any_people.amina)
    assert any_api.balance(any_people.amina) == "6000.00"


def test_a_cash_in_retried_with_its_key_is_not_paid_twice(any_api: Api, any_people: People) -> None:
    body = {
        "agent_id": any_people.agent.id,
        "customer_phone": any_people.amina.phone,
        "amount": kes("300.00"),
    }
    headers = any_api.moving(any_api.operator, "cash-in-1")
    first = any_api.client.post("/v1/cash-ins", headers=headers, json=body)
    count = any_api.transfers()
    again = any_api.client.post("/v1/cash-ins", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert any_api.transfers() == count
    assert any_api.balance(any_people.amina) == "5300.00"


def test_an_operator_cashes_in_for_the_named_agent_only(api: Api, people: People) -> None:
    before = api.transfers()
    response = api.client.post(
        "/v1/cash-ins",
        headers=api.moving(api.operator),
        json={"customer_phone": people.amina.phone, "amount": kes("1.00")},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "acting_for_required"
    assert api.transfers() == before


def test_a_consumer_is_not_an_agent(api: Api, people: People) -> None:
    okello = api.sign_in(people.okello, PINS["okello"])
    response = api.client.post(
        "/v1/cash-ins",
        headers=api.moving(okello),
        json={"customer_phone": people.amina.phone, "amount": kes("1.00")},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "user_kind_mismatch"


def test_a_customer_cashes_out_with_its_pin(any_api: Api, any_people: People) -> None:
    amina = any_api.sign_in(any_people.amina, PINS["amina"])
    response = any_api.client.post(
        "/v1/cash-outs",
        headers=any_api.moving(amina),
        json={"agent_id": any_people.agent.id, "amount": kes("1000.00"), "pin": PINS["amina"]},
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["kind"] == "cash_out"
    assert payment["fee"] == kes("29.00")
    assert payment["commission"] == kes("14.00")
    assert payment["payer_wallet_id"] == any_api.wallet_id(any_people.amina)
    assert payment["payee_wallet_id"] == any_api.wallet_id(any_people.agent)
    assert any_api.balance(any_people.amina) == "3971.00"


def test_an_operator_cashes_out_on_behalf_of_a_customer(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/cash-outs",
        headers=api.moving(api.operator),
        json={
            "customer_id": people.amina.id,
            "agent_id": people.agent.id,
            "amount": kes("100.00"),
            "pin": PINS["amina"],
        },
    )
    assert response.status_code == 201, response.text
    assert api.balance(people.amina) == "4889.00"  # 100 and a fee of 11


def test_the_operator_tops_up_an_agents_float(any_api: Api, any_people: People) -> None:
    response = any_api.client.post(
        "/v1/float-top-ups",
        headers=any_api.moving(any_api.operator),
        json={"agent_id": any_people.agent.id, "amount": kes("20000.00")},
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["kind"] == "float_topup"
    assert payment["payer_wallet_id"] is None
    assert payment["payee_wallet_id"] == any_api.wallet_id(any_people.agent)
    # 100000.00, less the 5000.00 cashed in for Amina, plus its commission of 15.00.
    assert any_api.balance(any_people.agent) == "115015.00"


def test_only_an_operator_tops_up_float(api: Api, people: People) -> None:
    before = api.transfers()
    agent = api.sign_in(people.agent, PINS["agent"])
    for auth in (agent, api.merchant_key(people.shop)):
        response = api.client.post(
            "/v1/float-top-ups",
            headers=api.moving(auth),
            json={"agent_id": people.agent.id, "amount": kes("1.00")},
        )
        assert response.status_code == 403
        assert response.json()["code"] == "caller_not_allowed"
    assert api.transfers() == before


def test_float_goes_only_to_agents(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/float-top-ups",
        headers=api.moving(api.operator),
        json={"agent_id": people.amina.id, "amount": kes("1.00")},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "user_kind_mismatch"
