"""The credit commands: a merchant's score, the lender's capital and the loan book, on the demo."""

from __future__ import annotations

import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from soko import bootstrap
from soko.channels.cli import main as cli_main
from soko.channels.cli.main import app
from soko.config import Settings
from soko.credit import service as credit
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode

runner = CliRunner()
#: Wide enough that no table cell wraps.
WIDE = {"COLUMNS": "240"}


@pytest.fixture
def env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The demo on SQLite: a grocery with six months of sales and an offer, the lender funded."""
    # Rich fixes a console's width when it is made if COLUMNS is set then (a terminal's, or a
    # test worker's): the tables are read back cell by cell, so print them wide.
    monkeypatch.setattr(cli_main, "console", Console(width=240))
    env = {"SOKO_DATABASE_URL": sqlite_url, **WIDE}
    loaded = runner.invoke(app, ["demo"], env=env)
    assert loaded.exit_code == 0, loaded.output
    return env


def grocery_id(env: dict[str, str]) -> str:
    shown = runner.invoke(app, ["demo"], env=env)
    assert "already loaded" in shown.output
    runtime = bootstrap.build(Settings(database_url=env["SOKO_DATABASE_URL"]))
    try:
        with runtime.context.unit_of_work(read_only=True) as uow:
            user = uow.people.get_user_by_phone("+254711300200")
    finally:
        runtime.close()
    assert user is not None
    return user.id


def test_score_shows_features_points_and_reasons_and_stores_nothing(
    env: dict[str, str],
) -> None:
    merchant_id = grocery_id(env)
    result = runner.invoke(app, ["credit", "score", merchant_id], env=env)
    assert result.exit_code == 0, result.output
    out = result.output
    for shown in ("active_days", "median_weekly_volume_minor", "Scorecard sc-", "score"):
        assert shown in out
    assert re.search(r"Score \d+, grade [A-Z]\.", out)
    assert "Offer: up to KES " in out
    # Scoring stored nothing: a second score is the same, and the offer the demo made stands.
    again = runner.invoke(app, ["credit", "score", merchant_id], env=env)
    assert again.output == out
    runtime = bootstrap.build(Settings(database_url=env["SOKO_DATABASE_URL"]))
    try:
        found = credit.credit_offers(runtime.context, merchant_id)
    finally:
        runtime.close()
    assert len(found.offers) == 1


def test_a_newcomer_is_scored_with_its_reasons(env: dict[str, str]) -> None:
    runtime = bootstrap.build(Settings(database_url=env["SOKO_DATABASE_URL"]))
    try:
        with runtime.context.unit_of_work(read_only=True) as uow:
            kiosk = uow.people.get_user_by_phone("+254700100200")
    finally:
        runtime.close()
    assert kiosk is not None
    result = runner.invoke(app, ["credit", "score", kiosk.id], env=env)
    assert result.exit_code == 0, result.output
    assert "No offer." in result.output
    assert "Reasons:" in result.output and "(tenure_too_short)" in result.output
    assert "To improve:" in result.output


def test_score_refuses_an_unknown_merchant(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["credit", "score", "usr_unknown"], env=env)
    assert result.exit_code == 2
    assert "user_not_found" in result.output


def test_fund_moves_settlement_to_lender_capital(env: dict[str, str]) -> None:
    def capital() -> int:
        runtime = bootstrap.build(Settings(database_url=env["SOKO_DATABASE_URL"]))
        try:
            return ledger.system_total(runtime.context, AccountCode.LENDER_CAPITAL, "KES").balance
        finally:
            runtime.close()

    before = capital()
    result = runner.invoke(app, ["credit", "fund", "KES", "2500.50"], env=env)
    assert result.exit_code == 0, result.output
    assert "Lender capital funded with KES 2500.50." in result.output
    assert capital() == before + 250_050
    refused = runner.invoke(app, ["credit", "fund", "KES", "0"], env=env)
    assert (refused.exit_code, refused.output.split(":")[0]) == (2, "amount_must_be_positive")
    assert capital() == before + 250_050


def test_the_report_shows_the_book_per_currency(env: dict[str, str]) -> None:
    empty = runner.invoke(app, ["loans", "report"], env=env)
    assert empty.exit_code == 0 and "No loans yet." in empty.output
    merchant_id = grocery_id(env)
    runtime = bootstrap.build(Settings(database_url=env["SOKO_DATABASE_URL"]))
    try:
        [offer] = credit.credit_offers(runtime.context, merchant_id).offers
        credit.accept_offer(runtime.context, merchant_id=merchant_id, offer_id=offer.id,
                            amount=Money.parse("5000.00", "KES"),
                            idempotency_key="cli-loan")  # fmt: skip
    finally:
        runtime.close()
    result = runner.invoke(app, ["loans", "report"], env=env)
    assert result.exit_code == 0, result.output
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in result.output.splitlines()
        if line.startswith("│")
    ]
    book = next(row for row in rows if len(row) == 11)
    # currency, loans, active, disbursed, outstanding, repaid, fees, PAR1/30/90, written off
    assert book == ["KES", "1", "1", "5000.00", "5000.00", "0.00", "0.00", "0.00", "0.00",
                    "0.00", "0.00"]  # fmt: skip
    assert "Default rate" in result.output
    segments = [row for row in rows if len(row) == 6]
    assert {row[1] for row in segments} == {"grade", "scorecard"}
    assert all(row[5] == "0.00%" for row in segments)
