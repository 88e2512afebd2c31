"""A live `soko serve` killed with SIGKILL at random moments loses no payment and makes none twice.

Clients send transfers and till payments to a real server process on a real database (SQLite,
then PostgreSQL), each with its own Idempotency-Key, and retry the same key until they get an
answer. Meanwhile the server is killed (SIGKILL, the whole process group) at random moments,
several times, and restarted. At the end every key that was answered names exactly one payment,
the database holds exactly one payment per answered key and no other, and `soko reconcile`
passes: a payment either happened once or not at all, whatever moment the kill hit.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from soko import bootstrap
from soko.config import Settings
from soko.kernel.money import Money
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.payments.tables import payments as payments_table
from soko.people import access
from soko.people import service as users
from soko.people.domain import UserKind
from soko.people.service import MerchantDetails

pytestmark = pytest.mark.reliability

SOKO = Path(sys.executable).with_name("soko")
KILLS = 4
CLIENTS = 4
PAYERS = 8
#: Each client stops after this many answered payments; the whole test is bounded by time too.
PAYMENTS_PER_CLIENT = 40
DEADLINE_SECONDS = 120


@dataclass
class Server:
    url: str
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOKO_")}
        env |= {"SOKO_DATABASE_URL": self.url, "SOKO_PIN_HASH_TIME_COST": "1",
                "SOKO_PIN_HASH_MEMORY_KIB": "8"}  # fmt: skip
        self.starts += 1
        with (self.directory / f"serve-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [str(SOKO), "serve", "--port", str(self.port)],
                env=env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes all of it
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("soko serve did not come up")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Client:
    """Sends payments; retries the same key until the server answers it."""

    number: int
    base: str
    token: str
    payers: list[str]
    till: str
    answered: dict[str, str] = field(default_factory=dict)
    refused: int = 0
    #: Requests sent again because the server died under them (or was down).
    retries: int = 0

    def run(self, stop: threading.Event) -> None:
        chooser = random.Random(self.number)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, timeout=5) as http:
            sequence = 0
            while len(self.answered) < PAYMENTS_PER_CLIENT and not stop.is_set():
                sequence += 1
                key = f"client-{self.number}-{sequence}"
                payer = chooser.choice(self.payers)
                if chooser.random() < 0.5:
                    path, body = (
                        "/v1/transfers",
                        {
                            "sender_id": payer,
                            "to_phone": f"+2547990{chooser.randrange(10_000):05d}",
                            "amount": {"amount": "1.00", "currency": "KES"},
                        },
                    )
                else:
                    path, body = (
                        "/v1/merchant-payments",
                        {
                            "payer_id": payer,
                            "till_number": self.till,
                            "amount": {"amount": "1.00", "currency": "KES"},
                        },
                    )
                while not stop.is_set():
                    try:
                        response = http.post(
                            path, json=body, headers=headers | {"Idempotency-Key": key}
                        )
                    except httpx.HTTPError:
                        self.retries += 1
                        time.sleep(0.05)  # the server is down: the same key again
                        continue
                    if response.status_code == 201:
                        self.answered[key] = response.json()["id"]
                        break
                    if response.status_code in (409, 503):
                        time.sleep(0.02)  # in flight or busy: the same key again
                        continue
                    assert response.status_code == 422, response.text
                    self.refused += 1
                    break


@pytest.fixture
def scene(database_url: str) -> tuple[str, str, list[str], str]:
    runtime = bootstrap.build(
        Settings(database_url=database_url, pin_hash_time_cost=1, pin_hash_memory_kib=8)
    )
    ctx = runtime.context
    agent = users.register(ctx, kind=UserKind.AGENT, phone="+254733999000", name="Agent")
    payments.top_up_float(ctx, agent_id=agent.id, amount=Money.parse("100000.00", "KES"),
                          idempotency_key="float")  # fmt: skip
    payers = []
    for n in range(PAYERS):
        payer = users.register(ctx, kind=UserKind.CONSUMER, phone=f"+25471199{n:04d}",
                               name=f"Payer {n}")  # fmt: skip
        users.set_kyc_tier(ctx, payer.id, 2, national_id=f"1000{n:04d}")
        payments.cash_in(
            ctx, agent_id=agent.id, customer_phone=payer.phone,
            amount=Money.parse("5000.00", "KES"), idempotency_key=f"in-{n}",
        )  # fmt: skip
        payers.append(payer.id)
    shop = users.register(ctx, kind=UserKind.MERCHANT, phone="+254700999000", name="Shop",
                          merchant=MerchantDetails("Shop", "5411"))  # fmt: skip
    till = users.get_merchant(ctx, shop.id).till_number
    key = access.create_api_key(ctx, role="operator", name="crash test")
    runtime.close()
    return database_url, key.secret, payers, till


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    scene: tuple[str, str, list[str], str], tmp_path: Path
) -> None:
    url, token, payers, till = scene
    server = Server(url, tmp_path, port=_free_port())
    server.start()
    clients = [Client(n, server.base, token, payers, till) for n in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    killer = random.Random(2026)
    try:
        for _ in range(KILLS):
            time.sleep(killer.uniform(0.3, 1.2))  # the server's real time: payments in flight
            server.kill()
            server.start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        if server.process is not None and server.process.poll() is None:
            server.kill()
    assert not any(thread.is_alive() for thread in threads)
    assert all(len(c.answered) == PAYMENTS_PER_CLIENT for c in clients), [
        len(c.answered) for c in clients
    ]

    runtime = bootstrap.build(Settings(database_url=url))
    try:
        ctx = runtime.context
        answered = {key: pid for c in clients for key, pid in c.answered.items()}
        # Every answer names a distinct payment that exists...
        assert len(set(answered.values())) == len(answered)
        for payment_id in answered.values():
            payments.get_payment(ctx, payment_id)
        # ...and the database holds no payment that no answer names: nothing doubled by the
        # retries of a request whose answer a kill swallowed.
        with runtime.engine.connect() as connection:
            query = sa.select(sa.func.count()).where(payments_table.c.kind.in_(["p2p", "merchant"]))
            assert connection.execute(query).scalar_one() == len(answered)
        assert reconcile(ctx).passed
        assert server.starts == KILLS + 1
        # The kills hit requests in flight: without retries this test would prove nothing.
        assert sum(c.retries for c in clients) > 0
    finally:
        runtime.close()
