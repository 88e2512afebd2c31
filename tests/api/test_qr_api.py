"""QR codes over the API: a merchant's code as payload, SVG and PNG, scoping, and decoding."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from world import PINS, Api, People

from soko.payments.qr.domain import read_merchant_qr
from soko.people import service as users

PROBLEM = "application/problem+json"


def qr_path(people: People) -> str:
    return f"/v1/merchants/{people.shop.id}/qr"


def test_a_static_code_names_the_merchant(api: Api, people: People) -> None:
    response = api.client.get(qr_path(people), headers=api.merchant_key(people.shop))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["static"] is True
    till = users.get_merchant(api.ctx, people.shop.id).till_number
    scanned = read_merchant_qr(body["payload"], guid="dev.soko")
    assert scanned.merchant.merchant_id == till
    assert scanned.merchant.merchant_name == "Wanjiru's kiosk"
    assert scanned.merchant.merchant_city == "Nairobi"
    assert scanned.merchant.currency.code == "KES"
    assert scanned.merchant.country == "KE"
    assert scanned.merchant.category_code == "5411"
    assert scanned.merchant.amount is None


def test_a_dynamic_code_carries_amount_and_reference(api: Api, people: People) -> None:
    response = api.client.get(
        qr_path(people),
        params={"amount": "1500.50", "reference": "INV-0042"},
        headers=api.operator,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["static"] is False
    assert "54071500.50" in body["payload"]
    assert "62120508INV-0042" in body["payload"]


def test_a_code_in_another_offered_currency(api: Api, people: People) -> None:
    response = api.client.get(
        qr_path(people), params={"amount": "25000", "currency": "UGX"}, headers=api.operator
    )
    assert response.status_code == 200, response.text
    assert "5303800" in response.json()["payload"]


@pytest.mark.parametrize(("kind", "media_type"), [("svg", "image/svg+xml"), ("png", "image/png")])
def test_images_have_their_content_type_and_decode(
    api: Api, people: People, kind: str, media_type: str
) -> None:
    params = {"amount": "20.00", "reference": "ORDER 7"}
    payload = api.client.get(qr_path(people), params=params, headers=api.operator).json()["payload"]
    response = api.client.get(
        qr_path(people), params={**params, "format": kind}, headers=api.operator
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    if kind == "png":
        image = Image.open(io.BytesIO(response.content))
        assert [b.text for b in zxingcpp.read_barcodes(image)] == [payload]
    else:
        assert "<svg" in response.text


def test_a_merchant_cannot_see_another_merchants_code(api: Api, people: People) -> None:
    own_key = api.merchant_key(people.shop)
    foreign = api.client.get(f"/v1/merchants/{people.other_shop.id}/qr", headers=own_key)
    unknown = api.client.get("/v1/merchants/usr_01JH0000000000000000000000/qr", headers=own_key)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.headers["content-type"] == unknown.headers["content-type"] == PROBLEM
    assert foreign.json()["code"] == unknown.json()["code"] == "user_not_found"
    assert foreign.json().keys() == unknown.json().keys()


def test_a_consumer_has_no_code(api: Api, people: People) -> None:
    response = api.client.get(f"/v1/merchants/{people.amina.id}/qr", headers=api.operator)
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


def test_a_code_needs_a_credential(api: Api, people: People) -> None:
    assert api.client.get(qr_path(people)).status_code == 401


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"amount": "15.5.0"}, "amount_malformed"),
        ({"amount": "1.005"}, "amount_too_precise"),
        ({"amount": "0"}, "amount_must_be_positive"),
        ({"amount": "12345678901"}, "qr_field_invalid"),  # 14 characters with ".00"
        ({"reference": "r" * 26}, "qr_field_invalid"),
        ({"reference": "Rechnung Nr. ü"}, "qr_field_invalid"),
        ({"currency": "XYZ"}, "currency_unknown"),
        ({"currency": "EUR"}, "currency_not_offered"),
    ],
)
def test_bad_requests_are_problems(
    api: Api, people: People, params: dict[str, str], code: str
) -> None:
    response = api.client.get(qr_path(people), params=params, headers=api.operator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code


def test_decode_shows_our_code_with_its_till(api: Api, people: People) -> None:
    payload = api.client.get(
        qr_path(people), params={"amount": "99.00", "reference": "X1"}, headers=api.operator
    ).json()["payload"]
    amina = api.sign_in(people.amina, PINS["amina"])
    response = api.client.post("/v1/qr/decode", json={"payload": payload}, headers=amina)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["static"] is False
    assert body["currency"] == "KES" and body["currency_numeric"] == "404"
    assert [f["tag"] for f in body["fields"]] == [
        "00", "01", "26", "52", "53", "54", "58", "59", "60", "62", "63",
    ]  # fmt: skip
    template = body["fields"][2]
    assert template["name"] == "Merchant Account Information"
    assert [(c["tag"], c["name"]) for c in template["children"]] == [
        ("00", "Globally Unique Identifier"),
        ("01", "Payment Network Specific"),
    ]
    merchant = body["merchant"]
    assert merchant["till_number"] == users.get_merchant(api.ctx, people.shop.id).till_number
    assert merchant["amount"] == {"amount": "99.00", "currency": "KES"}
    assert merchant["reference"] == "X1"
    assert merchant["template_tag"] == "26"


def test_decode_shows_another_schemes_code(api: Api) -> None:
    pix = (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802"
        "BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
    )
    response = api.client.post("/v1/qr/decode", json={"payload": pix}, headers=api.operator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["merchant"] is None
    assert body["currency"] is None and body["currency_numeric"] == "986"
    assert body["merchant_name"] == "Fulano de Tal"
    assert body["fields"][-2]["children"] == [
        {"tag": "05", "name": "Reference Label", "offset": 122, "value": "***", "children": None}
    ]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("00020101021126220008dev.soko01061234565204541153034045802KE5905Duka16007Nairobi6304FFFF",
         "qr_checksum_invalid"),
        ("not a code", "qr_malformed"),
    ],
)  # fmt: skip
def test_decode_refuses_damaged_codes(api: Api, payload: str, code: str) -> None:
    response = api.client.post("/v1/qr/decode", json={"payload": payload}, headers=api.operator)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code


def test_decode_needs_a_credential(api: Api) -> None:
    assert api.client.post("/v1/qr/decode", json={"payload": "x"}).status_code == 401
