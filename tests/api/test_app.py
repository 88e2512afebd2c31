"""The API shell: health, the OpenAPI document, and domain errors as RFC 9457 problems."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.db.engine import create_engine
from soko.kernel.errors import all_error_classes


@pytest.fixture
def client(any_runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(any_runtime)

    @app.get("/test/refuse/{code}", include_in_schema=False)
    def refuse(code: str) -> None:
        by_code = {cls.code: cls for cls in all_error_classes()}
        raise by_code[code]("because the test said so", index=3, account_id="acc_x")

    with TestClient(app) as test_client:
        yield test_client


def test_health_reports_the_database_and_schema(client: TestClient, database_url: str) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["schema_current"] is True
    assert body["database"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")


def test_health_is_degraded_when_the_schema_is_behind(clock: object, tmp_path: object) -> None:
    from soko import bootstrap
    from soko.config import Settings

    runtime = bootstrap.build(Settings(database_url=f"sqlite:///{tmp_path}/empty.db"))
    try:
        with TestClient(create_app(runtime)) as client:
            response = client.get("/health")
    finally:
        runtime.close()
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "version": response.json()["version"],
        "database": "sqlite",
        "schema_current": False,
    }


def test_openapi_document_describes_health(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]["/health"]["get"]["responses"]) == {"200", "503"}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("exceeds_credits", 422),
        ("amount_too_precise", 422),
        ("account_not_found", 404),
        ("pending_transfer_already_posted", 409),
        ("idempotency_key_reused", 422),
        ("idempotency_key_invalid", 400),
        ("transaction_conflict", 503),
    ],
)
def test_domain_errors_become_problem_json(client: TestClient, code: str, status: int) -> None:
    response = client.get(f"/test/refuse/{code}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["type"] == f"https://soko.dev/problems/{code}"
    assert body["status"] == status
    assert body["detail"] == "because the test said so"
    assert body["instance"] == f"/test/refuse/{code}"
    assert body["index"] == 3
    if code == "transaction_conflict":
        assert response.headers["retry-after"] == "1"


def test_engine_refuses_unknown_databases() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        create_engine("mysql://root@localhost/soko")
