"""A `soko worker` killed in the middle of a batch of escrow timers loses nothing and releases
nothing twice; two workers on the same due orders move each one once.

The orders are set up through the services on a fake clock set days in the past, so that the
real `soko worker` started now (a subprocess, on the real clock, SQLite then PostgreSQL) finds
them all due: some delivered with their inspection period over (to be released to the seller),
some never shipped by their ship-by date (to be refunded to the buyer). SOKO_FAULT makes the
worker exit 137, as SIGKILL would, right after the first order it moved has committed. The
checks read the database: each order's state and amounts, its hold resolved once, its release
and fee transfers there once, the wallets, escrow:KES's pending credits, and `soko reconcile`.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes import FakeClock
from merchants import available, balance, consumer, fees, kes, key, shop
from soko import bootstrap
from soko.config import Settings
from soko.context import Context
from soko.escrow import service as escrow
from soko.escrow.domain import EscrowAction, EscrowOrder, EscrowState, OrderItem
from soko.escrow.tracking import service as shipments
from soko.kernel import limits
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import PendingState
from soko.ledger.reconcile import reconcile
from soko.ledger.tables import transfers
from soko.payments.fees import merchant_rate

S = EscrowState
SOKO = Path(sys.executable).with_name("soko")
DAY = timedelta(days=1)
ITEMS = [OrderItem("Sufuria set", 1)]
DELIVERED = 6
UNSHIPPED = 2
CATEGORY = "5651"
#: The buyer's KES 50,000.00, in minor units.
BUYER_FUNDS = 5_000_000
#: Generous: a worker starts in about a second.
DEADLINE_SECONDS = 120


@dataclass
class Scene:
    ctx: Context
    url: str
    directory: Path
    buyer_id: str
    seller_id: str
    #: delivered, inspection over: to be released
    to_release: list[EscrowOrder] = field(default_factory=list)
    #: funded, never shipped, ship-by passed: to be refunded
    to_refund: list[EscrowOrder] = field(default_factory=list)
    fees_before: int = 0

    @property
    def orders(self) -> list[EscrowOrder]:
        return self.to_release + self.to_refund

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOKO_")}
        return env | {"SOKO_DATABASE_URL": self.url, **extra}

    def start_worker(self, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(SOKO), "worker", "--once"],
            env=self.env(**extra),
            cwd=self.directory,  # no stray .env file
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run_worker(self, **extra: str) -> tuple[int, str]:
        worker = self.start_worker(**extra)
        output, _ = worker.communicate(timeout=DEADLINE_SECONDS)
        return worker.returncode, output

    def current(self) -> dict[str, EscrowOrder]:
        return {order.id: escrow.get_order(self.ctx, order.id) for order in self.orders}

    def fee(self, amount: int) -> int:
        return merchant_rate(self.ctx.merchant_rates, "KES", CATEGORY).fee_for(amount)


@pytest.fixture
def scene(database_url: str, tmp_path: Path) -> Iterator[Scene]:
    """The orders, made on a clock that runs days behind the real one: the worker, on the
    real clock, finds every timer due."""
    inspection = timedelta(seconds=limits.ESCROW_INSPECTION_SECONDS)
    clock = FakeClock(datetime.now(UTC) - inspection - 3 * DAY)
    runtime = bootstrap.build(
        Settings(database_url=database_url, pin_hash_time_cost=1, pin_hash_memory_kib=8),
        clock=clock,
    )
    ctx = runtime.context
    assert ctx.escrow.inspection_seconds == limits.ESCROW_INSPECTION_SECONDS
    shipments.add_carrier(ctx, code="sendy", name="Sendy")
    buyer = consumer(ctx, funds=Money.of(BUYER_FUNDS, "KES").to_decimal_string())
    seller = shop(ctx, CATEGORY)
    scene = Scene(ctx, database_url, tmp_path, buyer.id, seller.user_id)

    def funded(amount: str) -> EscrowOrder:
        made = escrow.create_order(
            ctx, seller_id=seller.user_id, buyer_id=buyer.id, amount=kes(amount), items=ITEMS,
            ship_by=clock.now() + DAY, idempotency_key=key(),
        )  # fmt: skip
        return escrow.fund(ctx, buyer_id=buyer.id, order_id=made.id, idempotency_key=key())

    for n in range(DELIVERED):
        order = funded(f"{1000 + 111 * n}.00")
        escrow.ship(
            ctx, seller_id=seller.user_id, order_id=order.id, carrier_code="sendy",
            tracking_number=f"SND-{n}", idempotency_key=key(),
        )  # fmt: skip
        with ctx.unit_of_work() as uow:
            assert escrow.apply_carrier_step_in(uow, ctx, order.id, EscrowAction.DELIVER)
            uow.commit()
        scene.to_release.append(escrow.get_order(ctx, order.id))
    scene.to_refund = [funded(f"{2000 + 7 * n}.00") for n in range(UNSHIPPED)]
    scene.fees_before = fees(ctx)
    now = datetime.now(UTC)
    for order in scene.orders:
        assert order.timer_due_at is not None and order.timer_due_at < now - DAY, order
    assert {o.state for o in scene.to_release} == {S.DELIVERED}
    assert {o.state for o in scene.to_refund} == {S.FUNDED}
    yield scene
    runtime.close()


def moved_by(output: str) -> int:
    """How many orders the timers job moved, from the worker's report of its tick."""
    match = re.search(r"\{.*\}", output, re.DOTALL)
    assert match is not None, output
    handled = ast.literal_eval(match.group(0))
    moved = handled["run_escrow_timers"]
    assert isinstance(moved, int)
    return moved


