"""The SQLite writer gate (ADR 0014): a process's writer threads ask for SQLite's write lock one
at a time, every path out of a unit of work lets the next one in, and readers never wait."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes import FakeClock
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.config import Settings
from soko.context import Context
from soko.db.unit_of_work import WriterGate, writer_gate
from soko.kernel.ports import TransientConflict
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode


@pytest.fixture
def gate(sqlite_url: str) -> WriterGate:
    return writer_gate(sqlite_url.removeprefix("sqlite:///"))


@pytest.fixture
def impatient(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A second runtime on the same file whose writers give up after 50 ms."""
    runtime = bootstrap.build(
        Settings(database_url=sqlite_url, sqlite_busy_timeout_ms=50), clock=clock
    )
    yield runtime
    runtime.close()


def _commit_an_orphan_wallet(ctx: Context) -> None:
    with ctx.unit_of_work() as uow:
        driver = uow._connection.connection.driver_connection  # type: ignore[attr-defined]
        driver.execute("PRAGMA defer_foreign_keys = ON")
        driver.execute(
            "INSERT INTO wallets (id, user_id, currency, account_id, created_at)"
            " VALUES ('wal_x', 'usr_nobody', 'KES', 'acc_nobody', '2026-01-01')"
        )
        uow.commit()


def _begin_and_end(ctx: Context) -> None:
    with ctx.unit_of_work():
        pass


def test_the_gate_is_one_per_file_and_process(sqlite_url: str, tmp_path: Path) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    assert writer_gate(path) is writer_gate(str(Path(path).parent / "." / Path(path).name))
    assert writer_gate(path) is not writer_gate(str(tmp_path / "other.db"))


def test_a_writer_holds_the_gate_from_begin_to_commit(ctx: Context, gate: WriterGate) -> None:
    assert not gate.held
    with ctx.unit_of_work() as uow:
        assert gate.held
        uow.commit()
        assert not gate.held  # the next writer may begin while this one tidies up
    assert not gate.held


def test_every_way_out_of_a_unit_of_work_leaves_the_gate(ctx: Context, gate: WriterGate) -> None:
    with ctx.unit_of_work():
        pass  # never committed: rolled back
    assert not gate.held

    with pytest.raises(RuntimeError), ctx.unit_of_work():
        raise RuntimeError("the use case failed")
    assert not gate.held

    # A COMMIT refused by the database (a deferred foreign key here) leaves SQLite's
    # transaction open; the unit of work then rolls it back and lets go.
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
        _commit_an_orphan_wallet(ctx)
    assert not gate.held
    ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)  # writers still get in


def test_a_writer_waits_for_the_gate_and_gives_up_as_a_conflict_that_changes_nothing(
    ctx: Context, impatient: Runtime, gate: WriterGate
) -> None:
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with ctx.unit_of_work() as uow:
            entered.set()
            release.wait(10)
            uow.commit()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(10)
        with pytest.raises(TransientConflict, match="database is locked"):
            _begin_and_end(impatient.context)
        assert gate.held  # still the holder's
    finally:
        release.set()
        holder.join(10)
    assert not gate.held
    # The services retry a conflict: once the holder is done, the same write goes through.
    account = ledger.open_account(impatient.context, currency="KES", code=AccountCode.WALLET)
    assert ledger.get_account(ctx, account.id) == account


def test_the_next_writer_begins_as_soon_as_the_holder_commits(ctx: Context) -> None:
    order: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def first() -> None:
        with ctx.unit_of_work() as uow:
            entered.set()
            release.wait(10)
            order.append("first commits")
            uow.commit()

    def second() -> None:
        with ctx.unit_of_work() as uow:
            order.append("second begins")
            uow.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert entered.wait(10)
    threads[1].start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first commits", "second begins"]


def test_readers_do_not_wait_for_the_gate(ctx: Context, gate: WriterGate) -> None:
    account = ledger.open_account(ctx, currency="KES", code=AccountCode.WALLET)
    with ctx.unit_of_work() as writer:
        assert gate.held
        seen: list[object] = []
        reader = threading.Thread(target=lambda: seen.append(ledger.get_account(ctx, account.id)))
        reader.start()
        reader.join(10)
        assert seen == [account]
        writer.commit()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_is_not_locked_out_by_a_parent_thread(
    ctx: Context, gate: WriterGate
) -> None:
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        gate.enter(10)
        entered.set()
        release.wait(10)
        gate.leave()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(10)
        pid = os.fork()
        if pid == 0:  # the child: the holding thread does not exist here
            os._exit(0 if not gate.held else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert gate.held  # the parent's holder is untouched
    finally:
        release.set()
        holder.join(10)
