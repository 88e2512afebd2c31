"""FX's business failures, each named after the rule it breaks.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── FxRateInvalid, FxRateFileInvalid, FxCorridorsInvalid, FxQuoteMismatch,
    │       FxPeriodInvalid
    ├── NotFound                     kind=not_found
    │   └── FxPairUnknown, FxQuoteNotFound
    ├── Conflict                     kind=conflict
    │   └── FxQuoteExpired, FxQuoteUsed
    ├── Rejected                     kind=rejected
    │   └── FxRateStale, FxCorridorDisabled, FxAmountOutsideCorridor, FxAmountTooSmall,
    │       FxLiquidityInsufficient, FxRatesUnavailable
    └── Forbidden                    kind=forbidden
        └── FxTierTooLow
"""

from __future__ import annotations

from soko.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, Rejected

__all__ = [
    "FxAmountOutsideCorridor",
    "FxAmountTooSmall",
    "FxCorridorDisabled",
    "FxCorridorsInvalid",
    "FxLiquidityInsufficient",
    "FxPairUnknown",
    "FxPeriodInvalid",
    "FxQuoteExpired",
    "FxQuoteMismatch",
    "FxQuoteNotFound",
    "FxQuoteUsed",
    "FxRateFileInvalid",
    "FxRateInvalid",
    "FxRateStale",
    "FxRatesUnavailable",
    "FxTierTooLow",
]


# --- rates and rate files -----------------------------------------------------------------------


class FxRateInvalid(InvalidInput):
    code = "fx_rate_invalid"
    title = "A rate is a positive decimal string, at most 12 decimals, between two currencies."


class FxRateFileInvalid(InvalidInput):
    code = "fx_rate_file_invalid"
    title = "The rate file is malformed; none of its rates were imported."


class FxRatesUnavailable(Rejected):
    code = "fx_rates_unavailable"
    title = "The configured rate source could not be read; no rates were imported."


class FxPairUnknown(NotFound):
    code = "fx_pair_unknown"
    title = "No rate, direct, inverse or through the pivot currency, is known for the pair."


class FxRateStale(Rejected):
    code = "fx_rate_stale"
    title = "The only rates known for the pair are older than the maximum age; none is used."


# --- corridors ----------------------------------------------------------------------------------


class FxCorridorsInvalid(InvalidInput):
    code = "fx_corridors_invalid"
    title = "The FX corridors setting is not the JSON object of corridors Soko expects."


class FxCorridorDisabled(Rejected):
    code = "fx_corridor_disabled"
    title = "The operator does not offer conversions in this direction between these currencies."


class FxAmountOutsideCorridor(Rejected):
    code = "fx_amount_outside_corridor"
    title = "The amount is below the corridor's minimum or above its maximum."


class FxAmountTooSmall(Rejected):
    code = "fx_amount_too_small"
    title = "After the fee and the spread, the amount would give the payee nothing."


class FxTierTooLow(Forbidden):
    code = "fx_tier_too_low"
    title = "The corridor needs a higher KYC tier than the payer's."


# --- quotes and conversions ---------------------------------------------------------------------


class FxQuoteNotFound(NotFound):
    code = "fx_quote_not_found"
    title = "No such FX quote."


class FxQuoteExpired(Conflict):
    code = "fx_quote_expired"
    title = "The FX quote expired before it was accepted; ask for a new one."


class FxQuoteUsed(Conflict):
    code = "fx_quote_used"
    title = "The FX quote has been accepted already; a quote converts money once."


class FxQuoteMismatch(InvalidInput):
    code = "fx_quote_mismatch"
    title = "The quote's currencies or amount differ from the wallets or the amount given."


class FxLiquidityInsufficient(Rejected):
    code = "fx_liquidity_insufficient"
    title = "The operator's FX liquidity in the target currency cannot cover the conversion."


# --- the operator's reports ---------------------------------------------------------------------


class FxPeriodInvalid(InvalidInput):
    code = "fx_period_invalid"
    title = "A period's start must be before its end, both times with their UTC offset."
