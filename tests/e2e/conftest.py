"""A real browser (Debian's Chromium through Playwright) against Soko served by uvicorn.

Chromium comes from the system (`apt-get install chromium`; `.ci/run` installs it), never from
`playwright install`. Without it the tests are skipped, unless `SOKO_REQUIRE_BROWSER=1` (set by
CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from phone_checks import PHONE
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from soko.bootstrap import Runtime
from soko.channels.api.app import create_app

CHROMIUM = next(
    (path for path in ("/usr/lib/chromium/chromium", shutil.which("chromium")) if path
     and os.path.exists(path)),
    None,
)  # fmt: skip
REQUIRE_BROWSER = os.environ.get("SOKO_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served(runtime: Runtime) -> Iterator[str]:
    """The app on a free loopback port, in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(200):
        if server.started:
            started.set()
            break
        started.wait(0.025)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh small phone: its own cookies, 360 px wide. The pages' Content-Security-Policy
    forbids every script, so the context bypasses it to let `inspect` inject axe-core (the
    header itself is asserted by the HTTP tests)."""
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    yield context
    context.close()
