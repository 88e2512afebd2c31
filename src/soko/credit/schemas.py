"""The API's bodies for merchant credit: offers and why, loans, repayments, schedules, the book."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from soko.channels.api.schemas import MoneyIn, MoneyPublic, _In
from soko.credit.domain import (
    Frequency,
    Loan,
    LoanRepayment,
    Method,
    StoredOffer,
    flat_fee,
)
from soko.credit.service import CreditOffers, CurrencyPortfolio, Due, InstalmentTerms
from soko.kernel import limits

# --- offers ------------------------------------------------------------------------------------


class ReasonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(
        description="Stable snake_case: branch or translate on this.", examples=["tenure_too_short"]
    )
    text: str = Field(description="The reason in plain words, for the merchant.")


class OfferPublic(BaseModel):
    id: str = Field(examples=["off_01JH…"])
    merchant_id: str
    decision_id: str
    status: Literal["open", "used", "superseded"]
    limit: MoneyPublic = Field(description="The most the merchant may borrow on this offer.")
    fee_bps: int = Field(
        description="The fee in basis points of what is borrowed, charged once (flat).",
        examples=[600],
    )
    fee_on_limit: MoneyPublic = Field(description="The fee if the whole limit is borrowed.")
    withhold_bps: int = Field(
        description="The share of each sale that repays a revenue-based loan, in basis points.",
        examples=[1000],
    )
    term_days: int = Field(description="Days to repay in full.", examples=[120])
    grade: str = Field(examples=["B"])
    expires_at: datetime = Field(description="The offer can be taken until then.")
    created_at: datetime

    @classmethod
    def of(cls, offer: StoredOffer) -> OfferPublic:
        limit = MoneyPublic.minor(offer.limit_minor, offer.currency)
        return cls(
            id=offer.id,
            merchant_id=offer.merchant_id,
            decision_id=offer.decision_id,
            status=offer.status.value,
            limit=limit,
            fee_bps=offer.fee_bps,
            # The loan's own arithmetic: the flat fee, rounded in the lender's favour.
            fee_on_limit=MoneyPublic.minor(
                flat_fee(offer.limit_minor, offer.fee_bps), offer.currency
            ),
            withhold_bps=offer.withhold_bps,
            term_days=offer.term_days,
            grade=offer.grade,
            expires_at=offer.expires_at,
            created_at=offer.created_at,
        )


class CreditOffersPublic(BaseModel):
    merchant_id: str
    offers: list[OfferPublic] = Field(description="Open offers; empty when there is none.")
    reasons: list[ReasonPublic] = Field(
        description="Why there is no offer (or what limited it), most important first."
    )
    improvements: list[ReasonPublic] = Field(
        description="What would most improve the merchant's next decision."
    )
    score: int | None = Field(description="The scorecard's points; null with a loan open.")
    grade: str | None = Field(description="The grade the score falls in (`-` for none).")
    scorecard_version: str | None
    decision_id: str | None = Field(
        description="The stored decision this answer comes from, with its inputs (audit)."
    )

    @classmethod
    def of(cls, found: CreditOffers) -> CreditOffersPublic:
        decision = found.decision
        return cls(
            merchant_id=found.merchant_id,
            offers=[OfferPublic.of(offer) for offer in found.offers],
            reasons=[ReasonPublic.model_validate(r) for r in found.reasons],
            improvements=[ReasonPublic.model_validate(r) for r in found.improvements],
            score=None if decision is None else decision.score,
            grade=None if decision is None else decision.grade,
            scorecard_version=None if decision is None else decision.scorecard_version,
            decision_id=None if decision is None else decision.id,
        )


# --- loans -------------------------------------------------------------------------------------


class InstalmentsIn(_In):
    count: int = Field(
        description="How many instalments (checked by the use case).",
        examples=[6],
        json_schema_extra={"minimum": 1, "maximum": limits.LOAN_INSTALMENTS_MAX},
    )
    frequency: Literal["weekly", "monthly"]
    method: Literal["flat", "declining"] = Field(
        description="flat: principal and fee in equal parts; declining: level payments with "
        "interest on what is still owed (less than the flat fee)."
    )

    def to_terms(self) -> InstalmentTerms:
        return InstalmentTerms(self.count, Frequency(self.frequency), Method(self.method))


_EXAMPLE_LOAN: JsonDict = {
    "offer_id": "off_01JH4Z6Q8R9S0T1V2W3X4Y5Z6A",
    "amount": {"amount": "15000.00", "currency": "KES"},
    "repayment": "revenue",
}


class LoanCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [_EXAMPLE_LOAN],
            # Instalments go with repayment "instalments" and only with it.
            "oneOf": [
                {
                    "properties": {
                        "repayment": {"const": "revenue"},
                        "instalments": {"type": "null"},
                    }
                },
                {
                    "required": ["repayment", "instalments"],
                    "properties": {
                        "repayment": {"const": "instalments"},
                        "instalments": {"type": "object"},
                    },
                },
            ],
        },
    )

    offer_id: str = Field(examples=["off_01JH…"])
    amount: MoneyIn = Field(description="At most the offer's limit, in its currency.")
    repayment: Literal["revenue", "instalments"] = Field(
        default="revenue",
        description="revenue: a share of each sale, with a minimum per period; instalments: a "
        "fixed schedule, then `instalments` is required.",
    )
    instalments: InstalmentsIn | None = None


class LoanRepaymentCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"amount": {"amount": "2500.00", "currency": "KES"}}]},
    )

    amount: MoneyIn = Field(description="At most what the loan still owes, in its currency.")


class InstalmentsPublic(BaseModel):
    count: int
    frequency: Literal["weekly", "monthly"]
    method: Literal["flat", "declining"]


class LoanRepaymentPublic(BaseModel):
    id: str = Field(examples=["lrp_01JH…"])
    loan_id: str
    kind: Literal["sweep", "manual", "minimum"] = Field(
        description="sweep: a share of a sale; manual: paid by the merchant; minimum: collected "
        "by the worker for a minimum the sales did not cover."
    )
    amount: MoneyPublic
    principal_part: MoneyPublic
    fee_part: MoneyPublic
    payment_id: str | None = Field(description="The sale a sweep came from.")
    created_at: datetime

    @classmethod
    def of(cls, repayment: LoanRepayment, currency: str) -> LoanRepaymentPublic:
        return cls(
            id=repayment.id,
            loan_id=repayment.loan_id,
            kind=repayment.kind.value,
            amount=MoneyPublic.minor(repayment.amount_minor, currency),
            principal_part=MoneyPublic.minor(repayment.principal_part_minor, currency),
            fee_part=MoneyPublic.minor(repayment.fee_part_minor, currency),
            payment_id=repayment.payment_id,
            created_at=repayment.created_at,
        )


class LoanPublic(BaseModel):
    id: str = Field(examples=["loan_01JH…"])
    merchant_id: str
    offer_id: str
    status: Literal["active", "repaid", "written_off"]
    repayment: Literal["revenue", "instalments"]
    instalments: InstalmentsPublic | None
    principal: MoneyPublic
    fee: MoneyPublic = Field(description="The fee agreed (or a declining schedule's interest).")
    late_fees: MoneyPublic
    total_repayable: MoneyPublic
    repaid: MoneyPublic
    outstanding: MoneyPublic
    fee_bps: int
    withhold_bps: int = Field(description="The share of each sale swept; 0 for instalments.")
    term_days: int
    missed_periods: int
    max_days_past_due: int
    grade: str
    scorecard_version: str
    disbursed_at: datetime
    closed_at: datetime | None
    repayments: list[LoanRepaymentPublic] | None = Field(
        default=None,
        description=f"GET /v1/loans/{{loan_id}} only: the newest "
        f"{limits.LOAN_REPAYMENTS_SHOWN_MAX} repayments, newest first.",
    )

    @classmethod
    def of(cls, loan: Loan, repayments: list[LoanRepayment] | None = None) -> LoanPublic:
        def money(minor: int) -> MoneyPublic:
            return MoneyPublic.minor(minor, loan.currency)

        terms = None
        if loan.instalments is not None:
            assert loan.frequency is not None and loan.method is not None, loan
            terms = InstalmentsPublic(
                count=loan.instalments,
                frequency=loan.frequency.value,
                method=loan.method.value,
            )
        return cls(
            id=loan.id,
            merchant_id=loan.merchant_id,
            offer_id=loan.offer_id,
            status=loan.status.value,
            repayment=loan.repayment.value,
            instalments=terms,
            principal=money(loan.principal_minor),
            fee=money(loan.fee_minor),
            late_fees=money(loan.late_fees_minor),
            total_repayable=money(loan.total_repayable_minor),
            repaid=money(loan.repaid_minor),
            outstanding=money(loan.outstanding_minor),
            fee_bps=loan.fee_bps,
            withhold_bps=loan.withhold_bps,
            term_days=loan.term_days,
            missed_periods=loan.missed_periods,
            max_days_past_due=loan.max_days_past_due,
            grade=loan.grade,
            scorecard_version=loan.scorecard_version,
            disbursed_at=loan.disbursed_at,
            closed_at=loan.closed_at,
            repayments=None
            if repayments is None
            else [LoanRepaymentPublic.of(r, loan.currency) for r in repayments],
        )


class DuePublic(BaseModel):
    number: int
    due_on: date = Field(description="A UTC day.")
    amount: MoneyPublic = Field(description="What falls due on this day.")
    cumulative: MoneyPublic = Field(description="What must have been repaid by then, in all.")
    met: bool = Field(description="Whether what was repaid so far covers it.")


class SchedulePublic(BaseModel):
    loan_id: str
    repayment: Literal["revenue", "instalments"]
    items: list[DuePublic] = Field(
        description="A revenue loan's minimum per period, or the instalments."
    )

    @classmethod
    def of(cls, loan: Loan, dues: list[Due]) -> SchedulePublic:
        return cls(
            loan_id=loan.id,
            repayment=loan.repayment.value,
            items=[
                DuePublic(
                    number=due.number,
                    due_on=due.due_on,
                    amount=MoneyPublic.minor(due.amount_minor, loan.currency),
                    cumulative=MoneyPublic.minor(due.cumulative_minor, loan.currency),
                    met=due.met,
                )
                for due in dues
            ],
        )


# --- the portfolio -----------------------------------------------------------------------------


class SegmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str = Field(description="The grade, or the scorecard version.")
    loans: int
    written_off: int
    default_rate_bps: int = Field(description="Loans written off per 10 000, rounded up.")


class CurrencyPortfolioPublic(BaseModel):
    currency: str
    loans: int
    active: int
    disbursed: MoneyPublic
    outstanding_principal: MoneyPublic
    repaid_principal: MoneyPublic
    fees_earned: MoneyPublic
    written_off: MoneyPublic
    par1: MoneyPublic = Field(description="Outstanding principal at least 1 day past due.")
    par30: MoneyPublic
    par90: MoneyPublic
    by_grade: list[SegmentPublic]
    by_scorecard: list[SegmentPublic]

    @classmethod
    def of(cls, book: CurrencyPortfolio) -> CurrencyPortfolioPublic:
        def money(minor: int) -> MoneyPublic:
            return MoneyPublic.minor(minor, book.currency)

        return cls(
            currency=book.currency,
            loans=book.loans,
            active=book.active,
            disbursed=money(book.disbursed_minor),
            outstanding_principal=money(book.outstanding_principal_minor),
            repaid_principal=money(book.repaid_principal_minor),
            fees_earned=money(book.fees_earned_minor),
            written_off=money(book.written_off_minor),
            par1=money(book.at_risk_minor[0]),
            par30=money(book.at_risk_minor[1]),
            par90=money(book.at_risk_minor[2]),
            by_grade=[SegmentPublic.model_validate(s) for s in book.by_grade],
            by_scorecard=[SegmentPublic.model_validate(s) for s in book.by_scorecard],
        )


class PortfolioPublic(BaseModel):
    items: list[CurrencyPortfolioPublic] = Field(description="One per currency lent in.")
