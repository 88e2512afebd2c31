"""Paying scanned EMVCo codes: static, dynamic and payment-request codes, and codes that lie."""

from __future__ import annotations

import pytest

from merchants import Snapshot, balance, consumer, kes, key, shop
from soko.context import Context
from soko.kernel.errors import DomainError
from soko.kernel.money import Currency
from soko.ledger.reconcile import reconcile
from soko.payments import requests as payment_requests
from soko.payments.errors import (
    AmountDiffersFromRequest,
    AmountRequired,
    MerchantNotFound,
    PaymentRequestAlreadyPaid,
)
from soko.payments.qr import service as qr
from soko.payments.qr.domain import MerchantQr, crc16, read_merchant_qr
from soko.payments.qr.errors import QrChecksumInvalid, QrMalformed, QrNotPayable


def test_a_static_code_is_paid_with_the_amount_the_payer_types(any_ctx: Context) -> None:
    ctx = any_ctx
    amina = consumer(ctx, funds="100.00")
    kiosk = shop(ctx)
    code = qr.merchant_code(ctx, kiosk.user_id).payload()
    with pytest.raises(AmountRequired):
        qr.pay_code(ctx, payer_id=amina.id, payload=code, idempotency_key=key())
    payment = qr.pay_code(
        ctx, payer_id=amina.id, payload=code, amount=kes("40.00"), idempotency_key=key()
    )
    assert (payment.kind, payment.amount) == ("merchant", 4_000)
    assert balance(ctx, kiosk.user_id) == 4_000 - payment.fee
    assert reconcile(ctx).passed


def test_a_dynamic_code_pays_its_own_amount_and_reference(ctx: Context) -> None:
    amina = consumer(ctx, funds="100.00")
    kiosk = shop(ctx)
    code = qr.merchant_code(ctx, kiosk.user_id, amount=kes("12.50"), reference="TABLE 4")
    with pytest.raises(AmountDiffersFromRequest):
        qr.pay_code(
            ctx, payer_id=amina.id, payload=code.payload(), amount=kes("1.25"),
            idempotency_key=key(),
        )  # fmt: skip
    payment = qr.pay_code(ctx, payer_id=amina.id, payload=code.payload(), idempotency_key=key())
    assert (payment.amount, payment.message) == (1_250, "TABLE 4")


def test_a_payment_request_code_pays_that_request_once(any_ctx: Context) -> None:
    ctx = any_ctx
    amina = consumer(ctx, funds="100.00")
    kiosk = shop(ctx)
    made = payment_requests.create_request(
        ctx, merchant_id=kiosk.user_id, amount=kes("30.00"), reference="INV-7",
        idempotency_key=key(),
    )  # fmt: skip
    payload = qr.request_code(ctx, made).payload()
    scanned = read_merchant_qr(payload, guid=ctx.qr_guid).merchant
    assert (scanned.request_id, scanned.reference, scanned.amount) == (
        made.id, "INV-7", kes("30.00"))  # fmt: skip
    payment = qr.pay_code(ctx, payer_id=amina.id, payload=payload, idempotency_key=key())
    assert payment_requests.get_request(ctx, made.id).payment_id == payment.id
    with pytest.raises(PaymentRequestAlreadyPaid):
        qr.pay_code(ctx, payer_id=amina.id, payload=payload, idempotency_key=key())
    assert balance(ctx, amina.id) == 7_000


def _other_operators_code(till: str) -> str:
    return MerchantQr(
        guid="com.example.pay", merchant_id=till, category_code="5411",
        currency=Currency.of("KES"), country="KE", merchant_name="Elsewhere",
        merchant_city="Mombasa",
    ).payload()  # fmt: skip


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("one character changed", QrChecksumInvalid),
        ("another operator's code", QrNotPayable),
        ("a till nobody has", MerchantNotFound),
        ("not a QR payload at all", QrMalformed),
    ],
)
def test_codes_that_cannot_be_paid_change_nothing(
    ctx: Context, case: str, error: type[DomainError]
) -> None:
    amina = consumer(ctx, funds="100.00")
    kiosk = shop(ctx)
    good = qr.merchant_code(ctx, kiosk.user_id, amount=kes("10.00")).payload()
    match case:
        case "one character changed":
            # The amount "10.00" becomes "90.00": exactly what a forger would try.
            payload = good.replace("540510.00", "540590.00")
        case "another operator's code":
            payload = _other_operators_code(kiosk.till_number)
        case "a till nobody has":
            code = read_merchant_qr(good, guid=ctx.qr_guid).merchant
            other_till = "000000" if code.merchant_id != "000000" else "000001"
            payload = good.replace(f"0106{code.merchant_id}", f"0106{other_till}")
            payload = payload[:-4] + crc16(payload[:-4])
        case _:
            payload = "https://pay.example/till/123456"
    before = Snapshot.of(ctx)
    with pytest.raises(error):
        qr.pay_code(ctx, payer_id=amina.id, payload=payload, idempotency_key=key())
    assert Snapshot.of(ctx) == before
