"""FX use cases: rates in, quotes out, and a quote accepted once as a cross-currency payment.

A quote prices a conversion at the freshest rates (docs/fx.md): the corridor's spread, the
tariff's FX fee, exact amounts on both sides, and an expiry. Accepting it is one transaction:
the quote's row is locked and marked used, and the conversion's same-currency legs go into ONE
`ledger.record` batch with the `Payment` that records both sides (TigerBeetle's currency-exchange
recipe), after checking the corridor, the payer's KYC tier and limits, and that the operator's
liquidity in the target currency covers what the payee receives (`fx_liquidity` carries no
balance rule in the ledger, so the check is made here, with the account locked).

Three ways to accept: a transfer to someone's wallet in another currency (`send_converted`,
which `POST /v1/transfers` calls when given a quote_id), a conversion between one's own wallets
(`convert`), and paying a merchant that is paid in its own currency (`pay_merchant_converted`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from soko.context import Context, UnitOfWork
from soko.fx.domain import (
    RATE_CLOCK_SKEW_SECONDS,
    LegKind,
    Quote,
    QuoteAmounts,
    Rate,
    Role,
    check_corridor,
    check_quote_matches,
    check_quote_usable,
    conversion_legs,
    converted_text,
    derive_rate,
    find_corridor,
    parse_rate,
    paying,
    price_with_fees,
    sent_abroad_text,
    unwound_share,
)
from soko.fx.errors import (
    FxLiquidityInsufficient,
    FxPeriodInvalid,
    FxQuoteMismatch,
    FxQuoteNotFound,
    FxRateFileInvalid,
    FxRateStale,
    FxRatesUnavailable,
)
from soko.fx.ports import CurrencyVolume, RatesStored
from soko.fx.rate_feed import fetch_rate_file
from soko.fx.rate_files import OPERATOR_SOURCE, RateFileFormat, read_rate_file
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, CurrencyNotOffered
from soko.kernel.idempotency import run_idempotent
from soko.kernel.money import Currency, Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import TransferRequest, move
from soko.notify import service as webhooks
from soko.notify import sms_service as sms
from soko.notify.domain import EventType
from soko.payments import requests as payment_requests
from soko.payments import service as payments
from soko.payments.domain import Payment, PaymentKind, received_text
from soko.payments.errors import AmountDiffersFromRequest, MerchantNotFound
from soko.payments.fees import FeeKind, fee_table, merchant_rate
from soko.payments.qr.domain import read_merchant_qr
from soko.people.domain import Merchant, User, UserKind, Wallet, parse_phone
from soko.people.errors import (
    MessageTooLong,
    NoWalletInCurrency,
    RecipientIsSender,
    RecipientRequired,
    UserKindMismatch,
    UserNotFound,
    WalletNotFound,
)
from soko.people.kyc import KycTier
from soko.people.wallets import wallet_for

#: The transfer code each leg of a conversion is posted with (docs/fx.md).
_LEG_CODES = {
    LegKind.CONVERSION: TransferCode.FX_CONVERSION,
    LegKind.DELIVERY: TransferCode.FX_CONVERSION,
    LegKind.SPREAD: TransferCode.FEE,
    LegKind.FEE: TransferCode.FEE,
}
#: The positions report's period when none is given: the last 30 days.
POSITIONS_PERIOD_DEFAULT = timedelta(days=30)


# --- rates --------------------------------------------------------------------------------------


def set_rate(
    ctx: Context, *, base: str, quote: str, rate: str, source: str = OPERATOR_SOURCE
) -> Rate:
    """The operator sets one rate, true from now: `rate` units of `quote` per one `base`."""
    value = parse_rate(rate)
    now = ctx.clock.now()
    made = Rate(base, quote, value, source, now)
    in_transaction(ctx, lambda uow: uow.fx.store_rates([made], [ctx.ids.new("fxr")], now))
    return made


@dataclass(frozen=True, slots=True)
class RatesImported:
    format: RateFileFormat
    stored: RatesStored
    #: Currencies in the file that Soko does not hold (ECB files), left out.
    ignored: tuple[str, ...]


def import_rates(
    ctx: Context, data: bytes | str, *, source: str = OPERATOR_SOURCE
) -> RatesImported:
    """Import a rate file (ECB XML, ECB CSV or the operator CSV), all of it or none: a
    malformed file is `FxRateFileInvalid` naming the line, and nothing of it is stored.
    Importing the same file again adds nothing."""
    parsed = read_rate_file(data, source=source)
    now = ctx.clock.now()
    ids = [ctx.ids.new("fxr") for _ in parsed.rates]
    stored = in_transaction(ctx, lambda uow: uow.fx.store_rates(parsed.rates, ids, now))
    return RatesImported(parsed.format, stored, parsed.ignored)


def fetch_rates(
    ctx: Context,
    *,
    url: str | None = None,
    fetch: Callable[[str], bytes] = fetch_rate_file,
) -> RatesImported:
    """Fetch the rate file at `url` (by default SOKO_FX_RATES_URL: the ECB's daily reference
    rates, say) and import it, all of it or none. Refused, with nothing changed:

    - no source configured, no connection, a timeout, an answer other than 200, or a body too
      large for a rate file: `FxRatesUnavailable`;
    - a malformed or partial file: `FxRateFileInvalid`, naming where;
    - a stale file, whose newest rate is older than SOKO_FX_RATE_MAX_AGE_SECONDS (a mirror that
      stopped updating), or one dated ahead of now: `FxRateStale`. Its rates could price no
      quote, and storing them would only hide that the feed is stuck.
    """
    source_url = url or ctx.fx.rates_url
    if source_url is None:
        raise FxRatesUnavailable("No rate source is configured: set SOKO_FX_RATES_URL.")
    parsed = read_rate_file(fetch(source_url), source=ctx.fx.rates_source)
    if not parsed.rates:
        raise FxRateFileInvalid(
            f"{source_url}: no rate of a currency Soko holds; nothing imported."
        )
    now = ctx.clock.now()
    newest = max(rate.as_of for rate in parsed.rates)
    oldest_allowed = now - timedelta(seconds=ctx.fx.rate_max_age_seconds)
    if newest < oldest_allowed or newest > now + timedelta(seconds=RATE_CLOCK_SKEW_SECONDS):
        raise FxRateStale(
            f"{source_url} holds rates of {newest.isoformat()}, not between "
            f"{oldest_allowed.isoformat()} and now; nothing was imported.",
            as_of=newest.isoformat(),
        )
    ids = [ctx.ids.new("fxr") for _ in parsed.rates]
    stored = in_transaction(ctx, lambda uow: uow.fx.store_rates(parsed.rates, ids, now))
    return RatesImported(parsed.format, stored, parsed.ignored)


def list_rates(ctx: Context) -> list[Rate]:
    """The newest rate of each pair and source, as held now (stale ones included)."""
    latest = ctx.clock.now() + timedelta(seconds=RATE_CLOCK_SKEW_SECONDS)
    return in_transaction(
        ctx,
        lambda uow: uow.fx.newest_rates(latest, limits.FX_RATES_SHOWN_MAX),
        read_only=True,
    )


def is_stale(ctx: Context, rate: Rate) -> bool:
    """Whether `rate` is too old to price a quote now."""
    return rate.as_of < ctx.clock.now() - timedelta(seconds=ctx.fx.rate_max_age_seconds)


# --- quotes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    """A conversion priced now, not offered to anyone: what `soko fx quote` shows."""

    amounts: QuoteAmounts
    rate: Rate


def price(
    ctx: Context,
    *,
    source: str,
    target: str,
    source_amount: Money | None = None,
    target_amount: Money | None = None,
    payer_tier: int = KycTier.DOCUMENTS_VERIFIED,
) -> Price:
    """Price a conversion from `source` to `target` at the freshest rates, in its corridor.

    Give exactly one amount: what the payer is debited (everything included) or what the payee
    should receive. Refused: an unknown or unpriced pair, stale rates, a closed corridor, an
    amount outside it, a tier below it (`payer_tier`; a price for no one in particular passes).
    """
    return in_transaction(
        ctx,
        lambda uow: _price_in(
            uow,
            ctx,
            source,
            target,
            source_amount=source_amount,
            target_amount=target_amount,
            payer_tier=payer_tier,
        ),
        read_only=True,
    )


def create_quote(
    ctx: Context,
    *,
    owner_id: str,
    source: str,
    target: str,
    source_amount: Money | None = None,
    target_amount: Money | None = None,
) -> Quote:
    """Price a conversion for `owner_id` and keep it as a quote they may accept once, until it
    expires (`ctx.fx.quote_seconds`). The owner's KYC tier must be the corridor's at least."""

    def work(uow: UnitOfWork) -> Quote:
        owner = _user(uow, owner_id)
        priced = _price_in(uow, ctx, source, target, source_amount=source_amount,
                           target_amount=target_amount, payer_tier=owner.kyc_tier)  # fmt: skip
        now = ctx.clock.now()
        quote = Quote(
            id=ctx.ids.new("fxq"),
            owner_id=owner.id,
            amounts=priced.amounts,
            rate=priced.rate,
            created_at=now,
            expires_at=now + timedelta(seconds=ctx.fx.quote_seconds),
        )
        uow.fx.insert_quote(quote)
        return quote

    return in_transaction(ctx, work)


def get_quote(ctx: Context, quote_id: str) -> Quote:
    found = in_transaction(ctx, lambda uow: uow.fx.get_quote(quote_id), read_only=True)
    if found is None:
        raise FxQuoteNotFound(quote_id=quote_id)
    return found


def _price_in(
    uow: UnitOfWork,
    ctx: Context,
    source: str,
    target: str,
    *,
    source_amount: Money | None,
    target_amount: Money | None,
    payer_tier: int,
) -> Price:
    source_currency, target_currency = _offered(ctx, source), _offered(ctx, target)
    corridor = find_corridor(ctx.fx.corridors, source_currency, target_currency)
    now = ctx.clock.now()
    held = uow.fx.newest_rates(
        now + timedelta(seconds=RATE_CLOCK_SKEW_SECONDS), limits.FX_RATES_SHOWN_MAX
    )
    rate = derive_rate(
        held,
        source_currency.code,
        target_currency.code,
        now=now,
        max_age_seconds=ctx.fx.rate_max_age_seconds,
        pivot=ctx.fx.pivot,
    )
    fees = fee_table(ctx.tariff, source_currency.code, FeeKind.FX)
    amounts = price_with_fees(
        rate.value,
        corridor.spread_bps,
        fees.fee_for,
        source_currency,
        target_currency,
        source_amount=source_amount,
        target_amount=target_amount,
    )
    check_corridor(corridor, amounts.source_debit, payer_tier)
    return Price(amounts, rate)


# --- accepting a quote --------------------------------------------------------------------------


def send_converted(
    ctx: Context,
    *,
    sender_id: str,
    quote_id: str,
    idempotency_key: str | None,
    to_phone: str | None = None,
    to_wallet_id: str | None = None,
    default_region: str | None = None,
    amount: Money | None = None,
    message: str | None = None,
) -> Payment:
    """Send money to someone's wallet in another currency, at the sender's quote: the sender
    pays the quote's debit, the recipient receives its target amount in their currency.

    `amount`, when given, must be the quote's debit or its target amount. A number with no Soko
    user cannot receive a conversion (the money would wait in a currency it may never take).
    """
    if (to_phone is None) == (to_wallet_id is None):
        raise RecipientRequired()
    phone = parse_phone(to_phone, default_region) if to_phone is not None else None
    _check_message(message)
    request = {
        "quote_id": quote_id,
        "amount": None if amount is None else amount.to_decimal_string(),
        "currency": None if amount is None else amount.currency.code,
        "to_phone": phone,
        "to_wallet_id": to_wallet_id,
        "message": message,
    }

    def work(uow: UnitOfWork) -> Payment:
        sender = _user(uow, sender_id)
        payee_wallet = None
        if to_wallet_id is not None:
            payee_wallet = uow.people.get_wallet(to_wallet_id)
            if payee_wallet is None:
                raise WalletNotFound(wallet_id=to_wallet_id)
            recipient = _user(uow, payee_wallet.user_id)
        else:
            assert phone is not None
            found = uow.people.get_user_by_phone(phone)
            if found is None:
                raise UserNotFound(phone=phone)
            recipient = found
        if recipient.id == sender.id:
            # Between one's own wallets it is a conversion (POST /v1/fx/conversions).
            raise RecipientIsSender()
        return _accept(
            uow, ctx, payer=sender, quote_id=quote_id, amount=amount, kind=PaymentKind.FX_P2P,
            payee=recipient, payee_wallet=payee_wallet, message=message,
        )  # fmt: skip

    # The scope of plain transfers: one key is one transfer, whatever its currencies.
    return _idempotent(ctx, f"user:{sender_id}:p2p", idempotency_key, request, work)


def convert(ctx: Context, *, owner_id: str, quote_id: str, idempotency_key: str | None) -> Payment:
    """Convert between one's own wallets at one's quote (the target wallet opens if needed)."""
    request = {"quote_id": quote_id}

    def work(uow: UnitOfWork) -> Payment:
        owner = _user(uow, owner_id)
        return _accept(
            uow, ctx, payer=owner, quote_id=quote_id, amount=None, kind=PaymentKind.FX_CONVERSION,
            payee=owner, payee_wallet=None, message=None,
        )  # fmt: skip

    return _idempotent(ctx, f"user:{owner_id}:fx_conversion", idempotency_key, request, work)


def pay_merchant_converted(
    ctx: Context,
    *,
    payer_id: str,
    quote_id: str,
    idempotency_key: str | None,
    till_number: str | None = None,
    merchant_id: str | None = None,
    amount: Money | None = None,
    message: str | None = None,
    deliver: Money | None = None,
) -> Payment:
    """Pay a merchant in its settlement currency out of a wallet in another, at the payer's
    quote. The merchant then pays its discount rate on what it received, as for any payment.
    With `deliver` (a price), the merchant receives exactly it (`check_quote_pays`)."""
    if (till_number is None) == (merchant_id is None):
        raise RecipientRequired("name the merchant by till_number or merchant_id")
    _check_message(message)
    request = {
        "quote_id": quote_id,
        "amount": None if amount is None else amount.to_decimal_string(),
        "currency": None if amount is None else amount.currency.code,
        "till_number": till_number,
        "merchant_id": merchant_id,
        "message": message,
    }

    def work(uow: UnitOfWork) -> Payment:
        if till_number is not None:
            merchant = uow.people.get_merchant_by_till(till_number)
        else:
            assert merchant_id is not None
            merchant = uow.people.get_merchant(merchant_id)
        if merchant is None:
            raise MerchantNotFound(till_number=till_number, merchant_id=merchant_id)
        return _pay_merchant(uow, ctx, payer_id=payer_id, merchant=merchant, quote_id=quote_id,
                             amount=amount, message=message, deliver=deliver)  # fmt: skip

    if deliver is not None:
        request |= {"deliver": str(deliver)}
    return _idempotent(ctx, f"user:{payer_id}:merchant", idempotency_key, request, work)


def _pay_merchant(
    uow: UnitOfWork,
    ctx: Context,
    *,
    payer_id: str,
    merchant: Merchant,
    quote_id: str,
    amount: Money | None,
    message: str | None,
    deliver: Money | None = None,
    notify: Mapping[str, Any] | None = None,
) -> Payment:
    payer = _user(uow, payer_id)
    if payer.id == merchant.user_id:
        raise RecipientIsSender()
    if payer.kind is UserKind.AGENT:
        raise UserKindMismatch("an agent's float serves cash in and out, not purchases")
    return _accept(
        uow, ctx, payer=payer, quote_id=quote_id, amount=amount, kind=PaymentKind.FX_MERCHANT,
        payee=_user(uow, merchant.user_id), payee_wallet=None, message=message,
        merchant=merchant, deliver=deliver, notify=notify,
    )  # fmt: skip


def pay_request_converted(
    ctx: Context,
    *,
    payer_id: str,
    request_id: str,
    quote_id: str,
    idempotency_key: str | None,
    amount: Money | None = None,
) -> Payment:
    """Pay a merchant's payment request from a wallet in another currency, at the payer's
    quote: the merchant receives exactly the amount asked, in the request's currency, and the
    payer is debited the quote's source amount. The quote must be the least one for the amount
    asked (a target-amount quote for it; `fx_quote_mismatch` otherwise). `amount`, if the
    payer's app sends what it showed, is the amount asked or the quote's source amount."""
    request = {
        "payment_request_id": request_id,
        "quote_id": quote_id,
        "amount": None if amount is None else str(amount),
    }

    def work(uow: UnitOfWork) -> Payment:
        found = payment_requests.lock_open_request(uow, ctx, request_id)
        asked = Money(found.amount, Currency.of(found.currency))
        if amount is not None and amount.currency == asked.currency and amount != asked:
            raise AmountDiffersFromRequest(f"the request is for {asked}", amount=str(asked))
        merchant = uow.people.get_merchant(found.merchant_id)
        assert merchant is not None, found
        payment = _pay_merchant(
            uow, ctx, payer_id=payer_id, merchant=merchant, quote_id=quote_id,
            amount=None if amount is None or amount.currency == asked.currency else amount,
            message=found.reference, deliver=asked,
            notify={"payment_request_id": found.id, "reference": found.reference},
        )  # fmt: skip
        payment_requests.mark_request_paid(uow, ctx, found, payment)
        return payment

    # The scope of plain request payments: one key pays one request, whatever the currencies.
    return _idempotent(ctx, f"user:{payer_id}:payment_request", idempotency_key, request, work)


def pay_code_converted(
    ctx: Context,
    *,
    payer_id: str,
    payload: str,
    quote_id: str,
    idempotency_key: str | None,
    amount: Money | None = None,
) -> Payment:
    """Pay a scanned merchant QR code from a wallet in another currency, at the payer's quote.

    A code naming a payment request pays that request (`pay_request_converted`); a dynamic code
    pays exactly its amount (the quote must be the least one for it); a static code pays the
    quote's target amount. The code's currency must be the quote's target. `amount`, if sent,
    is the code's amount or the quote's source amount (for a static code: either side of the
    quote)."""
    scanned = read_merchant_qr(payload, guid=ctx.qr_guid).merchant
    asked = scanned.amount
    if (
        asked is not None
        and amount is not None
        and amount.currency == asked.currency
        and amount != asked
    ):
        raise AmountDiffersFromRequest(f"the code asks for {asked}", amount=str(asked))
    if scanned.request_id is not None:
        return pay_request_converted(
            ctx, payer_id=payer_id, request_id=scanned.request_id, quote_id=quote_id,
            idempotency_key=idempotency_key, amount=amount,
        )  # fmt: skip
    request = {
        "payload": payload,
        "quote_id": quote_id,
        "amount": None if amount is None else str(amount),
    }

    def work(uow: UnitOfWork) -> Payment:
        merchant = uow.people.get_merchant_by_till(scanned.merchant_id)
        if merchant is None:
            raise MerchantNotFound(till_number=scanned.merchant_id)
        if merchant.settlement_currency != scanned.currency.code:
            raise FxQuoteMismatch(
                f"The code asks for {scanned.currency}; the merchant is paid in "
                f"{merchant.settlement_currency}."
            )
        return _pay_merchant(
            uow, ctx, payer_id=payer_id, merchant=merchant, quote_id=quote_id,
            amount=None if asked is not None and amount == asked else amount,
            message=scanned.reference, deliver=asked,
        )  # fmt: skip

    return _idempotent(ctx, f"user:{payer_id}:merchant", idempotency_key, request, work)


def _accept(
    uow: UnitOfWork,
    ctx: Context,
    *,
    payer: User,
    quote_id: str,
    amount: Money | None,
    kind: PaymentKind,
    payee: User,
    payee_wallet: Wallet | None,
    message: str | None,
    merchant: Merchant | None = None,
    deliver: Money | None = None,
    notify: Mapping[str, Any] | None = None,
) -> Payment:
    """Accept the payer's quote inside the caller's transaction: one batch of legs, the payment
    and the quote marked used, or nothing at all.

    `deliver` is a fixed price the payee must receive exactly (a payment request, a dynamic QR
    code): the quote must be the least one for it (`check_quote_pays`). `notify` adds fields to
    a merchant's payment.succeeded event."""
    # The quote's row first: a second acceptance waits here and then finds it used.
    quote = uow.fx.lock_quote(quote_id)
    if quote is None or quote.owner_id != payer.id:
        # Someone else's quote reads as no quote at all.
        raise FxQuoteNotFound(quote_id=quote_id)
    now = ctx.clock.now()
    check_quote_usable(expires_at=quote.expires_at, used=quote.used_at is not None, now=now)
    amounts = quote.amounts if deliver is None else paying(quote.amounts, deliver)
    source, target = quote.source, quote.target
    if merchant is not None and merchant.settlement_currency != target.code:
        raise FxQuoteMismatch(
            f"The merchant is paid in {merchant.settlement_currency}; the quote pays {target}."
        )
    payer_wallet = uow.people.find_wallet(payer.id, source.code)
    if payer_wallet is None:
        raise NoWalletInCurrency(f"no {source} wallet: 0 available", available=0, currency=source)
    if payee_wallet is None:
        payee_wallet = wallet_for(uow, ctx, payee, target.code)
    check_quote_matches(
        amounts,
        source=Currency.of(payer_wallet.currency),
        target=Currency.of(payee_wallet.currency),
        source_amount=amount if amount is not None and amount.currency == source else None,
        target_amount=amount if amount is not None and amount.currency != source else None,
    )
    # The corridor's rules again at acceptance: the tier may have been lowered meanwhile.
    check_corridor(find_corridor(ctx.fx.corridors, source, target), amounts.source_debit,
                   payer.kyc_tier)  # fmt: skip
    # People's wallets first (and a merchant's), then the operator's accounts: the global lock
    # order (chart.LOCK_RANKS), so that conversions in opposite directions never deadlock.
    locked = uow.ledger.lock_accounts([payer_wallet.account_id, payee_wallet.account_id])
    payments.check_sender_limits(uow, ctx, payer, payer_wallet, amounts.converted)
    payments.check_payee_limits(ctx, payee, locked[payee_wallet.account_id], amounts.target)
    roles = {
        Role.PAYER_WALLET: payer_wallet.account_id,
        Role.PAYEE_WALLET: payee_wallet.account_id,
        Role.LIQUIDITY_SOURCE: ledger.system_account_id_in(
            uow, ctx, AccountCode.FX_LIQUIDITY, source.code
        ),
        Role.LIQUIDITY_TARGET: ledger.system_account_id_in(
            uow, ctx, AccountCode.FX_LIQUIDITY, target.code
        ),
        Role.FEE_INCOME: ledger.system_account_id_in(
            uow, ctx, AccountCode.FEES, source.code, spread_by=payer_wallet.account_id
        ),
    }
    merchant_fee = 0
    merchant_fees_id = None
    if merchant is not None:
        merchant_fee = merchant_rate(
            ctx.merchant_rates, target.code, merchant.category_code
        ).fee_for(amounts.target.amount_minor)
        merchant_fees_id = ledger.system_account_id_in(
            uow, ctx, AccountCode.FEES, target.code, spread_by=payee_wallet.account_id
        )
    payment_id = ctx.ids.new("pay")
    requests: list[TransferRequest] = [
        move(ctx.ids.new("tr"), debit_account_id=roles[leg.debit],
             credit_account_id=roles[leg.credit], amount=leg.amount.amount_minor,
             currency=leg.amount.currency.code, code=_LEG_CODES[leg.kind], reference=payment_id)
        for leg in conversion_legs(amounts)
    ]  # fmt: skip
    if merchant_fee and merchant_fees_id is not None:
        # The merchant's discount rate on what it received, as for a payment in its currency.
        requests.append(
            move(ctx.ids.new("tr"), debit_account_id=payee_wallet.account_id,
                 credit_account_id=merchant_fees_id, amount=merchant_fee, currency=target.code,
                 code=TransferCode.FEE, reference=payment_id)
        )  # fmt: skip
    # `record` locks the liquidity and fee accounts with the rest of the batch, in the global
    # lock order, and posts it. fx_liquidity carries no balance rule in the ledger, so the use
    # case checks the target currency's liquidity now, under that lock: a payout it could not
    # cover is refused, and the whole transaction (legs included) rolls back.
    ledger.record(uow, ctx, requests)
    target_liquidity = roles[Role.LIQUIDITY_TARGET]
    liquidity = uow.ledger.lock_accounts([target_liquidity])[target_liquidity]
    if liquidity.available < 0:
        raise FxLiquidityInsufficient(
            f"The {target} liquidity cannot pay {amounts.target} now.", currency=target.code
        )
    payment = Payment(
        id=payment_id,
        kind=kind,
        currency=source.code,
        amount=amounts.converted.amount_minor,
        fee=amounts.spread.amount_minor + amounts.fee.amount_minor,
        commission=0,
        payer_wallet_id=payer_wallet.id,
        payee_wallet_id=payee_wallet.id,
        payee_phone=None,
        message=message,
        hold_id=None,
        fee_hold_id=None,
        created_at=now,
        target_currency=target.code,
        target_amount=amounts.target.amount_minor,
    )
    uow.people.insert_payment(payment)
    uow.fx.mark_used(quote.id, used_at=now, payment_id=payment.id)
    payee_name = None
    if merchant is not None:
        payee_name = merchant.trading_name
        event = payments.payment_event(payment) | {"fx_quote_id": quote.id} | dict(notify or {})
        webhooks.emit(
            uow, ctx, owner_id=merchant.user_id, type=EventType.PAYMENT_SUCCEEDED, data=event
        )
    _text(uow, ctx, payment, amounts, payer=(payer, payer_wallet), payee=(payee, payee_wallet),
          payee_name=payee_name)  # fmt: skip
    return payment


