"""The operator CLI: schema, demo data, reconcile and the worker, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from soko import bootstrap, demo
from soko.channels.cli.main import app
from soko.config import Settings
from soko.db import schema
from soko.db.engine import create_engine
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.errors import ExceedsCredits

runner = CliRunner()


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"SOKO_DATABASE_URL": database_url}


def test_db_upgrade_and_current_on_a_fresh_database(tmp_path: object) -> None:
    env = {"SOKO_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    behind = runner.invoke(app, ["db", "current"], env=env)
    assert behind.exit_code == 1
    assert "current empty" in behind.output

    upgraded = runner.invoke(app, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded from empty to {schema.head_revision()}" in upgraded.output

    again = runner.invoke(app, ["db", "upgrade"], env=env)
    assert f"already at revision {schema.head_revision()}" in again.output
    assert runner.invoke(app, ["db", "current"], env=env).exit_code == 0


def test_demo_loads_once_and_reconciles(env: dict[str, str], database_url: str) -> None:
    def transfers() -> int:
        engine = create_engine(database_url)
        with engine.connect() as connection:
            count = connection.execute(sa.text("SELECT COUNT(*) FROM transfers")).scalar_one()
        engine.dispose()
        return int(count)

    first = runner.invoke(app, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "Demo data loaded: 8 payments (every PIN is 1234)" in first.output
    # 2 float top-ups, 3 cash-ins with their commissions, 2 till payments and a send with
    # their fees, and the escrow order's hold: 15. The grocery's six months: a float top-up, 6
    # cash-ins with their commissions, a sale with its fee on every day but Sunday (155 or 156,
    # by the weekday the history starts on), the lender's capital, and the FX liquidity funded
    # in KES and UGX.
    start = datetime.now(UTC).date() - timedelta(days=demo.HISTORY_DAYS)
    sales = sum(
        1
        for day in range(1, demo.HISTORY_DAYS)
        if (start + timedelta(days=day)).weekday() != 6  # closed on Sundays
    )
    assert sales in (155, 156)
    loaded = transfers()
    assert loaded == 15 + 1 + 12 + 2 * sales + 1 + 2
    assert "Achieng's Grocery" in first.output
    assert "Its credit offer off_" in first.output
    assert "Wanjiru's Kiosk opened today and has no offer yet:" in first.output
    # Each figure once: the refusal says the days sold, and the factors do not say it again.
    assert first.output.count(" of the last 91 days") == 1
    assert first.output.count("You have taken payments with Soko for") == 1
    # An 80-column terminal wraps the names between words.
    assert "(Kisumu)" in first.output and "(Kampala)" in first.output

    second = runner.invoke(app, ["demo"], env=env)
    assert second.exit_code == 0
    assert "already loaded" in second.output
    assert transfers() == loaded  # the second run changed nothing

    report = runner.invoke(app, ["reconcile"], env=env)
    assert report.exit_code == 0, report.output
    assert "All invariants hold." in report.output


def test_reconcile_exits_1_and_names_the_broken_invariant(
    env: dict[str, str], database_url: str
) -> None:
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    engine = create_engine(database_url)
    with engine.begin() as connection:
        # Money appears from nowhere: a counter moved without a transfer.
        connection.execute(
            sa.text(
                "UPDATE accounts SET credits_posted = credits_posted + 1 "
                "WHERE id = (SELECT MIN(id) FROM accounts WHERE code = 'wallet')"
            )
        )
    engine.dispose()
    result = runner.invoke(app, ["reconcile"], env=env)
    assert result.exit_code == 1
    assert "counters_match_transfers" in result.output
    assert "debits_equal_credits" in result.output
    assert "All invariants hold." not in result.output


def test_worker_once_runs_every_job(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["worker", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "expire_holds" in result.output
    assert "forget_idempotency_keys" in result.output


def test_a_refusal_prints_code_and_detail_and_exits_2(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from soko.channels.cli import main

    pass

    def refuse(*args: object, **kwargs: object) -> None:
        raise ExceedsCredits("100 requested, 0 available")

    monkeypatch.setattr(main, "load_demo", refuse)
    result = runner.invoke(app, ["demo"], env=env)
    assert result.exit_code == 2
    assert "exceeds_credits: 100 requested, 0 available" in result.output


def test_books_show_each_system_role_summed_over_its_buckets(
    env: dict[str, str], database_url: str
) -> None:
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    runtime = bootstrap.build(Settings(database_url=database_url))
    try:
        totals = ledger.system_totals(runtime.context)
        fees = ledger.system_total(runtime.context, AccountCode.FEES, "KES")
    finally:
        runtime.close()
    assert fees.balance > 0  # the demo's sends and till payments paid fees
    shown = runner.invoke(app, ["books"], env=env | {"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    rows = [line.split("│") for line in shown.output.splitlines() if line.count("│") == 6]
    cells = {(row[1].strip(), row[2].strip()): row[5].strip() for row in rows}
    for total in totals:
        net = Money.of(total.balance, total.currency).to_decimal_string()
        assert cells[(total.currency, total.code.value)].split(" (")[0] == net
    assert cells[("KES", "fees")] == Money.of(fees.balance, "KES").to_decimal_string()
    # Escrow holds the demo's funded order as pending credits, nothing posted.
    assert cells[("KES", "escrow")] == "0.00 (2400.00)"
