"""SQLite connections kept open between units of work (ADR 0013): reused only when clean, kept
apart for readers and writers, and closed with the runtime."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable
from typing import Any

import pytest

from soko import bootstrap
from soko.bootstrap import Runtime
from soko.config import Settings
from soko.context import Context, UnitOfWork
from soko.db.unit_of_work import KEPT_IDLE_MAX
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.domain import Account


def _driver(uow: UnitOfWork) -> Any:
    return uow._connection.connection.driver_connection  # type: ignore[attr-defined]


def _driver_of(ctx: Context, *, read_only: bool = False) -> Any:
    with ctx.unit_of_work(read_only=read_only) as uow:
        return _driver(uow)


def _fail(ctx: Context, work: Callable[[UnitOfWork], object]) -> None:
    """Run `work` in a unit of work that then fails."""

    def fail() -> None:
        with ctx.unit_of_work() as uow:
            work(uow)
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError, match="the use case failed"):
        fail()


def _wallet(ctx: Context) -> Account:
    return ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)


def test_a_write_connection_is_reused_after_commit_and_after_rollback(ctx: Context) -> None:
    first = _driver_of(ctx)
    with ctx.unit_of_work() as uow:
        assert _driver(uow) is first
        uow.commit()
    _fail(ctx, lambda uow: _driver(uow) is first or pytest.fail("not reused"))
    assert _driver_of(ctx) is first
    assert not first.in_transaction


def test_a_rolled_back_write_leaves_nothing_behind_on_the_reused_connection(
    ctx: Context,
) -> None:
    wallet = _wallet(ctx)
    update = "UPDATE accounts SET credits_posted = 5, debits_posted = 5 WHERE id = ?"
    _fail(ctx, lambda uow: _driver(uow).execute(update, [wallet.id]))
    with ctx.unit_of_work(read_only=True) as uow:
        assert uow.ledger.get_account(wallet.id) == wallet


def test_a_connection_whose_driver_is_still_in_a_transaction_is_not_reused(
    ctx: Context,
) -> None:
    # As after a COMMIT that failed: SQLAlchemy's transaction is over, SQLite's is not.
    engine = ctx.unit_of_work.engine  # type: ignore[attr-defined]
    with ctx.unit_of_work() as uow:
        uow.commit()
        _driver(uow).execute("BEGIN IMMEDIATE")
    # Given back to the pool, not kept: the pool's reset rolled SQLite's transaction back, and
    # the write lock is free for the next writer.
    assert engine.pool.checkedout() == 0
    with ctx.unit_of_work() as uow:
        uow.commit()


@pytest.mark.parametrize("committed", [True, False])
def test_statements_through_sqlalchemy_and_the_driver_share_one_transaction(
    ctx: Context, committed: bool
) -> None:
    # SQLite's transaction is begun on the driver; SQLAlchemy's insert must join it, and the
    # commit or rollback must end both, leaving the kept connection clean.
    wallet = _wallet(ctx)
    opened: list[Account] = []

    def work(uow: UnitOfWork) -> None:
        opened.append(ledger.open_account_in(uow, ctx, "KES", AccountCode.WALLET))  # SQLAlchemy
        _driver(uow).execute(  # the driver
            "UPDATE accounts SET credits_posted = 5 WHERE id = ?", [wallet.id]
        )

    if committed:
        with ctx.unit_of_work() as uow:
            work(uow)
            uow.commit()
    else:
        _fail(ctx, work)
    with ctx.unit_of_work(read_only=True) as uow:
        assert (uow.ledger.get_account(opened[0].id) is not None) is committed
        found = uow.ledger.get_account(wallet.id)
        assert found is not None and found.credits_posted == (5 if committed else 0)
    engine = ctx.unit_of_work.engine  # type: ignore[attr-defined]
    assert engine.pool.checkedout() == 2  # the writer's and the reader's, both kept
    with ctx.unit_of_work() as uow:
        uow.commit()


def test_readers_and_writers_keep_separate_connections(ctx: Context) -> None:
    writer = _driver_of(ctx)
    reader = _driver_of(ctx, read_only=True)
    assert reader is not writer
    assert _driver_of(ctx, read_only=True) is reader
    assert _driver_of(ctx) is writer


def test_a_reused_reader_still_reads_while_a_writer_holds_the_lock(ctx: Context) -> None:
    wallet = _wallet(ctx)
    _driver_of(ctx, read_only=True)  # now idle, and reused below
    holding, release = threading.Event(), threading.Event()

    def write() -> None:
        with ctx.unit_of_work() as uow:
            holding.set()
            release.wait(10)
            uow.commit()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert holding.wait(10)
        with ctx.unit_of_work(read_only=True) as uow:  # BEGIN, not BEGIN IMMEDIATE: no wait
            assert uow.ledger.get_account(wallet.id) == wallet
    finally:
        release.set()
        writer.join(10)


def test_threads_never_share_a_connection_at_the_same_time(ctx: Context) -> None:
    in_use: set[int] = set()
    clashes: list[int] = []
    guard = threading.Lock()

    def work() -> None:
        for _ in range(50):
            with ctx.unit_of_work(read_only=True) as uow:
                key = id(_driver(uow))
                with guard:
                    if key in in_use:
                        clashes.append(key)
                    in_use.add(key)
                uow.reconcile  # noqa: B018 - a moment inside the unit of work
                with guard:
                    in_use.discard(key)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert clashes == []


def test_after_a_burst_a_few_are_kept_and_the_pool_still_serves_everyone(ctx: Context) -> None:
    engine = ctx.unit_of_work.engine  # type: ignore[attr-defined]
    burst = 3 * KEPT_IDLE_MAX  # more than the pool's size and the kept lists' together
    with contextlib.ExitStack() as stack:
        for _ in range(burst):
            stack.enter_context(ctx.unit_of_work(read_only=True))
        # Others still get a connection at once while every unit of work holds one.
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        assert engine.pool.checkedout() == burst
    assert engine.pool.checkedout() == KEPT_IDLE_MAX


def test_closing_the_runtime_closes_the_kept_connections(sqlite_url: str) -> None:
    runtime = bootstrap.build(Settings(database_url=sqlite_url))
    kept = [_driver_of(runtime.context), _driver_of(runtime.context, read_only=True)]
    runtime.close()
    for driver in kept:
        with pytest.raises(Exception, match="closed"):
            driver.execute("SELECT 1")
    assert runtime.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_dropped_runtime_closes_its_kept_connections_without_a_warning(
    sqlite_url: str,
) -> None:
    # pytest turns warnings into errors here, the pool's "not checked in" warning included.
    runtime = bootstrap.build(Settings(database_url=sqlite_url))
    engine = runtime.engine
    _driver_of(runtime.context)
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    del runtime
    gc.collect()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    engine.dispose()


def test_only_sqlite_keeps_connections_between_units_of_work(any_runtime: Runtime) -> None:
    # PostgreSQL's pool checks a connection is alive and resets its isolation at each checkout.
    with any_runtime.context.unit_of_work() as uow:
        uow.commit()
    kept = 0 if any_runtime.engine.dialect.name == "postgresql" else 1
    assert any_runtime.engine.pool.checkedout() == kept  # type: ignore[attr-defined]
