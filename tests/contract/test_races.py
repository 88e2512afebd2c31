"""Races on SQLite and PostgreSQL: no double spend, no double resolution, no double expiry.

Every race starts its contenders together on a barrier and bounds how long it may take; none
sleeps to synchronise. The wallet's balance is the oracle: funded with exactly `SPENDS`
payments' worth, exactly `SPENDS` payments may succeed, whatever the interleaving.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from soko import bootstrap
from soko.bootstrap import Runtime
from soko.config import Settings
from soko.context import Context, UnitOfWork, noop_backoff
from soko.kernel.errors import DomainError, TransactionConflict
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import Account, PendingState, Transfer, move
from soko.ledger.reconcile import reconcile

SPENDS = 50  # payments the wallet can afford
AMOUNT = 100  # minor units per payment
THREADS = 16
ATTEMPTS_PER_THREAD = 8  # 128 attempts in all for 50 affordable payments
RACE_TIMEOUT = 60  # seconds: a bound for a hung race, far above the few seconds one takes


@pytest.fixture
def any_runtime(race_runtime: Runtime) -> Runtime:
    """Every race here runs on SQLite, PostgreSQL, and PostgreSQL in SERIALIZABLE."""
    return race_runtime


def spend(
    ctx: Context, wallet_id: str, payees: list[str], start: Any, *, attempts: int, until_empty: bool
) -> Counter[str]:
    """Pay `AMOUNT` from the wallet `attempts` times (or until it is empty): outcome -> count."""
    outcomes: Counter[str] = Counter()
    start.wait()
    for attempt in range(attempts):
        try:
            ledger.transfer(
                ctx,
                debit_account_id=wallet_id,
                credit_account_id=payees[attempt % len(payees)],
                amount=Money.of(AMOUNT, "KES"),
                code=TransferCode.P2P,
            )
        except DomainError as refused:
            outcomes[refused.code] += 1
            if until_empty and refused.code == "exceeds_credits":
                break
        else:
            outcomes["ok"] += 1
    return outcomes


def rotated(items: list[str], by: int) -> list[str]:
    """`items` starting at `by`: contenders pay the payees in different orders."""
    k = by % len(items)
    return items[k:] + items[:k]


def race(contenders: int, run: Callable[[int], Any]) -> list[Any]:
    """Run `run(i)` on `contenders` threads at once; any thread's exception fails the test."""
    with ThreadPoolExecutor(contenders) as pool:
        futures = [pool.submit(run, i) for i in range(contenders)]
        return [future.result(timeout=RACE_TIMEOUT) for future in futures]


@dataclasses.dataclass(frozen=True)
class Spree:
    wallet: Account
    payees: list[Account]


def open_spree(ctx: Context) -> Spree:
    wallet = ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)
    settlement = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES")
    ledger.transfer(
        ctx,
        debit_account_id=settlement.id,
        credit_account_id=wallet.id,
        amount=Money.of(SPENDS * AMOUNT, "KES"),
        code=TransferCode.DEPOSIT,
    )
    payees = [ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET) for _ in range(4)]
    return Spree(ledger.get_account(ctx, wallet.id), payees)


def assert_spent_exactly(ctx: Context, spree: Spree) -> None:
    assert ledger.get_account(ctx, spree.wallet.id).balance == 0
    received = sum(ledger.get_account(ctx, p.id).balance for p in spree.payees)
    assert received == SPENDS * AMOUNT
    report = reconcile(ctx)
    assert report.passed, report


def thread_spree(ctx: Context, *, until_empty: bool, attempts: int) -> Counter[str]:
    spree = open_spree(ctx)
    start = threading.Barrier(THREADS, timeout=RACE_TIMEOUT)
    payees = [p.id for p in spree.payees]
    per_thread = race(
        THREADS,
        lambda i: spend(
            ctx, spree.wallet.id, rotated(payees, i), start,
            attempts=attempts, until_empty=until_empty,
        ),
    )  # fmt: skip
    assert_spent_exactly(ctx, spree)
    return sum(per_thread, Counter())


# --- the double spend -------------------------------------------------------------------------


def test_threads_cannot_spend_a_wallet_twice(any_ctx: Context) -> None:
    outcomes = thread_spree(any_ctx, until_empty=False, attempts=ATTEMPTS_PER_THREAD)

    assert outcomes == {
        "ok": SPENDS,
        "exceeds_credits": THREADS * ATTEMPTS_PER_THREAD - SPENDS,
    }