# --- a quote locked for a hold: escrow orders funded from another currency (ADR 0022) -------------


def take_quote(uow: UnitOfWork, ctx: Context, *, payer: User, quote_id: str, price: Money) -> Quote:
    """Inside the caller's transaction: the payer's quote, locked, usable now, within its
    corridor, and the least one for `price` (`check_quote_pays`), with its target set to exactly
    `price`. The caller books the legs (`funding_legs`) and marks it used (`mark_quote_used`)."""
    quote = uow.fx.lock_quote(quote_id)
    if quote is None or quote.owner_id != payer.id:
        raise FxQuoteNotFound(quote_id=quote_id)
    check_quote_usable(expires_at=quote.expires_at, used=quote.used_at is not None,
                       now=ctx.clock.now())  # fmt: skip
    amounts = paying(quote.amounts, price)
    check_corridor(find_corridor(ctx.fx.corridors, quote.source, quote.target),
                   amounts.source_debit, payer.kyc_tier)  # fmt: skip
    return replace(quote, amounts=amounts)


def funding_legs(
    uow: UnitOfWork, ctx: Context, quote: Quote, *, payer_account_id: str, reference: str
) -> list[TransferRequest]:
    """The payer's side of a conversion: the converted amount to the source currency's
    liquidity, the spread and the fee to fee income. The target side is the caller's (escrow
    holds it from the target currency's liquidity)."""
    source = quote.source.code
    roles = {
        Role.PAYER_WALLET: payer_account_id,
        Role.LIQUIDITY_SOURCE: ledger.system_account_id_in(
            uow, ctx, AccountCode.FX_LIQUIDITY, source
        ),
        Role.FEE_INCOME: ledger.system_account_id_in(
            uow, ctx, AccountCode.FEES, source, spread_by=payer_account_id
        ),
    }
    return [
        move(ctx.ids.new("tr"), debit_account_id=roles[leg.debit],
             credit_account_id=roles[leg.credit], amount=leg.amount.amount_minor,
             currency=source, code=_LEG_CODES[leg.kind], reference=reference)
        for leg in conversion_legs(quote.amounts)
        if leg.kind is not LegKind.DELIVERY
    ]  # fmt: skip