def check_books(scene: Scene) -> dict[str, EscrowOrder]:
    """Every order either untouched or moved exactly once, and the money where it says."""
    ctx = scene.ctx
    now = scene.current()
    released = refunded = 0
    held = 0
    engine = ctx.unit_of_work.engine  # type: ignore[attr-defined]
    with ctx.unit_of_work(read_only=True) as uow, engine.connect() as connection:
        for first in scene.orders:
            order = now[first.id]
            assert order.hold_id == first.hold_id is not None
            hold = uow.ledger.pending_state(order.hold_id)
            # The hold is resolved at most once, by one transfer.
            resolutions = connection.execute(
                sa.select(sa.func.count()).where(transfers.c.pending_id == order.hold_id)
            ).scalar_one()
            by_code = dict(
                connection.execute(
                    sa.select(transfers.c.code, sa.func.count())
                    # The post or void of the hold carries its code and reference too: it is
                    # counted above, among the resolutions.
                    .where(transfers.c.reference == order.id, transfers.c.pending_id.is_(None))
                    .group_by(transfers.c.code)
                ).all()
            )
            assert by_code.pop(TransferCode.ESCROW_HOLD.value) == 1, by_code
            if order.state is S.RELEASED:
                assert first in scene.to_release
                fee = scene.fee(order.amount)
                assert (order.released, order.fee, order.refunded) == (order.amount, fee, 0)
                assert (hold, resolutions) == (PendingState.POSTED, 1)
                expected = {TransferCode.ESCROW_RELEASE.value: 1} | (
                    {TransferCode.FEE.value: 1} if fee else {}
                )
                assert by_code == expected, by_code
                assert order.timer_due_at is None
                released += order.amount
            elif order.state is S.REFUNDED:
                assert first in scene.to_refund
                assert (order.released, order.fee, order.refunded) == (0, 0, order.amount)
                assert (hold, resolutions) == (PendingState.VOIDED, 1)
                assert by_code == {}, by_code
                assert order.timer_due_at is None
                refunded += order.amount
            else:  # untouched
                assert (order.state, order.timer_due_at) == (first.state, first.timer_due_at)
                assert (order.released, order.fee, order.refunded) == (0, 0, 0)
                assert (hold, resolutions) == (PendingState.PENDING, 0)
                assert by_code == {}, by_code
                held += order.amount
    paid = sum(o.amount - scene.fee(o.amount) for o in now.values() if o.state is S.RELEASED)
    fee_total = sum(scene.fee(o.amount) for o in now.values() if o.state is S.RELEASED)
    assert balance(ctx, scene.seller_id) == paid
    assert fees(ctx) - scene.fees_before == fee_total
    assert balance(ctx, scene.buyer_id) == BUYER_FUNDS - released
    assert available(ctx, scene.buyer_id) == BUYER_FUNDS - released - held
    account = ledger.system_account(ctx, AccountCode.ESCROW, "KES")
    assert account.credits_pending - account.debits_pending == held
    assert account.credits_posted == account.debits_posted
    report = reconcile(ctx)
    assert report.passed, [(c.name, c.problems) for c in report.checks if not c.passed]
    return now


def assert_all_moved_once(scene: Scene) -> None:
    final = check_books(scene)
    assert [final[o.id].state for o in scene.to_release] == [S.RELEASED] * DELIVERED
    assert [final[o.id].state for o in scene.to_refund] == [S.REFUNDED] * UNSHIPPED
    # Nothing is left to do: another run moves nothing.
    status, output = scene.run_worker()
    assert status == 0, output
    assert moved_by(output) == 0
    assert check_books(scene) == final
    report = subprocess.run(
        [str(SOKO), "reconcile"], env=scene.env(), cwd=scene.directory, capture_output=True,
        text=True, timeout=DEADLINE_SECONDS, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    assert "All invariants hold." in report.stdout


def test_killed_after_the_first_order_of_a_batch(scene: Scene) -> None:
    """The worker dies right after the first order it moved committed: that one is settled,
    once; the rest are untouched. The next worker settles the rest and nothing twice."""
    status, output = scene.run_worker(SOKO_FAULT="escrow_after_first_timer")
    assert status == 137, output
    after_crash = check_books(scene)
    moved = [o for o in after_crash.values() if o.state in (S.RELEASED, S.REFUNDED)]
    assert len(moved) == 1, [(o.id, o.state) for o in after_crash.values()]
    status, output = scene.run_worker()
    assert status == 0, output
    assert moved_by(output) == DELIVERED + UNSHIPPED - 1
    assert_all_moved_once(scene)
    # The order settled before the crash was not settled again.
    [first] = moved
    assert scene.current()[first.id] == first


def test_two_workers_on_the_same_due_orders(scene: Scene) -> None:
    """Two workers started together share the batch: each order moves once, and between
    them they report exactly as many moves as there were orders."""
    workers = [scene.start_worker(), scene.start_worker()]
    outputs = [worker.communicate(timeout=DEADLINE_SECONDS)[0] for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output
    assert sum(moved_by(output) for output in outputs) == DELIVERED + UNSHIPPED, outputs
    assert_all_moved_once(scene)