@pytest.mark.postgres
def test_threads_cannot_spend_a_wallet_twice_under_serializable(
    postgres_url: str, clock: Any
) -> None:
    runtime = bootstrap.build(
        Settings(database_url=postgres_url, isolation="serializable"), clock=clock
    )
    try:
        # Each spender keeps going until the wallet is empty: a conflict that exhausted the
        # bounded retries is a refusal like any other, and the wallet must still end at zero.
        outcomes = thread_spree(runtime.context, until_empty=True, attempts=SPENDS)
    finally:
        runtime.close()

    assert outcomes["ok"] == SPENDS
    assert outcomes["exceeds_credits"] == THREADS
    assert set(outcomes) <= {"ok", "exceeds_credits", "transaction_conflict"}


@dataclasses.dataclass(frozen=True)
class ProcessJob:
    """What one racing process needs; sent to it by pickling, so plain values only."""

    url: str
    wallet_id: str
    payees: list[str]
    threads: int


def _spend_in_process(job: ProcessJob, start: Any, results: Any) -> None:
    """One process of the race: its own runtime, on the system clock, `job.threads` spenders."""
    try:
        runtime = bootstrap.build(Settings(database_url=job.url, pool_size=job.threads))
        try:
            payees = job.payees
            per_thread = race(
                job.threads,
                lambda i: spend(
                    runtime.context, job.wallet_id, rotated(payees, i), start,
                    attempts=ATTEMPTS_PER_THREAD, until_empty=False,
                ),
            )  # fmt: skip
        finally:
            runtime.close()
        results.put(dict(sum(per_thread, Counter())))
    except BaseException as crash:  # reported to the parent, which fails the test
        results.put({"crash": repr(crash)})