def unwinding_legs(
    uow: UnitOfWork,
    ctx: Context,
    quote_id: str,
    *,
    share: Fraction,
    reference: str,
) -> list[TransferRequest]:
    """Give back `share` (0 to 1) of what the payer paid for a used quote, to the wallet that
    paid, in the payer's currency, at the quote's locked rate: that share of the converted
    amount from the source currency's liquidity, and of the spread and fee from fee income
    (`unwound_share`: rounded down, by less than one minor unit each; all of it when the share
    is 1). The caller returns the target
    side to the target liquidity (escrow voids its hold)."""
    quote = uow.fx.get_quote(quote_id)
    assert quote is not None and quote.payment_id is not None, quote_id
    # Back to the wallet that paid: the payment that used the quote names it.
    payment = uow.people.get_payment(quote.payment_id)
    assert payment is not None and payment.payer_wallet_id is not None, quote
    wallet = uow.people.get_wallet(payment.payer_wallet_id)
    assert wallet is not None, payment
    payer_account_id = wallet.account_id
    back = unwound_share(quote.amounts, share)
    source = quote.source.code
    liquidity = ledger.system_account_id_in(uow, ctx, AccountCode.FX_LIQUIDITY, source)
    fees = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, source,
                                       spread_by=payer_account_id)  # fmt: skip
    return [
        move(ctx.ids.new("tr"), debit_account_id=debit, credit_account_id=payer_account_id,
             amount=amount.amount_minor, currency=source, code=TransferCode.REFUND,
             reference=reference)
        for debit, amount in ((liquidity, back.converted), (fees, back.charges))
        if amount.is_positive()
    ]  # fmt: skip


