"""QR codes: a merchant's EMVCo code (payload, SVG or PNG), decoding any EMVCo payload, and
paying a scanned one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, RuntimeDep
from soko.channels.api.schemas import (
    AMOUNT_PATTERN,
    MONEY_MOVING_PROBLEMS,
    MoneyIn,
    MoneyPublic,
    OfferedCurrencyCode,
    problem_responses,
)
from soko.fx import service as fx
from soko.kernel import limits
from soko.kernel.money import Currency, Money
from soko.payments.qr import service as qr
from soko.payments.qr.domain import (
    AMOUNT_LENGTH_MAX,
    REFERENCE_LENGTH_MAX,
    MerchantQr,
    QrField,
    ScannedMerchantQr,
    parse_qr,
    read_merchant_qr,
    tag_name,
)
from soko.payments.qr.errors import QrCurrencyUnknown, QrNotPayable
from soko.payments.qr.images import qr_png, qr_svg
from soko.payments.qr.service import merchant_code
from soko.payments.schemas import PaymentPublic
from soko.people import service as users
from soko.people.errors import UserNotFound

router = APIRouter(prefix="/v1", tags=["qr"])


class QrPayloadPublic(BaseModel):
    payload: str = Field(description="The EMVCo merchant-presented payload, CRC included.")
    static: bool = Field(description="True without an amount (reusable), false with one.")


class QrFieldPublic(BaseModel):
    tag: str = Field(examples=["26"])
    name: str = Field(description="The EMVCo name of the tag in its template.")
    offset: int = Field(description="Where the tag starts in the payload, in characters.")
    value: str
    children: list[QrFieldPublic] | None = Field(
        default=None, description="A template's data objects; null for a primitive field."
    )

    @classmethod
    def of(cls, field: QrField, parents: tuple[str, ...] = ()) -> QrFieldPublic:
        path = (*parents, field.tag)
        return cls(
            tag=field.tag,
            name=tag_name(path),
            offset=field.offset,
            value=field.value,
            children=None
            if field.children is None
            else [cls.of(child, path) for child in field.children],
        )


class QrMerchantPublic(BaseModel):
    """The code names one of this operator's merchants: what paying it needs."""

    till_number: str
    template_tag: str = Field(description="The merchant account template that names us.")
    static: bool
    currency: str
    amount: MoneyPublic | None
    reference: str | None
    merchant_name: str
    merchant_city: str
    country: str
    category_code: str

    @classmethod
    def of(cls, scanned: ScannedMerchantQr) -> QrMerchantPublic:
        merchant = scanned.merchant
        return cls(
            till_number=merchant.merchant_id,
            template_tag=scanned.template_tag,
            static=scanned.static,
            currency=merchant.currency.code,
            amount=None if merchant.amount is None else MoneyPublic.of(merchant.amount),
            reference=merchant.reference,
            merchant_name=merchant.merchant_name,
            merchant_city=merchant.merchant_city,
            country=merchant.country,
            category_code=merchant.category_code,
        )


class QrDecoded(BaseModel):
    static: bool | None = Field(description="From tag 01; null when the code does not say.")
    category_code: str
    currency_numeric: str = Field(examples=["404"])
    currency: str | None = Field(description="ISO 4217 alphabetic code, if Soko knows it.")
    amount: str | None = Field(description="Tag 54 exactly as written.")
    country: str
    merchant_name: str
    merchant_city: str
    fields: list[QrFieldPublic] = Field(description="Every data object, in payload order.")
    merchant: QrMerchantPublic | None = Field(
        description="Set when the code names one of this operator's merchants."
    )


#: A static code for till 123456, as GET /v1/merchants/{id}/qr draws one.
_EXAMPLE_PAYLOAD = (
    "00020101021126220008dev.soko01061234565204541153034045802KE5"
    "915Wanjiru's Kiosk6007Nairobi63047CFA"
)


class QrPay(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "payload": _EXAMPLE_PAYLOAD,
                    "amount": {"amount": "250.00", "currency": "KES"},
                }
            ]
        },
        extra="forbid",
    )

    payload: str = Field(
        description="The scanned EMVCo payload of one of this operator's merchants.",
        json_schema_extra={"minLength": 1, "maxLength": limits.QR_PAYLOAD_LENGTH_MAX},
    )
    amount: MoneyIn | None = Field(
        default=None,
        description="Required for a static code without quote_id; for a dynamic one, refused "
        "unless it agrees (with quote_id, the quote's source amount is accepted too).",
    )
    quote_id: str | None = Field(
        default=None,
        description="An FX quote to pay from a wallet in another currency than the code's: the "
        "merchant receives exactly a dynamic code's amount (quote it as target_amount), or a "
        "static code's quote's target amount; the payer pays the quote's source amount.",
        examples=["fxq_01JH…"],
    )
    payer_id: str | None = Field(
        default=None, description="Operator keys only: the user who pays. Others pay as self."
    )


QrFormat = Literal["payload", "svg", "png"]


