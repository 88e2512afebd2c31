"""The USSD channel on SQLite and PostgreSQL, and a check that no screen is ever cut."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from fakes import FakeClock
from soko.bootstrap import Runtime
from ussd_world import Ussd, world


@pytest.fixture(autouse=True)
def no_screen_is_cut(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every screen fits as written: none relies on Screen.render's last-resort cut."""
    with caplog.at_level(logging.WARNING, logger="soko.channels.ussd.menus"):
        yield
    cut = [r.getMessage() for r in caplog.records if "too long" in r.getMessage()]
    assert not cut, cut


@pytest.fixture
def ussd(any_runtime: Runtime, clock: FakeClock) -> Iterator[Ussd]:
    """The USSD channel on SQLite, then on PostgreSQL."""
    yield from world(any_runtime, clock)


@pytest.fixture
def sqlite_ussd(runtime: Runtime, clock: FakeClock) -> Iterator[Ussd]:
    """The USSD channel on SQLite only: for checks of the HTTP edge."""
    yield from world(runtime, clock)