def check_liquidity(uow: UnitOfWork, ctx: Context, currency: str, paying_out: Money) -> None:
    """After the caller posted a payout from `currency`'s liquidity: refuse it (the whole
    transaction rolls back) if the liquidity, locked now, went below zero."""
    account_id = ledger.system_account_id_in(uow, ctx, AccountCode.FX_LIQUIDITY, currency)
    if uow.ledger.lock_accounts([account_id])[account_id].available < 0:
        raise FxLiquidityInsufficient(
            f"The {currency} liquidity cannot pay {paying_out} now.", currency=currency
        )


def mark_quote_used(uow: UnitOfWork, ctx: Context, quote_id: str, *, payment_id: str) -> None:
    uow.fx.mark_used(quote_id, used_at=ctx.clock.now(), payment_id=payment_id)


def _text(
    uow: UnitOfWork,
    ctx: Context,
    payment: Payment,
    amounts: QuoteAmounts,
    *,
    payer: tuple[User, Wallet],
    payee: tuple[User, Wallet],
    payee_name: str | None,
) -> None:
    """The confirmations, in the payment's transaction: each side in its own currency."""
    payer_user, payer_wallet = payer
    payee_user, payee_wallet = payee
    if payer_user.id == payee_user.id:
        text = converted_text(sms.reader(payer_user), payment.id, amounts.source_debit,
                              amounts.target, _balance(uow, payer_wallet))  # fmt: skip
        sms.queue(uow, ctx, phone=payer_user.phone, text=text)
        return
    sent = sent_abroad_text(sms.reader(payer_user), payment.id, amounts.source_debit,
                            amounts.target, payee_name or payee_user.name,
                            balance=_balance(uow, payer_wallet))  # fmt: skip
    received = received_text(sms.reader(payee_user), payment.id, amounts.target,
                             payer_user.name, _balance(uow, payee_wallet))  # fmt: skip
    sms.queue_all(uow, ctx, [(payer_user.phone, sent), (payee_user.phone, received)])


