"""The ledger services on a real SQLite database, checked step by step against a small model.

A Hypothesis `RuleBasedStateMachine` (EXAMPLES.md item 8, after TigerBeetle's auditor) opens
accounts in KES, UGX and KWD, moves money, places holds and posts (fully or partly), voids and
expires them, posts small atomic batches, and moves a fake clock. Before every call the model
works out what must happen, down to the error `code` (and the failing index of a batch); after
it the machine checks the reply, and the invariants check each account's four counters, the
state of every hold, the number of accounts and transfers (a refused call wrote nothing), that
debits equal credits per currency and that no balance rule is broken. `soko reconcile` runs
every few steps and at the end of each run.

The model is written from the rules in ARCHITECTURE.md section 4 and TigerBeetle's order of
precedence, not from `ledger/domain.py`: only the request builders and the chart's names are
shared.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from soko import bootstrap
from soko.config import Settings
from soko.context import noop_backoff
from soko.db import schema
from soko.db.engine import create_engine
from soko.kernel import limits
from soko.kernel.errors import DomainError
from soko.kernel.ids import ENTROPY_BYTES, format_id
from soko.kernel.money import Money
from soko.ledger import domain as requests
from soko.ledger import reconcile
from soko.ledger import service as ledger
from soko.ledger.chart import (
    CUSTOMER_ACCOUNT_CODES,
    SYSTEM_ACCOUNTS,
    AccountCode,
    AccountFlags,
    TransferCode,
)
from soko.ledger.domain import Transfer, TransferFlags, TransferRequest

T = TypeVar("T")

MAX: Final = limits.AMOUNT_MINOR_MAX
LIABILITY: Final = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
ASSET: Final = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
CURRENCIES: Final = ("KES", "UGX", "KWD")
UNKNOWN_ACCOUNT: Final = "acc_00000000000000000000000000"
UNKNOWN_TRANSFER: Final = "tr_00000000000000000000000000"
RECONCILE_EVERY: Final = 10
RECONCILE_CHECKS: Final = {
    "debits_equal_credits",
    "counters_match_transfers",
    "balance_rules_hold",
    "pending_transfers_consistent",
    "transfers_well_formed",
}


# --- the world around the services: a migrated database, a clock, ids ------------------------


@functools.cache
def _template() -> Path:
    """One migrated SQLite file per test process; every machine run starts from a copy."""
    directory = Path(tempfile.mkdtemp(prefix="soko-machine-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@dataclass
class FakeClock:
    """Time that moves only when the machine says so."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current


@dataclass
class CountingIds:
    """Well-formed, time-ordered ids with a counter for entropy, so every run replays exactly."""

    clock: FakeClock
    issued: int = 0

    def new(self, prefix: str) -> str:
        self.issued += 1
        timestamp_ms = int(self.clock.now().timestamp() * 1000)
        return format_id(prefix, timestamp_ms, self.issued.to_bytes(ENTROPY_BYTES, "big"))


# --- the reference model ----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAccount:
    currency: str
    code: AccountCode
    flags: AccountFlags
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def counters(self) -> tuple[int, int, int, int]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


@dataclass(frozen=True)
class ModelHold:
    debit: str
    credit: str
    amount: int
    currency: str
    code: TransferCode
    expires_at: datetime | None
    state: str = "pending"


@dataclass(frozen=True)
class Create:
    """A transfer or a hold, as the model sees it."""

    id: str
    debit: str
    credit: str
    amount: int
    currency: str
    code: TransferCode
    pending: bool = False
    timeout: int = 0
    reference: str | None = None

    def request(self) -> TransferRequest:
        build = requests.hold if self.pending else requests.move
        extra: dict[str, Any] = {"timeout_seconds": self.timeout} if self.pending else {}
        return build(
            self.id,
            debit_account_id=self.debit,
            credit_account_id=self.credit,
            amount=self.amount,
            currency=self.currency,
            code=self.code,
            reference=self.reference,
            **extra,
        )


@dataclass(frozen=True)
class Resolve:
    """A post (all, or `amount`), void or expiry of a hold, as the model sees it."""

    id: str
    kind: str
    pending_id: str
    amount: int | None = None

    def request(self) -> TransferRequest:
        if self.kind == "post":
            return requests.post(self.id, self.pending_id, self.amount)
        if self.kind == "void":
            return requests.void(self.id, self.pending_id)
        return requests.expire(self.id, self.pending_id)


Request = Create | Resolve


