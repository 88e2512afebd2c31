"""FX use cases: rates, quotes by either amount, single use before expiry, and cross-currency
payments (to a person, between one's own wallets, to a merchant) booked through liquidity.

The world is docs/fx.md's worked example: USD->KES 129.25 and USD->UGX 3652.40, the UGX>KES
corridor at 150 bp for KYC tier 1, a UGX 500 FX fee. Every flow ends with `reconcile` passing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from fakes import FakeClock
from soko.context import Context
from soko.fx import service as fx
from soko.fx.domain import FxPolicy, parse_corridors
from soko.fx.errors import (
    FxCorridorDisabled,
    FxLiquidityInsufficient,
    FxPairUnknown,
    FxPeriodInvalid,
    FxQuoteExpired,
    FxQuoteMismatch,
    FxQuoteNotFound,
    FxQuoteUsed,
    FxRateFileInvalid,
    FxRateStale,
    FxTierTooLow,
)
from soko.fx.rate_files import RateFileFormat
from soko.kernel.errors import DomainError
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.errors import ExceedsCredits
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.payments.fees import FeeKind, FeeTable
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import User, UserKind
from soko.people.errors import RecipientIsSender, UserNotFound
from soko.people.service import MerchantDetails

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
CORRIDORS = (
    '{"UGX>KES": {"spread_bps": 150, "min": "1000", "max": "5000000", "kyc_tier": 1},'
    ' "KES>UGX": {"spread_bps": 150, "max": "150000.00", "kyc_tier": 1, "enabled": false}}'
)


def ugx(text: str) -> Money:
    return Money.parse(text, "UGX")


def kes(text: str) -> Money:
    return Money.parse(text, "KES")


def counter(prefix: str) -> Callable[[], str]:
    state = {"n": 0}

    def next_key() -> str:
        state["n"] += 1
        return f"{prefix}-{state['n']}"

    return next_key


@dataclass
class World:
    ctx: Context
    clock: FakeClock
    amina: User  # Kampala, UGX, tier 1
    baraka: User  # Nairobi, KES
    kiosk: User  # a Nairobi merchant, paid in KES
    keys: Callable[[], str]

    def balance(self, user: User, currency: str) -> int:
        held = wallets.list_wallets(self.ctx, user.id)
        found = [w for w in held if w.wallet.currency == currency]
        return found[0].balance.amount_minor if found else 0

    def liquidity(self, currency: str) -> int:
        return ledger.system_total(self.ctx, AccountCode.FX_LIQUIDITY, currency).balance

    def fees(self, currency: str) -> int:
        return ledger.system_total(self.ctx, AccountCode.FEES, currency).balance

    def quote(self, user: User | None = None, **amount: Money) -> fx.Quote:
        return fx.create_quote(
            self.ctx, owner_id=(user or self.amina).id, source="UGX", target="KES", **amount
        )

    def send(self, quote_id: str, to: User | None = None, **more: object) -> payments.Payment:
        return fx.send_converted(
            self.ctx,
            sender_id=self.amina.id,
            quote_id=quote_id,
            idempotency_key=self.keys(),
            to_phone=(to or self.baraka).phone,
            **more,  # type: ignore[arg-type]
        )


def fx_context(ctx: Context, corridors: str = CORRIDORS, **policy: object) -> Context:
    """The context with the FX settings and a UGX 500 FX fee, as an operator would set them."""
    tariff = dict(ctx.tariff)
    tariff[("UGX", FeeKind.FX)] = FeeTable(((7_000_000, 500),))
    return replace(
        ctx,
        fx=FxPolicy(corridors=parse_corridors(corridors), **policy),  # type: ignore[arg-type]
        tariff=tariff,
    )


def cash_in(ctx: Context, user: User, amount: Money, keys: Callable[[], str]) -> None:
    """Float to an agent, then cash in: money enters as it would in the field."""
    phone = "+256772100200" if amount.currency.code == "UGX" else "+254733100200"
    agent = users.register(ctx, kind=UserKind.AGENT, phone=keys_phone(phone, keys), name="Agent")
    payments.top_up_float(ctx, agent_id=agent.id, amount=amount, idempotency_key=keys())
    payments.cash_in(
        ctx, agent_id=agent.id, customer_phone=user.phone, amount=amount, idempotency_key=keys()
    )


def keys_phone(phone: str, keys: Callable[[], str]) -> str:
    # A fresh agent number each time: the key counter's number as the last digits.
    suffix = keys().rsplit("-", 1)[1]
    return phone[: -len(suffix)] + suffix


def set_rates(ctx: Context) -> None:
    fx.set_rate(ctx, base="USD", quote="KES", rate="129.25")
    fx.set_rate(ctx, base="USD", quote="UGX", rate="3652.40")


@pytest.fixture
def world(any_ctx: Context, clock: FakeClock) -> Iterator[World]:
    ctx = fx_context(any_ctx)
    keys = counter("fx")
    amina = users.register(ctx, kind=UserKind.CONSUMER, phone="+256782100200", name="Amina")
    amina = users.set_kyc_tier(ctx, amina.id, 1, national_id="CM88001")
    baraka = users.register(ctx, kind=UserKind.CONSUMER, phone="+254722100200", name="Baraka")
    kiosk = users.register(
        ctx, kind=UserKind.MERCHANT, phone="+254700100200", name="Wanjiru",
        merchant=MerchantDetails("Wanjiru's Kiosk", "5411"),
    )  # fmt: skip
    cash_in(ctx, amina, ugx("1000000"), keys)
    set_rates(ctx)
    fx.fund_liquidity(ctx, amount=kes("100000.00"), idempotency_key="fund-kes")
    fx.fund_liquidity(ctx, amount=ugx("10000000"), idempotency_key="fund-ugx")
    yield World(ctx, clock, amina, baraka, kiosk, keys)
    assert reconcile(ctx).passed


# --- rates --------------------------------------------------------------------------------------


def test_rate_files_import_all_or_nothing_and_once(world: World) -> None:
    data = (FIXTURES / "eurofxref-daily.xml").read_bytes()
    first = fx.import_rates(world.ctx, data)
    assert first.format is RateFileFormat.ECB_XML
    assert first.stored.added == 9 and first.stored.corrected == 0
    assert "THB" in first.ignored
    again = fx.import_rates(world.ctx, data)
    assert (again.stored.added, again.stored.unchanged) == (0, first.stored.added)
    with pytest.raises(FxRateFileInvalid):
        fx.import_rates(world.ctx, b"base,quote,rate,as_of\nUSD,KES,12x,2026-01-01T00:00:00Z\n")
    sources = {rate.source for rate in fx.list_rates(world.ctx)}
    assert sources == {"ecb", "operator"}


def test_the_newest_rate_of_a_pair_wins(world: World) -> None:
    before = world.quote(source_amount=ugx("100000")).amounts.target
    world.clock.advance(60)
    fx.set_rate(world.ctx, base="USD", quote="KES", rate="130.00")
    after = world.quote(source_amount=ugx("100000")).amounts.target
    assert after > before
    [usd_kes] = [r for r in fx.list_rates(world.ctx) if r.pair == ("USD", "KES")]
    assert str(usd_kes.value) == "130"


# --- quotes -------------------------------------------------------------------------------------


def test_a_quote_by_source_amount_is_docs_worked_example(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    amounts = quote.amounts
    assert quote.id.startswith("fxq_")
    assert (amounts.converted, amounts.spread, amounts.fee) == (
        ugx("98007"),
        ugx("1493"),
        ugx("500"),
    )
    assert amounts.target == kes("3468.24")
    assert quote.rate.source == "operator" and len(quote.rate.derived_from) == 2
    assert (quote.expires_at - quote.created_at).total_seconds() == 300
    assert fx.get_quote(world.ctx, quote.id) == quote


def test_a_quote_by_target_amount_pays_exactly_the_target(world: World) -> None:
    quote = world.quote(target_amount=kes("2000.00"))
    assert quote.amounts.source_debit == ugx("57878")
    assert (quote.amounts.spread, quote.amounts.fee) == (ugx("861"), ugx("500"))
    assert quote.amounts.target == kes("2000.00")


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (ugx("999"), "fx_amount_outside_corridor"),
        (ugx("5000001"), "fx_amount_outside_corridor"),
        (ugx("500"), "fx_amount_too_small"),
        (kes("10.00"), "currency_mismatch"),
    ],
)
def test_amounts_outside_the_corridor_are_refused(world: World, amount: Money, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        world.quote(source_amount=amount)
    assert refused.value.code == code


def test_a_closed_or_missing_corridor_offers_nothing(world: World) -> None:
    with pytest.raises(FxCorridorDisabled):
        fx.create_quote(world.ctx, owner_id=world.baraka.id, source="KES", target="UGX",
                        source_amount=kes("100.00"))  # fmt: skip
    with pytest.raises(FxCorridorDisabled):
        fx.create_quote(world.ctx, owner_id=world.amina.id, source="UGX", target="TZS",
                        source_amount=ugx("100000"))  # fmt: skip


def test_a_pair_without_rates_is_unknown(world: World) -> None:
    ctx = fx_context(world.ctx, '{"UGX>RWF": {"spread_bps": 0, "max": "100000", "kyc_tier": 0}}')
    with pytest.raises(FxPairUnknown):
        fx.create_quote(ctx, owner_id=world.amina.id, source="UGX", target="RWF",
                        source_amount=ugx("10000"))  # fmt: skip


def test_a_payer_below_the_corridors_tier_is_refused(world: World) -> None:
    okello = users.register(world.ctx, kind=UserKind.CONSUMER, phone="+256782100300", name="Ok")
    with pytest.raises(FxTierTooLow):
        world.quote(okello, source_amount=ugx("100000"))


def test_stale_rates_price_nothing(world: World) -> None:
    world.clock.advance(4 * 24 * 3600 + 1)
    with pytest.raises(FxRateStale):
        world.quote(source_amount=ugx("100000"))
    set_rates(world.ctx)
    world.quote(source_amount=ugx("100000"))


def test_a_lower_max_age_makes_rates_stale_sooner(world: World) -> None:
    strict = replace(world.ctx, fx=replace(world.ctx.fx, rate_max_age_seconds=3600))
    world.clock.advance(3601)
    with pytest.raises(FxRateStale):
        fx.create_quote(strict, owner_id=world.amina.id, source="UGX", target="KES",
                        source_amount=ugx("100000"))  # fmt: skip


# --- a transfer to a person in another currency ---------------------------------------------


def test_p2p_across_currencies_books_docs_legs_in_one_batch(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    payment = world.send(quote.id, message="school fees")

    assert payment.kind == "fx_p2p"
    assert (payment.currency, payment.amount, payment.fee) == ("UGX", 98_007, 1_993)
    assert (payment.target_currency, payment.target_amount) == ("KES", 346_824)
    assert world.balance(world.amina, "UGX") == 1_000_000 - 100_000
    assert world.balance(world.baraka, "KES") == 346_824
    assert world.liquidity("UGX") == 10_000_000 + 98_007
    assert world.liquidity("KES") == 100_000_00 - 346_824
    assert world.fees("UGX") == 1_993
    used = fx.get_quote(world.ctx, quote.id)
    assert (used.payment_id, used.used_at) == (payment.id, world.clock.now())

    legs = [t for t in _transfers(world) if t.reference == payment.id]
    assert sorted((t.code, t.currency, t.amount) for t in legs) == [
        (TransferCode.FEE, "UGX", 500),
        (TransferCode.FEE, "UGX", 1_493),
        (TransferCode.FX_CONVERSION, "KES", 346_824),
        (TransferCode.FX_CONVERSION, "UGX", 98_007),
    ]
    # Both sides' statements show the payment, each in its own currency.
    for user, currency, amount in ((world.amina, "UGX", -98_007), (world.baraka, "KES", 346_824)):
        [wallet] = [w for w in wallets.list_wallets(world.ctx, user.id)
                    if w.wallet.currency == currency]  # fmt: skip
        entries = wallets.statement(world.ctx, wallet.wallet.id).entries
        assert any(e.reference == payment.id and e.amount.amount_minor == amount for e in entries)


def _transfers(world: World) -> list[object]:
    found = []
    for currency in ("UGX", "KES"):
        account = ledger.system_account(world.ctx, AccountCode.FX_LIQUIDITY, currency)
        found += ledger.list_transfers(world.ctx, account.id, limit=500).transfers
    for user, currency in ((world.amina, "UGX"),):
        [wallet] = [w for w in wallets.list_wallets(world.ctx, user.id)
                    if w.wallet.currency == currency]  # fmt: skip
        found += ledger.list_transfers(world.ctx, wallet.wallet.account_id, limit=500).transfers
    return list({t.id: t for t in found}.values())  # type: ignore[attr-defined]


def test_a_quote_is_used_once_and_a_replay_returns_the_first_payment(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    first = fx.send_converted(world.ctx, sender_id=world.amina.id, quote_id=quote.id,
                              idempotency_key="once", to_phone=world.baraka.phone)  # fmt: skip
    again = fx.send_converted(world.ctx, sender_id=world.amina.id, quote_id=quote.id,
                              idempotency_key="once", to_phone=world.baraka.phone)  # fmt: skip
    assert again == first
    with pytest.raises(FxQuoteUsed):
        world.send(quote.id)
    assert world.balance(world.baraka, "KES") == 346_824


def test_a_quote_expires_on_the_fake_clock(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    world.clock.advance(299)
    world.send(quote.id)  # still good one second before expiry
    late = world.quote(source_amount=ugx("100000"))
    world.clock.advance(300)
    with pytest.raises(FxQuoteExpired):
        world.send(late.id)
    assert fx.get_quote(world.ctx, late.id).used_at is None


def test_someone_elses_quote_is_not_found(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    with pytest.raises(FxQuoteNotFound):
        fx.send_converted(world.ctx, sender_id=world.baraka.id, quote_id=quote.id,
                          idempotency_key="theirs", to_phone=world.amina.phone)  # fmt: skip
    with pytest.raises(FxQuoteNotFound):
        fx.convert(world.ctx, owner_id=world.baraka.id, quote_id="fxq_nope", idempotency_key="x")


def test_the_wallets_and_the_amount_must_be_the_quotes(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    okello = users.register(world.ctx, kind=UserKind.CONSUMER, phone="+256782100300", name="Ok")
    ugx_wallet = wallets.open_wallet(world.ctx, okello.id, "UGX").wallet
    with pytest.raises(FxQuoteMismatch):  # a UGX wallet cannot take the quote's KES
        fx.send_converted(world.ctx, sender_id=world.amina.id, quote_id=quote.id,
                          idempotency_key="w", to_wallet_id=ugx_wallet.id)  # fmt: skip
    with pytest.raises(FxQuoteMismatch):
        world.send(quote.id, amount=ugx("99999"))
    with pytest.raises(FxQuoteMismatch):
        world.send(quote.id, amount=kes("3468.25"))
    # The quote's own amounts, on either side, are accepted.
    payment = world.send(quote.id, amount=kes("3468.24"))
    assert payment.target_amount == 346_824


def test_an_unregistered_number_or_oneself_cannot_receive_a_conversion(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    with pytest.raises(UserNotFound):
        fx.send_converted(world.ctx, sender_id=world.amina.id, quote_id=quote.id,
                          idempotency_key="u", to_phone="+254722999999")  # fmt: skip
    with pytest.raises(RecipientIsSender):
        world.send(quote.id, to=world.amina)


def test_liquidity_that_cannot_cover_the_target_refuses_and_changes_nothing(
    any_ctx: Context, clock: FakeClock
) -> None:
    ctx = fx_context(any_ctx)
    keys = counter("dry")
    amina = users.register(ctx, kind=UserKind.CONSUMER, phone="+256782100200", name="Amina")
    amina = users.set_kyc_tier(ctx, amina.id, 1, national_id="CM88001")
    baraka = users.register(ctx, kind=UserKind.CONSUMER, phone="+254722100200", name="Baraka")
    cash_in(ctx, amina, ugx("1000000"), keys)
    set_rates(ctx)
    fx.fund_liquidity(ctx, amount=kes("3468.23"), idempotency_key="almost")
    quote = fx.create_quote(ctx, owner_id=amina.id, source="UGX", target="KES",
                            source_amount=ugx("100000"))  # fmt: skip
    with pytest.raises(FxLiquidityInsufficient):
        fx.send_converted(ctx, sender_id=amina.id, quote_id=quote.id, idempotency_key="k",
                          to_phone=baraka.phone)  # fmt: skip
    assert fx.get_quote(ctx, quote.id).used_at is None
    fx.fund_liquidity(ctx, amount=kes("0.01"), idempotency_key="enough")
    fx.send_converted(ctx, sender_id=amina.id, quote_id=quote.id, idempotency_key="k",
                      to_phone=baraka.phone)  # fmt: skip
    assert ledger.system_total(ctx, AccountCode.FX_LIQUIDITY, "KES").balance == 0
    assert reconcile(ctx).passed


def test_a_payer_without_the_money_is_refused(world: World) -> None:
    quote = world.quote(source_amount=ugx("1000001"))
    with pytest.raises(ExceedsCredits):
        fx.convert(world.ctx, owner_id=world.amina.id, quote_id=quote.id, idempotency_key="k")
    assert world.balance(world.amina, "KES") == 0
    assert fx.get_quote(world.ctx, quote.id).used_at is None


# --- conversions and merchants ------------------------------------------------------------------


def test_a_person_converts_between_their_own_wallets(world: World) -> None:
    quote = world.quote(target_amount=kes("2000.00"))
    payment = fx.convert(world.ctx, owner_id=world.amina.id, quote_id=quote.id,
                         idempotency_key="conv")  # fmt: skip
    again = fx.convert(world.ctx, owner_id=world.amina.id, quote_id=quote.id,
                       idempotency_key="conv")  # fmt: skip
    assert again == payment and payment.kind == "fx_conversion"
    assert world.balance(world.amina, "UGX") == 1_000_000 - 57_878
    assert world.balance(world.amina, "KES") == 200_000


def test_a_merchant_is_paid_in_its_currency_and_pays_its_discount_rate(world: World) -> None:
    quote = world.quote(target_amount=kes("1000.00"))
    # One UGX is worth 3.5 KES cents: the least debit that pays KES 1,000 pays a little more.
    assert quote.amounts.target == kes("1000.02")
    payment = fx.pay_merchant_converted(
        world.ctx, payer_id=world.amina.id, quote_id=quote.id, idempotency_key="shop",
        till_number=users.get_merchant(world.ctx, world.kiosk.id).till_number,
        amount=kes("1000.02"),
    )  # fmt: skip
    assert payment.kind == "fx_merchant" and payment.target_amount == 100_002
    # 0.25 % for groceries (5411), rounded up: KES 2.51.
    assert world.balance(world.kiosk, "KES") == 100_002 - 251
    assert world.fees("KES") == 251


def test_a_merchant_paid_in_another_currency_refuses_the_quote(world: World) -> None:
    salon = users.register(
        world.ctx, kind=UserKind.MERCHANT, phone="+256752100200", name="Nakato",
        merchant=MerchantDetails("Nakato's Salon", "7230"),
    )  # fmt: skip
    quote = world.quote(source_amount=ugx("100000"))
    with pytest.raises(FxQuoteMismatch):
        fx.pay_merchant_converted(world.ctx, payer_id=world.amina.id, quote_id=quote.id,
                                  idempotency_key="salon", merchant_id=salon.id)  # fmt: skip


# --- the operator's positions -------------------------------------------------------------------


def test_positions_show_liquidity_volume_and_spread_per_currency(world: World) -> None:
    start = world.clock.now()
    world.send(world.quote(source_amount=ugx("100000")).id)
    world.clock.advance(10)
    world.send(world.quote(source_amount=ugx("100000")).id)
    report = fx.positions(world.ctx, since=start)
    by_currency = {p.currency: p for p in report.positions}
    assert by_currency["UGX"].volume.converted == 2 * 98_007
    assert by_currency["UGX"].volume.spread == 2 * 1_493
    assert by_currency["UGX"].volume.fee == 2 * 500
    assert by_currency["KES"].volume.paid_out == 2 * 346_824
    assert by_currency["KES"].liquidity == kes("100000.00") - Money.of(2 * 346_824, "KES")
    # A period before the payments holds none of them.
    earlier = fx.positions(world.ctx, since=start.replace(year=2020), until=start)
    assert all(p.volume.converted == 0 for p in earlier.positions)
    with pytest.raises(FxPeriodInvalid):
        fx.positions(world.ctx, since=start, until=start)


def test_a_quote_row_records_the_rate_it_was_priced_at(world: World) -> None:
    quote = world.quote(source_amount=ugx("100000"))
    stored = in_transaction(world.ctx, lambda uow: uow.fx.get_quote(quote.id), read_only=True)
    assert stored is not None
    assert {(r.base, r.quote) for r in stored.rate.derived_from} == {("USD", "UGX"), ("USD", "KES")}
    assert stored.amounts.mid == quote.amounts.mid
