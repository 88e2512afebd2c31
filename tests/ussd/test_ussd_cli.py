"""`soko ussd --phone ...`: the same USSD menus in a terminal, PINs not echoed."""

from __future__ import annotations

from typer.testing import CliRunner

from soko.channels.cli.main import app

runner = CliRunner()


def test_the_simulator_runs_the_menus_and_hides_the_pin(sqlite_url: str) -> None:
    env = {"SOKO_DATABASE_URL": sqlite_url, "SOKO_PIN_HASH_TIME_COST": "1",
           "SOKO_PIN_HASH_MEMORY_KIB": "8"}  # fmt: skip
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    # Amina (a demo consumer, PIN 1234): a wrong choice, then her balance.
    result = runner.invoke(app, ["ussd", "--phone", "+254712100200"], input="9\n1\n1234\n", env=env)
    assert result.exit_code == 0, result.output
    assert "Invalid choice.\nSoko\n1 My balance" in result.output
    assert "My balance\nEnter your PIN:" in result.output
    assert "Your balance:\nKES " in result.output
    assert "1234" not in result.output

    unknown = runner.invoke(app, ["ussd", "--phone", "+254799999999"], env=env)
    assert unknown.exit_code == 0
    assert "This number has no Soko account." in unknown.output
