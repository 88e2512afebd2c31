"""Payouts through the sandbox rail: paid, failed, refused, replayed, raced, retried, never expired.

Each flow ends with the money either paid out (wallet debited, settlement and fees credited) or
back in the wallet, never both and never neither, and with `reconcile` passing. Storage matters
here (claims, conditional updates, the rail's own table), so most tests run on both databases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fakes import FakeClock
from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import (
    AmountMustBePositive,
    CurrencyNotOffered,
    CursorInvalid,
    DomainError,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    PageSizeInvalid,
)
from soko.kernel.i18n import wording_for
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import PendingState
from soko.ledger.errors import ExceedsCredits
from soko.ledger.reconcile import reconcile
from soko.notify import service as webhooks
from soko.notify import sms_service as sms
from soko.notify.sms import fits, gsm7_septets
from soko.payouts import service as payouts
from soko.payouts.domain import (
    BankAccount,
    Destination,
    MobileMoney,
    Payout,
    PayoutState,
    RailOutcome,
    RailStatus,
    poll_delay_seconds,
    retry_delay_seconds,
)
from soko.payouts.errors import (
    BankAccountNameInvalid,
    BankAccountNumberInvalid,
    BankCodeInvalid,
    MobileMoneyCurrencyMismatch,
    PayoutNotFound,
)
from soko.payouts.ports import PayoutRail, PayoutRailUnavailable
from soko.payouts.tables import sandbox_rail_payouts
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import User, UserKind
from soko.people.errors import PhoneNumberInvalid, UserKindMismatch, UserNotFound
from soko.people.service import MerchantDetails

KES = "KES"
BANK = BankAccount("01", "1234567890", "Wanjiru Kamau")
FAILING_BANK = BankAccount("01", "1234560000", "Wanjiru Kamau")
PHONE = MobileMoney("+254722123456")
FAILING_PHONE = MobileMoney("+254722120000")
#: The default tariff's payout fee for KES 1,001 to 10,000.
FEE = 30_00


def kes(text: str) -> Money:
    return Money.parse(text, KES)


@dataclass
class Shop:
    ctx: Context
    clock: FakeClock
    merchant: User
    wallet_account_id: str
    keys: Callable[[], str]

    def request(
        self, amount: str = "5000.00", destination: Destination = BANK, key: str | None = None
    ) -> Payout:
        return payouts.request_payout(
            self.ctx,
            merchant_id=self.merchant.id,
            amount=kes(amount),
            destination=destination,
            idempotency_key=key or self.keys(),
        )

    def wallet(self) -> tuple[int, int]:
        """(balance, available) of the merchant's KES wallet."""
        account = ledger.get_account(self.ctx, self.wallet_account_id)
        return account.balance, account.available

    def drive(self, payout_id: str, *, step: float = 1, ticks: int = 100) -> Payout:
        """Run the worker job, moving the clock, until the payout is final."""
        for _ in range(ticks):
            payouts.advance_payouts(self.ctx)
            payout = payouts.get_payout(self.ctx, payout_id)
            if payout.state in (PayoutState.PAID, PayoutState.FAILED):
                return payout
            self.clock.advance(step)
        raise AssertionError(f"payout {payout_id} still {payout.state} after {ticks} ticks")


def counter() -> Callable[[], str]:
    state = {"n": 0}

    def next_key() -> str:
        state["n"] += 1
        return f"payout-{state['n']}"

    return next_key


def open_merchant(ctx: Context, phone: str = "+254722123456", name: str = "Wanjiru") -> User:
    return users.register(
        ctx,
        kind=UserKind.MERCHANT,
        phone=phone,
        name=name,
        merchant=MerchantDetails(trading_name=f"{name}'s kiosk", category_code="5411"),
    )


def deposit(ctx: Context, account_id: str, amount: Money) -> None:
    """Money paid in at the operator's bank: settlement to the wallet."""
    settlement = ledger.system_account(ctx, AccountCode.SETTLEMENT, amount.currency.code)
    ledger.transfer(
        ctx,
        debit_account_id=settlement.id,
        credit_account_id=account_id,
        amount=amount,
        code=TransferCode.DEPOSIT,
    )


def make_shop(ctx: Context, clock: FakeClock) -> Shop:
    merchant = open_merchant(ctx)
    wallet = wallets.open_wallet(ctx, merchant.id, KES).wallet
    deposit(ctx, wallet.account_id, kes("10000.00"))
    return Shop(ctx, clock, merchant, wallet.account_id, counter())