@dataclass
class Model:
    """Dictionaries of accounts, holds and other transfers; `run` applies a batch, all or none."""

    accounts: dict[str, ModelAccount] = field(default_factory=dict)
    holds: dict[str, ModelHold] = field(default_factory=dict)
    #: Transfers that are not holds (moves, posts, voids, expiries): id -> (currency, amount).
    others: dict[str, tuple[str, int]] = field(default_factory=dict)
    transfers: int = 0

    def copy(self) -> Model:
        return Model(dict(self.accounts), dict(self.holds), dict(self.others), self.transfers)

    def outcome(self, batch: list[Request], now: datetime) -> tuple[str, int] | None:
        """The first broken rule of `batch` as (code, index), or None; the model is unchanged."""
        return self.copy().run(batch, now)

    def run(self, batch: list[Request], now: datetime) -> tuple[str, int] | None:
        trial = self.copy()
        for index, request in enumerate(batch):
            if isinstance(request, Create):
                code = trial.create(request, now)
            else:
                code = trial.resolve(request, now)
            if code is not None:
                return code, index
        self.accounts, self.holds, self.others = trial.accounts, trial.holds, trial.others
        self.transfers = trial.transfers
        return None

    def create(self, r: Create, now: datetime) -> str | None:
        debit, credit = self.accounts.get(r.debit), self.accounts.get(r.credit)
        # TigerBeetle's precedence: the request on its own, then its accounts, then balances.
        guards: list[tuple[Callable[[], bool], str]] = [
            (
                lambda: r.pending and not 0 <= r.timeout <= limits.PENDING_TIMEOUT_SECONDS_MAX,
                "pending_timeout_invalid",
            ),
            (
                lambda: r.reference is not None and len(r.reference) > limits.REFERENCE_LENGTH_MAX,
                "reference_too_long",
            ),
            (lambda: r.amount <= 0, "amount_must_be_positive"),
            (lambda: r.debit == r.credit, "accounts_must_be_different"),
            (lambda: debit is None, "debit_account_not_found"),
            (lambda: credit is None, "credit_account_not_found"),
            (lambda: d.currency != c.currency, "accounts_must_have_the_same_currency"),
            (lambda: r.currency != d.currency, "currency_mismatch"),
            (lambda: d.debits_pending + d.debits_posted + r.amount > MAX, "overflows_debits"),
            (lambda: c.credits_pending + c.credits_posted + r.amount > MAX, "overflows_credits"),
            (
                lambda: (
                    bool(d.flags & LIABILITY)
                    and d.debits_pending + d.debits_posted + r.amount > d.credits_posted
                ),
                "exceeds_credits",
            ),
            (
                lambda: (
                    bool(c.flags & ASSET)
                    and c.credits_pending + c.credits_posted + r.amount > c.debits_posted
                ),
                "exceeds_debits",
            ),
        ]
        # `d` and `c` are only read by guards after the ones that found them missing.
        d = debit or ModelAccount("", AccountCode.WALLET, AccountFlags.NONE)
        c = credit or ModelAccount("", AccountCode.WALLET, AccountFlags.NONE)
        broken = next((code for test, code in guards if test()), None)
        if broken is not None:
            return broken
        if r.pending:
            self.accounts[r.debit] = replace(d, debits_pending=d.debits_pending + r.amount)
            self.accounts[r.credit] = replace(c, credits_pending=c.credits_pending + r.amount)
            expires_at = now + timedelta(seconds=r.timeout) if r.timeout else None
            self.holds[r.id] = ModelHold(
                r.debit, r.credit, r.amount, r.currency, r.code, expires_at
            )
        else:
            self.accounts[r.debit] = replace(d, debits_posted=d.debits_posted + r.amount)
            self.accounts[r.credit] = replace(c, credits_posted=c.credits_posted + r.amount)
            self.others[r.id] = (r.currency, r.amount)
        self.transfers += 1
        return None

    def resolve(self, r: Resolve, now: datetime) -> str | None:
        hold = self.holds.get(r.pending_id)
        if hold is None:
            return (
                "pending_transfer_not_pending"
                if r.pending_id in self.others
                else "pending_transfer_not_found"
            )
        # A hold's timeout is over at its expiry instant itself, not a moment later.
        expired = hold.expires_at is not None and now >= hold.expires_at
        partial = r.amount if r.kind == "post" else None
        # Which hold, then its state, then timing, then the amount posted.
        guards: list[tuple[bool, str]] = [
            (hold.state != "pending", f"pending_transfer_already_{hold.state}"),
            (r.kind == "expire" and not expired, "pending_transfer_not_expired"),
            (r.kind != "expire" and expired, "pending_transfer_expired"),
            (partial is not None and partial <= 0, "amount_must_be_positive"),
            (partial is not None and partial > hold.amount, "exceeds_pending_transfer_amount"),
        ]
        broken = next((code for test, code in guards if test), None)
        if broken is not None:
            return broken
        posted = (hold.amount if r.amount is None else r.amount) if r.kind == "post" else 0
        d, c = self.accounts[hold.debit], self.accounts[hold.credit]
        self.accounts[hold.debit] = replace(
            d,
            debits_pending=d.debits_pending - hold.amount,
            debits_posted=d.debits_posted + posted,
        )
        self.accounts[hold.credit] = replace(
            c,
            credits_pending=c.credits_pending - hold.amount,
            credits_posted=c.credits_posted + posted,
        )
        state = {"post": "posted", "void": "voided", "expire": "expired"}[r.kind]
        self.holds[r.pending_id] = replace(hold, state=state)
        self.others[r.id] = (hold.currency, posted or hold.amount)
        self.transfers += 1
        return None

    def due(self, now: datetime, limit: int) -> list[str]:
        """Open holds whose timeout has passed, oldest expiry first (ties by id), at most limit."""
        due = sorted(
            (hold.expires_at, hold_id)
            for hold_id, hold in self.holds.items()
            if hold.state == "pending" and hold.expires_at is not None and hold.expires_at <= now
        )
        return [hold_id for _, hold_id in due[:limit]]


