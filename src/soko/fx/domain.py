"""FX rules: exact rates and cross rates, corridors, quote pricing and a conversion's legs.

Pure: no I/O, no clock (``now`` is passed in), no randomness, and no binary floats. A rate is a
``fractions.Fraction`` from the decimal text it was published as to the last multiplication, so a
cross rate through the pivot is exactly the quotient of the published rates. Amounts are integer
minor units (``Money``), and each step that turns a fraction into minor units rounds once, in the
direction written beside it:

* the spread is rounded **up** (ceiling) in source minor units,
* the converted amount is what is left, so it is rounded **down**,
* the payee's target amount is rounded **down** (floor) in target minor units.

So rounding favours the platform, and by less than one minor unit at each step: the payer pays
less than one source unit more spread than the exact basis points, and the payee receives less
than one target unit below the exact value, at the mid rate, of what was converted. The residue
stays in the FX liquidity account of the target currency; nothing is created or lost.

A conversion is never one transfer between two currencies (the ledger refuses those). Following
TigerBeetle's currency-exchange recipe and Rafiki's cross-asset transfers, it is same-currency legs
through the operator's FX liquidity accounts, one per currency, with the spread and the fee as legs
of their own, so the books record the rate and the spread of every conversion (``conversion_legs``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final, NoReturn

from soko.fx.errors import (
    FxAmountOutsideCorridor,
    FxAmountTooSmall,
    FxCorridorDisabled,
    FxCorridorsInvalid,
    FxPairUnknown,
    FxQuoteExpired,
    FxQuoteMismatch,
    FxQuoteUsed,
    FxRateInvalid,
    FxRateStale,
    FxTierTooLow,
)
from soko.kernel.errors import AmountMustBePositive, CurrencyMismatch, DomainError
from soko.kernel.money import CURRENCIES, Currency, Money
from soko.notify.sms import N_, Reader, compose
from soko.payments.domain import text_name
from soko.payments.fees import BASIS_POINTS_WHOLE
from soko.people.kyc import KycTier, tier_of

__all__ = [
    "BRIDGES_DEFAULT",
    "CORRIDORS_MAX",
    "PIVOT_DEFAULT",
    "RATE_CLOCK_SKEW_SECONDS",
    "RATE_DECIMALS_MAX",
    "RATE_INTEGER_DIGITS_MAX",
    "RATE_MAX_AGE_SECONDS_DEFAULT",
    "RATE_TEXT_LENGTH_MAX",
    "SPREAD_BPS_MAX",
    "Corridor",
    "FxPolicy",
    "Leg",
    "LegKind",
    "Quote",
    "QuoteAmounts",
    "Rate",
    "Role",
    "Unwound",
    "check_corridor",
    "check_quote_matches",
    "check_quote_pays",
    "check_quote_usable",
    "conversion_legs",
    "converted_text",
    "derive_rate",
    "find_corridor",
    "parse_corridors",
    "parse_pivot",
    "parse_rate",
    "paying",
    "price_quote",
    "price_with_fees",
    "rate_decimal",
    "sent_abroad_text",
    "unwound_share",
]

# --- settings' names and bounds -----------------------------------------------------------------

#: SOKO_FX_PIVOT: the one currency cross rates go through when no direct rate is known.
PIVOT_DEFAULT: Final = "USD"
#: Currencies whose rate files reach the pivot: the ECB publishes EUR->X only, so X->USD is
#: (EUR->USD) / (EUR->X). A leg to or from the pivot takes at most one such bridge.
BRIDGES_DEFAULT: Final = ("EUR",)
#: SOKO_FX_RATE_MAX_AGE_SECONDS default: the ECB publishes on TARGET working days only, so its
#: Thursday rate must last over a long Easter weekend. Operators quoting from hourly feeds should
#: set it far lower.
RATE_MAX_AGE_SECONDS_DEFAULT: Final = 4 * 24 * 3600
#: A rate dated up to this far after `now` is a clock difference between the operator's feed and
#: this server; later than that it is a typo (2062 for 2026) and never used.
RATE_CLOCK_SKEW_SECONDS: Final = 300
#: Rate text: characters read at all, decimals, and whole digits (no currency is 10**12 of another).
RATE_TEXT_LENGTH_MAX: Final = 40
RATE_DECIMALS_MAX: Final = 12
RATE_INTEGER_DIGITS_MAX: Final = 12
#: A spread above 20 % is a typo in the setting, not a price.
SPREAD_BPS_MAX: Final = 2_000
#: Corridors in SOKO_FX_CORRIDORS.
CORRIDORS_MAX: Final = 1_000

# [0-9] rather than \d: in a str pattern \d also matches other scripts' digits.
_RATE_SYNTAX: Final = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_CODE_SYNTAX: Final = re.compile(r"[A-Z]{3}")
_SOURCE_SYNTAX: Final = re.compile(r"[a-z][a-z0-9_.+-]{0,63}")
_CORRIDOR_KEY_SYNTAX: Final = re.compile(r"([A-Z]{3})>([A-Z]{3})")
_ECHO_LENGTH_MAX: Final = 24


def _echo(text: str) -> str:
    if len(text) <= _ECHO_LENGTH_MAX:
        return repr(text)
    return repr(text[:_ECHO_LENGTH_MAX]) + "..."


# --- rates --------------------------------------------------------------------------------------


def parse_rate(text: object) -> Fraction:
    """The exact value of a rate written as a decimal string: ``"129.25"`` is 517/4.

    Strict like ``Money.parse``: only ``[0-9]+(\\.[0-9]+)?``, so no float (its binary value is
    not the published one), no sign, exponent, separator or space; at most ``RATE_DECIMALS_MAX``
    decimals and ``RATE_INTEGER_DIGITS_MAX`` whole digits (leading zeros aside); never zero.
    """
    if not isinstance(text, str):
        raise FxRateInvalid(
            f'A rate must be a decimal string such as "129.25", not {type(text).__name__}.'
        )
    if len(text) > RATE_TEXT_LENGTH_MAX:
        raise FxRateInvalid(
            f"A rate is at most {RATE_TEXT_LENGTH_MAX} characters, got {len(text)}."
        )
    match = _RATE_SYNTAX.fullmatch(text)
    if match is None:
        if text.startswith("-"):
            why = "is negative; a rate is positive"
        elif "e" in text.lower():
            why = "has an exponent; write the plain decimal"
        else:
            why = 'is not a plain decimal number such as "129.25"'
        raise FxRateInvalid(f"The rate {_echo(text)} {why}.")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > RATE_DECIMALS_MAX:
        raise FxRateInvalid(
            f"The rate {_echo(text)} has {len(fraction)} decimals; at most {RATE_DECIMALS_MAX}."
        )
    if len(whole.lstrip("0")) > RATE_INTEGER_DIGITS_MAX:
        raise FxRateInvalid(
            f"The rate {_echo(text)} has more than {RATE_INTEGER_DIGITS_MAX} whole digits."
        )
    value = Fraction(int(whole + fraction), 10 ** len(fraction))
    if value == 0:
        raise FxRateInvalid(f"The rate {_echo(text)} is zero; a rate is positive.")
    return value


def _inverse(value: Fraction) -> Fraction:
    # Fraction(d, n) rather than 1 / value: this module has no true division at all.
    return Fraction(value.denominator, value.numerator)


@dataclass(frozen=True, slots=True)
class Rate:
    """``value`` units of ``quote`` for one unit of ``base`` (major units): USD->KES 129.25.

    ``source`` names where it came from ("ecb", "operator", a feed's name); ``as_of`` is when it
    was true, with its offset. A rate derived from others (an inverse, a cross rate) lists them in
    ``derived_from`` so a quote can record exactly which published rates priced it.
    """

    base: str
    quote: str
    value: Fraction
    source: str
    as_of: datetime
    derived_from: tuple[Rate, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for code in (self.base, self.quote):
            if not isinstance(code, str) or code not in CURRENCIES:
                shown = _echo(code) if isinstance(code, str) else type(code).__name__
                raise FxRateInvalid(f"Soko does not know the currency {shown}.")
        if self.base == self.quote:
            raise FxRateInvalid(f"A rate is between two currencies, not {self.base} and itself.")
        if type(self.value) is not Fraction or self.value <= 0:
            raise FxRateInvalid(f"A rate's value must be a positive Fraction, got {self.value!r}.")
        if not isinstance(self.source, str) or not _SOURCE_SYNTAX.fullmatch(self.source):
            raise FxRateInvalid(
                f"A rate's source is 1 to 64 of a-z 0-9 _ . + -, got {self.source!r}."
            )
        if not isinstance(self.as_of, datetime) or self.as_of.utcoffset() is None:
            raise FxRateInvalid("A rate's as_of must be a datetime with its UTC offset.")

    @property
    def pair(self) -> tuple[str, str]:
        return (self.base, self.quote)

    def inverse(self) -> Rate:
        """The same rate seen from the other side: KES->USD 4/517 from USD->KES 517/4."""
        return Rate(self.quote, self.base, _inverse(self.value), self.source, self.as_of, (self,))


def parse_pivot(code: str) -> str:
    """The SOKO_FX_PIVOT setting: a currency Soko knows, written as ISO does ("USD")."""
    return Currency.of(code).code


_Path = tuple[Fraction, tuple[Rate, ...]]


def _newest_by_pair(rates: Iterable[Rate]) -> dict[tuple[str, str], Rate]:
    """One rate per (base, quote): the newest. An exact tie is broken by source name, then
    value, only so that the answer never depends on the order the rates were given in."""
    table: dict[tuple[str, str], Rate] = {}
    for rate in rates:
        held = table.get(rate.pair)
        if held is None or (rate.as_of, rate.source, rate.value) > (
            held.as_of,
            held.source,
            held.value,
        ):
            table[rate.pair] = rate
    return table


def _one_hop(table: Mapping[tuple[str, str], Rate], base: str, quote: str) -> _Path | None:
    direct = table.get((base, quote))
    if direct is not None:
        return direct.value, (direct,)
    inverse = table.get((quote, base))
    if inverse is not None:
        return _inverse(inverse.value), (inverse,)
    return None


def _leg(
    table: Mapping[tuple[str, str], Rate], base: str, quote: str, bridges: Sequence[str]
) -> _Path | None:
    """base->quote in one rate, or in two through a bridge (X->USD from EUR->X and EUR->USD)."""
    found = _one_hop(table, base, quote)
    if found is not None:
        return found
    for bridge in bridges:
        if bridge in (base, quote):
            continue
        first, second = _one_hop(table, base, bridge), _one_hop(table, bridge, quote)
        if first is not None and second is not None:
            return first[0] * second[0], first[1] + second[1]
    return None


def _path(
    table: Mapping[tuple[str, str], Rate],
    base: str,
    quote: str,
    pivot: str,
    bridges: Sequence[str],
) -> _Path | None:
    found = _one_hop(table, base, quote)
    if found is not None:
        return found
    if pivot in (base, quote):
        return _leg(table, base, quote, bridges)
    to_pivot, from_pivot = _leg(table, base, pivot, bridges), _leg(table, pivot, quote, bridges)
    if to_pivot is None or from_pivot is None:
        return None
    return to_pivot[0] * from_pivot[0], to_pivot[1] + from_pivot[1]


def _as_rate(base: str, quote: str, path: _Path) -> Rate:
    value, used = path
    if len(used) == 1 and used[0].pair == (base, quote):
        return used[0]
    return Rate(
        base,
        quote,
        value,
        "+".join(sorted({rate.source for rate in used})),
        # A cross rate is as old as its oldest ingredient.
        min(rate.as_of for rate in used),
        used,
    )


def derive_rate(
    rates: Iterable[Rate],
    base: str,
    quote: str,
    *,
    now: datetime,
    max_age_seconds: int,
    pivot: str = PIVOT_DEFAULT,
    bridges: Sequence[str] = BRIDGES_DEFAULT,
) -> Rate:
    """The exact base->quote rate from ``rates``, none of them stale.

    In this order: a direct rate; the inverse of a quote->base rate; the product of a base->pivot
    and a pivot->quote leg, each of which is a direct or inverse rate or, for rate files that do
    not quote the pivot, two rates through a bridge (USD->KES = (EUR->KES) / (EUR->USD) from the
    ECB). Of several rates for the same pair the newest is used. A rate older than
    ``max_age_seconds`` at ``now``, or dated later than ``now`` plus ``RATE_CLOCK_SKEW_SECONDS``,
    is never used: ``FxRateStale`` when only stale rates would price the pair, ``FxPairUnknown``
    when none would. The result's ``as_of`` is its oldest ingredient's; ``derived_from`` lists
    them.
    """
    assert type(max_age_seconds) is int and max_age_seconds >= 0, max_age_seconds
    assert now.utcoffset() is not None, "now must carry its offset"
    for code in (base, quote, pivot, *bridges):
        Currency.of(code)
    if base == quote:
        raise FxPairUnknown(f"{base} is not converted to itself.", base=base, quote=quote)
    latest = now + timedelta(seconds=RATE_CLOCK_SKEW_SECONDS)
    oldest = now - timedelta(seconds=max_age_seconds)
    dated = [rate for rate in rates if rate.as_of <= latest]
    fresh = _path(
        _newest_by_pair(r for r in dated if r.as_of >= oldest), base, quote, pivot, bridges
    )
    if fresh is not None:
        return _as_rate(base, quote, fresh)
    aged = _path(_newest_by_pair(dated), base, quote, pivot, bridges)
    if aged is not None:
        stale = min((rate for rate in aged[1] if rate.as_of < oldest), key=lambda r: r.as_of)
        raise FxRateStale(
            f"The {base}->{quote} rate needs {stale.source}'s {stale.base}->{stale.quote} of "
            f"{stale.as_of.isoformat()}, older than {max_age_seconds} seconds.",
            base=base,
            quote=quote,
            stale_pair=f"{stale.base}>{stale.quote}",
            as_of=stale.as_of.isoformat(),
            max_age_seconds=max_age_seconds,
        )
    raise FxPairUnknown(
        f"No rate prices {base}->{quote}, directly or through {pivot}.",
        base=base,
        quote=quote,
        pivot=pivot,
    )


# --- corridors ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corridor:
    """One direction the operator converts in: UGX->KES is a corridor, KES->UGX another.

    ``min_minor`` and ``max_minor`` bound what the payer is debited, in source minor units (fee
    and spread included); ``kyc_tier_required`` is the payer's lowest KYC tier allowed.
    """

    source: Currency
    target: Currency
    enabled: bool
    spread_bps: int
    min_minor: int
    max_minor: int
    kyc_tier_required: KycTier

    def __post_init__(self) -> None:
        # parse_corridors is the producer from outside; these catch a programmer's slip.
        assert self.source != self.target, self
        assert type(self.spread_bps) is int and 0 <= self.spread_bps <= SPREAD_BPS_MAX, self
        assert type(self.min_minor) is int and type(self.max_minor) is int, self
        assert 1 <= self.min_minor <= self.max_minor, self
        assert isinstance(self.kyc_tier_required, KycTier), self

    @property
    def key(self) -> tuple[str, str]:
        return (self.source.code, self.target.code)


_CORRIDOR_FIELDS: Final = frozenset({"spread_bps", "min", "max", "kyc_tier", "enabled"})
_CORRIDOR_REQUIRED: Final = frozenset({"spread_bps", "max", "kyc_tier"})


def _refuse_float(text: str) -> NoReturn:
    raise FxCorridorsInvalid(
        f"{_echo(text)} is a JSON number with a fraction or exponent; amounts are decimal strings "
        "and spread_bps and kyc_tier whole numbers."
    )


def _refuse_constant(text: str) -> NoReturn:
    raise FxCorridorsInvalid(f"{text} is not JSON.")


def _object_without_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:
            raise FxCorridorsInvalid(f"{_echo(key)} is given twice.", field=key)
        found[key] = value
    return found


def _corridor_amount(key: str, name: str, text: object, currency: Currency) -> int:
    try:
        amount = Money.parse(text, currency)
    except DomainError as error:
        raise FxCorridorsInvalid(
            f"{key}: {name}: {error.detail}", corridor=key, field=name
        ) from error
    if amount.amount_minor <= 0:
        raise FxCorridorsInvalid(f"{key}: {name} must be above zero.", corridor=key, field=name)
    return amount.amount_minor


def _corridor(key: str, spec: object) -> Corridor:
    match = _CORRIDOR_KEY_SYNTAX.fullmatch(key)
    if match is None:
        raise FxCorridorsInvalid(
            f'{_echo(key)} is not a corridor; write "SOURCE>TARGET" such as "UGX>KES".',
            corridor=key,
        )
    try:
        source, target = Currency.of(match.group(1)), Currency.of(match.group(2))
    except DomainError as error:
        raise FxCorridorsInvalid(f"{key}: {error.detail}", corridor=key) from error
    if source == target:
        raise FxCorridorsInvalid(f"{key}: a currency is not converted to itself.", corridor=key)
    if not isinstance(spec, dict):
        raise FxCorridorsInvalid(f"{key}: the corridor must be a JSON object.", corridor=key)
    unknown = sorted(set(spec) - _CORRIDOR_FIELDS)
    if unknown:
        raise FxCorridorsInvalid(
            f"{key}: unknown field {unknown[0]!r}; the fields are "
            f"{', '.join(sorted(_CORRIDOR_FIELDS))}.",
            corridor=key,
            field=unknown[0],
        )
    missing = sorted(_CORRIDOR_REQUIRED - set(spec))
    if missing:
        raise FxCorridorsInvalid(
            f"{key}: {missing[0]!r} is required.", corridor=key, field=missing[0]
        )
    spread_bps = spec["spread_bps"]
    if type(spread_bps) is not int or not 0 <= spread_bps <= SPREAD_BPS_MAX:
        raise FxCorridorsInvalid(
            f"{key}: spread_bps must be a whole number of basis points from 0 to "
            f"{SPREAD_BPS_MAX}, got {spread_bps!r}.",
            corridor=key,
            field="spread_bps",
        )
    enabled = spec.get("enabled", True)
    if type(enabled) is not bool:
        raise FxCorridorsInvalid(
            f"{key}: enabled must be true or false, got {enabled!r}.", corridor=key, field="enabled"
        )
    raw_tier = spec["kyc_tier"]
    try:
        # tier_of refuses bools and anything that is not 0, 1 or 2.
        tier = tier_of(raw_tier) if type(raw_tier) is int else tier_of(-1)
    except DomainError as error:
        raise FxCorridorsInvalid(
            f"{key}: kyc_tier must be 0, 1 or 2, got {raw_tier!r}.", corridor=key, field="kyc_tier"
        ) from error
    max_minor = _corridor_amount(key, "max", spec["max"], source)
    # Without a minimum, the smallest amount that gives the payee anything is the minimum.
    min_minor = _corridor_amount(key, "min", spec["min"], source) if "min" in spec else 1
    if min_minor > max_minor:
        raise FxCorridorsInvalid(f"{key}: min is above max.", corridor=key, field="min")
    return Corridor(source, target, enabled, spread_bps, min_minor, max_minor, tier)


def parse_corridors(json_text: str) -> Mapping[tuple[str, str], Corridor]:
    """The SOKO_FX_CORRIDORS setting, strictly: every corridor by (source code, target code).

    The setting is a JSON object of corridors, each direction listed on its own (nothing is
    implied for the way back)::

        {"UGX>KES": {"spread_bps": 150, "min": "1000", "max": "5000000", "kyc_tier": 1},
         "KES>UGX": {"spread_bps": 150, "max": "150000.00", "kyc_tier": 1, "enabled": false}}

    ``spread_bps`` (0 to ``SPREAD_BPS_MAX``), ``max`` and ``kyc_tier`` (0, 1 or 2) are required;
    ``min`` defaults to one minor unit and ``enabled`` to true. ``min`` and ``max`` are decimal
    strings in major units of the source currency, with no more decimals than it has (as on the
    wire). Unknown fields, repeated keys, JSON numbers with fractions and anything else malformed
    are ``FxCorridorsInvalid`` naming the corridor and the field. An empty object offers no FX.
    """
    if not isinstance(json_text, str):
        raise FxCorridorsInvalid("The corridors setting must be JSON text.")
    try:
        parsed: object = json.loads(
            json_text,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_object_without_repeats,
        )
    except json.JSONDecodeError as error:
        raise FxCorridorsInvalid(
            f"The corridors setting is not JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}."
        ) from error
    if not isinstance(parsed, dict):
        raise FxCorridorsInvalid('The corridors setting must be a JSON object: {"UGX>KES": {...}}.')
    if len(parsed) > CORRIDORS_MAX:
        raise FxCorridorsInvalid(f"At most {CORRIDORS_MAX} corridors, got {len(parsed)}.")
    corridors = [_corridor(key, spec) for key, spec in parsed.items()]
    return MappingProxyType({corridor.key: corridor for corridor in corridors})


def find_corridor(
    corridors: Mapping[tuple[str, str], Corridor], source: Currency, target: Currency
) -> Corridor:
    """The enabled corridor from ``source`` to ``target``; a missing one is as closed as a
    disabled one (``FxCorridorDisabled``)."""
    corridor = corridors.get((source.code, target.code))
    if corridor is None or not corridor.enabled:
        raise FxCorridorDisabled(
            f"{source}->{target} conversions are not offered.",
            source=source.code,
            target=target.code,
        )
    return corridor


def check_corridor(corridor: Corridor, source_debit: Money, payer_tier: int) -> None:
    """The corridor's rules for a payer debited ``source_debit`` (fee and spread included)."""
    if not corridor.enabled:
        raise FxCorridorDisabled(
            f"{corridor.source}->{corridor.target} conversions are not offered.",
            source=corridor.source.code,
            target=corridor.target.code,
        )
    if source_debit.currency != corridor.source:
        raise CurrencyMismatch(
            f"The {corridor.source}->{corridor.target} corridor debits {corridor.source}, "
            f"not {source_debit.currency}.",
            currencies=[corridor.source.code, source_debit.currency.code],
        )
    if payer_tier < corridor.kyc_tier_required:
        raise FxTierTooLow(
            f"{corridor.source}->{corridor.target} needs KYC tier {corridor.kyc_tier_required:d}; "
            f"the payer has tier {payer_tier}.",
            tier_required=int(corridor.kyc_tier_required),
        )
    if not corridor.min_minor <= source_debit.amount_minor <= corridor.max_minor:
        low = Money(corridor.min_minor, corridor.source)
        high = Money(corridor.max_minor, corridor.source)
        raise FxAmountOutsideCorridor(
            f"{source_debit} is outside the {corridor.source}->{corridor.target} corridor, "
            f"{low.to_decimal_string()} to {high.to_decimal_string()}.",
            minimum=low.to_decimal_string(),
            maximum=high.to_decimal_string(),
            currency=corridor.source.code,
        )


# --- quotes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuoteAmounts:
    """What one conversion moves, all fixed before anything is posted.

    ``source_debit`` = ``converted`` + ``spread`` + ``fee``, all in the source currency;
    ``target`` is what the payee receives. ``mid`` is the rate the spread is taken from and
    ``customer_rate`` the rate the payer actually got on what was exchanged (target received per
    source unit after the fee), both target major units per one source major unit.
    """

    source_debit: Money
    converted: Money
    spread: Money
    fee: Money
    target: Money
    mid: Fraction
    customer_rate: Fraction
    spread_bps: int

    def __post_init__(self) -> None:
        source = self.source_debit.currency
        assert {self.converted.currency, self.spread.currency, self.fee.currency} == {source}
        assert self.target.currency != source, self
        assert self.source_debit == self.converted + self.spread + self.fee, self
        assert self.converted.is_positive() and self.target.is_positive(), self
        assert self.spread.amount_minor >= 0 and self.fee.amount_minor >= 0, self


def _minor_mid(mid: Fraction, source: Currency, target: Currency) -> Fraction:
    """The mid rate in target minor units per source minor unit: KES cents per UGX shilling."""
    return mid * Fraction(10**target.exponent, 10**source.exponent)


def _price_debit(
    mid: Fraction, spread_bps: int, fee_minor: int, debit: Money, target: Currency
) -> QuoteAmounts:
    source = debit.currency
    exchanged = debit.amount_minor - fee_minor
    # Rounding: the converted amount is rounded DOWN (floor division), so the spread, the rest,
    # is rounded UP: the platform keeps the part of a unit, never the payer.
    converted = exchanged * (BASIS_POINTS_WHOLE - spread_bps) // BASIS_POINTS_WHOLE
    minor_mid = _minor_mid(mid, source, target)
    # Rounding: the payee's amount is rounded DOWN to a whole target minor unit; the part of a
    # unit stays in the target liquidity account, which paid out less than it took in value.
    target_minor = converted * minor_mid.numerator // minor_mid.denominator
    if exchanged <= 0 or converted <= 0 or target_minor <= 0:
        raise FxAmountTooSmall(
            f"{debit} converts to less than one minor unit of {target} after the fee "
            f"and the spread.",
            currency=source.code,
        )
    return QuoteAmounts(
        source_debit=debit,
        converted=Money(converted, source),
        spread=Money(exchanged - converted, source),
        fee=Money(fee_minor, source),
        target=Money(target_minor, target),
        mid=mid,
        # Target major units per source major unit of what was exchanged (after the fee).
        customer_rate=Fraction(target_minor * 10**source.exponent, exchanged * 10**target.exponent),
        spread_bps=spread_bps,
    )


def price_quote(
    mid: Fraction,
    spread_bps: int,
    fee_minor: int,
    source: Currency,
    target: Currency,
    *,
    source_amount: Money | None = None,
    target_amount: Money | None = None,
) -> QuoteAmounts:
    """Price a conversion at the ``mid`` rate (target per source, major units) less a spread.

    Give exactly one amount:

    * ``source_amount``: what the payer is debited, everything included. The flat ``fee_minor``
      comes off first; ``spread_bps`` of the rest is the spread; what is left is converted.
    * ``target_amount``: what the payee should receive. The quote is the **smallest** source
      debit whose payee amount is at least that. The payee gets exactly the target unless one
      source minor unit is worth more than one target minor unit (USD cents to UGX shillings),
      and then at most the value of one source unit more.

    Rounding favours the platform by less than one minor unit at each step: the spread is rounded
    up in source minor units, the converted amount down, and the payee's amount down in target
    minor units (``target = floor(converted * mid)``, with the exponents of both currencies).
    """
    if type(mid) is not Fraction or mid <= 0:
        raise FxRateInvalid(f"The mid rate must be a positive Fraction, got {mid!r}.")
    assert type(spread_bps) is int and 0 <= spread_bps <= SPREAD_BPS_MAX, spread_bps
    assert type(fee_minor) is int and fee_minor >= 0, fee_minor
    if source == target:
        raise FxPairUnknown(f"{source} is not converted to itself.", base=source.code)
    if (source_amount is None) == (target_amount is None):
        raise ValueError("give exactly one of source_amount and target_amount")
    given = source_amount if source_amount is not None else target_amount
    assert given is not None
    expected = source if source_amount is not None else target
    if given.currency != expected:
        raise CurrencyMismatch(
            f"The amount is in {given.currency}; this quote needs {expected}.",
            currencies=[expected.code, given.currency.code],
        )
    if not given.is_positive():
        raise AmountMustBePositive(f"{given} is not above zero.")
    if source_amount is not None:
        return _price_debit(mid, spread_bps, fee_minor, source_amount, target)

    wanted = given.amount_minor
    minor_mid = _minor_mid(mid, source, target)
    # The smallest converted amount c with floor(c * mid) >= wanted is ceil(wanted / mid).
    converted = -(-wanted * minor_mid.denominator // minor_mid.numerator)
    # The smallest exchanged amount e with floor(e * (1 - bps)) >= c is ceil(c / (1 - bps)).
    exchanged = -(-converted * BASIS_POINTS_WHOLE // (BASIS_POINTS_WHOLE - spread_bps))
    # Both steps are monotone, so one unit less than this debit gives the payee less than wanted.
    amounts = _price_debit(mid, spread_bps, fee_minor, Money(exchanged + fee_minor, source), target)
    assert amounts.target.amount_minor >= wanted, (amounts, wanted)
    return amounts


def check_quote_usable(*, expires_at: datetime, used: bool, now: datetime) -> None:
    """A quote converts money once, and only until it expires (``expires_at`` is the first
    instant it no longer may)."""
    if used:
        raise FxQuoteUsed()
    if now >= expires_at:
        raise FxQuoteExpired(f"The quote expired at {expires_at.isoformat()}.")


def check_quote_matches(
    amounts: QuoteAmounts,
    *,
    source: Currency,
    target: Currency,
    source_amount: Money | None = None,
    target_amount: Money | None = None,
) -> None:
    """The quote accepted is the one for these wallets' currencies and, when the caller repeats
    an amount, for that amount: a quote is never stretched over another conversion."""
    if amounts.source_debit.currency != source or amounts.target.currency != target:
        raise FxQuoteMismatch(
            f"The quote converts {amounts.source_debit.currency}->{amounts.target.currency}; "
            f"the wallets hold {source} and {target}.",
        )
    if source_amount is not None and source_amount != amounts.source_debit:
        raise FxQuoteMismatch(f"The quote debits {amounts.source_debit}, not {source_amount}.")
    if target_amount is not None and target_amount != amounts.target:
        raise FxQuoteMismatch(f"The quote pays {amounts.target}, not {target_amount}.")


def check_quote_pays(amounts: QuoteAmounts, price: Money) -> None:
    """A quote pays a fixed price (a payment request, a dynamic QR code, an escrow order) only
    if it is the least quote for it: its target covers ``price`` and is over it by less than
    one source minor unit's worth at the mid rate (a target-amount quote for the price always
    is). The payee then receives exactly ``price``; the few target minor units a target quote
    may give over it (when one source minor unit is worth more than one target minor unit) stay
    in the target liquidity account, as every rounding does (docs/fx.md)."""
    target = amounts.target.currency
    if price.currency != target:
        raise FxQuoteMismatch(f"The quote pays {target}; the price is in {price.currency}.")
    over = amounts.target.amount_minor - price.amount_minor
    if over < 0 or over >= _minor_mid(amounts.mid, amounts.source_debit.currency, target):
        raise FxQuoteMismatch(
            f"The quote pays {amounts.target}, not {price}: quote the price as target_amount."
        )


def paying(amounts: QuoteAmounts, price: Money) -> QuoteAmounts:
    """The quote's amounts with the payee receiving exactly ``price`` (``check_quote_pays``
    first): the rest of the quote's target is never paid out."""
    check_quote_pays(amounts, price)
    return replace(amounts, target=price)


@dataclass(frozen=True, slots=True)
class Unwound:
    """What undoing part of a conversion gives the payer back, in the source currency."""

    converted: Money
    #: Of the spread and the fee together.
    charges: Money

    @property
    def total(self) -> Money:
        return self.converted + self.charges


def unwound_share(amounts: QuoteAmounts, share: Fraction) -> Unwound:
    """``share`` (0 to 1) of a conversion given back at its own locked rate: of the converted
    amount and of the spread and fee, each rounded DOWN to a source minor unit (the platform
    keeps less than one unit of each, never the payer's); all of it when ``share`` is 1."""
    assert 0 <= share <= 1, share
    charges = amounts.spread + amounts.fee
    return Unwound(
        converted=Money(amounts.converted.amount_minor * share.numerator // share.denominator,
                        amounts.converted.currency),
        charges=Money(charges.amount_minor * share.numerator // share.denominator,
                      charges.currency),
    )  # fmt: skip


# --- the legs of a conversion -------------------------------------------------------------------


class Role(StrEnum):
    """The accounts a conversion touches, by the part they play; the ledger names the real ones."""

    PAYER_WALLET = "payer_wallet"
    #: The operator's FX liquidity account in the source currency: takes the converted amount.
    LIQUIDITY_SOURCE = "fx_liquidity_source"
    #: The operator's FX liquidity account in the target currency: pays the payee.
    LIQUIDITY_TARGET = "fx_liquidity_target"
    PAYEE_WALLET = "payee_wallet"
    #: The operator's fee income account in the source currency.
    FEE_INCOME = "fee_income"


class LegKind(StrEnum):
    """Why a leg moves money, for the ledger's transfer codes."""

    CONVERSION = "fx_conversion"
    SPREAD = "fx_spread"
    FEE = "fx_fee"
    DELIVERY = "fx_delivery"


@dataclass(frozen=True, slots=True)
class Leg:
    """One same-currency transfer of a conversion: ``amount`` from ``debit`` to ``credit``."""

    debit: Role
    credit: Role
    amount: Money
    kind: LegKind

    def __post_init__(self) -> None:
        assert self.amount.is_positive(), self
        assert self.debit != self.credit, self


def conversion_legs(amounts: QuoteAmounts) -> list[Leg]:
    """The transfers of one conversion, to be posted together or not at all:

    ====================  ====================  ==========================  =================
    debit                 credit                amount                      currency
    ====================  ====================  ==========================  =================
    payer wallet          FX liquidity (source) converted                   source
    payer wallet          fee income            spread (if any)             source
    payer wallet          fee income            fee (if any)                source
    FX liquidity (target) payee wallet          target                      target
    ====================  ====================  ==========================  =================

    Every leg is within one currency, so each conserves money; the payer's legs sum to
    ``source_debit``. Zero legs are left out (a transfer moves a positive amount).
    """
    plan = (
        (Role.PAYER_WALLET, Role.LIQUIDITY_SOURCE, amounts.converted, LegKind.CONVERSION),
        (Role.PAYER_WALLET, Role.FEE_INCOME, amounts.spread, LegKind.SPREAD),
        (Role.PAYER_WALLET, Role.FEE_INCOME, amounts.fee, LegKind.FEE),
        (Role.LIQUIDITY_TARGET, Role.PAYEE_WALLET, amounts.target, LegKind.DELIVERY),
    )
    return [Leg(*row) for row in plan if row[2].is_positive()]


# --- the operator's FX settings, quotes as stored, prices with a tariff's fee ---------------------


@dataclass(frozen=True, slots=True)
class FxPolicy:
    """The operator's FX settings (SOKO_FX_*), checked at start-up: the pivot, the corridors,
    how old a rate may be, and how long a quote may be accepted."""

    pivot: str = PIVOT_DEFAULT
    corridors: Mapping[tuple[str, str], Corridor] = field(
        default_factory=lambda: MappingProxyType({})
    )
    rate_max_age_seconds: int = RATE_MAX_AGE_SECONDS_DEFAULT
    quote_seconds: int = 300
    #: Where the rate file is fetched from (SOKO_FX_RATES_URL); None: nothing is fetched.
    rates_url: str | None = None
    #: The source fetched rates are stored under.
    rates_source: str = "ecb"

    def __post_init__(self) -> None:
        Currency.of(self.pivot)
        assert type(self.rate_max_age_seconds) is int and self.rate_max_age_seconds > 0, self
        assert type(self.quote_seconds) is int and self.quote_seconds > 0, self


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced conversion offered to one person (its ``owner_id``), to accept once before
    ``expires_at``: the amounts on both sides and the rate that priced them, as published."""

    id: str
    owner_id: str
    amounts: QuoteAmounts
    rate: Rate
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    #: The payment that accepted it.
    payment_id: str | None = None

    def __post_init__(self) -> None:
        assert self.created_at < self.expires_at, self
        assert (self.used_at is None) == (self.payment_id is None), self
        assert self.rate.pair == (self.source.code, self.target.code), self

    @property
    def source(self) -> Currency:
        return self.amounts.source_debit.currency

    @property
    def target(self) -> Currency:
        return self.amounts.target.currency


def price_with_fees(
    mid: Fraction,
    spread_bps: int,
    fee_for: Callable[[int], int],
    source: Currency,
    target: Currency,
    *,
    source_amount: Money | None = None,
    target_amount: Money | None = None,
) -> QuoteAmounts:
    """``price_quote`` with the fee read off a tariff: ``fee_for(debit)`` is the flat fee for a
    payer debited ``debit`` source minor units (a band table: never decreasing in the debit).

    For a target amount, the exchanged amount ``E`` the payee needs does not depend on the fee,
    so the debit is the least ``D`` with ``D = E + fee_for(D)``: start at ``E + fee_for(E)`` and
    step up while a higher band's fee is due. Every ``D'`` that pays the target is at least each
    step (``fee_for`` never decreases), so the fixed point is the least debit; the loop ends
    within one step per band.
    """
    if source_amount is not None:
        if not source_amount.is_positive():
            raise AmountMustBePositive(f"{source_amount} is not above zero.")
        fee = fee_for(source_amount.amount_minor)
        return price_quote(mid, spread_bps, fee, source, target, source_amount=source_amount)
    needed = price_quote(mid, spread_bps, 0, source, target, target_amount=target_amount)
    exchanged = needed.source_debit.amount_minor
    debit = exchanged + fee_for(exchanged)
    while exchanged + fee_for(debit) > debit:
        debit = exchanged + fee_for(debit)
    amounts = price_quote(
        mid, spread_bps, fee_for(debit), source, target, source_amount=Money(debit, source)
    )
    assert amounts.target == needed.target, (amounts, needed)
    return amounts


def rate_decimal(value: Fraction, decimals: int = 10) -> str:
    """A rate shown as a decimal string, for people: rounded half-even to ``decimals`` places
    and trailing zeros dropped. Display only: the exact value (``n/d``) is what is used."""
    assert type(value) is Fraction and value > 0 and decimals >= 0, (value, decimals)
    scaled = value * 10**decimals
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and whole % 2):
        whole += 1
    text = str(whole).rjust(decimals + 1, "0")
    integer, fraction = text[: len(text) - decimals], text[len(text) - decimals :]
    fraction = fraction.rstrip("0")
    return f"{integer}.{fraction}" if fraction else integer


SENT_ABROAD: Final = N_(
    "Soko: {ref} confirmed. You paid {debit}; {name} gets {target}. Balance {balance}."
)
CONVERTED: Final = N_(
    "Soko: {ref} confirmed. You converted {debit} to {target}. Balance {balance}."
)


def sent_abroad_text(
    to: Reader, payment_id: str, debit: Money, target: Money, payee_name: str, *, balance: Money
) -> str:
    """To a payer whose money went to someone in another currency: what left the wallet (fee
    and spread included), what the payee gets, and what is left."""
    return compose(to, SENT_ABROAD, ref=payment_id[-10:], debit=debit, name=text_name(payee_name),
                   target=target, balance=balance)  # fmt: skip


def converted_text(to: Reader, payment_id: str, debit: Money, target: Money, balance: Money) -> str:
    """To a person who converted between their own wallets."""
    return compose(to, CONVERTED, ref=payment_id[-10:], debit=debit, target=target,
                   balance=balance)  # fmt: skip
