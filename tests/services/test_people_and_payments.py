"""Use cases for people and their money: registration, PINs, KYC, wallets, P2P, cash, statements.

The flows run on SQLite and PostgreSQL; each ends with `reconcile` passing, and each refusal is
checked to leave the ledger exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from fakes import FakeClock
from soko.context import Context
from soko.kernel import limits
from soko.kernel.errors import CurrencyNotOffered, DomainError, IdempotencyKeyReused
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.errors import ExceedsCredits
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.payments.domain import Payment
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import User, UserKind
from soko.people.errors import (
    ExceedsBalanceLimit,
    ExceedsDailyLimit,
    NationalIdRequired,
    PhoneNumberTaken,
    PinIncorrect,
    PinLocked,
    UserKindMismatch,
)
from soko.people.service import MerchantDetails

KES = "KES"


def kes(text: str) -> Money:
    return Money.parse(text, KES)


@dataclass
class World:
    ctx: Context
    amina: User
    baraka: User
    agent: User
    keys: Callable[[], str]


def counter() -> Callable[[], str]:
    state = {"n": 0}

    def next_key() -> str:
        state["n"] += 1
        return f"key-{state['n']}"

    return next_key


def fund(ctx: Context, user: User, amount: Money) -> None:
    """Operator float to an agent, then cash in: money enters as it would in the field."""
    agent = users.register(ctx, kind=UserKind.AGENT, phone=_next_phone(), name="Float agent")
    payments.top_up_float(ctx, agent_id=agent.id, amount=amount, idempotency_key=_next_phone())
    payments.cash_in(
        ctx,
        agent_id=agent.id,
        customer_phone=user.phone,
        amount=amount,
        idempotency_key=_next_phone(),
    )


_phones = iter(range(10_000, 99_999))


def _next_phone() -> str:
    return f"+2547{next(_phones):08d}"


def balance(ctx: Context, user: User, currency: str = KES) -> int:
    [wallet] = [w for w in wallets.list_wallets(ctx, user.id) if w.wallet.currency == currency]
    return wallet.balance.amount_minor


def fees_earned(ctx: Context, currency: str = KES) -> int:
    return ledger.system_total(ctx, AccountCode.FEES, currency).balance


def transfer_count(ctx: Context) -> int:
    return reconcile(ctx).transfers


@pytest.fixture
def world(any_ctx: Context) -> World:
    ctx = any_ctx
    amina = users.register(
        ctx, kind=UserKind.CONSUMER, phone="0712345678", default_region="KE", name="Amina",
        pin="2468",
    )  # fmt: skip
    baraka = users.register(
        ctx, kind=UserKind.CONSUMER, phone="+254722000111", name="Baraka", pin="1357"
    )
    agent = users.register(
        ctx, kind=UserKind.AGENT, phone="+254733000222", name="Otieno Agency", pin="9999"
    )
    payments.top_up_float(ctx, agent_id=agent.id, amount=kes("50000.00"), idempotency_key="float")
    return World(ctx, amina, baraka, agent, counter())


# --- registration, PINs, KYC ----------------------------------------------------------------


def test_registration_normalises_the_phone_and_finds_the_country(ctx: Context) -> None:
    user = users.register(
        ctx, kind=UserKind.CONSUMER, phone="0772 123 456", default_region="UG", name=" Okello "
    )
    assert (user.phone, user.country, user.name, user.kyc_tier) == ("+256772123456", "UG",
                                                                     "Okello", 0)  # fmt: skip
    assert users.find_by_phone(ctx, "+256772123456") == user


def test_a_phone_number_registers_once(ctx: Context) -> None:
    users.register(ctx, kind=UserKind.CONSUMER, phone="+254711000001", name="First")
    with pytest.raises(PhoneNumberTaken):
        users.register(ctx, kind=UserKind.AGENT, phone="0711000001", default_region="KE",
                       name="Second")  # fmt: skip


def test_a_merchant_gets_a_six_digit_till_and_a_settlement_currency(ctx: Context) -> None:
    shop = users.register(
        ctx,
        kind=UserKind.MERCHANT,
        phone="+254700111222",
        name="Wanjiru",
        merchant=MerchantDetails(trading_name="Wanjiru's Kiosk", category_code="5411"),
    )
    merchant = users.get_merchant(ctx, shop.id)
    assert merchant.till_number.isdigit() and len(merchant.till_number) == 6
    assert merchant.settlement_currency == "KES"


@pytest.mark.parametrize(
    ("kind", "details", "code"),
    [
        (UserKind.CONSUMER, MerchantDetails("Shop", "5411"), "user_kind_mismatch"),
        (UserKind.MERCHANT, None, "user_kind_mismatch"),
        (UserKind.MERCHANT, MerchantDetails("Shop", "541"), "merchant_category_invalid"),
    ],
)
def test_merchant_details_go_with_merchants(
    ctx: Context, kind: UserKind, details: MerchantDetails | None, code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        users.register(ctx, kind=kind, phone="+254700111333", name="X", merchant=details)
    assert refused.value.code == code


def test_the_fifth_wrong_pin_in_a_row_locks_and_an_operator_may_unlock(world: World) -> None:
    ctx, amina = world.ctx, world.amina
    for attempt in range(1, limits.PIN_ATTEMPTS_MAX):
        with pytest.raises(PinIncorrect) as wrong:
            users.verify_pin(ctx, amina.id, "0000")
        assert wrong.value.context["tries_left"] == limits.PIN_ATTEMPTS_MAX - attempt
    with pytest.raises(PinLocked):
        users.verify_pin(ctx, amina.id, "0000")
    with pytest.raises(PinLocked):
        users.verify_pin(ctx, amina.id, "2468")  # even the right PIN, once locked
    users.unlock_pin(ctx, amina.id)
    assert users.verify_pin(ctx, amina.id, "2468").pin.failures == 0


def test_a_right_pin_resets_the_count(world: World) -> None:
    ctx, amina = world.ctx, world.amina
    for _ in range(limits.PIN_ATTEMPTS_MAX - 1):
        with pytest.raises(PinIncorrect):
            users.verify_pin(ctx, amina.id, "0000")
    users.verify_pin(ctx, amina.id, "2468")
    with pytest.raises(PinIncorrect):
        users.verify_pin(ctx, amina.id, "0000")  # counting starts again: not locked


def test_kyc_tier_one_needs_a_national_id(world: World) -> None:
    with pytest.raises(NationalIdRequired):
        users.set_kyc_tier(world.ctx, world.amina.id, 1)
    upgraded = users.set_kyc_tier(world.ctx, world.amina.id, 1, national_id="12345678")
    assert (upgraded.kyc_tier, upgraded.national_id) == (1, "12345678")
    assert users.set_kyc_tier(world.ctx, world.amina.id, 2).national_id == "12345678"


# --- wallets ---------------------------------------------------------------------------------


def test_a_wallet_opens_once_in_the_home_currency(world: World) -> None:
    first = wallets.open_wallet(world.ctx, world.amina.id)
    again = wallets.open_wallet(world.ctx, world.amina.id, "KES")
    assert first.wallet == again.wallet
    assert first.balance == kes("0.00")


def test_a_currency_without_kyc_limits_is_not_offered(world: World) -> None:
    with pytest.raises(CurrencyNotOffered):
        wallets.open_wallet(world.ctx, world.amina.id, "KWD")


# --- person to person ------------------------------------------------------------------------


def test_p2p_moves_the_amount_and_charges_the_tariff_fee(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    payment = payments.send_money(
        ctx, sender_id=world.amina.id, to_phone="0722000111", default_region="KE",
        amount=kes("1000.00"), message="for the shamba", idempotency_key="p2p-1",
    )  # fmt: skip
    assert (payment.amount, payment.fee) == (100000, 1300)  # KES 501-1,000 costs KES 13
    assert balance(ctx, world.amina) == 500000 - 100000 - 1300
    assert balance(ctx, world.baraka) == 100000
    assert fees_earned(ctx) >= 1300
    assert reconcile(ctx).passed


def test_p2p_replay_with_the_same_key_pays_once(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))

    def send(amount: str) -> Payment:
        return payments.send_money(ctx, sender_id=world.amina.id, to_phone=world.baraka.phone,
                                   amount=kes(amount), idempotency_key="same-key")  # fmt: skip

    first = send("100.00")
    assert send("100.00") == first
    assert balance(ctx, world.baraka) == 10000
    with pytest.raises(IdempotencyKeyReused):
        send("200.00")
    assert balance(ctx, world.baraka) == 10000


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("6000.00", "exceeds_credits"),
        ("0.00", "amount_must_be_positive"),
        ("10000.01", "exceeds_transaction_limit"),  # tier 0: KES 10,000 a transaction
    ],
)
def test_a_refused_p2p_changes_nothing(world: World, amount: str, code: str) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    before = (transfer_count(ctx), balance(ctx, world.amina))
    with pytest.raises(DomainError) as refused:
        payments.send_money(ctx, sender_id=world.amina.id, to_phone=world.baraka.phone,
                            amount=kes(amount), idempotency_key="k")  # fmt: skip
    assert refused.value.code == code
    assert (transfer_count(ctx), balance(ctx, world.amina)) == before


def test_the_daily_limit_counts_what_went_out_today(world: World, clock: FakeClock) -> None:
    ctx = world.ctx
    # Tier 1: KES 70,000 a transaction, KES 150,000 a day, a balance of at most KES 100,000.
    users.set_kyc_tier(ctx, world.amina.id, 1, national_id="12345678")
    users.set_kyc_tier(ctx, world.baraka.id, 2, national_id="87654321")
    fund(ctx, world.amina, kes("100000.00"))

    def send(sender: User, to: User, amount: str, key: str) -> Payment:
        return payments.send_money(ctx, sender_id=sender.id, to_phone=to.phone,
                                   amount=kes(amount), idempotency_key=key)  # fmt: skip

    send(world.amina, world.baraka, "70000.00", "a")
    send(world.baraka, world.amina, "69000.00", "back")
    send(world.amina, world.baraka, "70000.00", "b")
    # 140,000 sent today: 10,000 left, though the balance would allow more.
    with pytest.raises(ExceedsDailyLimit) as refused:
        send(world.amina, world.baraka, "10000.01", "c")
    assert refused.value.context["allowed"] == 1000000
    send(world.amina, world.baraka, "10000.00", "d")
    clock.advance(24 * 3600)
    send(world.amina, world.baraka, "10000.01", "e")  # a new day


def test_a_consumer_wallet_cannot_pass_its_tiers_balance_cap(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("10000.00"))
    fund(ctx, world.baraka, kes("15000.00"))
    # Tier 0 holds at most KES 20,000: Baraka can take 5,000 more, not 5,000.01.
    with pytest.raises(ExceedsBalanceLimit) as refused:
        payments.send_money(ctx, sender_id=world.amina.id, to_phone=world.baraka.phone,
                            amount=kes("5000.01"), idempotency_key="over")  # fmt: skip
    assert refused.value.context["allowed"] == 500000
    payments.send_money(ctx, sender_id=world.amina.id, to_phone=world.baraka.phone,
                        amount=kes("5000.00"), idempotency_key="exact")  # fmt: skip
    assert balance(ctx, world.baraka) == 2000000


def test_money_for_an_unregistered_number_waits_and_is_claimed(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    payment = payments.send_money(ctx, sender_id=world.amina.id, to_phone="+254799000999",
                                  amount=kes("1000.00"), idempotency_key="held")  # fmt: skip
    assert payment.payee_wallet_id is None and payment.hold_id is not None
    assert balance(ctx, world.amina) == 500000  # held, not yet gone
    [wallet] = wallets.list_wallets(ctx, world.amina.id)
    assert wallet.available.amount_minor == 500000 - 100000 - 1300
    newcomer = users.register(ctx, kind=UserKind.CONSUMER, phone="0799000999",
                              default_region="KE", name="Newcomer")  # fmt: skip
    assert balance(ctx, newcomer) == 100000
    assert balance(ctx, world.amina) == 500000 - 100000 - 1300
    assert payments.get_payment(ctx, payment.id).payee_wallet_id is not None
    assert reconcile(ctx).passed


def test_money_from_several_senders_is_claimed_at_once(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    fund(ctx, world.baraka, kes("5000.00"))
    held = [(world.amina, "1000.00"), (world.baraka, "250.00"), (world.amina, "50.00")]
    sent = [
        payments.send_money(
            ctx,
            sender_id=sender.id,
            to_phone="+254799000998",
            amount=kes(amount),
            idempotency_key=f"held-{n}",
        )
        for n, (sender, amount) in enumerate(held)
    ]
    newcomer = users.register(ctx, kind=UserKind.CONSUMER, phone="+254799000998", name="Newcomer")
    assert balance(ctx, newcomer) == 130000
    [wallet] = wallets.list_wallets(ctx, newcomer.id)
    assert all(payments.get_payment(ctx, p.id).payee_wallet_id == wallet.wallet.id for p in sent)
    # Each sender paid its amount and its fee, no more.
    assert balance(ctx, world.amina) == 500000 - 100000 - 5000 - sum(
        p.fee for p in sent if p.payer_wallet_id != sent[1].payer_wallet_id
    )
    assert balance(ctx, world.baraka) == 500000 - 25000 - sent[1].fee
    assert reconcile(ctx).passed


def test_unclaimed_money_goes_back_with_its_fee(world: World, clock: FakeClock) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    fees_before = fees_earned(ctx)
    payments.send_money(ctx, sender_id=world.amina.id, to_phone="+254799000998",
                        amount=kes("1000.00"), idempotency_key="held")  # fmt: skip
    clock.advance(world.ctx.unclaimed_transfer_seconds)
    assert len(ledger.expire_due(ctx)) == 2  # the amount and the fee
    [wallet] = wallets.list_wallets(ctx, world.amina.id)
    assert wallet.available.amount_minor == wallet.balance.amount_minor == 500000
    assert fees_earned(ctx) == fees_before
    # The number registers later: nothing is left to claim.
    late = users.register(ctx, kind=UserKind.CONSUMER, phone="+254799000998", name="Late")
    assert wallets.list_wallets(ctx, late.id) == []
    assert reconcile(ctx).passed


# --- cash in, cash out, float ----------------------------------------------------------------


def test_cash_in_pays_the_agent_a_commission_from_the_operator(world: World) -> None:
    ctx = world.ctx
    payment = payments.cash_in(ctx, agent_id=world.agent.id, customer_phone=world.amina.phone,
                               amount=kes("2000.00"), idempotency_key="in")  # fmt: skip
    assert (payment.fee, payment.commission) == (0, 1500)  # KES 1,001-5,000 earns KES 15
    assert balance(ctx, world.amina) == 200000
    assert balance(ctx, world.agent) == 5000000 - 200000 + 1500
    expense = ledger.system_account(ctx, AccountCode.COMMISSION_EXPENSE, KES)
    assert expense.debits_posted - expense.credits_posted == 1500
    assert reconcile(ctx).passed


def test_cash_in_needs_float(world: World) -> None:
    broke = users.register(world.ctx, kind=UserKind.AGENT, phone="+254733000999", name="Broke")
    payments.top_up_float(world.ctx, agent_id=broke.id, amount=kes("100.00"), idempotency_key="t")
    with pytest.raises(ExceedsCredits):
        payments.cash_in(world.ctx, agent_id=broke.id, customer_phone=world.amina.phone,
                         amount=kes("100.01"), idempotency_key="in")  # fmt: skip


def test_only_an_agent_takes_cash(world: World) -> None:
    with pytest.raises(UserKindMismatch):
        payments.cash_in(world.ctx, agent_id=world.baraka.id, customer_phone=world.amina.phone,
                         amount=kes("10.00"), idempotency_key="in")  # fmt: skip


def test_cash_out_charges_the_fee_and_shares_it_with_the_agent(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    float_before = balance(ctx, world.agent)
    fees_before = fees_earned(ctx)
    payment = payments.cash_out(ctx, customer_id=world.amina.id, agent_id=world.agent.id,
                                amount=kes("2000.00"), pin="2468",
                                idempotency_key="out")  # fmt: skip
    # KES 101-2,500: the customer pays KES 29, of which the agent earns KES 14.
    assert (payment.fee, payment.commission) == (2900, 1400)
    assert balance(ctx, world.amina) == 500000 - 200000 - 2900
    assert balance(ctx, world.agent) == float_before + 200000 + 1400
    assert fees_earned(ctx) == fees_before + 2900 - 1400
    assert reconcile(ctx).passed


def test_cash_out_with_a_wrong_pin_moves_nothing_and_counts(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    before = transfer_count(ctx)
    with pytest.raises(PinIncorrect):
        payments.cash_out(ctx, customer_id=world.amina.id, agent_id=world.agent.id,
                          amount=kes("100.00"), pin="1111", idempotency_key="out")  # fmt: skip
    assert transfer_count(ctx) == before
    assert users.get_user(ctx, world.amina.id).pin.failures == 1


# --- statements ------------------------------------------------------------------------------


def test_the_statement_shows_each_movement_with_the_balance_it_left(world: World) -> None:
    ctx = world.ctx
    fund(ctx, world.amina, kes("5000.00"))
    payments.send_money(ctx, sender_id=world.amina.id, to_phone=world.baraka.phone,
                        amount=kes("1000.00"), idempotency_key="p")  # fmt: skip
    wallet = wallets.open_wallet(ctx, world.amina.id).wallet
    first = wallets.statement(ctx, wallet.id, limit=2)
    rest = wallets.statement(ctx, wallet.id, limit=2, cursor=first.next_cursor)
    entries = first.entries + rest.entries
    assert [(e.code, e.amount.amount_minor, e.balance_after.amount_minor) for e in entries] == [
        (TransferCode.FEE.value, -1300, 398700),
        (TransferCode.P2P.value, -100000, 400000),
        (TransferCode.CASH_IN.value, 500000, 500000),
    ]
    assert rest.next_cursor is None
    csv_text = wallets.statement_csv(ctx, wallet.id)
    assert csv_text.splitlines()[1].split(",")[2:7] == ["fee", "-13.00", "KES", "no", "3987.00"]
