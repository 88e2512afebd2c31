"""Soko and a Daraja sandbox talking over real HTTP, and what the M-Pesa tests ask of them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

from fakes import FakeClock
from merchants import consumer, kes, key
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.config import Settings
from soko.context import Context
from soko.deposits import service as deposits
from soko.deposits.domain import Deposit, DepositState
from soko.deposits.ports import Mpesa
from soko.ledger.reconcile import reconcile
from soko.people.domain import User
from soko.rails.mpesa.daraja import DarajaClient
from soko.rails.mpesa.sandbox import DarajaSandbox, Script

TOKEN = "CallbackToken0123456789abcdef"
#: argon2 at its minimum cost, as in tests/conftest.py.
FAST_PINS = {"pin_hash_time_cost": 1, "pin_hash_memory_kib": 8}
#: The worker asks about a deposit this long after its push (on the fake clock).
QUERY_AFTER = 60
STATUS_AFTER = 300


def wait_for(condition: Callable[[], object], *, seconds: float = 30.0) -> None:
    """Polls `condition` every 10 ms; fails after `seconds` (a bound on the sandbox's threads,
    not a sleep standing in for time)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


@dataclass
class MpesaWorld:
    runtime: Runtime
    sandbox: DarajaSandbox
    clock: FakeClock
    url: str

    @property
    def ctx(self) -> Context:
        return self.runtime.context

    @property
    def mpesa(self) -> Mpesa:
        assert self.ctx.mpesa is not None
        return self.ctx.mpesa

    @property
    def daraja(self) -> DarajaClient:
        daraja = self.mpesa.daraja
        assert isinstance(daraja, DarajaClient)
        return daraja

    def person(self, name: str = "Amina") -> User:
        return consumer(self.ctx, name)

    def deposit(
        self, user: User, amount: str = "100.00", *, script: Script | None = None
    ) -> Deposit:
        if script is not None:
            self.sandbox.script(script)
        return deposits.request_deposit(
            self.ctx, user_id=user.id, amount=kes(amount), phone=None, idempotency_key=key()
        )

    def current(self, deposit: Deposit) -> Deposit:
        return deposits.get_deposit(self.ctx, deposit.id)

    def settled(self, deposit: Deposit) -> Deposit:
        wait_for(lambda: self.current(deposit).state not in (DepositState.INITIATED,
                                                           DepositState.PENDING))  # fmt: skip
        return self.current(deposit)

    def movements(self, reference: str) -> int:
        """Ledger transfers that carry `reference` (a receipt or a deposit id)."""
        with self.runtime.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.text("SELECT count(*) FROM transfers WHERE reference = :r"),
                    {"r": reference},
                ).scalar_one()
            )

    def callback(self, path: str, body: Any, *, token: str = TOKEN) -> httpx.Response:
        return httpx.post(f"{self.url}/callbacks/{token}/{path}", json=body, timeout=10)

    def reconciled(self) -> bool:
        return reconcile(self.ctx).passed

    def statement_agrees(self) -> bool:
        return deposits.match_statement_text(self.ctx, self.sandbox.statement_csv()).agrees


def settings_for(
    database_url: str, sandbox: DarajaSandbox, callback_base: str, certificate: Path, **extra: Any
) -> Settings:
    credentials = sandbox.credentials()
    values: dict[str, Any] = {
        "database_url": database_url,
        "mpesa_base_url": credentials.base_url,
        "mpesa_consumer_key": credentials.consumer_key,
        "mpesa_consumer_secret": credentials.consumer_secret,
        "mpesa_shortcode": credentials.shortcode,
        "mpesa_passkey": credentials.passkey,
        "mpesa_initiator_name": credentials.initiator_name,
        "mpesa_initiator_password": credentials.initiator_password,
        "mpesa_certificate_path": str(certificate),
        "mpesa_callback_base_url": callback_base,
        "mpesa_callback_token": TOKEN,
        "mpesa_callback_networks": "127.0.0.1/32",
        "mpesa_query_after_seconds": QUERY_AFTER,
        "mpesa_status_after_seconds": STATUS_AFTER,
        "payout_rail": "mpesa",
        **FAST_PINS,
    }
    values.update(extra)
    return Settings(**values)


@contextmanager
def serve_world(
    database_url: str,
    sandbox: DarajaSandbox,
    clock: FakeClock,
    tmp_path: Path,
    **extra: Any,
) -> Iterator[MpesaWorld]:
    """Soko's API on a free loopback port, M-Pesa pointed at `sandbox`, its callbacks at us."""
    certificate = tmp_path / "daraja-cert.pem"
    certificate.write_text(sandbox.certificate_pem, encoding="ascii")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings_for(database_url, sandbox, f"{url}/callbacks", certificate, **extra)
    runtime = bootstrap.build(settings, clock=clock)
    config = uvicorn.Config(
        create_app(runtime), log_level="warning", lifespan="off", ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    try:
        yield MpesaWorld(runtime, sandbox, clock, url)
    finally:
        # The sandbox's callbacks stop before the server does (its fixture ends after ours).
        sandbox.stop()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        runtime.close()
