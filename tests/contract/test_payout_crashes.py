"""A `soko worker` killed in the middle of a payout loses nothing and pays nothing twice.

Each test runs the real worker as a subprocess on a real database (SQLite, then PostgreSQL),
kills it at a chosen point (SOKO_FAULT makes it exit 137 exactly there, as SIGKILL would; one
test sends SIGKILL itself), restarts it, and checks the end state: either the money is paid out
(wallet debited, settlement and fees credited, the rail paid once) or it is back in the wallet
(the rail failed it), never both, never neither; and `soko reconcile` passes.

The subprocess runs on the real clock, so the sandbox pays at once and claims last one second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from soko import bootstrap
from soko.config import Settings
from soko.context import Context
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import PendingState
from soko.payouts import service as payouts
from soko.payouts.domain import BankAccount, Destination, Payout, PayoutState
from soko.payouts.tables import sandbox_rail_payouts
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails

SOKO = Path(sys.executable).with_name("soko")
PAYING = BankAccount("01", "1234567890", "Wanjiru Kamau")
FAILING = BankAccount("01", "1234560000", "Wanjiru Kamau")
BALANCE = 10_000_00
AMOUNT = 5_000_00
FEE = 30_00
#: Generous: a worker starts in about a second; a payout then takes two or three.
DEADLINE_SECONDS = 60


@dataclass
class Scene:
    ctx: Context
    url: str
    directory: Path
    payout: Payout
    wallet_account_id: str
    settlement_before: tuple[int, int]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOKO_")}
        return env | {
            "SOKO_DATABASE_URL": self.url,
            "SOKO_SANDBOX_PAYOUT_SECONDS": "0",
            "SOKO_PAYOUT_LEASE_SECONDS": "1",
            **extra,
        }

    def start_worker(self, **extra: str) -> subprocess.Popen[bytes]:
        # The child keeps its own copy of the descriptor: ours can close at once.
        with (self.directory / f"worker-{time.monotonic_ns()}.log").open("wb") as log:
            return subprocess.Popen(
                [str(SOKO), "worker", "--interval", "0.05"],
                env=self.env(**extra),
                cwd=self.directory,  # no stray .env file
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def current(self) -> Payout:
        return payouts.get_payout(self.ctx, self.payout.id)

    def wait_for(self, *states: PayoutState) -> Payout:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            payout = self.current()
            if payout.state in states:
                return payout
            time.sleep(0.05)  # a real process on the real clock: nothing to fake here
        raise AssertionError(f"payout still {self.current().state}, wanted {states}")

    def wallet(self) -> tuple[int, int]:
        account = ledger.get_account(self.ctx, self.wallet_account_id)
        return account.balance, account.available

    def holds(self) -> list[PendingState | None]:
        with self.ctx.unit_of_work(read_only=True) as uow:
            return [
                uow.ledger.pending_state(hold_id)
                for hold_id in (self.payout.hold_id, self.payout.fee_hold_id)
                if hold_id is not None
            ]

    def rail_rows(self) -> list[Any]:
        engine = self.ctx.unit_of_work.engine  # type: ignore[attr-defined]
        with engine.connect() as connection:
            return list(connection.execute(sa.select(sandbox_rail_payouts)))


@pytest.fixture
def scene_for(database_url: str, tmp_path: Path) -> Iterator[Any]:
    runtimes = []

    def make(destination: Destination) -> Scene:
        # The real clock: the worker subprocess reads it too.
        runtime = bootstrap.build(
            Settings(database_url=database_url, pin_hash_time_cost=1, pin_hash_memory_kib=8)
        )
        runtimes.append(runtime)
        ctx = runtime.context
        merchant = users.register(
            ctx,
            kind=UserKind.MERCHANT,
            phone="+254722123456",
            name="Wanjiru",
            merchant=MerchantDetails(trading_name="Wanjiru's kiosk", category_code="5411"),
        )
        wallet = wallets.open_wallet(ctx, merchant.id, "KES").wallet
        settlement = ledger.system_account(ctx, AccountCode.SETTLEMENT, "KES")
        ledger.transfer(
            ctx,
            debit_account_id=settlement.id,
            credit_account_id=wallet.account_id,
            amount=Money.of(BALANCE, "KES"),
            code=TransferCode.DEPOSIT,
        )
        before = ledger.get_account(ctx, settlement.id)
        payout = payouts.request_payout(
            ctx,
            merchant_id=merchant.id,
            amount=Money.of(AMOUNT, "KES"),
            destination=destination,
            idempotency_key="crash-test",
        )
        assert payout.fee == FEE
        return Scene(
            ctx,
            database_url,
            tmp_path,
            payout,
            wallet.account_id,
            (before.debits_posted, before.credits_posted),
        )

    yield make
    for runtime in runtimes:
        runtime.close()


def finish(scene: Scene, *, submissions: int) -> None:
    """Restart the worker, let it finish the payout, and check that exactly one outcome holds."""
    worker = scene.start_worker()
    try:
        final = scene.wait_for(PayoutState.PAID, PayoutState.FAILED)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=DEADLINE_SECONDS)
    [row] = scene.rail_rows()  # one payout at the rail, however often it was submitted
    assert (row.payout_id, row.submissions) == (scene.payout.id, submissions)
    settlement = ledger.system_account(scene.ctx, AccountCode.SETTLEMENT, "KES")
    fees = ledger.system_total(scene.ctx, AccountCode.FEES, "KES")
    before_debits, before_credits = scene.settlement_before
    if final.state is PayoutState.PAID:
        assert row.outcome == "paid"
        assert scene.wallet() == (BALANCE - AMOUNT - FEE,) * 2
        assert (settlement.debits_posted, settlement.credits_posted) == (
            before_debits,
            before_credits + AMOUNT,
        )
        assert fees.balance == FEE
        assert scene.holds() == [PendingState.POSTED, PendingState.POSTED]
    else:
        assert (final.state, row.outcome) == (PayoutState.FAILED, "failed")
        assert scene.wallet() == (BALANCE, BALANCE)
        assert (settlement.debits_posted, settlement.credits_posted) == scene.settlement_before
        assert fees.balance == 0
        assert scene.holds() == [PendingState.VOIDED, PendingState.VOIDED]
    report = subprocess.run(
        [str(SOKO), "reconcile"],
        env=scene.env(),
        cwd=scene.directory,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    assert report.returncode == 0, report.stdout + report.stderr
    assert "All invariants hold." in report.stdout


def assert_in_flight(scene: Scene) -> None:
    """Mid-payout: the money is held, neither paid out nor given back."""
    assert scene.wallet() == (BALANCE, BALANCE - AMOUNT - FEE)
    assert scene.holds() == [PendingState.PENDING, PendingState.PENDING]


@pytest.mark.parametrize(("destination", "outcome"), [(PAYING, "paid"), (FAILING, "failed")])
def test_killed_after_the_rail_took_the_payout(
    scene_for: Any, destination: Destination, outcome: str
) -> None:
    """The rail has it; we never recorded its reference. The next worker resubmits after the
    claim runs out, gets the same reference, and the rail pays (or fails) it once."""
    scene: Scene = scene_for(destination)
    crashed = scene.start_worker(SOKO_FAULT="payout_after_submit")
    assert crashed.wait(timeout=DEADLINE_SECONDS) == 137
    assert scene.current().state is PayoutState.REQUESTED
    [row] = scene.rail_rows()
    assert (row.payout_id, row.submissions, row.outcome) == (scene.payout.id, 1, outcome)
    assert_in_flight(scene)
    finish(scene, submissions=2)
    assert scene.current().state.value == outcome


@pytest.mark.parametrize(("destination", "outcome"), [(PAYING, "paid"), (FAILING, "failed")])
def test_killed_after_the_rail_answered(
    scene_for: Any, destination: Destination, outcome: str
) -> None:
    """The rail has paid (or failed) it; we never recorded the answer. The next worker asks
    again and settles it once."""
    scene: Scene = scene_for(destination)
    crashed = scene.start_worker(SOKO_FAULT="payout_after_outcome")
    assert crashed.wait(timeout=DEADLINE_SECONDS) == 137
    assert scene.current().state is PayoutState.SUBMITTED
    assert_in_flight(scene)
    finish(scene, submissions=1)
    assert scene.current().state.value == outcome


def test_sigkill_while_the_rail_is_working(scene_for: Any) -> None:
    """SIGKILL at whatever point the worker has reached once the payout is submitted."""
    scene: Scene = scene_for(PAYING)
    worker = scene.start_worker(SOKO_SANDBOX_PAYOUT_SECONDS="3")
    try:
        scene.wait_for(PayoutState.SUBMITTED)
    finally:
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=DEADLINE_SECONDS) == -signal.SIGKILL
    assert_in_flight(scene)
    finish(scene, submissions=1)
    assert scene.current().state is PayoutState.PAID