@pytest.mark.postgres
def test_processes_cannot_spend_a_wallet_twice(postgres_url: str, clock: Any) -> None:
    processes, threads = 4, 4
    runtime = bootstrap.build(Settings(database_url=postgres_url), clock=clock)
    try:
        ctx = runtime.context
        spree = open_spree(ctx)
        spawn = multiprocessing.get_context("spawn")
        start = spawn.Barrier(processes * threads, timeout=RACE_TIMEOUT)
        results = spawn.Queue()
        workers = [
            spawn.Process(
                target=_spend_in_process,
                args=(
                    ProcessJob(
                        postgres_url, spree.wallet.id, [p.id for p in spree.payees], threads
                    ),
                    start,
                    results,
                ),
            )
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        try:
            outcomes = [results.get(timeout=RACE_TIMEOUT) for _ in workers]
        finally:
            for worker in workers:
                worker.join(timeout=RACE_TIMEOUT)
                if worker.is_alive():
                    worker.kill()
                    worker.join()
            results.close()
            results.join_thread()

        assert [o for o in outcomes if "crash" in o] == []
        assert all(worker.exitcode == 0 for worker in workers)
        total = sum((Counter(o) for o in outcomes), Counter())
        assert total == {
            "ok": SPENDS,
            "exceeds_credits": processes * threads * ATTEMPTS_PER_THREAD - SPENDS,
        }
        assert_spent_exactly(ctx, spree)
    finally:
        runtime.close()


# --- holds ------------------------------------------------------------------------------------


@pytest.fixture
def wallet_and_shop(any_ctx: Context) -> tuple[Account, Account]:
    wallet = ledger.open_account(any_ctx, currency="KES", code=AccountCode.WALLET)
    shop = ledger.open_account(any_ctx, currency="KES", code=AccountCode.MERCHANT)
    settlement = ledger.system_account(any_ctx, AccountCode.SETTLEMENT, "KES")
    ledger.transfer(
        any_ctx,
        debit_account_id=settlement.id,
        credit_account_id=wallet.id,
        amount=Money.of(100_000, "KES"),
        code=TransferCode.DEPOSIT,
    )
    return wallet, shop


def make_hold(ctx: Context, accounts: tuple[Account, Account], timeout: int = 0) -> Transfer:
    wallet, shop = accounts
    return ledger.hold_funds(
        ctx,
        debit_account_id=wallet.id,
        credit_account_id=shop.id,
        amount=Money.of(300, "KES"),
        code=TransferCode.ESCROW_HOLD,
        timeout_seconds=timeout,
    )


def test_racing_posts_and_voids_resolve_a_hold_exactly_once(
    any_ctx: Context, wallet_and_shop: tuple[Account, Account]
) -> None:
    contenders, rounds = 8, 4
    for _ in range(rounds):
        held = make_hold(any_ctx, wallet_and_shop)
        start = threading.Barrier(contenders, timeout=RACE_TIMEOUT)

        def resolve(i: int, held: Transfer = held, start: threading.Barrier = start) -> str:
            kind = "posted" if i % 2 else "voided"
            call = {"posted": ledger.post_pending, "voided": ledger.void_pending}[kind]
            start.wait()
            try:
                call(any_ctx, held.id)
            except DomainError as refused:
                return refused.code
            return f"won: {kind}"

        outcomes = Counter(race(contenders, resolve))

        (winner,) = (o for o in outcomes if o.startswith("won: "))
        kind = winner.removeprefix("won: ")
        assert outcomes == {winner: 1, f"pending_transfer_already_{kind}": contenders - 1}
        with any_ctx.unit_of_work(read_only=True) as uow:
            assert uow.ledger.pending_state(held.id) == PendingState(kind)
    wallet = ledger.get_account(any_ctx, wallet_and_shop[0].id)
    assert wallet.debits_pending == 0
    assert reconcile(any_ctx).passed


def test_concurrent_expiry_jobs_never_expire_a_hold_twice(
    any_ctx: Context, clock: Any, wallet_and_shop: tuple[Account, Account]
) -> None:
    holds = {make_hold(any_ctx, wallet_and_shop, timeout=10).id for _ in range(30)}
    clock.advance(10)
    workers = 2
    start = threading.Barrier(workers, timeout=RACE_TIMEOUT)

    def expire(_: int) -> list[str]:
        expired: list[str] = []
        start.wait()
        for _ in range(len(holds)):  # bounded: each non-empty batch expires at least one
            batch = ledger.expire_due(any_ctx, limit=4)
            if not batch:
                break
            expired.extend(t.pending_id for t in batch if t.pending_id is not None)
        return expired

    per_worker = race(workers, expire)

    every = [pending_id for batch in per_worker for pending_id in batch]
    assert sorted(every) == sorted(holds)  # each one expired, none twice
    assert ledger.get_account(any_ctx, wallet_and_shop[0].id).debits_pending == 0
    assert reconcile(any_ctx).passed


# --- conflicts are retried, not crashed -------------------------------------------------------


@pytest.fixture
def impatient_runtime(database_url: str, clock: Any) -> Iterator[Runtime]:
    """SQLite gives up on a held lock at once, PostgreSQL runs SERIALIZABLE; no backoff."""
    runtime = bootstrap.build(
        Settings(database_url=database_url, isolation="serializable", sqlite_busy_timeout_ms=0),
        clock=clock,
    )
    yield dataclasses.replace(
        runtime, context=dataclasses.replace(runtime.context, backoff=noop_backoff)
    )
    runtime.close()


def test_a_conflicting_transaction_is_retried(impatient_runtime: Runtime) -> None:
    ctx = impatient_runtime.context
    alice = ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)
    bob = ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)
    fx = ledger.system_account(ctx, AccountCode.FX_LIQUIDITY, "KES")  # may go below zero

    if impatient_runtime.engine.dialect.name == "sqlite":
        # Another writer holds the database for the whole call: every attempt finds it locked,
        # and the use case gives up with the transient conflict error after bounded retries.
        database = impatient_runtime.engine.url.database
        assert database is not None
        other = sqlite3.connect(database, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(TransactionConflict):
                ledger.transfer(
                    ctx, debit_account_id=fx.id, credit_account_id=alice.id,
                    amount=Money.of(1, "KES"), code=TransferCode.DEPOSIT,
                )  # fmt: skip
        finally:
            other.rollback()
            other.close()
        return

    # PostgreSQL, SERIALIZABLE: the first attempt reads (its snapshot), another transaction then
    # moves money on the same account and commits, so locking that account fails with 40001.
    attempts = 0

    def work(uow: UnitOfWork) -> list[Transfer]:
        nonlocal attempts
        attempts += 1
        assert uow.ledger.get_account(alice.id) is not None
        if attempts == 1:
            ledger.transfer(
                ctx, debit_account_id=fx.id, credit_account_id=alice.id,
                amount=Money.of(5, "KES"), code=TransferCode.DEPOSIT,
            )  # fmt: skip
        return ledger.record(uow, ctx, [
            move(ctx.ids.new("tr"), debit_account_id=fx.id, credit_account_id=bob.id, amount=1,
                 currency="KES", code=TransferCode.DEPOSIT),
            move(ctx.ids.new("tr"), debit_account_id=fx.id, credit_account_id=alice.id, amount=1,
                 currency="KES", code=TransferCode.DEPOSIT),
        ])  # fmt: skip

    made = in_transaction(ctx, work)

    assert attempts == 2 and len(made) == 2
    assert ledger.get_account(ctx, alice.id).balance == 6
