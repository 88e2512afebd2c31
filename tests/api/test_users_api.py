"""/v1/users: registration by the operator, reading a user, KYC tiers, PINs, and who may do it."""

from __future__ import annotations

import pytest
from world import PINS, Api, People


def test_the_operator_registers_a_consumer_from_a_local_number(api: Api) -> None:
    response = api.client.post(
        "/v1/users",
        headers=api.operator,
        json={
            "kind": "consumer",
            "phone": "0712 345 678",
            "default_region": "KE",
            "name": " Amina Njoroge ",
            "pin": "8642",
        },
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert user == {
        "id": user["id"],
        "kind": "consumer",
        "phone": "+254712345678",
        "name": "Amina Njoroge",
        "country": "KE",
        "kyc_tier": 0,
        "has_pin": True,
        "pin_locked": False,
        "pin_locked_until": None,
        "merchant": None,
    }
    assert user["id"].startswith("usr_")
    assert "8642" not in response.text


def test_a_merchant_gets_a_till_number(api: Api) -> None:
    response = api.client.post(
        "/v1/users",
        headers=api.operator,
        json={
            "kind": "merchant",
            "phone": "+256772123456",
            "name": "Nakato Sarah",
            "merchant": {"trading_name": "Nakato's salon", "category_code": "7230"},
        },
    )
    assert response.status_code == 201, response.text
    merchant = response.json()["merchant"]
    assert merchant["trading_name"] == "Nakato's salon"
    assert merchant["settlement_currency"] == "UGX"
    assert len(merchant["till_number"]) == 6 and merchant["till_number"].isdigit()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"kind": "merchant", "phone": "+254722123456", "name": "No details"},
            "user_kind_mismatch",
        ),
        ({"kind": "consumer", "phone": "+254722123456", "name": ""}, "name_invalid"),
        ({"kind": "consumer", "phone": "+254722123456", "name": "A", "pin": "12"}, "pin_malformed"),
        (
            {"kind": "consumer", "phone": "+254722123456", "name": "A", "country": "XX"},
            "country_unknown",
        ),
        (
            {
                "kind": "merchant",
                "phone": "+254722123456",
                "name": "A",
                "merchant": {"trading_name": "T", "category_code": "54"},
            },
            "merchant_category_invalid",
        ),
        (
            {
                "kind": "merchant",
                "phone": "+254722123456",
                "name": "A",
                "merchant": {
                    "trading_name": "T",
                    "category_code": "5411",
                    "city": "\U00105f66\a",
                },
            },
            "city_invalid",
        ),
        ({"kind": "banker", "phone": "+254722123456", "name": "A"}, "request_invalid"),
    ],
)
def test_registration_is_refused_with_the_rule_broken(
    api: Api, body: dict[str, object], code: str
) -> None:
    response = api.client.post("/v1/users", headers=api.operator, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_a_city_refused_names_its_field(api: Api) -> None:
    body = {
        "kind": "merchant",
        "phone": "+254722123456",
        "name": "A",
        "merchant": {"trading_name": "T", "category_code": "5411", "city": "Kampala\a"},
    }
    response = api.client.post("/v1/users", headers=api.operator, json=body)
    assert response.status_code == 422
    assert response.json()["field"] == "city"
    assert response.json()["title"] == "A city must be 1 to 80 printable characters."


def test_a_phone_number_registers_once(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/users",
        headers=api.operator,
        json={"kind": "consumer", "phone": people.amina.phone, "name": "Someone else"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "phone_number_taken"


def test_a_user_reads_itself_and_a_merchant_key_its_merchant(api: Api, people: People) -> None:
    own = api.client.get(
        f"/v1/users/{people.amina.id}", headers=api.sign_in(people.amina, PINS["amina"])
    )
    assert own.status_code == 200
    assert own.json()["phone"] == people.amina.phone
    shop = api.client.get(f"/v1/users/{people.shop.id}", headers=api.merchant_key(people.shop))
    assert shop.status_code == 200
    assert shop.json()["merchant"]["trading_name"] == "Wanjiru's kiosk"
    by_operator = api.client.get(f"/v1/users/{people.shop.id}", headers=api.operator)
    assert by_operator.json() == shop.json()


def test_an_unknown_user_is_not_found(api: Api) -> None:
    response = api.client.get("/v1/users/usr_nope", headers=api.operator)
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


def test_kyc_tiers_need_a_national_id_from_tier_1(api: Api, people: People) -> None:
    path = f"/v1/users/{people.amina.id}/kyc"
    missing = api.client.put(path, headers=api.operator, json={"tier": 1})
    assert missing.status_code == 422
    assert missing.json()["code"] == "national_id_required"
    unknown = api.client.put(path, headers=api.operator, json={"tier": 7, "national_id": "1"})
    assert unknown.json()["code"] == "kyc_tier_invalid"
    done = api.client.put(path, headers=api.operator, json={"tier": 1, "national_id": "A7731"})
    assert done.status_code == 200, done.text
    assert done.json()["kyc_tier"] == 1
    assert "A7731" not in done.text  # recorded, not shown back


def test_a_locked_pin_is_unlocked_and_a_pin_is_reset(api: Api, people: People) -> None:
    for _ in range(5):
        api.client.post("/v1/sessions", json={"phone": people.amina.phone, "pin": "0000"})
    locked = api.client.get(f"/v1/users/{people.amina.id}", headers=api.operator).json()
    assert locked["pin_locked"] is True

    unlocked = api.client.post(f"/v1/users/{people.amina.id}/pin/unlock", headers=api.operator)
    assert unlocked.status_code == 200
    assert unlocked.json()["pin_locked"] is False
    api.sign_in(people.amina, PINS["amina"])

    reset = api.client.post(
        f"/v1/users/{people.amina.id}/pin", headers=api.operator, json={"pin": "97531"}
    )
    assert reset.status_code == 200
    assert "97531" not in reset.text
    api.sign_in(people.amina, "97531")
    old = api.client.post("/v1/sessions", json={"phone": people.amina.phone, "pin": PINS["amina"]})
    assert old.json()["code"] == "credentials_invalid"


def test_pin_and_kyc_on_an_unknown_user_are_not_found(api: Api) -> None:
    for method, path, body in (
        ("PUT", "/v1/users/usr_nope/kyc", {"tier": 0}),
        ("POST", "/v1/users/usr_nope/pin", {"pin": "1234"}),
        ("POST", "/v1/users/usr_nope/pin/unlock", None),
    ):
        response = api.client.request(method, path, headers=api.operator, json=body)
        assert response.status_code == 404
        assert response.json()["code"] == "user_not_found"


OPERATOR_ONLY = [
    ("POST", "/v1/users", {"kind": "consumer", "phone": "+254798765432", "name": "X"}),
    ("PUT", "/v1/users/{self}/kyc", {"tier": 1, "national_id": "1"}),
    ("POST", "/v1/users/{self}/pin", {"pin": "1111"}),
    ("POST", "/v1/users/{self}/pin/unlock", None),
    ("POST", "/v1/keys", {"role": "operator", "name": "mine now"}),
    ("DELETE", "/v1/keys/key_x", None),
]


@pytest.mark.parametrize("operation", OPERATOR_ONLY, ids=lambda op: f"{op[0]} {op[1]}")
@pytest.mark.parametrize("credential", ["session", "merchant key"])
def test_operator_operations_refuse_other_credentials(
    api: Api,
    people: People,
    operation: tuple[str, str, dict[str, object] | None],
    credential: str,
) -> None:
    method, path, body = operation
    if credential == "session":
        user, auth = people.amina, api.sign_in(people.amina, PINS["amina"])
    else:
        user, auth = people.shop, api.merchant_key(people.shop)
    response = api.client.request(method, path.format(self=user.id), headers=auth, json=body)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "caller_not_allowed"
    after = api.client.get(f"/v1/users/{user.id}", headers=api.operator).json()
    assert after["kyc_tier"] == 0 and after["pin_locked"] is False
    api.sign_in(people.amina, PINS["amina"])  # the PIN is unchanged


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer soko_sk_not-a-key", "Basic dXNlcjpwYXNz", "Bearer ", "soko_sk_x"],
)
def test_a_missing_or_unknown_key_is_unauthenticated(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = api.client.get("/v1/users/usr_x", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "api_key_invalid"


def test_the_operator_lists_people_a_page_at_a_time(any_api: Api, any_people: People) -> None:
    everyone = {
        any_people.amina.id, any_people.okello.id, any_people.shop.id, any_people.agent.id,
        any_people.other_shop.id,
    }  # fmt: skip
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 2} | ({} if after is None else {"after": after})
        page = any_api.client.get("/v1/users", params=params, headers=any_api.operator)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [item["id"] for item in body["items"]]
        after = body["next_cursor"]
        if after is None:
            break
    assert sorted(seen) == sorted(everyone)  # each once

    merchants = any_api.client.get(
        "/v1/users", params={"kind": "merchant"}, headers=any_api.operator
    ).json()
    assert {item["id"] for item in merchants["items"]} == {
        any_people.shop.id,
        any_people.other_shop.id,
    }
    assert all(item["merchant"]["till_number"] for item in merchants["items"])

    found = any_api.client.get(
        "/v1/users", params={"phone": "0712 345 678", "default_region": "KE"},
        headers=any_api.operator,
    ).json()  # fmt: skip
    assert [item["id"] for item in found["items"]] == [any_people.amina.id]
    nobody = any_api.client.get(
        "/v1/users", params={"phone": "+254700000001"}, headers=any_api.operator
    ).json()
    assert nobody == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "page_size_invalid"),
        ({"kind": "alien"}, "request_invalid"),
        ({"phone": "0712"}, "phone_number_invalid"),
    ],
)
def test_listing_people_refuses_bad_queries(api: Api, params: dict[str, object], code: str) -> None:
    response = api.client.get("/v1/users", params=params, headers=api.operator)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_only_an_operator_lists_people(api: Api, people: People) -> None:
    for auth in (api.merchant_key(people.shop), api.sign_in(people.amina, PINS["amina"])):
        response = api.client.get("/v1/users", headers=auth)
        assert response.status_code == 403, response.text
