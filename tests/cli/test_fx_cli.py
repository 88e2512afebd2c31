"""`soko fx`: rates set and imported, a quote priced, liquidity funded, positions as a table,
and the demo's corridor: on a real database, through the same use cases as the API."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soko.channels.cli.main import app
from soko.demo import DEMO_FX_CORRIDORS

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
CORRIDORS = '{"UGX>KES": {"spread_bps": 150, "max": "5000000", "kyc_tier": 1}}'


@pytest.fixture
def env(sqlite_url: str) -> dict[str, str]:
    return {"SOKO_DATABASE_URL": sqlite_url, "SOKO_FX_CORRIDORS": CORRIDORS}


def soko(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_rates_quote_fund_and_positions(env: dict[str, str]) -> None:
    assert "USD->KES 129.25 (operator" in soko(env, "fx", "rates", "set", "USD", "KES", "129.25")
    soko(env, "fx", "rates", "set", "usd", "ugx", "3652.40")
    imported = soko(env, "fx", "rates", "import", str(FIXTURES / "eurofxref-daily.xml"))
    assert "Imported ecb_xml: 9 added, 0 corrected, 0 unchanged; left out" in imported
    assert "USD" in soko(env, "fx", "rates", "list")

    quoted = soko(env, "fx", "quote", "--from", "UGX", "--to", "KES", "--amount", "100000")
    assert "UGX 100000" in quoted and "KES 3485.68" in quoted  # no FX fee: all exchanged
    assert "UGX 1500" in quoted  # the spread, 150 bp

    funded = soko(env, "fx", "fund", "KES", "1000.00")
    assert "it holds KES 1000.00" in funded
    positions = soko(env, "fx", "positions")
    assert "FX positions" in positions and "1000.00" in positions
    assert "reconcile" not in positions
    assert "All invariants hold." in soko(env, "reconcile")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("fx", "rates", "set", "USD", "KES", "1e3"), "fx_rate_invalid"),
        (
            ("fx", "quote", "--from", "KES", "--to", "UGX", "--amount", "10.00"),
            "fx_corridor_disabled",
        ),
        (("fx", "quote", "--from", "UGX", "--to", "KES", "--amount", "10000"), "fx_pair_unknown"),
        (("fx", "positions", "--since", "yesterday"), "fx_period_invalid"),
        (("fx", "fund", "KES", "0"), "amount_must_be_positive"),
    ],
)
def test_refusals_print_the_code_and_exit_2(
    env: dict[str, str], args: tuple[str, ...], code: str
) -> None:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"{code}: ")


def test_a_bad_corridors_setting_stops_start_up(sqlite_url: str) -> None:
    env = {"SOKO_DATABASE_URL": sqlite_url, "SOKO_FX_CORRIDORS": '{"UGX>KES": {"spread_bps": 1}}'}
    result = runner.invoke(app, ["fx", "rates", "list"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith("fx_corridors_invalid: UGX>KES: 'kyc_tier' is required")


def test_the_demo_funds_liquidity_and_prices_kampala_to_nairobi(sqlite_url: str) -> None:
    env = {"SOKO_DATABASE_URL": sqlite_url, "SOKO_FX_CORRIDORS": DEMO_FX_CORRIDORS}
    loaded = soko(env, "demo")
    assert "Cross-border: Okello in Kampala (UGX) can send to Baraka" in loaded
    positions = soko(env, "fx", "positions")
    assert "500000.00" in positions and "20000000" in positions
    quoted = soko(env, "fx", "quote", "--from", "UGX", "--to", "KES", "--amount", "100000")
    assert "KES 3485.68" in quoted
    again = soko(env, "demo")
    assert "already loaded" in again


def test_rates_are_fetched_from_the_configured_url(env: dict[str, str], tmp_path: Path) -> None:
    """`soko fx rates fetch`: the ECB's real file, dated today, from a local server."""
    today = datetime.now(UTC).date().isoformat()
    daily = (FIXTURES / "eurofxref-daily.xml").read_text().replace("2022-07-08", today)
    (tmp_path / "eurofxref-daily.xml").write_text(daily)
    (tmp_path / "old.xml").write_text(daily.replace(today, "2022-07-08"))
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        configured = env | {"SOKO_FX_RATES_URL": f"{base}/eurofxref-daily.xml"}
        fetched = soko(configured, "fx", "rates", "fetch")
        assert "Fetched ecb_xml: 9 added, 0 corrected, 0 unchanged; left out" in fetched
        stale = runner.invoke(app, ["fx", "rates", "fetch", "--url", f"{base}/old.xml"], env=env)
        assert stale.exit_code == 2 and "fx_rate_stale" in stale.output
        missing = runner.invoke(app, ["fx", "rates", "fetch"], env=env)
        assert missing.exit_code == 2 and "fx_rates_unavailable" in missing.output
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
