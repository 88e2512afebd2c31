"""The API documents (/docs with Swagger UI, /redoc with ReDoc) load nothing from other hosts:
an operator's network may have no way out, and a CDN is one more party that sees the admin."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from world import Api


def references(html: str) -> list[str]:
    """Every address the page loads or points to: src, href, url(...) and quoted URLs in its
    script."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""url\(\s*['"]?([^'")]+)""", html)
    found += re.findall(r"""["'](?:https?:)?//[^"']+["']""", html)
    return found


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_documents_load_only_from_this_server(api: Api, page: str) -> None:
    response = api.client.get(page)
    assert response.status_code == 200
    html = response.text
    assets = references(html)
    assert assets, html
    for address in assets:
        assert not urlsplit(address.strip("\"'")).netloc, f"{page} loads {address} from outside"
        assert not address.strip("\"'").startswith("//"), address
    assert not re.search(r"https?://", html), html
    for address in assets:
        if address.endswith((".js", ".css", ".png")):
            fetched = api.client.get(address)
            assert fetched.status_code == 200, address
            assert len(fetched.content) > 1000, address