def _balance(uow: UnitOfWork, wallet: Wallet) -> Money:
    account = uow.ledger.get_account(wallet.account_id)
    assert account is not None, wallet
    return Money.of(account.balance, wallet.currency)


# --- the operator's liquidity and positions -------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiquidityFunded:
    transfer_id: str
    amount: Money
    #: The liquidity account's balance after the funding.
    balance: Money


def fund_liquidity(ctx: Context, *, amount: Money, idempotency_key: str | None) -> LiquidityFunded:
    """The operator moves money it holds at its bank (settlement) into its FX liquidity in that
    currency, so conversions into it can be paid."""
    currency = _offered(ctx, amount.currency.code).code
    if not amount.is_positive():
        raise AmountMustBePositive()
    request = {"amount": amount.to_decimal_string(), "currency": currency}

    def work(uow: UnitOfWork) -> LiquidityFunded:
        settlement = ledger.system_account_id_in(uow, ctx, AccountCode.SETTLEMENT, currency)
        liquidity = ledger.system_account_id_in(uow, ctx, AccountCode.FX_LIQUIDITY, currency)
        transfer_id = ctx.ids.new("tr")
        ledger.record(uow, ctx, [move(transfer_id, debit_account_id=settlement,
                                      credit_account_id=liquidity, amount=amount.amount_minor,
                                      currency=currency, code=TransferCode.DEPOSIT)])  # fmt: skip
        account = uow.ledger.get_account(liquidity)
        assert account is not None
        return LiquidityFunded(transfer_id, amount, Money.of(account.balance, currency))

    return run_idempotent(
        ctx, scope="operator:fx_fund", key=idempotency_key, request=request, work=work,
        result=LiquidityFunded,
    ).value  # fmt: skip