class QrDecode(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"payload": _EXAMPLE_PAYLOAD}]},
        extra="forbid",
    )

    payload: str = Field(
        description="An EMVCo merchant-presented payload, as scanned.",
        json_schema_extra={"minLength": 1, "maxLength": limits.QR_PAYLOAD_LENGTH_MAX},
    )


QR_IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The code: JSON for format=payload, else the image.",
        "content": {
            "image/svg+xml": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    },
}


@router.get(
    "/merchants/{merchant_id}/qr",
    operation_id="getMerchantQr",
    response_model=QrPayloadPublic,
    responses={**QR_IMAGE_RESPONSES, **problem_responses(401, 404, 422, 503)},
)
def merchant_qr(
    *,
    merchant_id: Annotated[str, Path(examples=["usr_01JH…"])],
    caller: Caller,
    runtime: RuntimeDep,
    amount: Annotated[
        str | None,
        Query(
            description=(
                "Major units: makes a dynamic code for this amount. At most 13 characters once "
                "written with the currency's decimals (qr_field_invalid)."
            ),
            json_schema_extra={"pattern": AMOUNT_PATTERN, "maxLength": AMOUNT_LENGTH_MAX},
        ),
    ] = None,
    currency: Annotated[
        OfferedCurrencyCode | None,
        Query(description="The code's currency; the merchant's settlement currency if absent."),
    ] = None,
    reference: Annotated[
        str | None,
        Query(
            description="Shown to the merchant against the payment (EMVCo 62.05).",
            json_schema_extra={
                "pattern": r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$",
                "maxLength": REFERENCE_LENGTH_MAX,
            },
        ),
    ] = None,
    format: Annotated[QrFormat, Query(description="payload (JSON), svg or png.")] = "payload",
) -> QrPayloadPublic | Response:
    """The merchant's EMVCo QR code: static without an amount, dynamic with one.

    A merchant key sees only its own merchant; another id is not found, as an unknown one is.
    """
    if not caller.may_see(merchant_id):
        raise UserNotFound(user_id=merchant_id)
    code_currency = None if currency is None else Currency.of(currency)
    code = merchant_code(
        runtime.context,
        merchant_id,
        currency=code_currency,
        amount=None
        if amount is None
        else Money.parse(amount, code_currency or _home(runtime, merchant_id)),
        reference=reference,
    )
    return qr_response(code, format)


def qr_response(code: MerchantQr, format: QrFormat) -> QrPayloadPublic | Response:
    """A code as JSON (its payload) or as an image."""
    payload = code.payload()
    if format == "svg":
        return Response(qr_svg(payload), media_type="image/svg+xml")
    if format == "png":
        return Response(qr_png(payload), media_type="image/png")
    return QrPayloadPublic(payload=payload, static=code.static)


def _home(runtime: RuntimeDep, merchant_id: str) -> Currency:
    return Currency.of(users.get_merchant(runtime.context, merchant_id).settlement_currency)


@router.post(
    "/qr-payments",
    operation_id="createQrPayment",
    status_code=201,
    response_model=PaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def pay_qr(
    body: QrPay,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> PaymentPublic:
    """Pay a scanned merchant code: the payment request it names, the amount a dynamic code
    carries, or, for a static code, the `amount` the payer enters.

    With a `quote_id`, paid from a wallet in another currency at that FX quote.
    Called with the payer's session token, or an operator key naming payer_id.
    """
    payer_id = caller.acting_for(body.payer_id, "payer_id")
    amount = None if body.amount is None else body.amount.to_money()
    if body.quote_id is not None:
        # Another currency: FX's use case (ADR 0018).
        payment = fx.pay_code_converted(
            ctx,
            payer_id=payer_id,
            payload=body.payload,
            quote_id=body.quote_id,
            amount=amount,
            idempotency_key=key,
        )
    else:
        payment = qr.pay_code(
            ctx, payer_id=payer_id, payload=body.payload, amount=amount, idempotency_key=key
        )
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    return PaymentPublic.of(payment)


@router.post(
    "/qr/decode",
    operation_id="decodeQr",
    response_model=QrDecoded,
    responses=problem_responses(400, 401, 413, 422, 503),
)
def decode_qr(body: QrDecode, caller: Caller, runtime: RuntimeDep) -> QrDecoded:
    """Any EMVCo merchant-presented code, checked (CRC, structure, formats) and taken apart.

    `merchant` is set when the code names a merchant of this operator.
    """
    code = parse_qr(body.payload)
    try:
        scanned: ScannedMerchantQr | None = read_merchant_qr(
            body.payload, guid=runtime.settings.qr_guid
        )
    except (QrNotPayable, QrCurrencyUnknown):
        # Shown all the same: only paying needs our merchant and a currency we hold.
        scanned = None
    return QrDecoded(
        static=code.static,
        category_code=code.category_code,
        currency_numeric=code.currency_numeric,
        currency=None if code.currency is None else code.currency.code,
        amount=code.amount_text,
        country=code.country,
        merchant_name=code.merchant_name,
        merchant_city=code.merchant_city,
        fields=[QrFieldPublic.of(field) for field in code.fields],
        merchant=None if scanned is None else QrMerchantPublic.of(scanned),
    )
