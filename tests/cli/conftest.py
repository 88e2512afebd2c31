"""The CLI tests read Rich tables back cell by cell, at the width each test asks for."""

from __future__ import annotations

import pytest
from rich.console import Console

from soko.channels.cli import main as cli_main


@pytest.fixture(autouse=True)
def consoles_follow_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rich fixes a console's width when it is made if COLUMNS is set then (a test worker's
    # environment may set it): made afresh without it, each command's width follows the
    # COLUMNS the test passes to the runner.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(cli_main, "console", Console())
    monkeypatch.setattr(cli_main, "errors_console", Console(stderr=True))
