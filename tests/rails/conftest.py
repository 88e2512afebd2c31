"""Fixtures for the M-Pesa rail: a started Daraja sandbox, a local callback receiver, and a
client whose settings point at both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from daraja_world import settings_for

from receiver import Receiver, serve
from soko.rails.mpesa.daraja import DarajaClient
from soko.rails.mpesa.sandbox import DarajaSandbox


@pytest.fixture(scope="session")
def sandbox_key() -> rsa.RSAPrivateKey:
    # One RSA key for every sandbox of the session: generating one per test costs ~0.1 s each.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sandbox(sandbox_key: rsa.RSAPrivateKey) -> Iterator[DarajaSandbox]:
    with DarajaSandbox(private_key=sandbox_key) as running:
        yield running


@pytest.fixture(scope="session")
def shared_receiver() -> Iterator[Receiver]:
    # One receiver for the session: stopping one waits out its 0.5 s poll, per test otherwise.
    with serve() as receiver:
        yield receiver


@pytest.fixture
def hooks(shared_receiver: Receiver) -> Receiver:
    """The receiver, emptied. A test's sandbox is stopped (its worker joined) before the next
    test starts, so no callback of one test can arrive in another's."""
    with shared_receiver._lock:
        shared_receiver.received.clear()
        shared_receiver.script.clear()
    shared_receiver.reply = {}
    shared_receiver.default = 200
    return shared_receiver


@pytest.fixture
def client(sandbox: DarajaSandbox, hooks: Receiver) -> Iterator[DarajaClient]:
    with DarajaClient(settings_for(sandbox, hooks)) as daraja:
        yield daraja
