"""The webhooks API: registering endpoints (secret shown once), tenancy, dead letters, retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from world import Api, People, bearer, populate

from fakes import FakeClock
from receiver import closed_port_url, serve
from soko import bootstrap
from soko.channels.api.app import create_app
from soko.config import Settings
from soko.kernel import limits
from soko.notify import service as webhooks
from soko.notify.domain import EventType
from soko.people import access

PAYMENT = EventType.PAYMENT_SUCCEEDED


@pytest.fixture
def hooks_api(sqlite_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Api]:
    """The API on SQLite, allowed to deliver to this machine (the test's receiver)."""
    # The receiver's verifier compares signatures' timestamps with the wall clock.
    clock.current = datetime.now(UTC).replace(microsecond=0)
    runtime = bootstrap.build(
        Settings(
            database_url=sqlite_url,
            webhook_allow_private_networks=True,
            sms_log_path=str(tmp_path / "sms.log"),
            pin_hash_time_cost=1,
            pin_hash_memory_kib=8,
        ),
        clock=clock,
    )
    key = access.create_api_key(runtime.context, role="operator", name="tests")
    with TestClient(create_app(runtime)) as client:
        yield Api(client, runtime.context, clock, bearer(key.secret))
    runtime.close()


@pytest.fixture
def folks(hooks_api: Api) -> People:
    return populate(hooks_api.ctx)


def register(api: Api, auth: dict[str, str], url: str, **extra: object) -> dict[str, object]:
    body = {"url": url, "event_types": [PAYMENT], **extra}
    response = api.client.post("/v1/webhook-endpoints", json=body, headers=auth)
    assert response.status_code == 201, response.text
    found: dict[str, object] = response.json()
    return found


def emit(api: Api, owner_id: str) -> None:
    with api.ctx.unit_of_work() as uow:
        webhooks.emit(uow, api.ctx, owner_id=owner_id, type=PAYMENT, data={"amount": "1.00"})
        uow.commit()


def test_a_merchant_registers_an_endpoint_and_sees_the_secret_once(
    hooks_api: Api, folks: People
) -> None:
    shop = hooks_api.merchant_key(folks.shop)
    response = hooks_api.client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://shop.example/hooks", "event_types": [PAYMENT]},
        headers=shop,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert str(created["secret"]).startswith("whsec_")
    assert created["owner_id"] == folks.shop.id and created["enabled"] is True
    assert response.headers["location"] == f"/v1/webhook-endpoints/{created['id']}"
    assert response.headers["cache-control"] == "no-store"

    read = hooks_api.client.get(response.headers["location"], headers=shop).json()
    assert "secret" not in read
    assert read == {key: value for key, value in created.items() if key != "secret"}
    listed = hooks_api.client.get("/v1/webhook-endpoints", headers=shop).json()
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    assert all("secret" not in e for e in listed["items"])


def test_an_operator_names_the_merchant(hooks_api: Api, folks: People) -> None:
    body = {"url": "https://shop.example/hooks", "event_types": [PAYMENT]}
    response = hooks_api.client.post("/v1/webhook-endpoints", json=body, headers=hooks_api.operator)
    assert response.status_code == 422
    assert response.json()["code"] == "acting_for_required"
    created = register(hooks_api, hooks_api.operator, body["url"], owner_id=folks.shop.id)  # type: ignore[arg-type]
    assert created["owner_id"] == folks.shop.id
    consumer = {**body, "owner_id": folks.amina.id}
    response = hooks_api.client.post(
        "/v1/webhook-endpoints", json=consumer, headers=hooks_api.operator
    )
    assert response.json()["code"] == "user_kind_mismatch"
    # The operator sees every merchant's endpoints, or one merchant's.
    register(hooks_api, hooks_api.operator, "https://other.example/", owner_id=folks.other_shop.id)
    everyone = hooks_api.client.get("/v1/webhook-endpoints", headers=hooks_api.operator).json()
    assert len(everyone["items"]) == 2
    one = hooks_api.client.get(
        "/v1/webhook-endpoints", params={"owner_id": folks.shop.id}, headers=hooks_api.operator
    ).json()
    assert [e["owner_id"] for e in one["items"]] == [folks.shop.id]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "https://u:p@shop.example/", "event_types": [PAYMENT]}, "webhook_url_invalid"),
        (
            {"url": "https://shop.example/", "event_types": ["payment.maybe"]},
            "webhook_event_type_unknown",
        ),
        ({"url": "https://shop.example/", "event_types": []}, "webhook_event_types_required"),
        ({"url": "https://shop.example/", "event_types": [PAYMENT], "extra": 1}, "request_invalid"),
    ],
)
def test_bad_registrations_are_refused_with_their_rule(
    hooks_api: Api, folks: People, body: dict[str, object], code: str
) -> None:
    response = hooks_api.client.post(
        "/v1/webhook-endpoints", json=body, headers=hooks_api.merchant_key(folks.shop)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_a_url_inside_the_operators_network_is_refused(api: Api) -> None:
    # `api` runs with the default settings: private networks are not allowed.
    shop = populate(api.ctx).shop
    for url in ("http://169.254.169.254/", "http://2130706433/", "http://[::ffff:127.0.0.1]/"):
        response = api.client.post(
            "/v1/webhook-endpoints",
            json={"url": url, "event_types": [PAYMENT]},
            headers=api.merchant_key(shop),
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "webhook_url_invalid"


def test_another_merchants_endpoint_is_not_found_like_an_unknown_one(
    hooks_api: Api, folks: People
) -> None:
    theirs = register(hooks_api, hooks_api.merchant_key(folks.other_shop), "https://b.example/")
    mine = hooks_api.merchant_key(folks.shop)
    unknown = "whe_01JH0000000000000000000000"
    for suffix, method in [("", "GET"), ("", "DELETE"), ("/deliveries", "GET")]:
        foreign = hooks_api.client.request(
            method, f"/v1/webhook-endpoints/{theirs['id']}{suffix}", headers=mine
        )
        missing = hooks_api.client.request(
            method, f"/v1/webhook-endpoints/{unknown}{suffix}", headers=mine
        )
        assert foreign.status_code == missing.status_code == 404
        as_unknown = {
            key: str(value).replace(str(theirs["id"]), unknown)
            for key, value in foreign.json().items()
        }
        assert as_unknown == {key: str(value) for key, value in missing.json().items()}
    assert (
        hooks_api.client.get(
            "/v1/webhook-endpoints", params={"owner_id": folks.other_shop.id}, headers=mine
        ).status_code
        == 404
    )
    # Still enabled: the refused DELETE did nothing.
    assert webhooks.get_endpoint(hooks_api.ctx, str(theirs["id"])).enabled


def test_a_session_token_may_not_manage_webhooks(hooks_api: Api, folks: People) -> None:
    session = hooks_api.sign_in(folks.shop, "2468")
    response = hooks_api.client.get("/v1/webhook-endpoints", headers=session)
    assert response.status_code == 403
    assert response.json()["code"] == "caller_not_allowed"


def test_dead_letters_are_listed_and_a_retry_delivers_them(hooks_api: Api, folks: People) -> None:
    shop = hooks_api.merchant_key(folks.shop)
    with serve() as receiver:
        created = register(hooks_api, shop, receiver.url)
        receiver.default = 503
        emit(hooks_api, folks.shop.id)
        for _ in range(limits.WEBHOOK_ATTEMPTS_MAX):
            assert webhooks.deliver_due(hooks_api.ctx) == 1
            hooks_api.clock.advance(limits.WEBHOOK_RETRY_CAP_SECONDS)
        path = f"/v1/webhook-endpoints/{created['id']}/deliveries"
        dead = hooks_api.client.get(path, params={"status": "dead"}, headers=shop).json()
        [letter] = dead["items"]
        assert letter["status"] == "dead"
        assert letter["attempts"] == limits.WEBHOOK_ATTEMPTS_MAX
        assert (letter["last_status_code"], letter["last_error"]) == (503, "HTTP 503")
        assert letter["next_attempt_at"] is None and letter["event_type"] == PAYMENT
        pending = hooks_api.client.get(path, params={"status": "pending"}, headers=shop).json()
        assert pending["items"] == []

        # Another merchant cannot retry it; its own merchant can, once.
        retry = f"/v1/webhook-deliveries/{letter['id']}/retry"
        other = hooks_api.client.post(retry, headers=hooks_api.merchant_key(folks.other_shop))
        assert other.status_code == 404
        assert other.json()["code"] == "webhook_delivery_not_found"
        receiver.default = 200
        # Days of retries later by the fake clock; the verifier wants the wall clock's time.
        hooks_api.clock.current = datetime.now(UTC)
        receiver.secret = str(created["secret"])
        revived = hooks_api.client.post(retry, headers=shop)
        assert revived.status_code == 200, revived.text
        assert (revived.json()["status"], revived.json()["attempts"]) == ("pending", 0)
        again = hooks_api.client.post(retry, headers=shop)
        assert (again.status_code, again.json()["code"]) == (409, "webhook_delivery_not_dead")
        assert webhooks.deliver_due(hooks_api.ctx) == 1
    assert len(receiver.received) == limits.WEBHOOK_ATTEMPTS_MAX + 1
    assert receiver.received[-1].verified is True
    done = hooks_api.client.get(path, params={"status": "succeeded"}, headers=shop).json()
    assert [d["id"] for d in done["items"]] == [letter["id"]]
    bad = hooks_api.client.get(path, params={"status": "lost"}, headers=shop)
    assert bad.status_code == 422


def test_an_unreachable_endpoint_only_costs_recorded_failures(
    hooks_api: Api, folks: People
) -> None:
    shop = hooks_api.merchant_key(folks.shop)
    created = register(hooks_api, shop, closed_port_url())
    balance = hooks_api.balance(folks.amina)
    emit(hooks_api, folks.shop.id)
    assert webhooks.deliver_due(hooks_api.ctx) == 1
    path = f"/v1/webhook-endpoints/{created['id']}/deliveries"
    [delivery] = hooks_api.client.get(path, headers=shop).json()["items"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert "ConnectError" in delivery["last_error"] and delivery["last_status_code"] is None
    assert hooks_api.balance(folks.amina) == balance


def test_disabling_an_endpoint(hooks_api: Api, folks: People) -> None:
    shop = hooks_api.merchant_key(folks.shop)
    created = register(hooks_api, shop, closed_port_url())
    emit(hooks_api, folks.shop.id)
    path = f"/v1/webhook-endpoints/{created['id']}"
    assert hooks_api.client.delete(path, headers=shop).status_code == 204
    assert hooks_api.client.delete(path, headers=shop).status_code == 204
    assert hooks_api.client.get(path, headers=shop).json()["enabled"] is False
    [delivery] = hooks_api.client.get(f"{path}/deliveries", headers=shop).json()["items"]
    assert (delivery["status"], delivery["last_error"]) == ("dead", "endpoint disabled")
    retry = hooks_api.client.post(f"/v1/webhook-deliveries/{delivery['id']}/retry", headers=shop)
    assert (retry.status_code, retry.json()["code"]) == (409, "webhook_endpoint_disabled")