@pytest.fixture
def shop(any_ctx: Context, clock: FakeClock) -> Shop:
    return make_shop(any_ctx, clock)


@pytest.fixture
def sqlite_shop(ctx: Context, clock: FakeClock) -> Shop:
    return make_shop(ctx, clock)


def system_balance(ctx: Context, code: AccountCode) -> tuple[int, int]:
    """(debits_posted, credits_posted) of a system account in KES."""
    account = ledger.system_account(ctx, code, KES)
    return account.debits_posted, account.credits_posted


def hold_states(ctx: Context, payout: Payout) -> list[PendingState | None]:
    with ctx.unit_of_work(read_only=True) as uow:
        holds = [payout.hold_id] + ([payout.fee_hold_id] if payout.fee_hold_id else [])
        return [uow.ledger.pending_state(hold_id) for hold_id in holds]


def rail_rows(ctx: Context) -> list[Any]:
    """The sandbox rail's own books: what it was sent, and how often."""
    engine = ctx.unit_of_work.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return list(connection.execute(sa.select(sandbox_rail_payouts)))


def counts(ctx: Context) -> tuple[int, int]:
    """(transfers, payouts): a refusal leaves both as they were."""

    def read(uow: UnitOfWork) -> tuple[int, int]:
        return uow.reconcile.counts()[1], len(
            uow.payouts.list_for(None, limit=limits.PAGE_SIZE_MAX, before_id=None)
        )

    return in_transaction(ctx, read, read_only=True)


def assert_reconciles(ctx: Context) -> None:
    report = reconcile(ctx)
    assert report.passed, report


# --- the two outcomes ---------------------------------------------------------------------------


def test_a_bank_payout_holds_then_pays(shop: Shop) -> None:
    settlement_before = system_balance(shop.ctx, AccountCode.SETTLEMENT)
    payout = shop.request("5000.00")
    assert (payout.state, payout.amount, payout.fee, payout.rail) == (
        PayoutState.REQUESTED, 500000, FEE, "sandbox",
    )  # fmt: skip
    # Held, not gone: the balance stands, the available money is down by amount and fee.
    assert shop.wallet() == (1000000, 1000000 - 500000 - FEE)
    assert hold_states(shop.ctx, payout) == [PendingState.PENDING, PendingState.PENDING]

    assert payouts.advance_payouts(shop.ctx) == 1
    submitted = payouts.get_payout(shop.ctx, payout.id)
    assert submitted.state is PayoutState.SUBMITTED and submitted.rail_reference
    assert payouts.advance_payouts(shop.ctx) == 0  # the first poll is not due yet

    paid = shop.drive(payout.id)
    assert paid.state is PayoutState.PAID and paid.failure_reason is None
    assert paid.next_attempt_at is None
    assert shop.wallet() == (1000000 - 500000 - FEE,) * 2
    assert hold_states(shop.ctx, payout) == [PendingState.POSTED, PendingState.POSTED]
    debits, credits = system_balance(shop.ctx, AccountCode.SETTLEMENT)
    assert (debits, credits) == (settlement_before[0], settlement_before[1] + 500000)
    assert ledger.system_total(shop.ctx, AccountCode.FEES, KES).balance == FEE
    [row] = rail_rows(shop.ctx)
    assert (row.payout_id, row.outcome, row.submissions, row.amount) == (
        payout.id, "paid", 1, 500000,
    )  # fmt: skip
    assert payouts.advance_payouts(shop.ctx) == 0  # nothing left to do
    assert_reconciles(shop.ctx)


