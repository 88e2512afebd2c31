"""Idempotency keys on SQLite and PostgreSQL: stored with the effect, replayed, never run twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from soko.bootstrap import Runtime
from soko.context import Context, UnitOfWork
from soko.db.metadata import idempotency_keys
from soko.kernel import limits
from soko.kernel.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from soko.kernel.idempotency import Idempotent, encode, fingerprint, forget_expired, run_idempotent
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import Account, move
from soko.ledger.errors import ExceedsCredits
from soko.ledger.tables import transfers

SCOPE = "merchant:mer_1"
REQUEST = {"to": "shop", "amount": {"amount": "1.00", "currency": "KES"}}


class Payment:
    """A use case that pays `amount` from one account to another and counts its runs."""

    def __init__(self, ctx: Context, payer: Account, payee: Account, amount: int = 100) -> None:
        self.ctx, self.payer, self.payee, self.amount = ctx, payer, payee, amount
        self.runs = 0
        self._lock = threading.Lock()

    def work(self, uow: UnitOfWork) -> dict[str, Any]:
        with self._lock:
            self.runs += 1
        (made,) = ledger.record(
            uow,
            self.ctx,
            [
                move(
                    self.ctx.ids.new("tr"),
                    debit_account_id=self.payer.id,
                    credit_account_id=self.payee.id,
                    amount=self.amount,
                    currency="KES",
                    code=TransferCode.PAYMENT,
                )
            ],
        )
        return {"transfer_id": made.id, "amount": made.amount}

    def run(
        self,
        key: str | None,
        request: dict[str, Any] | None = None,
        *,
        scope: str = SCOPE,
        work: Callable[[UnitOfWork], dict[str, Any]] | None = None,
    ) -> Idempotent[dict[str, Any]]:
        return run_idempotent(
            self.ctx,
            scope=scope,
            key=key,
            request=REQUEST if request is None else request,
            work=work or self.work,
            result=dict,
        )


@pytest.fixture
def payment(any_ctx: Context, open_wallet: Callable[..., Account]) -> Payment:
    return Payment(any_ctx, open_wallet(10_000), open_wallet(code=AccountCode.MERCHANT))


def stored_keys(runtime: Runtime) -> list[tuple[Any, ...]]:
    with runtime.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.select(idempotency_keys))]


def payments(runtime: Runtime) -> int:
    with runtime.engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).where(transfers.c.code == TransferCode.PAYMENT.value)
        ).scalar_one()


def test_the_result_is_stored_with_the_effect(
    any_runtime: Runtime, clock: Any, payment: Payment
) -> None:
    outcome = payment.run("key-1")

    assert not outcome.replayed
    made = ledger.get_transfer(any_runtime.context, outcome.value["transfer_id"])
    assert made.amount == 100
    assert stored_keys(any_runtime) == [
        (SCOPE, "key-1", fingerprint(REQUEST), encode(outcome.value, dict), clock.now())
    ]


@pytest.mark.parametrize("failure", ["code error", "business rule"])
def test_work_that_fails_after_its_effect_leaves_neither_key_nor_effect(
    any_runtime: Runtime, payment: Payment, dump_database: Callable[[], Any], failure: str
) -> None:
    before = dump_database()

    def work(uow: UnitOfWork) -> dict[str, Any]:
        payment.work(uow)  # the transfer is written in this transaction...
        if failure == "code error":
            raise RuntimeError("...and then the use case fails")
        payment.work(uow)
        payment.amount = 1_000_000  # more than the wallet holds
        return payment.work(uow)

    expected = RuntimeError if failure == "code error" else ExceedsCredits
    with pytest.raises(expected):
        payment.run("key-1", work=work)

    assert dump_database() == before
    # Nothing was stored, so the retry is a fresh attempt, not a replay of the failure.
    payment.amount = 100
    assert not payment.run("key-1").replayed
    assert payments(any_runtime) == 1


def test_a_retry_with_the_same_request_replays_without_running_again(
    any_runtime: Runtime, payment: Payment, dump_database: Callable[[], Any]
) -> None:
    first = payment.run("key-1")
    before = dump_database()

    # The same request, its keys in another order: the same fingerprint.
    again = payment.run("key-1", dict(reversed(list(REQUEST.items()))))

    assert again == Idempotent(first.value, replayed=True)
    assert payment.runs == 1
    assert dump_database() == before


def test_the_same_key_with_another_request_is_refused(
    payment: Payment, dump_database: Callable[[], Any]
) -> None:
    payment.run("key-1")
    before = dump_database()

    with pytest.raises(IdempotencyKeyReused) as refused:
        payment.run("key-1", REQUEST | {"amount": {"amount": "2.00", "currency": "KES"}})

    assert refused.value.code == "idempotency_key_reused"
    assert payment.runs == 1
    assert dump_database() == before


def test_keys_are_scoped_per_caller(any_runtime: Runtime, payment: Payment) -> None:
    mine = payment.run("key-1", scope="merchant:mer_1")
    theirs = payment.run("key-1", scope="merchant:mer_2")
    other_request = payment.run("key-1", {"another": "request"}, scope="merchant:mer_3")

    assert not (mine.replayed or theirs.replayed or other_request.replayed)
    assert len({o.value["transfer_id"] for o in (mine, theirs, other_request)}) == 3
    assert payments(any_runtime) == 3
    assert payment.run("key-1", scope="merchant:mer_2") == Idempotent(theirs.value, True)


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "k" * (limits.IDEMPOTENCY_KEY_LENGTH_MAX + 1),
        "ufunguo-wa-malipo-é",
        "line\nbreak",
        "tab\there",
        "nul\x00",
        "emoji-🔑",
    ],
)
def test_bad_keys_are_refused_before_any_work(
    payment: Payment, dump_database: Callable[[], Any], key: str | None
) -> None:
    before = dump_database()

    with pytest.raises(IdempotencyKeyInvalid) as refused:
        payment.run(key)

    assert refused.value.code == "idempotency_key_invalid"
    assert payment.runs == 0
    assert dump_database() == before


@pytest.mark.parametrize("key", ["k", "k" * limits.IDEMPOTENCY_KEY_LENGTH_MAX, "8e0f-A_b.c~!"])
def test_keys_at_the_bounds_are_stored_and_replayed(payment: Payment, key: str) -> None:
    first = payment.run(key)
    assert payment.run(key) == Idempotent(first.value, replayed=True)


def test_expired_keys_are_forgotten_in_bounded_batches(
    any_runtime: Runtime, clock: Any, payment: Payment
) -> None:
    for n in range(5):
        payment.run(f"old-{n}")
    clock.advance(limits.IDEMPOTENCY_KEY_RETENTION_SECONDS)
    payment.run("recent")
    clock.advance(1)

    assert forget_expired(any_runtime.context, limit=3) == 3
    assert forget_expired(any_runtime.context, limit=3) == 2
    assert forget_expired(any_runtime.context, limit=3) == 0
    assert [row[1] for row in stored_keys(any_runtime)] == ["recent"]


def test_racing_retries_commit_one_effect_and_all_get_its_result(
    any_runtime: Runtime, payment: Payment
) -> None:
    callers = 8
    start = threading.Barrier(callers, timeout=10)

    def call(_: int) -> Idempotent[dict[str, Any]]:
        start.wait()
        return payment.run("the-same-key")

    with ThreadPoolExecutor(callers) as pool:
        outcomes = [
            future.result(timeout=30) for future in [pool.submit(call, i) for i in range(8)]
        ]

    assert len({json.dumps(o.value) for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * (callers - 1)
    assert payments(any_runtime) == 1
    assert ledger.get_account(any_runtime.context, payment.payer.id).balance == 10_000 - 100
    assert len(stored_keys(any_runtime)) == 1
