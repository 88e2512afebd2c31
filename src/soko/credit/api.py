"""Merchant credit over HTTP: a merchant's offers and why, loans taken and repaid, schedules, and
the operator's loan book (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from soko.channels.api.deps import Caller, ContextDep, IdempotencyKey, OperatorCaller, Principal
from soko.channels.api.problems import CALLER_NOT_ALLOWED, ApiError
from soko.channels.api.schemas import MONEY_MOVING_PROBLEMS, Page, problem_responses
from soko.credit import service as credit
from soko.credit.domain import Loan, LoanStatus
from soko.credit.errors import LoanNotFound
from soko.credit.schemas import (
    CreditOffersPublic,
    CurrencyPortfolioPublic,
    LoanCreate,
    LoanPublic,
    LoanRepaymentCreate,
    LoanRepaymentPublic,
    PortfolioPublic,
    SchedulePublic,
)
from soko.kernel import limits
from soko.kernel.errors import InvalidInput
from soko.kernel.money import Money
from soko.people.errors import UserNotFound

router = APIRouter(prefix="/v1", tags=["credit"])

_READ = problem_responses(401, 404, 422, 503)
_OPERATOR_READ = problem_responses(401, 403, 422, 503)


def _borrower(caller: Principal, doing: str) -> str:
    """The merchant a credit operation acts for: the caller itself. Credit is the merchant's
    own decision, so an operator key may not take or repay a loan in its name."""
    if caller.is_operator:
        raise ApiError(
            CALLER_NOT_ALLOWED, f"{doing} needs the merchant's API key or its own session"
        )
    assert caller.user_id is not None, caller
    return caller.user_id


def visible_loan(
    loan_id: Annotated[str, Path(examples=["loan_01JH…"])], caller: Caller, ctx: ContextDep
) -> Loan:
    loan = credit.get_loan(ctx, loan_id)
    # Another merchant's loan answers exactly as an unknown id.
    if not caller.may_see(loan.merchant_id):
        raise LoanNotFound(loan_id=loan_id[:64])
    return loan


VisibleLoan = Annotated[Loan, Depends(visible_loan)]


@router.get(
    "/merchants/{merchant_id}/credit-offers",
    operation_id="getCreditOffers",
    response_model=CreditOffersPublic,
    responses=_READ,
)
def get_credit_offers(
    merchant_id: Annotated[str, Path(examples=["usr_01JH…"])],
    caller: Caller,
    ctx: ContextDep,
) -> CreditOffersPublic:
    """What the merchant may borrow now, scored from its own sales on Soko: the open offers, or
    none with the reasons why and what would improve the next decision.

    The merchant is scored at most once a day (the same sales give the same decision); each
    decision is stored with its inputs. A merchant key or session sees only its own merchant.
    """
    if not caller.may_see(merchant_id):
        raise UserNotFound(user_id=merchant_id[:64])
    return CreditOffersPublic.of(credit.credit_offers(ctx, merchant_id))


@router.post(
    "/loans",
    operation_id="createLoan",
    status_code=201,
    response_model=LoanPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def create_loan(
    body: Annotated[
        LoanCreate,
        Body(
            openapi_examples={
                "revenue": {
                    "summary": "Repaid as a share of each sale",
                    "value": {
                        "offer_id": "off_01JH4Z6Q8R9S0T1V2W3X4Y5Z6A",
                        "amount": {"amount": "15000.00", "currency": "KES"},
                        "repayment": "revenue",
                    },
                },
                "instalments": {
                    "summary": "Repaid in six monthly instalments, interest on what is owed",
                    "value": {
                        "offer_id": "off_01JH4Z6Q8R9S0T1V2W3X4Y5Z6A",
                        "amount": {"amount": "15000.00", "currency": "KES"},
                        "repayment": "instalments",
                        "instalments": {"count": 6, "frequency": "monthly", "method": "declining"},
                    },
                },
            }
        ),
    ],
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> LoanPublic:
    """Take a credit offer: the amount (at most the offer's limit) is in the merchant's wallet
    at once. Repaid from each sale (revenue) or on a schedule (instalments).

    Called with the merchant's API key or its own session; not with an operator key.
    """
    merchant_id = _borrower(caller, "taking a loan")
    if (body.repayment == "instalments") != (body.instalments is not None):
        raise InvalidInput(
            "instalments go with repayment: instalments, and only with it", field="instalments"
        )
    loan = credit.accept_offer(
        ctx,
        merchant_id=merchant_id,
        offer_id=body.offer_id,
        amount=body.amount.to_money(),
        idempotency_key=key,
        instalments=None if body.instalments is None else body.instalments.to_terms(),
    )
    response.headers["Location"] = f"/v1/loans/{loan.id}"
    return LoanPublic.of(loan)


@router.get("/loans/{loan_id}", operation_id="getLoan", response_model=LoanPublic,
            responses=_READ)  # fmt: skip
def get_loan(loan: VisibleLoan, ctx: ContextDep) -> LoanPublic:
    """A loan, where it stands, and its newest repayments."""
    return LoanPublic.of(loan, credit.list_repayments(ctx, loan.id))


@router.get("/loans", operation_id="listLoans", response_model=Page[LoanPublic], responses=_READ)
def list_loans(
    *,
    caller: Caller,
    ctx: ContextDep,
    merchant_id: Annotated[
        str | None,
        Query(description="Operator keys: one merchant's loans (all merchants' without it)."),
    ] = None,
    status: Annotated[
        Literal["active", "repaid", "written_off"] | None, Query(description="Only these.")
    ] = None,
    limit: Annotated[
        int,
        Query(
            description="Loans per page.",
            # Documented here, checked by the use case (page_size_invalid).
            json_schema_extra={"minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
        ),
    ] = limits.PAGE_SIZE_DEFAULT,
    before: Annotated[
        str | None, Query(description="next_cursor of the previous page: older loans.")
    ] = None,
) -> Page[LoanPublic]:
    """The caller's loans, newest first."""
    if caller.is_operator:
        owner = merchant_id
    else:
        assert caller.user_id is not None, caller
        if merchant_id is not None and merchant_id != caller.user_id:
            raise UserNotFound(user_id=merchant_id[:64])
        owner = caller.user_id
    found = credit.list_loans(
        ctx,
        merchant_id=owner,
        status=None if status is None else LoanStatus(status),
        limit=limit,
        before=before,
    )
    return Page(
        items=[LoanPublic.of(loan) for loan in found],
        next_cursor=found[-1].id if len(found) == limit else None,
    )


@router.get(
    "/loans/{loan_id}/schedule",
    operation_id="getLoanSchedule",
    response_model=SchedulePublic,
    responses=_READ,
)
def get_loan_schedule(loan: VisibleLoan, ctx: ContextDep) -> SchedulePublic:
    """The loan's due dates (UTC days): a revenue loan's cumulative minimum per period, or its
    instalments, each marked met once what was repaid covers it."""
    return SchedulePublic.of(loan, credit.schedule(ctx, loan))


@router.post(
    "/loans/{loan_id}/repayments",
    operation_id="createLoanRepayment",
    status_code=201,
    response_model=LoanRepaymentPublic,
    responses=MONEY_MOVING_PROBLEMS,
)
def create_loan_repayment(
    *,
    loan_id: Annotated[str, Path(examples=["loan_01JH…"])],
    body: LoanRepaymentCreate,
    caller: Caller,
    key: IdempotencyKey,
    ctx: ContextDep,
    response: Response,
) -> LoanRepaymentPublic:
    """Repay part or all of a loan early, from the merchant's wallet: the fee's share first in
    proportion, as every repayment is split. With the merchant's key or its own session."""
    merchant_id = _borrower(caller, "repaying a loan")
    amount: Money = body.amount.to_money()
    made = credit.repay(
        ctx, merchant_id=merchant_id, loan_id=loan_id, amount=amount, idempotency_key=key
    )
    response.headers["Location"] = f"/v1/loans/{made.loan_id}"
    return LoanRepaymentPublic.of(made, amount.currency.code)


@router.get(
    "/credit/portfolio",
    operation_id="getCreditPortfolio",
    response_model=PortfolioPublic,
    responses=_OPERATOR_READ,
)
def get_credit_portfolio(caller: OperatorCaller, ctx: ContextDep) -> PortfolioPublic:
    """The operator's loan book per currency: lent, outstanding, repaid, fees earned, portfolio
    at risk (1, 30 and 90 days past due), written off, and default rates by grade and by
    scorecard version. Operator keys only."""
    return PortfolioPublic(
        items=[CurrencyPortfolioPublic.of(book) for book in credit.portfolio(ctx)]
    )


_CSV_COLUMNS = ("currency", "segment", "key", "loans", "active", "written_off_loans",
                "default_rate_bps", "disbursed", "outstanding_principal", "repaid_principal",
                "fees_earned", "written_off", "par1", "par30", "par90")  # fmt: skip


@router.get(
    "/credit/portfolio.csv",
    operation_id="getCreditPortfolioCsv",
    response_class=Response,
    responses={
        200: {
            "description": "The loan book as CSV: a total row per currency, then its grades "
            "and scorecard versions. Amounts in major units.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **_OPERATOR_READ,
    },
)
def get_credit_portfolio_csv(caller: OperatorCaller, ctx: ContextDep) -> Response:
    """The loan book as CSV, for a spreadsheet. Operator keys only."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for book in credit.portfolio(ctx):
        public = CurrencyPortfolioPublic.of(book)
        money: dict[str, Any] = {
            name: getattr(public, name).amount
            for name in _CSV_COLUMNS[7:]
        }  # fmt: skip
        written_off_loans = sum(s.written_off for s in book.by_grade)
        rate = -(-written_off_loans * 10_000 // book.loans) if book.loans else 0
        writer.writerow([book.currency, "total", "", book.loans, book.active, written_off_loans,
                         rate, *money.values()])  # fmt: skip
        for segment, rows in (("grade", book.by_grade), ("scorecard", book.by_scorecard)):
            for row in rows:
                writer.writerow([book.currency, segment, row.key, row.loans, "", row.written_off,
                                 row.default_rate_bps] + [""] * 8)  # fmt: skip
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="credit-portfolio.csv"'},
    )
