"""API fixtures: the app on a fresh database (SQLite, or both stores), and its people."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from world import Api, People, bearer, populate

from fakes import FakeClock
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.people import access


def _api(runtime: Runtime, clock: FakeClock) -> Iterator[Api]:
    key = access.create_api_key(runtime.context, role="operator", name="tests")
    with TestClient(create_app(runtime)) as client:
        yield Api(client, runtime.context, clock, bearer(key.secret))


@pytest.fixture
def api(runtime: Runtime, clock: FakeClock) -> Iterator[Api]:
    """The API on SQLite."""
    yield from _api(runtime, clock)


@pytest.fixture
def any_api(any_runtime: Runtime, clock: FakeClock) -> Iterator[Api]:
    """The API on SQLite, then on PostgreSQL: for the money-moving happy paths."""
    yield from _api(any_runtime, clock)


@pytest.fixture
def people(api: Api) -> People:
    return populate(api.ctx)


@pytest.fixture
def any_people(any_api: Api) -> People:
    return populate(any_api.ctx)
