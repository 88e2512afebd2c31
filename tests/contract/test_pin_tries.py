"""PIN checks (`users.verify_pin`): the slow hash runs outside any transaction (on SQLite, inside
one it held the single write lock from every other payment), and tries made at the same moment
never test more PINs than the lock allows."""

from __future__ import annotations

import threading
from dataclasses import replace
from types import TracebackType
from typing import Any

import pytest

from soko.context import Context, UnitOfWork, UnitOfWorkFactory
from soko.kernel import limits
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.errors import PinIncorrect, PinLocked
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
    assert users.verify_pin(ctx, amina.id, RIGHT).pin_failures == 0
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


def test_tries_at_the_same_moment_test_no_more_pins_than_the_lock_allows(
    any_ctx: Context,
) -> None:
    amina = users.register(any_ctx, kind=UserKind.CONSUMER, phone="+254712000001",
                           name="Amina", pin=RIGHT)  # fmt: skip
    tries = 2 * limits.PIN_ATTEMPTS_MAX
    pins = _TriesTogether(any_ctx.pins, tries)
    ctx = replace(any_ctx, pins=pins)
    outcomes: list[str] = []

    def attempt() -> None:
        pins.local.checked = False
        try:
            users.verify_pin(ctx, amina.id, WRONG)
        except (PinIncorrect, PinLocked) as refusal:
            outcomes.append(refusal.code)
        if not pins.local.checked:  # refused before any check: the count was full
            pins.refuse()

    threads = [threading.Thread(target=attempt) for _ in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert pins.checks == limits.PIN_ATTEMPTS_MAX  # the lock's worth of guesses, no more
    assert len(outcomes) == tries
    assert outcomes.count("pin_incorrect") == limits.PIN_ATTEMPTS_MAX - 1
    assert outcomes.count("pin_locked") == tries - limits.PIN_ATTEMPTS_MAX + 1
    after = users.get_user(any_ctx, amina.id)
    assert (after.pin_failures, after.pin_locked) == (limits.PIN_ATTEMPTS_MAX, True)
