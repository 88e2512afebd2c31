"""The API's bodies for FX: rates, quotes, conversions and the operator's positions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from soko.channels.api.schemas import MoneyIn, MoneyPublic, OfferedCurrencyCode, _In
from soko.fx.domain import RATE_DECIMALS_MAX, Quote, Rate, rate_decimal
from soko.fx.rate_files import OPERATOR_SOURCE
from soko.fx.service import Position, Positions, RatesImported
from soko.kernel.money import Money

#: Decimals a rate is shown with; the exact value is beside it as "n/d".
RATE_SHOWN_DECIMALS = 10


class RatePublic(BaseModel):
    base: str = Field(examples=["USD"])
    quote: str = Field(examples=["KES"])
    rate: str = Field(
        description=f"Units of quote per one base, rounded to {RATE_SHOWN_DECIMALS} decimals "
        "for reading; `exact` is the value used.",
        examples=["129.25"],
    )
    exact: str = Field(description="The exact rate as numerator/denominator.", examples=["517/4"])
    source: str = Field(examples=["ecb", "operator"])
    as_of: datetime
    stale: bool | None = Field(
        default=None, description="Older than SOKO_FX_RATE_MAX_AGE_SECONDS: it prices nothing."
    )

    @classmethod
    def of(cls, rate: Rate, *, stale: bool | None = None) -> RatePublic:
        return cls(
            base=rate.base,
            quote=rate.quote,
            rate=rate_decimal(rate.value, RATE_SHOWN_DECIMALS),
            exact=f"{rate.value.numerator}/{rate.value.denominator}",
            source=rate.source,
            as_of=rate.as_of,
            stale=stale,
        )


class RateSet(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rate": "129.25", "source": "cbk"}]})

    rate: str = Field(
        description=f"Units of quote per one base: a decimal string, at most "
        f"{RATE_DECIMALS_MAX} decimals, never a JSON number.",
        examples=["129.25"],
        # Documented; checked by the domain (fx_rate_invalid), which also refuses zero.
        json_schema_extra={
            "pattern": rf"^[0-9]{{1,12}}(\.[0-9]{{1,{RATE_DECIMALS_MAX}}})?$",
            "maxLength": 40,
        },
    )
    source: str = Field(
        default=OPERATOR_SOURCE,
        description="Where the rate comes from: 1 to 64 of a-z 0-9 _ . + -.",
        json_schema_extra={"pattern": r"^[a-z][a-z0-9_.+-]{0,63}$"},
    )


class RatesImportedPublic(BaseModel):
    format: Literal["ecb_xml", "ecb_csv", "operator_csv"]
    added: int
    corrected: int = Field(description="Rates held for the same pair, source and time, replaced.")
    unchanged: int = Field(description="Rates already held exactly (a file imported again).")
    ignored: list[str] = Field(description="Currencies in the file that Soko does not hold.")

    @classmethod
    def of(cls, made: RatesImported) -> RatesImportedPublic:
        return cls(
            format=made.format.value,
            added=made.stored.added,
            corrected=made.stored.corrected,
            unchanged=made.stored.unchanged,
            ignored=list(made.ignored),
        )


class QuoteCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source_currency": "UGX",
                    "target_currency": "KES",
                    "source_amount": {"amount": "100000", "currency": "UGX"},
                }
            ],
            # Exactly one amount, checked below too.
            "oneOf": [
                {
                    "required": ["source_amount"],
                    "properties": {"source_amount": {"type": "object"}},
                    "not": {
                        "required": ["target_amount"],
                        "properties": {"target_amount": {"type": "object"}},
                    },
                },
                {
                    "required": ["target_amount"],
                    "properties": {"target_amount": {"type": "object"}},
                    "not": {
                        "required": ["source_amount"],
                        "properties": {"source_amount": {"type": "object"}},
                    },
                },
            ],
        },
    )

    source_currency: OfferedCurrencyCode = Field(examples=["UGX"])
    target_currency: OfferedCurrencyCode = Field(examples=["KES"])
    source_amount: MoneyIn | None = Field(
        default=None, description="What the payer is debited, fee and spread included."
    )
    target_amount: MoneyIn | None = Field(
        default=None, description="What the payee should receive (the least debit that pays it)."
    )
    payer_id: str | None = Field(
        default=None, description="Operator keys only: whose quote it is. Others quote as self."
    )

    @model_validator(mode="after")
    def _one_amount(self) -> Self:
        if (self.source_amount is None) == (self.target_amount is None):
            raise ValueError("give exactly one of source_amount and target_amount")
        return self


class QuotePublic(BaseModel):
    id: str = Field(examples=["fxq_01JH…"])
    owner_id: str
    source_currency: str
    target_currency: str
    source_amount: MoneyPublic = Field(description="What the payer is debited, all included.")
    converted: MoneyPublic = Field(description="The part of the debit converted at the mid rate.")
    spread: MoneyPublic = Field(description="The spread, in the source currency.")
    spread_bps: int
    fee: MoneyPublic = Field(description="The flat FX fee, in the source currency.")
    target_amount: MoneyPublic = Field(description="What the payee receives.")
    mid_rate: str = Field(description="Target per one source, major units, rounded for reading.")
    mid_rate_exact: str
    customer_rate: str = Field(description="What the payer got per unit exchanged (after fee).")
    rate_source: str
    rate_as_of: datetime = Field(description="The oldest published rate that priced it.")
    derived_from: list[RatePublic] = Field(description="The published rates behind the mid rate.")
    status: Literal["open", "used", "expired"]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    payment_id: str | None

    @classmethod
    def of(cls, quote: Quote, *, now: datetime) -> QuotePublic:
        amounts = quote.amounts
        used = quote.used_at is not None
        status: Literal["open", "used", "expired"] = (
            "used" if used else "open" if now < quote.expires_at else "expired"
        )
        return cls(
            id=quote.id,
            owner_id=quote.owner_id,
            source_currency=quote.source.code,
            target_currency=quote.target.code,
            source_amount=MoneyPublic.of(amounts.source_debit),
            converted=MoneyPublic.of(amounts.converted),
            spread=MoneyPublic.of(amounts.spread),
            spread_bps=amounts.spread_bps,
            fee=MoneyPublic.of(amounts.fee),
            target_amount=MoneyPublic.of(amounts.target),
            mid_rate=rate_decimal(amounts.mid, RATE_SHOWN_DECIMALS),
            mid_rate_exact=f"{amounts.mid.numerator}/{amounts.mid.denominator}",
            customer_rate=rate_decimal(amounts.customer_rate, RATE_SHOWN_DECIMALS),
            rate_source=quote.rate.source,
            rate_as_of=quote.rate.as_of,
            derived_from=[RatePublic.of(used_rate) for used_rate in quote.rate.derived_from],
            status=status,
            created_at=quote.created_at,
            expires_at=quote.expires_at,
            used_at=quote.used_at,
            payment_id=quote.payment_id,
        )


class ConversionCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"quote_id": "fxq_01JH4ZA1B2C3D4E5"}]}
    )

    quote_id: str = Field(examples=["fxq_01JH…"])
    owner_id: str | None = Field(
        default=None, description="Operator keys only: whose wallets. Others convert their own."
    )


class PositionPublic(BaseModel):
    currency: str
    liquidity: MoneyPublic = Field(description="What the FX liquidity account holds now.")
    conversions_out: int = Field(description="Conversions out of this currency in the period.")
    converted: MoneyPublic = Field(description="Converted out of this currency into liquidity.")
    spread: MoneyPublic = Field(description="Spread earned on conversions out of it.")
    fee: MoneyPublic = Field(description="FX fees earned on conversions out of it.")
    conversions_in: int = Field(description="Conversions into this currency in the period.")
    paid_out: MoneyPublic = Field(description="Paid out of liquidity to payees in it.")

    @classmethod
    def of(cls, position: Position) -> PositionPublic:
        volume, currency = position.volume, position.currency

        def money(minor: int) -> MoneyPublic:
            return MoneyPublic.of(Money.of(minor, currency))

        return cls(
            currency=currency,
            liquidity=MoneyPublic.of(position.liquidity),
            conversions_out=volume.conversions_out,
            converted=money(volume.converted),
            spread=money(volume.spread),
            fee=money(volume.fee),
            conversions_in=volume.conversions_in,
            paid_out=money(volume.paid_out),
        )


class PositionsPublic(BaseModel):
    since: datetime
    until: datetime
    items: list[PositionPublic]

    @classmethod
    def of(cls, report: Positions) -> PositionsPublic:
        return cls(
            since=report.since,
            until=report.until,
            items=[PositionPublic.of(position) for position in report.positions],
        )
