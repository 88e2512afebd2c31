"""Merchants' EMVCo QR codes: drawing one for a merchant or a payment request, and paying one.

The payload rules live in qr/domain.py; here the merchant's own records fill the code, and a
scanned code turns into a till payment, or the payment of the request it names.
"""

from __future__ import annotations

from soko.context import Context, UnitOfWork
from soko.kernel.money import Currency, Money
from soko.kernel.transactions import in_transaction
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentRequest
from soko.payments.errors import AmountDiffersFromRequest, AmountRequired
from soko.payments.qr.domain import CITY_LENGTH_MAX, MerchantQr, fit_words, read_merchant_qr
from soko.people.errors import UserNotFound
from soko.people.wallets import check_currency_offered


def merchant_code(
    ctx: Context,
    merchant_id: str,
    *,
    currency: Currency | None = None,
    amount: Money | None = None,
    reference: str | None = None,
) -> MerchantQr:
    """The merchant's code: static (the payer types the amount) or, with an amount, dynamic."""

    def work(uow: UnitOfWork) -> MerchantQr:
        merchant = uow.people.get_merchant(merchant_id)
        user = uow.people.get_user(merchant_id)
        if merchant is None or user is None:
            raise UserNotFound(user_id=merchant_id)
        code_currency = amount.currency if amount is not None else currency
        code_currency = code_currency or Currency.of(merchant.settlement_currency)
        check_currency_offered(ctx, code_currency.code)
        return MerchantQr.fitted(
            guid=ctx.qr_guid,
            merchant_id=merchant.till_number,
            category_code=merchant.category_code,
            currency=code_currency,
            country=user.country,
            names=(merchant.trading_name, user.name),
            # The shop's own city; one that no letter of survives (another script) prints as
            # the operator's city rather than leave the mandatory field empty.
            city=merchant.city
            if fit_words(merchant.city, CITY_LENGTH_MAX)
            else ctx.qr_merchant_city,
            amount=amount,
            reference=reference,
        )

    return in_transaction(ctx, work, read_only=True)


def request_code(ctx: Context, request: PaymentRequest) -> MerchantQr:
    """The dynamic code of a payment request: its amount, its reference, and its id."""
    base = merchant_code(
        ctx,
        request.merchant_id,
        amount=Money(request.amount, Currency.of(request.currency)),
        reference=request.reference,
    )
    return MerchantQr(
        guid=base.guid,
        merchant_id=base.merchant_id,
        category_code=base.category_code,
        currency=base.currency,
        country=base.country,
        merchant_name=base.merchant_name,
        merchant_city=base.merchant_city,
        amount=base.amount,
        reference=base.reference,
        request_id=request.id,
    )


def pay_code(
    ctx: Context,
    *,
    payer_id: str,
    payload: str,
    idempotency_key: str | None,
    amount: Money | None = None,
) -> Payment:
    """Pay what a scanned code asks: the request it names, the amount a dynamic code carries
    (the payer's `amount`, if sent, must agree), or, for a static code, the payer's `amount`."""
    scanned = read_merchant_qr(payload, guid=ctx.qr_guid).merchant
    asked = scanned.amount
    if asked is not None and amount is not None and amount != asked:
        raise AmountDiffersFromRequest(f"the code asks for {asked}", amount=str(asked))
    if scanned.request_id is not None:
        return payment_requests.pay_request(
            ctx,
            payer_id=payer_id,
            request_id=scanned.request_id,
            amount=asked,
            idempotency_key=idempotency_key,
        )
    to_pay = asked or amount
    if to_pay is None:
        raise AmountRequired()
    return payments.pay_merchant(
        ctx,
        payer_id=payer_id,
        till_number=scanned.merchant_id,
        amount=to_pay,
        message=scanned.reference,
        idempotency_key=idempotency_key,
    )


__all__ = ["merchant_code", "pay_code", "request_code"]