# --- strategies ---------------------------------------------------------------------------------


@st.composite
def amounts(draw: st.DrawFn) -> int:
    """Mostly small; sometimes near 2**62, where two of them overflow a counter; rarely invalid."""
    kind = draw(st.integers(0, 19))
    if kind < 15:
        return draw(st.integers(1, 1_000))
    if kind < 19:
        return draw(st.integers(2**62 - 1_000, 2**62 + 1_000))
    return draw(st.sampled_from([0, -1, MAX]))


@st.composite
def timeouts(draw: st.DrawFn) -> int:
    """Seconds until a hold expires: 0 (never) or short; rarely at or past the allowed bounds."""
    kind = draw(st.integers(0, 19))
    if kind < 18:
        return draw(st.sampled_from([0, 1, 10, 60, 3_600]))
    top = limits.PENDING_TIMEOUT_SECONDS_MAX
    return draw(st.sampled_from([-1, top, top + 1]))


#: Mostly none; sometimes the longest allowed, or one character more.
references = st.sampled_from(
    [None, None, None, "r" * limits.REFERENCE_LENGTH_MAX, "r" * (limits.REFERENCE_LENGTH_MAX + 1)]
)
transfer_codes = st.sampled_from(list(TransferCode))
#: None: the debit account's own currency (the common case); otherwise this one.
currency_choices = st.sampled_from([*[None] * 6, *CURRENCIES])
#: What a batch request does, the common kinds more often; the last two are meant to fail.
BATCH_KINDS: Final = (
    *("move", "hold") * 3,
    "post",
    "post_part",
    "void",
    "expire",
    "overdraft",
    "foreign",
)
#: How much of a hold to post, relative to the amount held.
post_parts = st.sampled_from(["one", "half", "all_but_one", "all", "one_more", "zero"])
resolution_kinds = st.sampled_from(["post", "post_amount", "void"])


