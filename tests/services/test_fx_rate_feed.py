"""ECB rates fetched from a configured URL: a local HTTP server in the test serves the ECB's
real daily file (tests/fixtures/fx/eurofxref-daily.xml) and broken, partial, stale, huge and
missing ones; no test reaches the network. A refused fetch changes nothing. On both databases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from fakes import FakeClock
from soko.bootstrap import Runtime
from soko.context import Context
from soko.fx import service as fx
from soko.fx.errors import FxRateFileInvalid, FxRateStale, FxRatesUnavailable
from soko.fx.jobs import RateFetcher
from soko.fx.rate_feed import fetch_rate_file
from soko.fx.rate_files import RATE_FILE_BYTES_MAX, RateFileFormat
from soko.kernel.errors import DomainError
from soko.kernel.transactions import in_transaction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
#: The ECB's file of 2022-07-08, byte for byte, and the same file dated another day.
DAILY = (FIXTURES / "eurofxref-daily.xml").read_bytes()
FIXTURE_DAY = "2022-07-08"


def dated(day: str) -> bytes:
    return DAILY.replace(f"time='{FIXTURE_DAY}'".encode(), f"time='{day}'".encode())


class _Files(BaseHTTPRequestHandler):
    """Serves `routes`: path -> (status, content type, body)."""

    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {}

    def do_GET(self) -> None:
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    cut = DAILY.index(b"<Cube currency='GBP'")
    _Files.routes = {
        "/daily.xml": (200, "text/xml", DAILY),
        "/fresh.xml": (200, "text/xml", dated("2026-01-01")),
        # Cut in the middle, as a dropped connection leaves it: not a whole envelope.
        "/partial.xml": (200, "text/xml", DAILY[:cut]),
        "/bad-rate.xml": (200, "text/xml", dated("2026-01-01").replace(b"1.0163", b"1,0163")),
        "/html": (200, "text/html", b"<html><body>Maintenance</body></html>"),
        "/down": (503, "text/plain", b"try later"),
        "/huge.xml": (200, "text/xml", b" " * (RATE_FILE_BYTES_MAX + 1)),
        "/moved": (302, "text/plain", b""),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def ctx(any_runtime: Runtime, server: str) -> Context:
    context = any_runtime.context
    return replace(context, fx=replace(context.fx, rates_url=f"{server}/fresh.xml"))


def held(ctx: Context) -> list[tuple[str, str, Fraction]]:
    rates = in_transaction(ctx, lambda uow: uow.fx.newest_rates(ctx.clock.now(), 1000))
    return sorted((rate.base, rate.quote, rate.value) for rate in rates)


def test_the_configured_url_is_fetched_and_stored_exactly(ctx: Context) -> None:
    made = fx.fetch_rates(ctx)
    assert made.format is RateFileFormat.ECB_XML
    assert (made.stored.added, made.stored.corrected, made.stored.unchanged) == (9, 0, 0)
    rates = {(base, quote): value for base, quote, value in held(ctx)}
    # Exact fractions of the published decimal text, never a float's binary neighbour.
    assert rates["EUR", "USD"] == Fraction("1.0163") == Fraction(10163, 10000)
    assert rates["EUR", "GBP"] == Fraction(84585, 100000)
    assert all(type(value) is Fraction for value in rates.values())
    assert all(rate.source == "ecb" for rate in fx.list_rates(ctx))
    # Fetched again: the same file adds nothing.
    again = fx.fetch_rates(ctx)
    assert (again.stored.added, again.stored.unchanged) == (0, 9)


@pytest.mark.parametrize(
    ("path", "error", "says"),
    [
        ("/partial.xml", FxRateFileInvalid, "line"),
        ("/bad-rate.xml", FxRateFileInvalid, "1,0163"),
        ("/html", FxRateFileInvalid, ""),
        ("/down", FxRatesUnavailable, "HTTP 503"),
        ("/moved", FxRatesUnavailable, ""),
        ("/nothing-here", FxRatesUnavailable, "HTTP 404"),
        ("/huge.xml", FxRatesUnavailable, "bytes"),
        # The ECB's real file of 2022: far older than the 4 days a rate may be.
        ("/daily.xml", FxRateStale, FIXTURE_DAY),
    ],
)
def test_a_bad_or_stale_file_is_refused_and_the_old_rates_stay(
    ctx: Context, server: str, path: str, error: type[DomainError], says: str
) -> None:
    fx.fetch_rates(ctx)
    before = held(ctx)
    with pytest.raises(error) as refused:
        fx.fetch_rates(ctx, url=server + path)
    assert says in refused.value.detail
    assert held(ctx) == before


def test_no_source_and_no_server_are_refused(ctx: Context, server: str) -> None:
    with pytest.raises(FxRatesUnavailable, match="SOKO_FX_RATES_URL"):
        fx.fetch_rates(replace(ctx, fx=replace(ctx.fx, rates_url=None)))
    with pytest.raises(FxRatesUnavailable):
        fx.fetch_rates(ctx, url="file:///etc/passwd")
    # A port nothing listens on (the server's, once a second server took and closed it).
    with pytest.raises(FxRatesUnavailable):
        fetch_rate_file("http://127.0.0.1:9/daily.xml", timeout_seconds=2)
    assert held(ctx) == []


def test_a_file_dated_ahead_of_now_is_refused(ctx: Context, server: str) -> None:
    _Files.routes["/tomorrow.xml"] = (200, "text/xml", dated("2026-01-03"))
    with pytest.raises(FxRateStale):
        fx.fetch_rates(ctx, url=f"{server}/tomorrow.xml")
    assert held(ctx) == []


def test_the_worker_fetches_at_most_once_an_hour(ctx: Context, clock: FakeClock) -> None:
    job = RateFetcher()
    assert job(ctx) == 9
    assert job(ctx) == 0  # not due: nothing asked of the source
    clock.advance(3600)
    assert job(ctx) == 0  # asked again: the same file adds nothing
    # A refusal is logged, not raised: the old rates stay and the job tries again an hour later.
    broken = replace(ctx, fx=replace(ctx.fx, rates_url=ctx.fx.rates_url.replace("fresh", "down")))
    clock.advance(3600)
    assert job(broken) == 0
    assert len(held(ctx)) == 9
    # Without a URL the job does nothing at all.
    assert RateFetcher()(replace(ctx, fx=replace(ctx.fx, rates_url=None))) == 0
