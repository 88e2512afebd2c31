"""PIN checks (`users.verify_pin`): the slow hash runs outside any transaction (on SQLite, inside
one it held the single write lock from every other payment), tries made at the same moment never
test more PINs than the lock allows and are never told of a lock that is not there, a lock times
out (15 minutes, then an hour, then a day), and a person's sessions end when the PIN changes or
locks (ADR 0016, ADR 0019)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from types import TracebackType
from typing import Any

import pytest

from soko.context import Context, UnitOfWork, UnitOfWorkFactory
from soko.kernel import limits
from soko.kernel.errors import SessionInvalid
from soko.people import access
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.errors import (
    CredentialsInvalid,
    PinBusy,
    PinIncorrect,
    PinLocked,
    PinTriesExceeded,
)
from soko.people.ports import PinHasher

RIGHT, WRONG = "2468", "0000"


class _Counted:
    """A unit of work that counts itself open on its factory."""

    def __init__(self, inner: UnitOfWork, factory: _CountingFactory) -> None:
        self._inner, self._factory = inner, factory

    def __enter__(self) -> _Counted:
        self._inner.__enter__()
        self._factory.open += 1
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._factory.open -= 1
        self._inner.__exit__(kind, exc, tb)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _CountingFactory:
    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self.inner, self.open = inner, 0

    def __call__(self, *, read_only: bool = False) -> Any:
        return _Counted(self.inner(read_only=read_only), self)


class _SeenPins:
    """The real hasher, noting how many transactions were open at each check."""

    def __init__(self, inner: PinHasher, factory: _CountingFactory) -> None:
        self.inner, self.factory = inner, factory
        self.open_at_checks: list[int] = []

    def hash(self, pin: str) -> str:
        return self.inner.hash(pin)

    def verify(self, pin_hash: str, pin: str) -> bool:
        self.open_at_checks.append(self.factory.open)
        return self.inner.verify(pin_hash, pin)


def test_the_pin_hash_is_checked_outside_any_transaction(any_ctx: Context) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001",
                           name="Amina", pin=RIGHT)  # fmt: skip
    factory = _CountingFactory(any_ctx.unit_of_work)
    pins = _SeenPins(any_ctx.pins, factory)
    ctx = replace(any_ctx, unit_of_work=factory, pins=pins)
    with pytest.raises(PinIncorrect):
        users.verify_pin(ctx, amina.id, WRONG)
    assert users.verify_pin(ctx, amina.id, RIGHT).pin.failures == 0
    assert pins.open_at_checks == [0, 0]


class _TriesTogether:
    """A hasher whose checks wait until every try has either reached a check or been refused."""

    def __init__(self, inner: PinHasher, tries: int) -> None:
        self.inner, self.tries = inner, tries
        self.checks = 0
        self.refused = 0
        self.changed = threading.Condition()
        self.local = threading.local()

    def hash(self, pin: str) -> str:
        return self.inner.hash(pin)

    def verify(self, pin_hash: str, pin: str) -> bool:
        self.local.checked = True
        with self.changed:
            self.checks += 1
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.checks + self.refused == self.tries, timeout=20)
        return self.inner.verify(pin_hash, pin)

    def refuse(self) -> None:
        with self.changed:
            self.refused += 1
            self.changed.notify_all()


def _at_once(ctx: Context, user_id: str, pin: str, tries: int) -> tuple[_TriesTogether, list[str]]:
    """`tries` checks of `pin` at the same moment; the codes they were answered with ("ok")."""
    pins = _TriesTogether(ctx.pins, tries)
    together = replace(ctx, pins=pins)
    outcomes: list[str] = []

    def attempt() -> None:
        pins.local.checked = False
        try:
            users.verify_pin(together, user_id, pin)
            outcomes.append("ok")
        except (PinIncorrect, PinLocked, PinBusy) as refusal:
            outcomes.append(refusal.code)
        if not pins.local.checked:  # refused before any check
            pins.refuse()

    threads = [threading.Thread(target=attempt) for _ in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == tries
    return pins, outcomes


def test_tries_at_the_same_moment_test_no_more_pins_than_the_lock_allows(
    any_ctx: Context,
) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001",
                           name="Amina", pin=RIGHT)  # fmt: skip
    tries = 2 * limits.PIN_ATTEMPTS_MAX
    pins, outcomes = _at_once(any_ctx, amina.id, WRONG, tries)
    assert pins.checks == limits.PIN_ATTEMPTS_MAX  # the lock's worth of guesses, no more
    # The tries beyond the lock's worth were refused while the others were being checked: busy,
    # not locked (nothing was locked yet), or locked once the fifth wrong one had locked it.
    assert outcomes.count("pin_incorrect") + outcomes.count("pin_locked") == limits.PIN_ATTEMPTS_MAX
    assert outcomes.count("pin_busy") == tries - limits.PIN_ATTEMPTS_MAX
    after = users.get_user(any_ctx, amina.id)
    assert after.pin_locked_at(any_ctx.clock.now())
    assert (after.pin.failures, after.pin.checking, after.pin.lock_count) == (0, 0, 1)


def test_right_pins_at_the_same_moment_are_never_told_the_pin_is_locked(
    any_ctx: Context,
) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001",
                           name="Amina", pin=RIGHT)  # fmt: skip
    _, outcomes = _at_once(any_ctx, amina.id, RIGHT, 10)
    assert "pin_locked" not in outcomes and "pin_incorrect" not in outcomes, outcomes
    assert outcomes.count("ok") >= 1
    assert set(outcomes) <= {"ok", "pin_busy"}
    after = users.get_user(any_ctx, amina.id)
    assert not after.pin_locked_at(any_ctx.clock.now())
    assert (after.pin.failures, after.pin.checking) == (0, 0)


def _wrong_until_locked(ctx: Context, user_id: str) -> PinLocked:
    for left in range(limits.PIN_ATTEMPTS_MAX - 1, 0, -1):
        with pytest.raises(PinIncorrect) as wrong:
            users.verify_pin(ctx, user_id, WRONG)
        assert wrong.value.context["tries_left"] == left
    with pytest.raises(PinLocked) as locked:
        users.verify_pin(ctx, user_id, WRONG)
    return locked.value


def test_a_lock_times_out_after_15_minutes_then_an_hour_then_a_day(
    any_ctx: Context, clock: Any
) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001",
                           name="Amina", pin=RIGHT)  # fmt: skip
    for seconds in (15 * 60, 3600, 24 * 3600, 24 * 3600):
        locked = _wrong_until_locked(any_ctx, amina.id)
        until = clock.now() + timedelta(seconds=seconds)
        assert locked.context["locked_until"] == until.isoformat()
        assert locked.context["retry_after"] == seconds
        clock.advance(seconds - 1)
        with pytest.raises(PinLocked):  # even the right PIN, while locked
            users.verify_pin(any_ctx, amina.id, RIGHT)
        clock.advance(1)
    # A right PIN once the time is out: the count and the next lock start again from 15 minutes.
    assert users.verify_pin(any_ctx, amina.id, RIGHT).pin.lock_count == 0
    _wrong_until_locked(any_ctx, amina.id)
    after = users.get_user(any_ctx, amina.id)
    assert after.pin.locked_until == clock.now() + timedelta(minutes=15)


def test_an_operator_still_unlocks_a_pin(any_ctx: Context) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001",
                           name="Amina", pin=RIGHT)  # fmt: skip
    _wrong_until_locked(any_ctx, amina.id)
    unlocked = users.unlock_pin(any_ctx, amina.id)
    assert not unlocked.pin_locked_at(any_ctx.clock.now())
    assert users.verify_pin(any_ctx, amina.id, RIGHT).pin.failures == 0


def test_sessions_end_when_the_pin_is_changed_reset_or_locked(any_ctx: Context) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001",
                           name="Amina", pin=RIGHT)  # fmt: skip
    baraka = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000002",
                            name="Baraka", pin=RIGHT)  # fmt: skip

    def signed_in(phone: str, pin: str = RIGHT) -> str:
        return access.sign_in(any_ctx, phone=phone, pin=pin).token

    others = signed_in(baraka.phone)
    steps = [
        ("changed", RIGHT, lambda: users.set_pin(any_ctx, amina.id, "1357")),
        ("reset", "1357", lambda: users.set_pin(any_ctx, amina.id, RIGHT)),
        ("locked", RIGHT, lambda: _wrong_until_locked(any_ctx, amina.id)),
    ]
    for step, pin, end in steps:
        token = signed_in(amina.phone, pin)
        assert access.authenticate_session(any_ctx, token).id == amina.id
        end()
        with pytest.raises(SessionInvalid):
            access.authenticate_session(any_ctx, token)
        assert step
    assert access.authenticate_session(any_ctx, others).id == baraka.id  # only hers ended


def test_sign_out_ends_the_session(any_ctx: Context) -> None:
    users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001", name="Amina",
                   pin=RIGHT)  # fmt: skip
    token = access.sign_in(any_ctx, phone="+254712000001", pin=RIGHT).token
    access.sign_out(any_ctx, token)
    with pytest.raises(SessionInvalid):
        access.authenticate_session(any_ctx, token)


# --- signing in: no user enumeration, and tries limited per address and per number ---------------


class _CountedChecks:
    def __init__(self, inner: PinHasher) -> None:
        self.inner, self.checks = inner, 0

    def hash(self, pin: str) -> str:
        return self.inner.hash(pin)

    def verify(self, pin_hash: str, pin: str) -> bool:
        self.checks += 1
        return self.inner.verify(pin_hash, pin)


def test_an_unknown_number_is_refused_as_a_wrong_pin_after_the_same_hash_check(
    any_ctx: Context,
) -> None:
    users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001", name="Amina",
                   pin=RIGHT)  # fmt: skip
    pins = _CountedChecks(any_ctx.pins)
    ctx = replace(any_ctx, pins=pins)
    refusals = []
    for phone in ("+254712000001", "+254712000009"):
        with pytest.raises(CredentialsInvalid) as refused:
            access.sign_in(ctx, phone=phone, pin=WRONG)
        refusals.append((refused.value.code, refused.value.detail, refused.value.context))
    assert pins.checks == 2  # one argon2 check each: the same time
    known, unknown = refusals
    assert known == unknown
    assert known[2] == {"tries_left": limits.PIN_ATTEMPTS_MAX - 1}


def test_an_unknown_number_counts_down_and_locks_as_a_known_one(
    any_ctx: Context, clock: Any
) -> None:
    users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001", name="Amina",
                   pin=RIGHT)  # fmt: skip
    answers: dict[str, list[tuple[str, Any]]] = {}
    for phone in ("+254712000001", "+254712000009"):
        seen = answers.setdefault(phone, [])
        for _ in range(limits.PIN_ATTEMPTS_MAX + 1):
            try:
                access.sign_in(any_ctx, phone=phone, pin=WRONG)
            except (CredentialsInvalid, PinLocked) as refused:
                seen.append((refused.code, refused.context.get("tries_left")))
    assert answers["+254712000001"] == answers["+254712000009"]
    assert answers["+254712000009"][-2:] == [("pin_locked", 0), ("pin_locked", 0)]
    clock.advance(15 * 60)
    with pytest.raises(CredentialsInvalid):
        access.sign_in(any_ctx, phone="+254712000009", pin=WRONG)


def test_wrong_pins_from_one_address_are_limited_whatever_the_number(any_ctx: Context) -> None:
    phones = [f"+2547120000{n:02d}" for n in range(10)]
    for phone in phones:
        users.register(any_ctx, kind=UserKind.CONSUMER, phone=phone, name="A", pin=RIGHT)
    for tried in range(limits.PIN_TRIES_PER_ADDRESS_MAX):
        with pytest.raises(CredentialsInvalid):
            access.sign_in(any_ctx, phone=phones[tried % len(phones)], pin=WRONG,
                           client="192.0.2.7")  # fmt: skip
    with pytest.raises(PinTriesExceeded) as limited:
        access.sign_in(any_ctx, phone=phones[0], pin=WRONG, client="192.0.2.7")
    assert 0 < limited.value.context["retry_after"] <= limits.PIN_TRIES_WINDOW_SECONDS
    # Even the right PIN waits; another address does not.
    with pytest.raises(PinTriesExceeded):
        access.sign_in(any_ctx, phone=phones[-1], pin=RIGHT, client="192.0.2.7")
    access.sign_in(any_ctx, phone=phones[-1], pin=RIGHT, client="198.51.100.1")


def test_the_worker_forgets_tries_that_no_longer_matter(any_ctx: Context, clock: Any) -> None:
    with pytest.raises(CredentialsInvalid):
        access.sign_in(any_ctx, phone="+254712000009", pin=WRONG, client="192.0.2.7")
    assert users.forget_pin_tries(any_ctx) == 0  # the window and the number's tries still count
    clock.advance(24 * 3600 + limits.PIN_CHECK_SECONDS_MAX + 1)
    assert users.forget_pin_tries(any_ctx) == 2
    for _ in range(limits.PIN_ATTEMPTS_MAX - 1):  # forgotten: the number starts again
        with pytest.raises(CredentialsInvalid):
            access.sign_in(any_ctx, phone="+254712000009", pin=WRONG, client="192.0.2.7")
