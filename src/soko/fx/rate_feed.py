"""Fetching a rate file from the operator's configured URL (SOKO_FX_RATES_URL): one HTTP GET,
bounded in time and size, that yields the file's bytes or `FxRatesUnavailable`.

Reading the bytes is `rate_files`' job; deciding whether they may be stored is the service's.
"""

from __future__ import annotations

from typing import Final

import httpx

from soko.fx.errors import FxRatesUnavailable
from soko.fx.rate_files import RATE_FILE_BYTES_MAX
from soko.kernel import limits

#: The answer types a rate file comes as; anything else (an HTML error page) is refused.
ACCEPT: Final = "application/xml, text/xml, text/csv, text/plain;q=0.5"
_REDIRECTS_MAX: Final = 3


def fetch_rate_file(
    url: str,
    *,
    timeout_seconds: float = limits.FX_RATE_FEED_TIMEOUT_SECONDS,
    max_bytes: int = RATE_FILE_BYTES_MAX,
    transport: httpx.BaseTransport | None = None,
) -> bytes:
    """The body of a 200 answer to GET `url`, at most `max_bytes`; any other outcome (no
    connection, a timeout, another status, a larger body) is `FxRatesUnavailable` naming it."""
    if not url.startswith(("https://", "http://")):
        raise FxRatesUnavailable("The rate source must be an http(s) URL.", url=url[:200])
    try:
        with (
            httpx.Client(
                timeout=timeout_seconds,
                follow_redirects=True,
                max_redirects=_REDIRECTS_MAX,
                transport=transport,
                headers={"Accept": ACCEPT, "User-Agent": "soko-fx-rates"},
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != httpx.codes.OK:
                raise FxRatesUnavailable(
                    f"{url} answered HTTP {response.status_code}.", url=url[:200]
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FxRatesUnavailable(
                        f"{url} sent more than {max_bytes} bytes: not a rate file.", url=url[:200]
                    )
            return bytes(body)
    except httpx.HTTPError as error:
        # No connection, a timeout, too many redirects, a broken answer: the old rates stay.
        raise FxRatesUnavailable(
            f"{url} could not be read: {type(error).__name__}.", url=url[:200]
        ) from error


__all__ = ["ACCEPT", "fetch_rate_file"]