def _part(part: str, held: int) -> int:
    amount = {
        "one": 1,
        "half": max(held // 2, 1),
        "all_but_one": held - 1,
        "all": held,
        "one_more": held + 1,
        "zero": 0,
    }[part]
    return min(amount, MAX)


# --- the machine --------------------------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    accounts = Bundle("accounts")
    holds = Bundle("holds")
    others = Bundle("others")

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="soko-machine-"))
        path = self.directory / "soko.db"
        shutil.copy(_template(), path)
        self.clock = FakeClock()
        self.runtime = bootstrap.build(Settings(database_url=f"sqlite:///{path}"), clock=self.clock)
        self.ctx = replace(self.runtime.context, ids=CountingIds(self.clock), backoff=noop_backoff)
        self.model = Model()
        self.system: dict[tuple[AccountCode, str], str] = {}
        self.steps = 0

    def teardown(self) -> None:
        try:
            self._reconcile()
        finally:
            self.runtime.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    # --- calling the services -------------------------------------------------------------------

    def _call(self, expected: str | None, call: Callable[[], T]) -> T | DomainError:
        """Run `call`; it must fail with `expected`, or succeed when `expected` is None."""
        # Shown by `pytest --hypothesis-show-statistics`: which rules the runs actually reached.
        event(f"outcome: {expected or 'success'}")
        try:
            result = call()
        except DomainError as error:
            refused = error
        else:
            assert expected is None, f"expected {expected}, but the call succeeded: {result!r}"
            return result
        assert refused.code == expected, (
            f"expected {expected or 'success'}, got {refused.code}: {refused.detail}"
        )
        return refused

    def _single(self, request: Request, call: Callable[[], Transfer]) -> Transfer | None:
        """One request through a single-transfer use case, checked against the model."""
        outcome = self.model.outcome([request], self.clock.now())
        result = self._call(None if outcome is None else outcome[0], call)
        if isinstance(result, DomainError):
            return None
        request = replace(request, id=result.id)
        self._check_transfer(result, request)
        assert self.model.run([request], self.clock.now()) is None
        return result

    def _check_transfer(self, transfer: Transfer, request: Request) -> None:
        """The stored transfer says what the request asked, with the model's view of the hold."""
        assert transfer.id == request.id
        assert transfer.created_at == self.clock.now()
        if isinstance(request, Create):
            assert (transfer.debit_account_id, transfer.credit_account_id) == (
                request.debit,
                request.credit,
            )
            assert (transfer.amount, transfer.currency, transfer.code) == (
                request.amount,
                request.currency,
                request.code,
            )
            assert transfer.flags == (TransferFlags.PENDING if request.pending else 0)
            assert transfer.pending_id is None
            assert transfer.reference == request.reference
            expected_expiry = (
                self.clock.now() + timedelta(seconds=request.timeout) if request.timeout else None
            )
            assert transfer.expires_at == expected_expiry
            return
        hold = self.model.holds[request.pending_id]
        flag = {
            "post": TransferFlags.POST_PENDING,
            "void": TransferFlags.VOID_PENDING,
            "expire": TransferFlags.EXPIRE_PENDING,
        }[request.kind]
        amount = request.amount if request.kind == "post" and request.amount else hold.amount
        assert transfer.flags == flag
        assert transfer.pending_id == request.pending_id
        assert (transfer.debit_account_id, transfer.credit_account_id) == (hold.debit, hold.credit)
        assert (transfer.amount, transfer.currency, transfer.code) == (
            amount,
            hold.currency,
            hold.code,
        )
        assert transfer.expires_at is None

    def _currency_of(self, account_id: str) -> str:
        found = self.model.accounts.get(account_id)
        return "KES" if found is None else found.currency

    def _counterparty(self, data: st.DataObject, debit: str, credit: str) -> str:
        """Usually an account in the debit account's currency, so that money can move."""
        currency = self._currency_of(debit)
        same = [
            account_id
            for account_id, account in self.model.accounts.items()
            if account.currency == currency and account_id != debit
        ]
        if same and data.draw(st.integers(0, 3), label="pick same currency"):
            return data.draw(st.sampled_from(same), label="credit")
        return credit

    def _payer(self, data: st.DataObject, debit: str, *, holding: bool = False) -> str:
        """Often a customer account with money in it (and holds on it, if `holding`), so that
        payments and holds get through, or just fail, at the boundary."""
        funded = [
            account_id
            for account_id, account in self.model.accounts.items()
            if account.flags & LIABILITY
            and account.available > 0
            and (account.debits_pending > 0 or not holding)
        ]
        if funded and data.draw(st.integers(0, 2), label="pick a funded payer"):
            return data.draw(st.sampled_from(funded), label="payer")
        return debit

    def _open_hold(self, data: st.DataObject, hold: str, *, expiring: bool = False) -> str:
        """Often a hold that is still open (and that can expire, if `expiring`), so that posts
        and voids get past the state rules."""
        open_holds = [
            h
            for h, held in self.model.holds.items()
            if held.state == "pending" and (held.expires_at is not None or not expiring)
        ]
        if open_holds and data.draw(st.booleans(), label="pick an open hold"):
            return data.draw(st.sampled_from(open_holds), label="open hold")
        return hold

    # --- accounts -------------------------------------------------------------------------------

    def _open(self, currency: str, code: AccountCode, flags: AccountFlags | None) -> list[str]:
        # Currency first, then the flags on their own, then the flags for this kind of account.
        if currency not in CURRENCIES:
            expected: str | None = "currency_unknown"
        elif flags is not None and flags & LIABILITY and flags & ASSET:
            expected = "account_flags_are_mutually_exclusive"
        elif flags is not None and code in CUSTOMER_ACCOUNT_CODES and flags != LIABILITY:
            expected = "customer_account_may_not_overdraw"
        else:
            expected = None
        result = self._call(
            expected,
            lambda: ledger.open_account(self.ctx, currency=currency, code=code, flags=flags),
        )
        if isinstance(result, DomainError):
            return []
        if flags is None:
            flags = LIABILITY if code in CUSTOMER_ACCOUNT_CODES else SYSTEM_ACCOUNTS[code].flags
        assert (result.currency, result.code, result.flags, result.name) == (
            currency,
            code,
            flags,
            None,
        )
        self.model.accounts[result.id] = ModelAccount(currency, code, flags)
        return [result.id]

    def _system(self, code: AccountCode, currency: str) -> str | None:
        known = self.system.get((code, currency))
        expected = "currency_unknown" if currency not in CURRENCIES else None
        result = self._call(expected, lambda: ledger.system_account(self.ctx, code, currency))
        if isinstance(result, DomainError):
            return None
        if known is not None:
            assert result.id == known, "a system account is opened once per currency"
            return known
        flags = SYSTEM_ACCOUNTS[code].flags
        assert (result.currency, result.code, result.flags, result.name) == (
            currency,
            code,
            flags,
            f"{code.value}:{currency}",
        )
        self.system[(code, currency)] = result.id
        self.model.accounts[result.id] = ModelAccount(currency, code, flags)
        return result.id

    @initialize(target=accounts)
    def open_first_accounts(self) -> Any:
        opened = []
        for currency in CURRENCIES:
            settlement = self._system(AccountCode.SETTLEMENT, currency)
            assert settlement is not None
            opened += [settlement, *self._open(currency, AccountCode.WALLET, None)]
        return multiple(*opened)

    @rule(
        target=accounts,
        currency=st.sampled_from([*CURRENCIES, "ZZZ", "kes"]),
        code=st.sampled_from(list(AccountCode)),
        flags=st.sampled_from([None, None, AccountFlags.NONE, LIABILITY, ASSET, LIABILITY | ASSET]),
    )
    def open_account(self, *, currency: str, code: AccountCode, flags: AccountFlags | None) -> Any:
        return multiple(*self._open(currency, code, flags))

    @rule(
        target=accounts,
        code=st.sampled_from(sorted(SYSTEM_ACCOUNTS)),
        currency=st.sampled_from([*CURRENCIES, "ZZZ"]),
    )
    def system_account(self, *, code: AccountCode, currency: str) -> Any:
        found = self._system(code, currency)
        return multiple() if found is None else found

    # --- moving money ---------------------------------------------------------------------------

    @rule(
        target=others,
        wallet=accounts,
        amount=amounts(),
        source=st.sampled_from(
            [AccountCode.SETTLEMENT, AccountCode.SETTLEMENT, AccountCode.SUSPENSE]
        ),
    )
    def deposit(self, *, wallet: str, amount: int, source: AccountCode) -> Any:
        """Money enters from a system account in the wallet's currency (settlement, mostly).

        Two sources let a wallet's credits overflow before either source's debits do.
        """
        currency = self._currency_of(wallet)
        source_id = self._system(source, currency)
        assert source_id is not None
        done = self._single(
            Create("", source_id, wallet, amount, currency, TransferCode.DEPOSIT),
            lambda: ledger.transfer(
                self.ctx,
                debit_account_id=source_id,
                credit_account_id=wallet,
                amount=Money.of(amount, currency),
                code=TransferCode.DEPOSIT,
            ),
        )
        return multiple() if done is None else done.id

    @rule(
        target=others,
        debit=accounts,
        credit=accounts,
        amount=amounts(),
        currency=currency_choices,
        code=transfer_codes,
        reference=references,
        data=st.data(),
    )
    def transfer(
        self,
        *,
        debit: str,
        credit: str,
        amount: int,
        currency: str | None,
        code: TransferCode,
        reference: str | None,
        data: st.DataObject,
    ) -> Any:
        debit = self._payer(data, debit)
        credit = self._counterparty(data, debit, credit)
        currency = currency or self._currency_of(debit)
        done = self._single(
            Create("", debit, credit, amount, currency, code, reference=reference),
            lambda: ledger.transfer(
                self.ctx,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=Money.of(amount, currency),
                code=code,
                reference=reference,
            ),
        )
        return multiple() if done is None else done.id

    @rule(
        target=holds,
        debit=accounts,
        credit=accounts,
        limit=st.sampled_from(["available", "debit_room", "credit_room"]),
        offset=st.sampled_from([-1, 0, 1]),
        pending=st.booleans(),
        data=st.data(),
    )
    def move_to_a_limit(
        self,
        *,
        debit: str,
        credit: str,
        limit: str,
        offset: int,
        pending: bool,
        data: st.DataObject,
    ) -> Any:
        """Move or hold one unit less than, exactly, or one unit more than a limit allows:
        what is available to spend (holds included), or the room left below 2**63 - 1 in the
        debit account's debits or the credit account's credits."""
        if limit == "available":
            debit = self._payer(data, debit, holding=True)
        credit = self._counterparty(data, debit, credit)
        d, c = self.model.accounts[debit], self.model.accounts[credit]
        amount = {
            "available": d.available,
            "debit_room": MAX - d.debits_pending - d.debits_posted,
            "credit_room": MAX - c.credits_pending - c.credits_posted,
        }[limit] + offset
        amount = max(min(amount, MAX), -MAX)
        currency = d.currency
        call = ledger.hold_funds if pending else ledger.transfer
        done = self._single(
            Create("", debit, credit, amount, currency, TransferCode.P2P, pending),
            lambda: call(
                self.ctx,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=Money.of(amount, currency),
                code=TransferCode.P2P,
            ),
        )
        # Only holds join the bundle; the moves are counted by the model all the same.
        return multiple() if done is None or not pending else done.id

    @rule(
        account=accounts,
        unknown_side=st.sampled_from(["debit", "credit"]),
        amount=st.integers(1, 100),
    )
    def transfer_with_an_unknown_account(
        self, *, account: str, unknown_side: str, amount: int
    ) -> None:
        debit, credit = (
            (UNKNOWN_ACCOUNT, account) if unknown_side == "debit" else (account, UNKNOWN_ACCOUNT)
        )
        currency = self._currency_of(account)
        self._single(
            Create("", debit, credit, amount, currency, TransferCode.P2P),
            lambda: ledger.transfer(
                self.ctx,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=Money.of(amount, currency),
                code=TransferCode.P2P,
            ),
        )

    # --- holds ----------------------------------------------------------------------------------

    @rule(
        target=holds,
        debit=accounts,
        credit=accounts,
        amount=amounts(),
        currency=currency_choices,
        timeout=timeouts(),
        data=st.data(),
    )
    def hold_funds(
        self,
        *,
        debit: str,
        credit: str,
        amount: int,
        currency: str | None,
        timeout: int,
        data: st.DataObject,
    ) -> Any:
        debit = self._payer(data, debit)
        credit = self._counterparty(data, debit, credit)
        currency = currency or self._currency_of(debit)
        done = self._single(
            Create("", debit, credit, amount, currency, TransferCode.ESCROW_HOLD, True, timeout),
            lambda: ledger.hold_funds(
                self.ctx,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=Money.of(amount, currency),
                code=TransferCode.ESCROW_HOLD,
                timeout_seconds=timeout,
            ),
        )
        return multiple() if done is None else done.id

    @rule(hold=holds, data=st.data())
    def post_in_full(self, *, hold: str, data: st.DataObject) -> None:
        self._post(self._open_hold(data, hold), None, None)

    @rule(hold=holds, part=post_parts, currency=currency_choices, data=st.data())
    def post_in_part(
        self, *, hold: str, part: str, currency: str | None, data: st.DataObject
    ) -> None:
        self._post(self._open_hold(data, hold), part, currency)

    @rule(hold=holds, data=st.data())
    def void(self, *, hold: str, data: st.DataObject) -> None:
        self._void(self._open_hold(data, hold))

    def _post(self, hold: str, part: str | None, currency: str | None) -> None:
        """Post a hold in full (`part` None) or in part, with the amount in `currency`."""
        if part is None:
            self._single(Resolve("", "post", hold), lambda: ledger.post_pending(self.ctx, hold))
            return
        held = self.model.holds[hold]
        currency = currency or held.currency
        amount = _part(part, held.amount)
        # The use case checks the amount's currency against the hold's before anything else.
        if currency != held.currency:
            self._call(
                "currency_mismatch",
                lambda: ledger.post_pending(self.ctx, hold, Money.of(amount, currency)),
            )
            return
        self._single(
            Resolve("", "post", hold, amount),
            lambda: ledger.post_pending(self.ctx, hold, Money.of(amount, currency)),
        )

    def _void(self, hold: str) -> None:
        self._single(Resolve("", "void", hold), lambda: ledger.void_pending(self.ctx, hold))

    @rule(transfer=others, kind=resolution_kinds)
    def resolve_a_transfer_that_is_not_a_hold(self, *, transfer: str, kind: str) -> None:
        currency, amount = self.model.others[transfer]
        self._resolve_by_id(transfer, kind, Money.of(amount, currency))

    @rule(kind=resolution_kinds)
    def resolve_an_unknown_transfer(self, kind: str) -> None:
        self._resolve_by_id(UNKNOWN_TRANSFER, kind, Money.of(1, "KES"))

    def _resolve_by_id(self, transfer_id: str, kind: str, amount: Money) -> None:
        if kind == "post_amount":
            # With an amount, the currency is compared first; these amounts are in the right one.
            expected = (
                "pending_transfer_not_pending"
                if transfer_id in self.model.others
                else "pending_transfer_not_found"
            )
            self._call(expected, lambda: ledger.post_pending(self.ctx, transfer_id, amount))
            return
        call = ledger.void_pending if kind == "void" else ledger.post_pending
        self._single(
            Resolve("", "void" if kind == "void" else "post", transfer_id),
            lambda: call(self.ctx, transfer_id),
        )

    @rule(limit=st.sampled_from([None, 1, 2]))
    def expire_due(self, limit: int | None) -> None:
        self._expire_due(limit)

    def _expire_due(self, limit: int | None) -> None:
        now = self.clock.now()
        due = self.model.due(now, limit or limits.EXPIRIES_PER_BATCH_MAX)
        expired = (
            ledger.expire_due(self.ctx)
            if limit is None
            else ledger.expire_due(self.ctx, limit=limit)
        )
        assert [transfer.pending_id for transfer in expired] == due
        batch: list[Request] = [
            Resolve(transfer.id, "expire", pending_id)
            for transfer, pending_id in zip(expired, due, strict=True)
        ]
        for transfer, request in zip(expired, batch, strict=True):
            self._check_transfer(transfer, request)
        if batch:
            assert self.model.run(batch, now) is None

    # --- batches --------------------------------------------------------------------------------

    @rule(target=holds, data=st.data())
    def create_batch(self, data: st.DataObject) -> Any:
        """A few requests posted all or none; later ones may resolve holds made earlier in it."""
        # Mostly small; sometimes big enough to touch more than 16 accounts (two lock chunks).
        size = data.draw(st.integers(1, 4) | st.integers(5, 20), label="size")
        batch: list[Request] = []
        for _ in range(size):
            batch.append(self._draw_request(data, batch))
        return multiple(*self._batch(batch))

    def _batch(self, batch: list[Request]) -> list[str]:
        """Post `batch` through `create_transfers`; returns the ids of the holds it made."""
        now = self.clock.now()
        outcome = self.model.outcome(batch, now)
        result = self._call(
            None if outcome is None else outcome[0],
            lambda: ledger.create_transfers(self.ctx, [request.request() for request in batch]),
        )
        if isinstance(result, DomainError):
            assert outcome is not None
            assert result.context.get("index") == outcome[1], result.context
            return []
        assert [transfer.id for transfer in result] == [request.id for request in batch]
        # Checked one by one against the model as it stands before each request.
        for transfer, request in zip(result, batch, strict=True):
            self._check_transfer(transfer, request)
            assert self.model.run([request], now) is None
        return [r.id for r in batch if isinstance(r, Create) and r.pending]

    def _draw_request(self, data: st.DataObject, earlier: list[Request]) -> Request:
        kind = data.draw(st.sampled_from(BATCH_KINDS), label="kind")
        new_id = self.ctx.ids.new("tr")
        # What the batch may name as the hold to resolve: holds made earlier, and anything made
        # earlier in this batch (a plain move there is pending_transfer_not_pending).
        targets = {h: hold.amount for h, hold in self.model.holds.items()}
        targets |= {r.id: r.amount for r in earlier if isinstance(r, Create)}
        if kind in ("post", "post_part", "void", "expire") and targets:
            pending_id = data.draw(st.sampled_from(list(targets)), label="pending_id")
            if kind == "post_part":
                part = data.draw(post_parts, label="part")
                return Resolve(new_id, "post", pending_id, _part(part, targets[pending_id]))
            return Resolve(new_id, kind, pending_id)
        account_ids = list(self.model.accounts)
        debit = self._payer(data, data.draw(st.sampled_from(account_ids), label="debit"))
        currency = self._currency_of(debit)
        # The failing kinds: another currency's account, or one unit more than is available.
        candidates = [
            account_id
            for account_id, account in self.model.accounts.items()
            if (account.currency != currency) == (kind == "foreign") and account_id != debit
        ]
        if not candidates:
            candidates = [account_id for account_id in account_ids if account_id != debit]
        credit = data.draw(st.sampled_from(candidates or [debit]), label="credit")
        if kind == "overdraft":
            amount = max(min(self.model.accounts[debit].available + 1, MAX), 1)
        else:
            amount = data.draw(st.integers(1, 100) | amounts(), label="amount")
        if kind == "hold":
            timeout = data.draw(timeouts(), label="timeout")
            return Create(
                new_id, debit, credit, amount, currency, TransferCode.ESCROW_HOLD, True, timeout
            )
        return Create(new_id, debit, credit, amount, currency, TransferCode.PAYMENT)

    # --- time -----------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.25, 1, 9, 10, 59, 60, 61, 3_600, 86_400]))
    def advance_time(self, seconds: float) -> None:
        self.clock.current += timedelta(seconds=seconds)

    @rule(
        hold=holds,
        nudge_us=st.sampled_from([-1, 0, 1]),
        action=st.sampled_from(["wait", "post", "post_part", "void", "expire", "expire_due"]),
        data=st.data(),
    )
    def act_at_the_deadline(
        self, *, hold: str, nudge_us: int, action: str, data: st.DataObject
    ) -> None:
        """Stop the clock a microsecond before, exactly at, or just after a hold's expiry
        instant (never going back), then act on the hold: the boundary of every timing rule."""
        hold = self._open_hold(data, hold, expiring=True)
        expires_at = self.model.holds[hold].expires_at
        if expires_at is not None:
            target = expires_at + timedelta(microseconds=nudge_us)
            self.clock.current = max(self.clock.current, target)
        actions: dict[str, Callable[[], object]] = {
            "wait": lambda: None,
            "post": lambda: self._post(hold, None, None),
            "post_part": lambda: self._post(hold, "half", None),
            "void": lambda: self._void(hold),
            "expire": lambda: self._batch([Resolve(self.ctx.ids.new("tr"), "expire", hold)]),
            "expire_due": lambda: self._expire_due(None),
        }
        actions[action]()

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def accounts_match_the_model_and_keep_the_rules(self) -> None:
        """Read every account back through the service; check it, then the books as a whole."""
        stored = {
            account_id: ledger.get_account(self.ctx, account_id)
            for account_id in self.model.accounts
        }
        totals: dict[str, list[int]] = {}
        for account_id, account in stored.items():
            expected = self.model.accounts[account_id]
            counters = (
                account.debits_pending,
                account.debits_posted,
                account.credits_pending,
                account.credits_posted,
            )
            assert counters == expected.counters, (account_id, counters, expected)
            assert (account.currency, account.code, account.flags) == (
                expected.currency,
                expected.code,
                expected.flags,
            )
            # The balance rules: no customer balance below zero, no asset credited past its debits.
            pending_and_posted_debits = account.debits_pending + account.debits_posted
            pending_and_posted_credits = account.credits_pending + account.credits_posted
            if account.flags & LIABILITY:
                assert pending_and_posted_debits <= account.credits_posted, account
            if account.flags & ASSET:
                assert pending_and_posted_credits <= account.debits_posted, account
            if account.code in CUSTOMER_ACCOUNT_CODES:
                assert account.available >= 0, account
            assert max(pending_and_posted_debits, pending_and_posted_credits) <= MAX, account
            sums = totals.setdefault(account.currency, [0, 0, 0, 0])
            for position, value in enumerate(counters):
                sums[position] += value
        # Double entry: per currency, debits equal credits, posted and pending alike.
        for currency, (d_pending, d_posted, c_pending, c_posted) in totals.items():
            assert d_posted == c_posted, (currency, d_posted, c_posted)
            assert d_pending == c_pending, (currency, d_pending, c_pending)

    @invariant()
    def stored_rows_match_the_model(self) -> None:
        """Refused calls wrote nothing: same accounts, transfers and hold states as the model."""
        with self.ctx.unit_of_work(read_only=True) as uow:
            assert uow.reconcile.counts() == (len(self.model.accounts), self.model.transfers)
            for hold_id, hold in self.model.holds.items():
                state = uow.ledger.pending_state(hold_id)
                assert state is not None and state.value == hold.state, (hold_id, state, hold)

    @invariant()
    def reconcile_now_and_then(self) -> None:
        self.steps += 1
        if self.steps % RECONCILE_EVERY == 0:
            self._reconcile()

    def _reconcile(self) -> None:
        report = reconcile.reconcile(self.ctx)
        # The ledger's own checks are all there (other modules may add theirs) and all pass.
        assert set(RECONCILE_CHECKS) <= {check.name for check in report.checks}, report.checks
        # The ledger's checks, not the modules' above it: this machine moves money through any
        # system account at will (escrow:KES included) with no escrow orders behind it.
        broken = [(c.name, c.problems) for c in report.checks
                  if c.name in RECONCILE_CHECKS and not c.passed]  # fmt: skip
        assert not broken, broken
        assert (report.accounts, report.transfers) == (
            len(self.model.accounts),
            self.model.transfers,
        )


LedgerMachine.TestCase.settings = settings(
    # About 10 s on a 2-core machine; every error code the model knows shows up in a run.
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
)
TestLedgerMachine = LedgerMachine.TestCase
