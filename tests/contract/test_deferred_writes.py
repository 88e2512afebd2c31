"""Writes sent with the COMMIT (texts, idempotency records) on SQLite and PostgreSQL: stored with
the transaction or not at all, a lost key race retried, and the connection clean afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from soko.bootstrap import Runtime
from soko.context import Context, UnitOfWork
from soko.db.metadata import idempotency_keys
from soko.kernel.ports import StoredResult, TransientConflict
from soko.ledger import service as ledger
from soko.ledger.chart import TransferCode
from soko.ledger.domain import Account, move
from soko.notify.tables import sms_messages

PHONE = "+254712345678"
STORED = StoredResult("f" * 64, '{"paid": true}')


def _pay_and_defer(uow: UnitOfWork, ctx: Context, payer: Account, payee: Account, key: str) -> None:
    ledger.record(uow, ctx, [
        move(ctx.ids.new("tr"), debit_account_id=payer.id, credit_account_id=payee.id,
             amount=100, currency="KES", code=TransferCode.P2P),
    ])  # fmt: skip
    uow.notifications.insert_sms([(ctx.ids.new("sms"), PHONE, "Paid")], ctx.clock.now())
    uow.idempotency.put("scope", key, STORED, ctx.clock.now())


def _commit(ctx: Context, work: Callable[[UnitOfWork], None]) -> None:
    """`work` and commit in one unit of work, without in_transaction's retries."""
    with ctx.unit_of_work() as uow:
        work(uow)
        uow.commit()


def _count(runtime: Runtime, table: sa.Table) -> int:
    with runtime.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_deferred_rows_are_written_with_the_commit_and_not_before(
    any_runtime: Runtime, any_ctx: Context, open_wallet: Callable[..., Account]
) -> None:
    payer, payee = open_wallet(1_000), open_wallet()

    with any_ctx.unit_of_work() as uow:
        _pay_and_defer(uow, any_ctx, payer, payee, "key-1")
        # Deferred: the transaction itself does not see them (the ports say so).
        assert uow.idempotency.get("scope", "key-1") is None
        uow.commit()

    with any_ctx.unit_of_work(read_only=True) as uow:
        assert uow.idempotency.get("scope", "key-1") == STORED
        assert [sms.text for sms in uow.notifications.list_sms_to(PHONE, 10)] == ["Paid"]
    assert ledger.get_account(any_ctx, payee.id).balance == 100


def test_a_transaction_rolled_back_sends_none_of_its_deferred_rows(
    any_runtime: Runtime, any_ctx: Context, open_wallet: Callable[..., Account]
) -> None:
    payer, payee = open_wallet(1_000), open_wallet()

    with any_ctx.unit_of_work() as uow:
        _pay_and_defer(uow, any_ctx, payer, payee, "key-1")  # and no commit

    assert _count(any_runtime, sms_messages) == 0
    assert _count(any_runtime, idempotency_keys) == 0
    # The next transaction on the same pool starts with nothing queued.
    with any_ctx.unit_of_work() as uow:
        uow.commit()
    assert _count(any_runtime, sms_messages) == 0


def test_a_key_another_transaction_took_is_a_conflict_and_leaves_nothing(
    any_runtime: Runtime,
    any_ctx: Context,
    open_wallet: Callable[..., Account],
    dump_database: Callable[[], Any],
) -> None:
    payer, payee = open_wallet(100_000), open_wallet()
    with any_ctx.unit_of_work() as uow:
        uow.idempotency.put("scope", "taken", STORED, any_ctx.clock.now())
        uow.commit()
    before = dump_database()

    def pay_with_the_taken_key(uow: UnitOfWork) -> None:
        _pay_and_defer(uow, any_ctx, payer, payee, "taken")

    for _ in range(3):
        with pytest.raises(TransientConflict, match="stored concurrently"):
            _commit(any_ctx, pay_with_the_taken_key)

    assert dump_database() == before
    # Every pooled connection is clean again: on PostgreSQL, one left inside the aborted
    # transaction would fail its pre-ping here.
    for n in range(any_runtime.engine.pool.size() + 2):  # type: ignore[attr-defined]
        with any_ctx.unit_of_work() as uow:
            _pay_and_defer(uow, any_ctx, payer, payee, f"fresh-{n}")
            uow.commit()
    assert ledger.get_account(any_ctx, payee.id).balance == 100 * (n + 1)


def test_a_deferred_row_breaking_a_constraint_is_an_error_not_a_retry(
    any_runtime: Runtime,
    any_ctx: Context,
    open_wallet: Callable[..., Account],
    dump_database: Callable[[], Any],
) -> None:
    payer, payee = open_wallet(1_000), open_wallet()
    with any_ctx.unit_of_work() as uow:
        uow.notifications.insert_sms([("sms_taken", PHONE, "First")], any_ctx.clock.now())
        uow.commit()
    before = dump_database()

    def pay_and_reuse_a_text_id(uow: UnitOfWork) -> None:
        _pay_and_defer(uow, any_ctx, payer, payee, "key-1")
        uow.notifications.insert_sms([("sms_taken", PHONE, "Again")], any_ctx.clock.now())

    with pytest.raises(sa.exc.IntegrityError):
        _commit(any_ctx, pay_and_reuse_a_text_id)

    assert dump_database() == before
