"""A `soko worker` killed with SIGKILL while it delivers webhooks loses no event.

Till payments queue `payment.succeeded` events for a merchant's endpoint (a real local receiver
that verifies every signature); the real worker delivers them, slowly (the receiver takes a
while to answer), and is killed at random moments several times and restarted. In the end every
event has reached the receiver, each with a valid signature; an event is sent twice at most when
a kill hit between its POST and the record of it (at-least-once: receivers deduplicate by
webhook-id), and the deliveries all read `succeeded`.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from receiver import Receiver, serve
from soko import bootstrap
from soko.config import Settings
from soko.kernel.money import Money
from soko.notify import service as webhooks
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails

pytestmark = pytest.mark.reliability

SOKO = Path(sys.executable).with_name("soko")
EVENTS = 30
KILLS = 3
DEADLINE_SECONDS = 90


class SlowReceiver(Receiver):
    """Answers after a pause, so that kills land while POSTs are in flight."""

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        time.sleep(0.05)
        return super()._handle(path, headers, body)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve(SlowReceiver()) as running:
        yield running


def test_sigkill_during_webhook_delivery_loses_no_event(
    database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, pin_hash_time_cost=1, pin_hash_memory_kib=8,
                        webhook_allow_private_networks=True)  # fmt: skip
    runtime = bootstrap.build(settings)
    ctx = runtime.context
    agent = users.register(ctx, kind=UserKind.AGENT, phone="+254733999100", name="Agent")
    payer = users.register(ctx, kind=UserKind.CONSUMER, phone="+254711999100", name="Payer")
    users.set_kyc_tier(ctx, payer.id, 2, national_id="10009999")
    payments.top_up_float(ctx, agent_id=agent.id, amount=Money.parse("1000.00", "KES"),
                          idempotency_key="float")  # fmt: skip
    payments.cash_in(ctx, agent_id=agent.id, customer_phone=payer.phone,
                     amount=Money.parse("1000.00", "KES"), idempotency_key="in")  # fmt: skip
    shop = users.register(ctx, kind=UserKind.MERCHANT, phone="+254700999100", name="Shop",
                          merchant=MerchantDetails("Shop", "5411"))  # fmt: skip
    endpoint = webhooks.create_endpoint(
        ctx, owner_id=shop.id, url=f"{receiver.url}/hooks", event_types=["payment.succeeded"]
    )
    receiver.secret = endpoint.secret
    for n in range(EVENTS):
        payments.pay_merchant(
            ctx, payer_id=payer.id, merchant_id=shop.id, amount=Money.parse("1.00", "KES"),
            idempotency_key=f"pay-{n}",
        )  # fmt: skip

    env = {k: v for k, v in os.environ.items() if not k.startswith("SOKO_")}
    env |= {
        "SOKO_DATABASE_URL": database_url,
        "SOKO_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        # A killed worker's claims come back after a second, not after minutes.
        "SOKO_OUTBOX_LEASE_SECONDS": "1",
    }

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{time.monotonic_ns()}.log").open("wb") as log:
            return subprocess.Popen(
                [str(SOKO), "worker", "--interval", "0.05"], env=env, cwd=tmp_path,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    killer = random.Random(25)
    worker = start()
    mid_stream = []  # how many events had arrived at each kill
    try:
        for _ in range(KILLS):
            # Kill while this worker is delivering: once it has sent something.
            arrived = len(receiver.received)
            deadline = time.monotonic() + DEADLINE_SECONDS
            while len(receiver.received) == arrived and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(killer.uniform(0.0, 0.2))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            mid_stream.append(len(receiver.by_webhook_id()))
            worker = start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(receiver.by_webhook_id()) < EVENTS and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a last delivery in flight records its outcome
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    # The kills cut delivery off half-way, or this test would prove nothing.
    assert any(0 < count < EVENTS for count in mid_stream), mid_stream
    delivered = receiver.by_webhook_id()
    assert len(delivered) == EVENTS, f"{len(delivered)} of {EVENTS} events arrived"
    assert all(r.verified for r in receiver.received)
    # At least once, and a repeat only for a POST a kill cut off before its outcome was stored.
    assert sum(delivered.values()) - EVENTS <= KILLS * 20
    page = webhooks.list_deliveries(ctx, endpoint.endpoint.id, limit=EVENTS + 1)
    statuses = {delivery.status for delivery in page.deliveries}
    assert statuses == {"succeeded"}
    runtime.close()
