"""FX's worker job: fetching the configured rate file (SOKO_FX_RATES_URL) at most once an hour."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from soko.context import Context
from soko.fx import service as fx
from soko.kernel.errors import DomainError

log = logging.getLogger("soko.fx")

#: How often a worker fetches the rate file. The ECB publishes once a working day, around 16:00
#: CET; importing the same file again adds nothing, so fetching hourly only bounds the delay.
FETCH_EVERY = timedelta(hours=1)


@dataclass
class RateFetcher:
    """The fetch_fx_rates job of one worker: it remembers when it last tried, so that a source
    that is down or stuck is asked once an hour, not on every tick."""

    every: timedelta = FETCH_EVERY
    last_try: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, ctx: Context) -> int:
        """The number of rates added; 0 when not due, not configured, or refused (logged: the
        old rates stay, and the next try is an hour later)."""
        if ctx.fx.rates_url is None:
            return 0
        now = ctx.clock.now()
        with self._lock:
            if self.last_try is not None and now - self.last_try < self.every:
                return 0
            self.last_try = now
        try:
            made = fx.fetch_rates(ctx)
        except DomainError as refused:
            log.warning("fx rates not fetched from %s: %s: %s", ctx.fx.rates_url, refused.code,
                        refused.detail)  # fmt: skip
            return 0
        log.info(
            "fx rates fetched from %s: %d added, %d corrected, %d unchanged", ctx.fx.rates_url,
            made.stored.added, made.stored.corrected, made.stored.unchanged,
        )  # fmt: skip
        return made.stored.added + made.stored.corrected


__all__ = ["FETCH_EVERY", "RateFetcher"]
