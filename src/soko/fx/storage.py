"""FX in SQL: rates (kept with their history), quotes, and the volumes of accepted quotes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.fx.domain import Quote, QuoteAmounts, Rate
from soko.fx.ports import CurrencyVolume, RatesStored
from soko.fx.tables import fx_quotes, fx_rates
from soko.kernel.money import Currency, Money

# Built once: a quote is read, locked and marked used on every cross-currency payment, and
# building a statement costs more than running it on SQLite.
_QUOTE_BY_ID = sa.select(fx_quotes).where(fx_quotes.c.id == sa.bindparam("quote_id"))
_QUOTE_LOCKED = _QUOTE_BY_ID.with_for_update()
_MARK_USED = (
    fx_quotes.update()
    .where(fx_quotes.c.id == sa.bindparam("quote_id"), fx_quotes.c.used_at.is_(None))
    .values(used_at=sa.bindparam("used_at"), payment_id=sa.bindparam("payment_id"))
)
_INSERT_QUOTE = fx_quotes.insert()


def fraction_text(value: Fraction) -> str:
    """A Fraction exactly, as stored: "517/4"."""
    return f"{value.numerator}/{value.denominator}"


def fraction_of(text: str) -> Fraction:
    numerator, _, denominator = text.partition("/")
    return Fraction(int(numerator), int(denominator or "1"))


class SqlFxRepository:
    def __init__(self, connection: Connection, *, row_locks: bool) -> None:
        self._conn = connection
        self._row_locks = row_locks

    # --- rates ----------------------------------------------------------------------------------

    def store_rates(
        self, rates: Sequence[Rate], ids: Sequence[str], created_at: datetime
    ) -> RatesStored:
        assert len(ids) == len(rates), (len(ids), len(rates))
        added = corrected = unchanged = 0
        for rate_id, rate in zip(ids, rates, strict=True):
            key = (
                fx_rates.c.base == rate.base,
                fx_rates.c.quote == rate.quote,
                fx_rates.c.source == rate.source,
                fx_rates.c.as_of == rate.as_of,
            )
            held = self._conn.execute(sa.select(fx_rates.c.id, fx_rates.c.rate).where(*key)).first()
            text = fraction_text(rate.value)
            if held is None:
                self._conn.execute(
                    fx_rates.insert().values(
                        id=rate_id,
                        base=rate.base,
                        quote=rate.quote,
                        rate=text,
                        source=rate.source,
                        as_of=rate.as_of,
                        created_at=created_at,
                    )
                )
                added += 1
            elif held.rate != text:
                self._conn.execute(
                    fx_rates.update()
                    .where(fx_rates.c.id == held.id)
                    .values(rate=text, created_at=created_at)
                )
                corrected += 1
            else:
                unchanged += 1
        return RatesStored(added, corrected, unchanged)

    def newest_rates(self, not_after: datetime, limit: int) -> list[Rate]:
        newest = (
            sa.select(
                fx_rates.c.base,
                fx_rates.c.quote,
                fx_rates.c.source,
                sa.func.max(fx_rates.c.as_of).label("as_of"),
            )
            .where(fx_rates.c.as_of <= not_after)
            .group_by(fx_rates.c.base, fx_rates.c.quote, fx_rates.c.source)
            .subquery()
        )
        query = (
            sa.select(fx_rates)
            .join(
                newest,
                sa.and_(
                    fx_rates.c.base == newest.c.base,
                    fx_rates.c.quote == newest.c.quote,
                    fx_rates.c.source == newest.c.source,
                    fx_rates.c.as_of == newest.c.as_of,
                ),
            )
            .order_by(fx_rates.c.base, fx_rates.c.quote, fx_rates.c.source)
            .limit(limit)
        )
        return [
            Rate(row.base, row.quote, fraction_of(row.rate), row.source, row.as_of)
            for row in self._conn.execute(query)
        ]

    # --- quotes ---------------------------------------------------------------------------------

    def insert_quote(self, quote: Quote) -> None:
        self._conn.execute(_INSERT_QUOTE, _values(quote))

    def get_quote(self, quote_id: str) -> Quote | None:
        row = self._conn.execute(_QUOTE_BY_ID, {"quote_id": quote_id}).first()
        return None if row is None else _quote(row)

    def lock_quote(self, quote_id: str) -> Quote | None:
        # A second acceptance waits here until the first commits, then reads it used. SQLite
        # needs no row lock: its writers run one at a time (BEGIN IMMEDIATE).
        query = _QUOTE_LOCKED if self._row_locks else _QUOTE_BY_ID
        row = self._conn.execute(query, {"quote_id": quote_id}).first()
        return None if row is None else _quote(row)

    def mark_used(self, quote_id: str, *, used_at: datetime, payment_id: str) -> None:
        result = self._conn.execute(
            _MARK_USED, {"quote_id": quote_id, "used_at": used_at, "payment_id": payment_id}
        )
        # The caller locked the row and found it unused: anything else is a bug.
        assert result.rowcount == 1, (quote_id, result.rowcount)

    def volumes(self, since: datetime, until: datetime) -> list[CurrencyVolume]:
        window = (
            fx_quotes.c.used_at.is_not(None),
            fx_quotes.c.used_at >= since,
            fx_quotes.c.used_at < until,
        )
        out = self._conn.execute(
            sa.select(
                fx_quotes.c.source_currency,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(fx_quotes.c.converted), 0),
                sa.func.coalesce(sa.func.sum(fx_quotes.c.spread), 0),
                sa.func.coalesce(sa.func.sum(fx_quotes.c.fee), 0),
            )
            .where(*window)
            .group_by(fx_quotes.c.source_currency)
        ).all()
        into = self._conn.execute(
            sa.select(
                fx_quotes.c.target_currency,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(fx_quotes.c.target_amount), 0),
            )
            .where(*window)
            .group_by(fx_quotes.c.target_currency)
        ).all()
        found: dict[str, CurrencyVolume] = {}
        for currency, count, converted, spread, fee in out:
            found[currency] = CurrencyVolume(
                currency, int(count), int(converted), int(spread), int(fee)
            )
        for currency, count, paid in into:
            held = found.get(currency, CurrencyVolume(currency))
            found[currency] = CurrencyVolume(
                currency,
                held.conversions_out,
                held.converted,
                held.spread,
                held.fee,
                int(count),
                int(paid),
            )
        return [found[currency] for currency in sorted(found)]


def _rate_fields(rate: Rate) -> dict[str, str]:
    return {
        "base": rate.base,
        "quote": rate.quote,
        "rate": fraction_text(rate.value),
        "source": rate.source,
        "as_of": rate.as_of.isoformat(),
    }


def _values(quote: Quote) -> dict[str, Any]:
    amounts = quote.amounts
    rate = quote.rate
    return {
        "id": quote.id,
        "owner_id": quote.owner_id,
        "source_currency": quote.source.code,
        "target_currency": quote.target.code,
        "source_debit": amounts.source_debit.amount_minor,
        "converted": amounts.converted.amount_minor,
        "spread": amounts.spread.amount_minor,
        "fee": amounts.fee.amount_minor,
        "target_amount": amounts.target.amount_minor,
        "spread_bps": amounts.spread_bps,
        "mid": fraction_text(amounts.mid),
        "customer_rate": fraction_text(amounts.customer_rate),
        "rate_source": rate.source,
        "rate_as_of": rate.as_of,
        "derived_from": json.dumps([_rate_fields(used) for used in rate.derived_from]),
        "created_at": quote.created_at,
        "expires_at": quote.expires_at,
        "used_at": quote.used_at,
        "payment_id": quote.payment_id,
    }


def _quote(row: Row[Any]) -> Quote:
    source, target = Currency.of(row.source_currency), Currency.of(row.target_currency)
    amounts = QuoteAmounts(
        source_debit=Money(row.source_debit, source),
        converted=Money(row.converted, source),
        spread=Money(row.spread, source),
        fee=Money(row.fee, source),
        target=Money(row.target_amount, target),
        mid=fraction_of(row.mid),
        customer_rate=fraction_of(row.customer_rate),
        spread_bps=row.spread_bps,
    )
    derived_from = tuple(
        Rate(
            used["base"],
            used["quote"],
            fraction_of(used["rate"]),
            used["source"],
            datetime.fromisoformat(used["as_of"]),
        )
        for used in json.loads(row.derived_from)
    )
    rate = Rate(
        source.code, target.code, amounts.mid, row.rate_source, row.rate_as_of, derived_from
    )
    return Quote(
        id=row.id,
        owner_id=row.owner_id,
        amounts=amounts,
        rate=rate,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        payment_id=row.payment_id,
    )