@dataclass(frozen=True, slots=True)
class Position:
    """The operator's FX position in one currency: what its liquidity holds now, and over the
    period what was converted out of the currency (with the spread and fee earned on it) and
    paid out into it."""

    currency: str
    liquidity: Money
    volume: CurrencyVolume


@dataclass(frozen=True, slots=True)
class Positions:
    since: datetime
    until: datetime
    positions: list[Position]


def positions(
    ctx: Context, *, since: datetime | None = None, until: datetime | None = None
) -> Positions:
    """Per currency: the FX liquidity balance now, and the volume converted, spread and fees
    earned, and amounts paid out by quotes accepted in [since, until). By default the period
    is the 30 days up to now, now included."""
    until = until or ctx.clock.now() + timedelta(microseconds=1)
    since = since or until - POSITIONS_PERIOD_DEFAULT
    if since.utcoffset() is None or until.utcoffset() is None or since >= until:
        raise FxPeriodInvalid(
            f"since {since.isoformat()} must be before until {until.isoformat()}."
        )

    def read(uow: UnitOfWork) -> Positions:
        liquidity = {
            total.currency: total.balance
            for total in uow.ledger.system_totals()
            if total.code is AccountCode.FX_LIQUIDITY
        }
        volumes = {volume.currency: volume for volume in uow.fx.volumes(since, until)}
        found = [
            Position(
                currency,
                Money.of(liquidity.get(currency, 0), currency),
                volumes.get(currency, CurrencyVolume(currency)),
            )
            for currency in sorted(set(liquidity) | set(volumes))
        ]
        return Positions(since, until, found)

    return in_transaction(ctx, read, read_only=True)


