"""What every browser test checks on a page, as a person on a small phone meets it.

A module of its own (not conftest.py, whose name several test folders share): test files import
`from phone_checks import PHONE, inspect`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

REQUIRE_BROWSER = os.environ.get("SOKO_REQUIRE_BROWSER") == "1"
PHONE = {"width": 360, "height": 740}  # a small phone
HERE = Path(__file__).parent
SCREENSHOTS = HERE / "screenshots"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
#: What an accessibility check may not find on any page.
BLOCKING_IMPACTS = {"serious", "critical"}


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
