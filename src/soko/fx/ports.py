"""What FX's use cases need from storage: rates with their history, quotes, and volumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from soko.fx.domain import Quote, Rate


@dataclass(frozen=True, slots=True)
class RatesStored:
    """What storing a batch of rates did: new rows, corrections of a rate already held for the
    same pair, source and time, and rates that were already held exactly."""

    added: int
    corrected: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class CurrencyVolume:
    """Accepted quotes over a period, seen from one currency: as the source (converted into
    liquidity, spread and fee earned) and as the target (paid out of liquidity)."""

    currency: str
    conversions_out: int = 0
    converted: int = 0
    spread: int = 0
    fee: int = 0
    conversions_in: int = 0
    paid_out: int = 0


class FxRepository(Protocol):
    def store_rates(
        self, rates: Sequence[Rate], ids: Sequence[str], created_at: datetime
    ) -> RatesStored:
        """Keep every rate, a new one under its id from `ids`. History is never rewritten, only
        corrected: the same pair, source and as_of again with another value replaces the value."""
        ...

    def newest_rates(self, not_after: datetime, limit: int) -> list[Rate]:
        """The newest rate of each pair (and source) dated at or before `not_after`."""
        ...

    def insert_quote(self, quote: Quote) -> None: ...

    def get_quote(self, quote_id: str) -> Quote | None: ...

    def lock_quote(self, quote_id: str) -> Quote | None:
        """Read the quote for accepting it: on PostgreSQL its row stays locked until the
        transaction ends, so of two acceptances the second reads it used."""
        ...

    def mark_used(self, quote_id: str, *, used_at: datetime, payment_id: str) -> None:
        """Record the quote's acceptance; it must be unused (the caller holds its lock)."""
        ...

    def volumes(self, since: datetime, until: datetime) -> list[CurrencyVolume]:
        """Quotes accepted in [since, until), per currency, by currency code."""
        ...