def test_the_sandbox_pays_only_after_its_delay(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    payout = shop.request()
    payouts.advance_payouts(shop.ctx)
    # The default sandbox takes 30 s; polls come at 1, 2, 4, 8 ... s apart until it answers.
    shop.clock.advance(29)
    payouts.advance_payouts(shop.ctx)
    assert payouts.get_payout(shop.ctx, payout.id).state is PayoutState.SUBMITTED
    paid = shop.drive(payout.id)
    assert paid.state is PayoutState.PAID
    assert paid.updated_at >= paid.created_at + timedelta(seconds=30)


def test_a_failed_bank_payout_gives_everything_back(shop: Shop) -> None:
    settlement_before = system_balance(shop.ctx, AccountCode.SETTLEMENT)
    payout = shop.request("5000.00", FAILING_BANK)
    failed = shop.drive(payout.id)
    assert failed.state is PayoutState.FAILED
    assert failed.failure_reason is not None and "account closed" in failed.failure_reason
    assert shop.wallet() == (1000000, 1000000)  # amount and fee back
    assert hold_states(shop.ctx, payout) == [PendingState.VOIDED, PendingState.VOIDED]
    assert system_balance(shop.ctx, AccountCode.SETTLEMENT) == settlement_before
    assert ledger.system_total(shop.ctx, AccountCode.FEES, KES).balance == 0
    [row] = rail_rows(shop.ctx)
    assert (row.outcome, row.submissions) == ("failed", 1)
    assert_reconciles(shop.ctx)


@pytest.mark.parametrize(
    ("destination", "state"),
    [(PHONE, PayoutState.PAID), (FAILING_PHONE, PayoutState.FAILED)],
)
def test_mobile_money_payouts(shop: Shop, destination: MobileMoney, state: PayoutState) -> None:
    payout = shop.request("2000.00", destination)
    assert payout.destination == destination
    assert shop.drive(payout.id).state is state
    spent = 200000 + FEE if state is PayoutState.PAID else 0
    assert shop.wallet() == (1000000 - spent, 1000000 - spent)
    assert_reconciles(shop.ctx)


def test_settling_tells_the_merchant_by_webhook_and_sms(
    sqlite_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = sqlite_shop
    events: list[tuple[str, str, dict[str, Any]]] = []
    texts: list[tuple[str, str]] = []

    def emit(uow: UnitOfWork, ctx: Context, *, owner_id: str, type: str, data: Any) -> None:
        events.append((owner_id, type, dict(data)))

    def queue(uow: UnitOfWork, ctx: Context, *, phone: str, text: str) -> None:
        texts.append((phone, text))

    monkeypatch.setattr(webhooks, "emit", emit)
    monkeypatch.setattr(sms, "queue", queue)
    paid = shop.drive(shop.request("5000.00").id)
    failed = shop.drive(shop.request("1000.00", FAILING_BANK).id)
    assert [(owner, kind) for owner, kind, _ in events] == [
        (shop.merchant.id, "payout.paid"),
        (shop.merchant.id, "payout.failed"),
    ]
    assert events[0][2]["id"] == paid.id
    assert events[0][2]["amount"] == {"amount": "5000.00", "currency": KES}
    assert events[1][2]["failure_reason"] == failed.failure_reason
    assert [phone for phone, _ in texts] == [shop.merchant.phone] * 2
    assert texts[0][1] == (
        f"Soko: your payout of KES 5,000.00 to bank 01 a/c ...7890 has been paid. Ref {paid.id}."
    )
    assert texts[1][1].startswith("Soko: your payout of KES 1,000.00 to bank 01 a/c ...0000 fail")
    assert texts[1][1].endswith("KES 1,010.00 is back in your wallet.")
    assert all(len(text) <= 160 and text.isascii() for _, text in texts)


def test_sms_text_fits_one_message_whatever_the_reason() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    payout = Payout(
        id="po_01JH00000000000000000000000", merchant_id="usr_x", wallet_id="wal_x",
        currency=KES, amount=999_999_999_99, fee=100_00,
        destination=BankAccount("KCBLKENXXXX", "A" * 34, "x"), state=PayoutState.FAILED,
        rail="sandbox", rail_reference="sbx_x", hold_id="tr_x", fee_hold_id=None,
        failure_reason="r" * limits.PAYOUT_FAILURE_REASON_LENGTH_MAX, polls=0, rail_errors=0,
        next_attempt_at=None, created_at=now, updated_at=now,
    )  # fmt: skip
    for language, ending in (
        ("en", "is back in your wallet."),
        ("sw", "imerudi kwenye pochi yako."),
    ):
        to = wording_for(language, "KE")
        text = payouts.sms_text(replace(payout, failure_reason="r\u00e9\u20ac" * 100), to)
        assert fits(text) and gsm7_septets(text) is not None and text.endswith(ending), text
        assert fits(payouts.sms_text(replace(payout, state=PayoutState.PAID), to))


def test_the_destination_is_named_in_the_readers_language() -> None:
    swahili = wording_for("sw", "KE")
    bank = BankAccount("KCBLKENX", "0123457890", "Mama Njeri")
    assert bank.masked() == "bank KCBLKENX a/c ...7890"
    assert bank.masked(swahili._) == "benki KCBLKENX akaunti ...7890"
    assert MobileMoney("+254712345678").masked(swahili._) == "simu ...5678"


# --- refusals change nothing --------------------------------------------------------------------


def test_too_little_money_is_refused_and_changes_nothing(shop: Shop) -> None:
    before = counts(shop.ctx)
    # 10,000.00 is all there is: the fee on top does not fit.
    with pytest.raises(ExceedsCredits) as refused:
        shop.request("10000.00")
    assert refused.value.context["available"] == 1000000
    assert "fee of KES 30.00" in refused.value.detail
    assert counts(shop.ctx) == before
    assert shop.wallet() == (1000000, 1000000)
    # Exactly all of it, fee included, is fine.
    shop.request("9970.00")
    assert shop.wallet() == (1000000, 0)


@pytest.mark.parametrize(
    ("destination", "error"),
    [
        (BankAccount("", "1234567890", "W"), BankCodeInvalid),
        (BankAccount("K", "1234567890", "W"), BankCodeInvalid),
        (BankAccount("KCB!", "1234567890", "W"), BankCodeInvalid),
        (BankAccount("KCBLKENXXXXX", "1234567890", "W"), BankCodeInvalid),
        (BankAccount("01", "1234", "W"), BankAccountNumberInvalid),
        (BankAccount("01", "12345/67890", "W"), BankAccountNumberInvalid),
        (BankAccount("01", "1" * 35, "W"), BankAccountNumberInvalid),
        (BankAccount("01", "1234567890", "  "), BankAccountNameInvalid),
        (BankAccount("01", "1234567890", "W" * 81), BankAccountNameInvalid),
        (BankAccount("01", "1234567890", "W\tK"), BankAccountNameInvalid),
        (MobileMoney("0722123456"), PhoneNumberInvalid),
        (MobileMoney("+2547"), PhoneNumberInvalid),
        (MobileMoney("+256772123456"), MobileMoneyCurrencyMismatch),
    ],
)
def test_a_bad_destination_is_refused_and_changes_nothing(
    shop: Shop, destination: Destination, error: type[DomainError]
) -> None:
    before = counts(shop.ctx)
    with pytest.raises(error):
        shop.request("100.00", destination)
    assert counts(shop.ctx) == before
    assert shop.wallet() == (1000000, 1000000)


def test_destinations_are_stored_in_one_form(sqlite_shop: Shop) -> None:
    payout = sqlite_shop.request("100.00", BankAccount(" kcblkenx ", "1234 5678-90", " Wanjiru "))
    assert payout.destination == BankAccount("KCBLKENX", "1234567890", "Wanjiru")


def test_only_a_merchant_with_an_offered_currency_pays_out(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    consumer = users.register(ctx := shop.ctx, kind=UserKind.CONSUMER, phone="+254712000111",
                              name="Amina")  # fmt: skip
    before = counts(ctx)
    with pytest.raises(UserKindMismatch):
        payouts.request_payout(ctx, merchant_id=consumer.id, amount=kes("1.00"), destination=BANK,
                               idempotency_key="k1")  # fmt: skip
    with pytest.raises(UserNotFound):
        payouts.request_payout(ctx, merchant_id="usr_nobody", amount=kes("1.00"),
                               destination=BANK, idempotency_key="k2")  # fmt: skip
    with pytest.raises(AmountMustBePositive):
        shop.request("0.00")
    with pytest.raises(CurrencyNotOffered):
        payouts.request_payout(ctx, merchant_id=shop.merchant.id, amount=Money.parse("1", "JPY"),
                               destination=BANK, idempotency_key="k3")  # fmt: skip
    with pytest.raises(ExceedsCredits):  # no UGX wallet at all
        payouts.request_payout(ctx, merchant_id=shop.merchant.id,
                               amount=Money.parse("1000", "UGX"),
                               destination=MobileMoney("+256772123456"),
                               idempotency_key="k4")  # fmt: skip
    with pytest.raises(IdempotencyKeyInvalid):
        payouts.request_payout(ctx, merchant_id=shop.merchant.id, amount=kes("1.00"),
                               destination=BANK, idempotency_key="")  # fmt: skip
    assert counts(ctx) == before


# --- idempotency --------------------------------------------------------------------------------


def test_a_replay_returns_the_first_payout_and_holds_once(shop: Shop) -> None:
    first = shop.request("1000.00", key="settle-monday")
    again = shop.request("1000.00", key="settle-monday")
    assert again == first
    assert shop.wallet() == (1000000, 1000000 - 100000 - 10_00)
    with pytest.raises(IdempotencyKeyReused):
        shop.request("1000.00", PHONE, key="settle-monday")
    assert len(payouts.list_payouts(shop.ctx, shop.merchant.id).payouts) == 1


def test_a_currency_without_a_payout_tariff_holds_no_fee(sqlite_shop: Shop) -> None:
    shop = sqlite_shop
    wallet = wallets.open_wallet(shop.ctx, shop.merchant.id, "TZS").wallet
    deposit(shop.ctx, wallet.account_id, Money.parse("1000.00", "TZS"))
    payout = payouts.request_payout(
        shop.ctx,
        merchant_id=shop.merchant.id,
        amount=Money.parse("1000.00", "TZS"),
        destination=BankAccount("CRDBTZTZ", "0150123456789", "Wanjiru"),
        idempotency_key="tzs",
    )
    assert (payout.fee, payout.fee_hold_id) == (0, None)
    assert shop.drive(payout.id).state is PayoutState.PAID
    assert ledger.get_account(shop.ctx, wallet.account_id).balance == 0
    assert_reconciles(shop.ctx)


# --- concurrency, retries, expiry ---------------------------------------------------------------


def test_two_workers_settling_one_payout_settle_it_once(shop: Shop) -> None:
    payout = shop.request("5000.00")
    payouts.advance_payouts(shop.ctx)  # submitted
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def worker() -> None:
        barrier.wait()
        results.append(payouts.settle(shop.ctx, payout.id, RailStatus(RailOutcome.PAID)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert shop.wallet() == (1000000 - 500000 - FEE,) * 2
    # A late "failed" from a confused worker changes nothing either.
    assert not payouts.settle(shop.ctx, payout.id, RailStatus(RailOutcome.FAILED, "late"))
    assert payouts.get_payout(shop.ctx, payout.id).state is PayoutState.PAID
    assert_reconciles(shop.ctx)


def test_a_claim_hides_a_payout_until_its_lease_runs_out(shop: Shop) -> None:
    """A worker killed after the rail took the payout: the next one resubmits after the lease,
    gets the same reference, and the rail pays once."""
    payout = shop.request("5000.00")
    ctx = shop.ctx
    # The first worker claims it and "dies" after submitting, before recording anything.
    now = shop.clock.now()
    lease_until = now + timedelta(seconds=ctx.payout_lease_seconds)
    [claimed] = in_transaction(
        ctx, lambda uow: uow.payouts.claim_due("sandbox", now, lease_until, 10)
    )
    reference = ctx.payout_rail.submit(claimed.id, claimed.amount, KES, claimed.destination)
    assert payouts.advance_payouts(ctx) == 0  # leased
    shop.clock.advance(ctx.payout_lease_seconds - 1)
    assert payouts.advance_payouts(ctx) == 0
    shop.clock.advance(1)
    assert payouts.advance_payouts(ctx) == 1  # taken over: resubmitted
    resubmitted = payouts.get_payout(ctx, payout.id)
    assert resubmitted.rail_reference == reference
    assert shop.drive(payout.id).state is PayoutState.PAID
    [row] = rail_rows(ctx)
    assert (row.submissions, row.outcome) == (2, "paid")
    assert shop.wallet() == (1000000 - 500000 - FEE,) * 2
    assert_reconciles(ctx)


def test_two_workers_claim_disjoint_payouts(shop: Shop) -> None:
    first, second = shop.request("100.00"), shop.request("200.00")
    ctx = shop.ctx
    now = shop.clock.now()
    later = now.replace(year=now.year + 1)
    a = in_transaction(ctx, lambda uow: uow.payouts.claim_due("sandbox", now, later, 1))
    b = in_transaction(ctx, lambda uow: uow.payouts.claim_due("sandbox", now, later, 10))
    c = in_transaction(ctx, lambda uow: uow.payouts.claim_due("sandbox", now, later, 10))
    assert {p.id for p in a} | {p.id for p in b} == {first.id, second.id}
    assert len(a) == len(b) == 1 and c == []
    # Another rail's worker never takes them.
    assert in_transaction(ctx, lambda uow: uow.payouts.claim_due("bank", later, later, 10)) == []


class FlakyRail:
    """The sandbox behind a network that drops the first `failures` calls."""

    def __init__(self, inner: PayoutRail, failures: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.ledger_account = inner.ledger_account
        self.failures = failures

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise PayoutRailUnavailable("connection reset")

    def submit(self, payout_id: str, amount: int, currency: str, destination: Destination) -> str:
        self._maybe_fail()
        return self.inner.submit(payout_id, amount, currency, destination)

    def status(self, reference: str) -> RailStatus:
        self._maybe_fail()
        return self.inner.status(reference)


def test_rail_errors_are_retried_with_capped_backoff(shop: Shop) -> None:
    rail = FlakyRail(shop.ctx.payout_rail, failures=9)
    ctx = replace(shop.ctx, payout_rail=rail)
    shop = replace(shop, ctx=ctx)
    payout = shop.request("5000.00")
    waits = []
    while rail.failures:
        payouts.advance_payouts(ctx)
        waiting = payouts.get_payout(ctx, payout.id)
        assert waiting.state is PayoutState.REQUESTED
        assert waiting.next_attempt_at is not None
        waits.append((waiting.next_attempt_at - shop.clock.now()).total_seconds())
        shop.clock.advance(waits[-1])
    assert waits == [retry_delay_seconds(n) for n in range(1, 10)]
    assert waits[:3] == [5, 10, 20] and waits[-1] == limits.PAYOUT_RETRY_SECONDS_MAX
    assert payouts.get_payout(ctx, payout.id).rail_errors == 9
    payouts.advance_payouts(ctx)
    submitted = payouts.get_payout(ctx, payout.id)
    assert (submitted.state, submitted.rail_errors) == (PayoutState.SUBMITTED, 0)
    assert shop.drive(payout.id).state is PayoutState.PAID
    assert_reconciles(ctx)


def test_polls_space_out_up_to_a_cap() -> None:
    assert [poll_delay_seconds(n) for n in range(4)] == [1, 2, 4, 8]
    assert poll_delay_seconds(100) == limits.PAYOUT_POLL_SECONDS_MAX


def test_a_payout_hold_never_expires_while_the_rail_may_pay(shop: Shop) -> None:
    payout = shop.request("5000.00")
    payouts.advance_payouts(shop.ctx)
    # Longer than any hold may last: the expiry job still leaves payout holds alone.
    shop.clock.advance(limits.PENDING_TIMEOUT_SECONDS_MAX + 1)
    assert ledger.expire_due(shop.ctx) == []
    assert hold_states(shop.ctx, payout) == [PendingState.PENDING, PendingState.PENDING]
    assert ledger.get_transfer(shop.ctx, payout.hold_id).expires_at is None
    assert shop.drive(payout.id).state is PayoutState.PAID
    assert shop.wallet() == (1000000 - 500000 - FEE,) * 2
    assert_reconciles(shop.ctx)


# --- reading ------------------------------------------------------------------------------------


def test_payouts_list_newest_first_per_merchant(shop: Shop) -> None:
    made = []
    for amount in ("10.00", "20.00", "30.00"):
        made.append(shop.request(amount).id)
        shop.clock.advance(0.01)  # ids order by millisecond
    other = open_merchant(shop.ctx, "+254711223344", "Baraka")
    first = payouts.list_payouts(shop.ctx, shop.merchant.id, limit=2)
    assert [p.id for p in first.payouts] == made[:0:-1]
    rest = payouts.list_payouts(shop.ctx, shop.merchant.id, limit=2, cursor=first.next_cursor)
    assert ([p.id for p in rest.payouts], rest.next_cursor) == ([made[0]], None)
    assert payouts.list_payouts(shop.ctx, other.id).payouts == []
    with pytest.raises(CursorInvalid):
        payouts.list_payouts(shop.ctx, other.id, cursor=made[0])
    with pytest.raises(PageSizeInvalid):
        payouts.list_payouts(shop.ctx, shop.merchant.id, limit=0)
    with pytest.raises(PayoutNotFound):
        payouts.get_payout(shop.ctx, "po_unknown")
