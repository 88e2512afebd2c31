"""Fixtures for M-Pesa end to end: a Daraja sandbox, and Soko served over real HTTP (so the
sandbox's callbacks arrive as Daraja's would) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fakes import FakeClock
from mpesa_world import MpesaWorld, serve_world
from soko.rails.mpesa.sandbox import DarajaSandbox


@pytest.fixture(scope="session")
def sandbox_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sandbox(sandbox_key: rsa.RSAPrivateKey) -> Iterator[DarajaSandbox]:
    with DarajaSandbox(private_key=sandbox_key) as running:
        yield running


@pytest.fixture
def world(
    database_url: str, sandbox: DarajaSandbox, clock: FakeClock, tmp_path: Path
) -> Iterator[MpesaWorld]:
    with serve_world(database_url, sandbox, clock, tmp_path) as running:
        yield running
