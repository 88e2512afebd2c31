"""The OpenAPI document describes every /v1 response, problems included, and the API's own
problem codes stay apart from the domain's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from world import Api

from soko.channels.api import problems
from soko.channels.api.schemas import AMOUNT_PATTERN, CURRENCY_PATTERN
from soko.kernel.errors import all_error_classes
from soko.kernel.limits import KYC_LIMITS

MONEY_MOVING = {
    "/v1/transfers",
    "/v1/cash-ins",
    "/v1/cash-outs",
    "/v1/float-top-ups",
    "/v1/merchant-payments",
    "/v1/qr-payments",
    "/v1/payment-requests",
    "/v1/payment-requests/{request_id}/pay",
    "/v1/payments/{payment_id}/refunds",
    "/v1/payouts",
    "/v1/loans",
    "/v1/loans/{loan_id}/repayments",
    "/v1/fx/conversions",
    "/v1/deposits",
}
UNAUTHENTICATED = {
    ("post", "/v1/sessions"),
    # A carrier's webhook: its Standard Webhooks signature is the credential, not an API key.
    ("post", "/v1/carriers/{carrier_code}/events"),
}
OPERATOR_ONLY = {
    ("post", "/v1/users"),
    ("get", "/v1/users"),
    ("put", "/v1/users/{user_id}/kyc"),
    ("post", "/v1/users/{user_id}/pin"),
    ("post", "/v1/users/{user_id}/pin/unlock"),
    ("post", "/v1/keys"),
    ("get", "/v1/keys"),
    ("delete", "/v1/keys/{key_id}"),
    ("post", "/v1/float-top-ups"),
    ("post", "/v1/carriers"),
    ("get", "/v1/carriers"),
    ("post", "/v1/shipments/{shipment_id}/events"),
    ("get", "/v1/credit/portfolio"),
    ("get", "/v1/credit/portfolio.csv"),
    ("put", "/v1/fx/rates/{base}/{quote}"),
    ("post", "/v1/fx/rates/imports"),
    ("get", "/v1/fx/positions"),
    ("post", "/v1/mpesa/reversals"),
    ("post", "/v1/mpesa/payments/{trans_id}/assignment"),
}


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    ]
    # Every operation, so that a new one is a decision to update these tests' tables.
    # 39 before escrow, + 14 escrow, + 5 carriers and shipments, + 8 credit, + 7 FX, + listing
    # people and keys, + signing out, + 4 M-Pesa (create and get a deposit, an operator's
    # reversal and suspense assignment).
    assert len(found) == 80
    return found


def test_every_v1_operation_lists_its_problems_as_problem_json(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        expected = {"422", "503"}
        if (method, path) not in UNAUTHENTICATED:
            expected.add("401")
            assert operation["security"] == [{"bearer": []}], path
        if (method, path) in OPERATOR_ONLY:
            expected.add("403")
        if method in {"post", "put"}:
            expected |= {"400", "413"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert set(response["content"]) == {"application/problem+json"}, (path, status)
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}
                assert response["description"]


CREDIT_OPERATION_IDS = {
    ("get", "/v1/merchants/{merchant_id}/credit-offers"): "getCreditOffers",
    ("post", "/v1/loans"): "createLoan",
    ("get", "/v1/loans/{loan_id}"): "getLoan",
    ("get", "/v1/loans"): "listLoans",
    ("get", "/v1/loans/{loan_id}/schedule"): "getLoanSchedule",
    ("post", "/v1/loans/{loan_id}/repayments"): "createLoanRepayment",
    ("get", "/v1/credit/portfolio"): "getCreditPortfolio",
}


def test_credit_operations_have_readable_ids_and_an_example(document: dict[str, Any]) -> None:
    for (method, path), operation_id in CREDIT_OPERATION_IDS.items():
        assert document["paths"][path][method]["operationId"] == operation_id
    body = document["paths"]["/v1/loans"]["post"]["requestBody"]["content"]["application/json"]
    assert {"revenue", "instalments"} <= set(body["examples"])


def test_the_problem_schema_is_rfc_9457_with_a_code(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert problem["additionalProperties"] is True
    assert "FieldError" in schemas
    # FastAPI's own 422 body is never sent, so it is not described either.
    assert "HTTPValidationError" not in schemas


def test_money_moving_posts_require_an_idempotency_key(document: dict[str, Any]) -> None:
    for path in MONEY_MOVING:
        parameters = document["paths"][path]["post"]["parameters"]
        [key] = [p for p in parameters if p["name"] == "Idempotency-Key"]
        assert key["in"] == "header"
        assert key["required"] is True
        assert key["schema"]["maxLength"] == 255


def test_amounts_are_pattern_constrained_strings(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    money = schemas["MoneyIn"]["properties"]
    assert money["amount"]["type"] == "string"
    assert money["amount"]["pattern"] == AMOUNT_PATTERN
    assert money["currency"] == {"$ref": "#/components/schemas/OfferedCurrency"}
    assert schemas["OfferedCurrency"]["pattern"] == CURRENCY_PATTERN
    assert "anyOf" not in money["amount"]  # not the loose number | string of a Decimal


def test_the_currencies_offered_are_the_operators(document: dict[str, Any]) -> None:
    offered = document["components"]["schemas"]["OfferedCurrency"]["enum"]
    assert offered == sorted(KYC_LIMITS)
    assert "DJF" not in offered  # Soko knows it; this operator holds no DJF wallets


def test_pins_and_secrets_are_write_only_or_shown_once(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("SessionCreate", "CashOutCreate", "PinSet"):
        assert schemas[name]["properties"]["pin"]["writeOnly"] is True


def test_the_interactive_docs_are_served(api: Api) -> None:
    response = api.client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_api_problem_codes_are_not_domain_codes() -> None:
    domain = {cls.code for cls in all_error_classes()}
    own = [problem.code for problem in problems.API_PROBLEMS]
    assert len(set(own)) == len(own)
    assert not set(own) & domain
    for problem in problems.API_PROBLEMS:
        assert problem.title.endswith(".")
        assert 400 <= problem.status <= 599


def test_operation_ids_are_readable_and_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    # camelCase verbs a client generator turns into method names (createTransfer, getWallet),
    # never FastAPI's generated `send_money_v1_transfers_post`.
    bad = [i for i in ids if not re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i)]
    assert not bad, bad
    by_route = {(m, p): o["operationId"] for m, p, o in operations(document)}
    assert by_route[("post", "/v1/transfers")] == "createTransfer"
    assert by_route[("get", "/v1/wallets/{wallet_id}")] == "getWallet"


def test_every_operation_documents_a_whole_request(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    missing = []
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if not {"example", "examples"} & (set(parameter) | set(parameter.get("schema", {}))):
                missing.append(f"{method} {path} parameter {parameter['name']}")
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            schema = content.get("schema", {})
            ref = schema.get("$ref", "").rpartition("/")[2]
            if not {"example", "examples"} & (
                set(content) | set(schema) | set(schemas.get(ref, {}))
            ):
                missing.append(f"{method} {path} body {media}")
    assert not missing, missing


def test_the_problem_code_is_enumerated(document: dict[str, Any]) -> None:
    codes = set(document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])
    assert {cls.code for cls in all_error_classes()} <= codes
    assert {problem.code for problem in problems.API_PROBLEMS} <= codes
