"""API keys (issued, shown once, revoked; also from `soko keys create`) and user sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner
from world import PINS, Api, People, bearer

from soko.channels.cli.main import app as cli
from soko.kernel import limits


def test_the_operator_issues_a_key_that_works_once_shown(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/keys",
        headers=api.operator,
        json={"role": "merchant", "name": "checkout", "merchant_id": people.shop.id},
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    key = response.json()
    assert key["id"].startswith("key_")
    assert key["secret"].startswith("soko_sk_")
    assert key | {"secret": None} == {
        "id": key["id"],
        "role": "merchant",
        "name": "checkout",
        "merchant_id": people.shop.id,
        "revoked": False,
        "secret": None,
    }
    shop = api.client.get(f"/v1/users/{people.shop.id}", headers=bearer(key["secret"]))
    assert shop.status_code == 200


def test_a_revoked_key_stops_working(api: Api) -> None:
    created = api.client.post(
        "/v1/keys", headers=api.operator, json={"role": "operator", "name": "night shift"}
    ).json()
    night = bearer(created["secret"])
    assert api.client.get("/v1/users/usr_x", headers=night).status_code == 404
    revoked = api.client.delete(f"/v1/keys/{created['id']}", headers=api.operator)
    assert revoked.status_code == 204
    assert revoked.content == b""
    refused = api.client.get("/v1/users/usr_x", headers=night)
    assert refused.status_code == 401
    assert refused.json()["code"] == "api_key_invalid"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"role": "merchant", "name": "no merchant"}, 422, "user_kind_mismatch"),
        ({"role": "operator", "name": "x", "merchant_id": "usr_x"}, 422, "user_kind_mismatch"),
        ({"role": "merchant", "name": "x", "merchant_id": "usr_nope"}, 404, "user_not_found"),
        ({"role": "root", "name": "x"}, 422, "request_invalid"),
        ({"role": "operator", "name": ""}, 422, "name_invalid"),
    ],
)
def test_a_key_is_refused_with_the_rule_broken(
    api: Api, body: dict[str, str], status: int, code: str
) -> None:
    response = api.client.post("/v1/keys", headers=api.operator, json=body)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_a_merchant_key_names_a_merchant(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/keys",
        headers=api.operator,
        json={"role": "merchant", "name": "x", "merchant_id": people.amina.id},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


def test_revoking_an_unknown_key_is_not_found(api: Api) -> None:
    response = api.client.delete("/v1/keys/key_nope", headers=api.operator)
    assert response.status_code == 404
    assert response.json()["code"] == "api_key_not_found"


def test_a_person_signs_in_with_phone_and_pin(api: Api, people: People) -> None:
    response = api.client.post(
        "/v1/sessions",
        json={"phone": "0712345678", "default_region": "KE", "pin": PINS["amina"]},
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    session = response.json()
    assert session["user_id"] == people.amina.id
    assert session["token"].startswith("soko_st_")
    expires_at = api.clock.now() + timedelta(seconds=limits.SESSION_SECONDS_MAX)
    assert session["expires_at"] == expires_at.isoformat().replace("+00:00", "Z")
    me = api.client.get(f"/v1/users/{people.amina.id}", headers=bearer(session["token"]))
    assert me.status_code == 200


def test_a_session_lasts_until_it_expires(api: Api, people: People) -> None:
    amina = api.sign_in(people.amina, PINS["amina"])
    path = f"/v1/users/{people.amina.id}"
    api.clock.advance(limits.SESSION_SECONDS_MAX - 1)
    assert api.client.get(path, headers=amina).status_code == 200
    api.clock.advance(1)
    expired = api.client.get(path, headers=amina)
    assert expired.status_code == 401
    assert expired.json()["code"] == "session_invalid"


def test_an_unknown_number_cannot_sign_in(api: Api, people: People) -> None:
    response = api.client.post("/v1/sessions", json={"phone": "+254798765432", "pin": "1234"})
    assert response.status_code == 401  # as a wrong PIN: no one learns who has an account
    assert response.json()["code"] == "credentials_invalid"


def test_soko_keys_create_prints_a_working_operator_key(
    api: Api, people: People, sqlite_url: str
) -> None:
    result = CliRunner().invoke(
        cli,
        ["keys", "create", "--role", "operator", "--name", "ops laptop"],
        env={"SOKO_DATABASE_URL": sqlite_url},
    )
    assert result.exit_code == 0, result.output
    secret = result.output.splitlines()[-1]
    assert secret.startswith("soko_sk_")
    assert "ops laptop" in result.output
    response = api.client.get(f"/v1/users/{people.amina.id}", headers=bearer(secret))
    assert response.status_code == 200


def test_soko_keys_create_refuses_a_merchant_key_without_a_merchant(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["keys", "create", "--role", "merchant"], env={"SOKO_DATABASE_URL": sqlite_url}
    )
    assert result.exit_code == 2
    assert "user_kind_mismatch" in result.output


def test_the_operator_lists_keys_without_their_secrets(any_api: Api, any_people: People) -> None:
    made = any_api.client.post(
        "/v1/keys",
        json={"role": "merchant", "name": "till", "merchant_id": any_people.shop.id},
        headers=any_api.operator,
    ).json()
    any_api.client.delete(f"/v1/keys/{made['id']}", headers=any_api.operator)
    listed = any_api.client.get("/v1/keys", headers=any_api.operator)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {item["name"] for item in items} == {"tests", "till"}
    till = next(item for item in items if item["id"] == made["id"])
    assert till["revoked"] is True and till["merchant_id"] == any_people.shop.id
    assert till["created_at"]
    assert made["secret"] not in listed.text
    assert all("secret" not in item for item in items)
    first = any_api.client.get("/v1/keys", params={"limit": 1}, headers=any_api.operator).json()
    rest = any_api.client.get(
        "/v1/keys", params={"after": first["next_cursor"]}, headers=any_api.operator
    ).json()
    assert [item["id"] for item in first["items"] + rest["items"]] == [i["id"] for i in items]


def test_a_merchant_key_cannot_list_keys(api: Api, people: People) -> None:
    response = api.client.get("/v1/keys", headers=api.merchant_key(people.shop))
    assert response.status_code == 403