# --- the pieces ---------------------------------------------------------------------------------


def _offered(ctx: Context, code: str) -> Currency:
    currency = Currency.of(code)
    if currency.code not in ctx.kyc_limits:
        raise CurrencyNotOffered(f"this operator holds no {currency.code} wallets")
    return currency


def _user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.people.get_user(user_id)
    if user is None:
        raise UserNotFound(user_id=user_id)
    return user


def _check_message(message: str | None) -> None:
    if message is not None and len(message) > limits.MESSAGE_LENGTH_MAX:
        raise MessageTooLong(f"a message is at most {limits.MESSAGE_LENGTH_MAX} characters")


def _idempotent(
    ctx: Context,
    scope: str,
    key: str | None,
    request: dict[str, Any],
    work: Callable[[UnitOfWork], Payment],
) -> Payment:
    return run_idempotent(
        ctx,
        scope=scope,
        key=key,
        request=request,
        work=work,
        result=Payment,
    ).value


__all__ = [
    "POSITIONS_PERIOD_DEFAULT",
    "LiquidityFunded",
    "Position",
    "Positions",
    "Price",
    "RatesImported",
    "check_liquidity",
    "convert",
    "create_quote",
    "fetch_rates",
    "fund_liquidity",
    "funding_legs",
    "get_quote",
    "import_rates",
    "is_stale",
    "list_rates",
    "mark_quote_used",
    "pay_code_converted",
    "pay_merchant_converted",
    "pay_request_converted",
    "positions",
    "price",
    "send_converted",
    "set_rate",
    "take_quote",
    "unwinding_legs",
]
