"""A real browser (Debian's Chromium through Playwright) against Soko served by uvicorn.

Chromium comes from the system (`apt-get install chromium`; `.ci/run` installs it), never from
`playwright install`. Without it the tests are skipped, unless `SOKO_REQUIRE_BROWSER=1` (set by
CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

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


PHONE = {"width": 360, "height": 740}  # a small phone
HERE = Path(__file__).parent
SCREENSHOTS = HERE / "screenshots"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
#: What an accessibility check may not find on any page.
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh small phone: its own cookies, 360 px wide. The pages' Content-Security-Policy
    forbids every script, so the context bypasses it to let `inspect` inject axe-core (the
    header itself is asserted by the HTTP tests)."""
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    yield context
    context.close()


def inspect(page: Page, name: str) -> None:
    """Check the page as a person on a small phone meets it, and keep a picture of it.

    - a screenshot in tests/e2e/screenshots/<name>.png (ignored by git);
    - nothing wider than the phone;
    - axe-core (the npm package, `npm ci --prefix tests/e2e`) finds no serious or critical
      violation of WCAG 2.1 A/AA.
    """
    assert re.fullmatch(r"[a-z0-9-]+", name), name
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width} px wide"
    if not AXE.exists():
        message = "axe-core is not installed (npm ci --prefix tests/e2e)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            });
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}));
        }"""
    )
    blocking = [v for v in found if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{name}: " + json.dumps(blocking, indent=1)
