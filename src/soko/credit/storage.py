"""Credit in SQL: the window's sales read by index off the payments, decisions, offers, loans."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Connection, Dialect, Row

from soko.credit.domain import (
    Frequency,
    Loan,
    LoanRepayment,
    LoanStatus,
    Method,
    OfferStatus,
    Repayment,
    RepaymentKind,
    StoredOffer,
)
from soko.credit.ports import DaySales, SalesWindow, StoredDecision, SweepTerms
from soko.credit.tables import credit_decisions, credit_offers, loan_repayments, loans
from soko.db.deferred import DeferredWrites
from soko.db.driver import sqlalchemy_errors
from soko.db.types import to_epoch_micros
from soko.escrow.tables import escrow_disputes, escrow_orders
from soko.kernel.ports import TransientConflict
from soko.payments.domain import SALE_KINDS
from soko.payments.tables import payments

#: Payments that are a merchant's sales: at the till, by QR or request, and escrow releases.
_MICROS_PER_DAY = 86_400_000_000

# A sale's sweep reads, updates and adds to these in every payment to a borrowing merchant:
# statements built once, so SQLAlchemy computes their cache keys once (a statement built per
# call costs its cache key every time: about as much as the rest of the sweep).
_LOAN_BY_ID = sa.select(loans).where(loans.c.id == sa.bindparam("loan_id"))
_LOAN_BY_ID_LOCKED = _LOAN_BY_ID.with_for_update()
#: What a repayment, a late fee or a write-off may change; the loan's identity, principal and
#: disbursement never change.
_LOAN_FIXED = ("id", "merchant_id", "offer_id", "currency", "principal", "disbursed_at")
_UPDATE_LOAN = (
    loans.update()
    .where(loans.c.id == sa.bindparam("loan_id"))
    .values({c.name: sa.bindparam(f"new_{c.name}") for c in loans.c if c.name not in _LOAN_FIXED})
)


class _SweepSql:
    """A sale's sweep's statements for one dialect, compiled once from Core and run on the DBAPI
    cursor, as the ledger's hot statements are (soko.db.driver): through SQLAlchemy's execution
    path the loan's read, its update and the repayment row cost about as much Python as the rest
    of the sweep together. Named parameters (`:name` on SQLite, `%(name)s` on psycopg)."""

    def __init__(self, dialect: Dialect, *, row_locks: bool) -> None:
        self.dialect = dialect
        self.row_locks = row_locks
        lock = sa.select(
            loans.c.currency,
            loans.c.status,
            loans.c.withhold_bps,
            loans.c.principal - loans.c.repaid_principal,
            loans.c.fee + loans.c.late_fees - loans.c.repaid_fee,
        ).where(loans.c.id == sa.bindparam("loan_id"))
        self.lock = self._compile(lock.with_for_update() if row_locks else lock)
        # Increments: the loan is locked, and even a missed lock could not lose an update.
        add = (
            loans.update()
            .where(loans.c.id == sa.bindparam("b_id"))
            .values(
                repaid_principal=loans.c.repaid_principal
                + sa.bindparam("d_principal", type_=sa.BigInteger()),
                repaid_fee=loans.c.repaid_fee + sa.bindparam("d_fee", type_=sa.BigInteger()),
            )
        )
        insert = loan_repayments.insert().values(
            {c.name: sa.bindparam(f"r_{c.name}", type_=c.type) for c in loan_repayments.c}
        )
        #: PostgreSQL: the loan's update rides in the repayment's INSERT as a data-modifying
        #: CTE (run exactly once, read or not): one statement, one round trip. SQLite has no
        #: such CTE, and no round trips: two statements.
        self.add: str | None = None if row_locks else self._compile(add)
        self.record = self._compile(insert.add_cte(add.cte("added")) if row_locks else insert)

    def _compile(self, statement: Any, **kwargs: Any) -> str:
        # No bind processing happens on this path: every parameter must be a plain value.
        return str(statement.compile(dialect=self.dialect, **kwargs))


@functools.cache
def _sweep_sql(dialect_name: str) -> _SweepSql:
    if dialect_name == "sqlite":
        return _SweepSql(pysqlite.dialect(paramstyle="named"), row_locks=False)
    dialect = postgresql_psycopg.dialect(paramstyle="pyformat")  # type: ignore[no-untyped-call]
    return _SweepSql(dialect, row_locks=True)


def _day(column: Any, dialect_name: str) -> Any:
    """The UTC day number of a timestamp column, computed by the database: GROUP BY over the
    index range never brings the window's rows into Python."""
    if dialect_name == "postgresql":
        # Date arithmetic, not floor(epoch / 86400): EXTRACT returns NUMERIC, and dividing it
        # per row took half the time of the whole aggregate over a window's 20,000 sales.
        utc_day = sa.cast(sa.func.timezone("UTC", column), sa.Date)
        return sa.type_coerce(utc_day - sa.literal_column("DATE '1970-01-01'"), sa.BigInteger)
    # SQLite keeps UtcDateTime as integer microseconds since the epoch.
    return sa.type_coerce(column, sa.BigInteger) // _MICROS_PER_DAY


_PART_DAY, _PART_PAYERS, _PART_FIRST, _PART_DISPUTES, _PART_RECORD = range(5)


def _tag(part: int) -> Any:
    return sa.literal_column(str(part), sa.Integer)


def _sales_by_day_sqlite(wallet_id: Any, is_sale: Any) -> sa.Select[Any]:
    """SQLite's sales by day: one index range per day of the window (a recursive CTE of day
    numbers, each summed by a correlated subquery), not a GROUP BY, which SQLite answers by
    sorting every sale of the window in a temporary B-tree: 4.6 ms against 10 ms for 20,000
    sales. The subquery's three sums travel as one JSON array (a scalar subquery returns one
    value); JSON keeps integers exact."""
    micros = payments.c.created_at  # integer microseconds on SQLite
    created = sa.type_coerce(micros, sa.BigInteger)
    first = sa.bindparam("first_day", type_=sa.BigInteger())
    end = sa.bindparam("end_day", type_=sa.BigInteger())
    days = sa.select(first.label("n")).cte("days", recursive=True)
    days = days.union_all(sa.select((days.c.n + 1).label("n")).where(days.c.n + 1 < end))
    per_day = (
        sa.select(
            sa.func.json_array(
                sa.func.sum(payments.c.amount), sa.func.count(), sa.func.sum(payments.c.refunded)
            )
        )
        .where(
            payments.c.payee_wallet_id == wallet_id,
            created >= days.c.n * _MICROS_PER_DAY,
            created < (days.c.n + 1) * _MICROS_PER_DAY,
            is_sale,
        )
        .scalar_subquery()
    )
    # MATERIALIZED: otherwise SQLite inlines the subquery into each of the four json_extract
    # below, and reads every day's range four times.
    each = sa.select(days.c.n, per_day.label("sums")).cte("each_day").prefix_with("MATERIALIZED")

    def part(index: int) -> Any:
        return sa.cast(sa.func.json_extract(each.c.sums, f"$[{index}]"), sa.BigInteger)

    return sa.select(_tag(_PART_DAY).label("part"), each.c.n, part(0), part(1), part(2)).where(
        part(1) > 0
    )


@functools.cache
def _window_statement(dialect_name: str) -> sa.CompoundSelect[Any]:
    """Every input of the features in one UNION ALL, each part tagged by its first column (built
    once per dialect: its cache key is computed once, ADR 0015).

    The three reads of the payments are bounded by the window (or, for the first sale, stop at
    the first row of the index), and all answer from ix_payments_payee_sales alone."""
    wallet_id = sa.bindparam("wallet_id", type_=sa.String())
    merchant_id = sa.bindparam("merchant_id", type_=sa.String())
    since = sa.bindparam("since", type_=payments.c.created_at.type)
    until = sa.bindparam("until", type_=payments.c.created_at.type)
    # The kinds written into the SQL: an IN list of parameters is expanded on every execution.
    is_sale = payments.c.kind.in_([sa.literal_column(f"'{kind}'") for kind in SALE_KINDS])
    in_window = (
        payments.c.payee_wallet_id == wallet_id,
        payments.c.created_at >= since,
        payments.c.created_at < until,
        is_sale,
    )
    null = sa.null().cast(sa.BigInteger)
    if dialect_name == "sqlite":
        sales = _sales_by_day_sqlite(wallet_id, is_sale)
    else:
        day = _day(payments.c.created_at, dialect_name)
        sales = (
            sa.select(
                _tag(_PART_DAY).label("part"),
                day.label("a"),
                sa.func.sum(payments.c.amount).label("b"),
                sa.cast(sa.func.count(), sa.BigInteger).label("c"),
                sa.func.sum(payments.c.refunded).label("d"),
            )
            .where(*in_window)
            .group_by(day)
        )
    per_payer = (
        sa.select(payments.c.payer_wallet_id, sa.func.count().label("paid"))
        .where(*in_window, payments.c.payer_wallet_id.is_not(None))
        .group_by(payments.c.payer_wallet_id)
        .subquery()
    )
    payers = sa.select(
        _tag(_PART_PAYERS),
        sa.cast(sa.func.count(), sa.BigInteger),
        sa.cast(sa.func.sum(sa.case((per_payer.c.paid > 1, 1), else_=0)), sa.BigInteger),
        null,
        null,
    ).select_from(per_payer)
    first = sa.select(
        _tag(_PART_FIRST),
        _day(sa.func.min(payments.c.created_at), dialect_name),
        null,
        null,
        null,
    ).where(payments.c.payee_wallet_id == wallet_id, is_sale)
    dispute_day = _day(escrow_disputes.c.opened_at, dialect_name)
    disputes = (
        sa.select(
            _tag(_PART_DISPUTES),
            dispute_day,
            sa.cast(sa.func.count(), sa.BigInteger),
            null,
            null,
        )
        .select_from(
            escrow_disputes.join(escrow_orders, escrow_orders.c.id == escrow_disputes.c.order_id)
        )
        .where(
            escrow_orders.c.seller_id == merchant_id,
            escrow_disputes.c.opened_at >= since,
            escrow_disputes.c.opened_at < until,
        )
        .group_by(dispute_day)
    )
    record = sa.select(
        _tag(_PART_RECORD),
        sa.cast(
            sa.func.sum(sa.case((loans.c.status == LoanStatus.REPAID.value, 1), else_=0)),
            sa.BigInteger,
        ),
        sa.cast(sa.func.sum(sa.case((loans.c.missed_periods > 0, 1), else_=0)), sa.BigInteger),
        sa.cast(sa.func.max(loans.c.max_days_past_due), sa.BigInteger),
        null,
    ).where(loans.c.merchant_id == merchant_id)
    return sa.union_all(sales, payers, first, disputes, record)


class SqlCreditRepository:
    def __init__(
        self, connection: Connection, deferred: DeferredWrites, *, row_locks: bool
    ) -> None:
        self._conn = connection
        self._deferred = deferred
        self._row_locks = row_locks
        self._postgresql = connection.dialect.name == "postgresql"

    # --- features ------------------------------------------------------------------------------

    def window(
        self, wallet_id: str | None, merchant_id: str, since: datetime, until: datetime
    ) -> SalesWindow:
        # One statement for everything the features read, on one read-only transaction: each
        # statement is a round trip on PostgreSQL, and the window's sales are read off the
        # covering index alone (migration 0018), never off the payments' rows.
        rows = self._conn.execute(
            _window_statement(self._conn.dialect.name),
            {
                "wallet_id": wallet_id,
                "merchant_id": merchant_id,
                "since": since,
                "until": until,
                # SQLite's days, one range each (both are midnights: the ranges are exact).
                "first_day": int(since.timestamp()) // 86_400,
                "end_day": int(until.timestamp()) // 86_400,
            },
        ).all()
        days: list[DaySales] = []
        disputes: dict[int, int] = {}
        distinct = repeat = repaid = late = worst = 0
        first: int | None = None
        for part, a, b, c, d in rows:
            if part == _PART_DAY:
                days.append(DaySales(int(a), int(b), int(c), int(d)))
            elif part == _PART_PAYERS:
                distinct, repeat = int(a), int(b or 0)
            elif part == _PART_FIRST:
                first = None if a is None else int(a)
            elif part == _PART_DISPUTES:
                disputes[int(a)] = int(b)
            else:
                repaid, late, worst = int(a or 0), int(b or 0), int(c or 0)
        days.sort(key=lambda d: d.day)
        return SalesWindow(
            days=days,
            disputes=disputes,
            distinct_payers=distinct,
            repeat_payers=repeat,
            first_sale_day=first,
            loans_repaid=repaid,
            loans_late=late,
            max_days_past_due=worst,
        )

    # --- decisions and offers ------------------------------------------------------------------

    def insert_decision(self, decision: StoredDecision) -> None:
        self._conn.execute(
            credit_decisions.insert(),
            {
                "id": decision.id,
                "merchant_id": decision.merchant_id,
                "currency": decision.currency,
                "scorecard_version": decision.scorecard_version,
                "score": decision.score,
                "grade": decision.grade,
                "offered": int(decision.offered),
                "record": decision.record,
                "created_at": decision.created_at,
            },
        )

    def get_decision(self, decision_id: str) -> StoredDecision | None:
        row = self._conn.execute(
            sa.select(credit_decisions).where(credit_decisions.c.id == decision_id)
        ).first()
        return None if row is None else _decision(row)

    def latest_decision(self, merchant_id: str) -> StoredDecision | None:
        row = self._conn.execute(
            sa.select(credit_decisions)
            .where(credit_decisions.c.merchant_id == merchant_id)
            .order_by(credit_decisions.c.created_at.desc(), credit_decisions.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else _decision(row)

    def insert_offer(self, offer: StoredOffer) -> None:
        self._conn.execute(
            credit_offers.insert(),
            {
                "id": offer.id,
                "decision_id": offer.decision_id,
                "merchant_id": offer.merchant_id,
                "currency": offer.currency,
                "limit_amount": offer.limit_minor,
                "fee_bps": offer.fee_bps,
                "withhold_bps": offer.withhold_bps,
                "term_days": offer.term_days,
                "grade": offer.grade,
                "expires_at": offer.expires_at,
                "status": offer.status.value,
                "created_at": offer.created_at,
            },
        )

    def get_offer(self, offer_id: str, *, lock: bool = False) -> StoredOffer | None:
        query = sa.select(credit_offers).where(credit_offers.c.id == offer_id)
        if lock and self._row_locks:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _offer(row)

    def open_offers(self, merchant_id: str) -> list[StoredOffer]:
        query = (
            sa.select(credit_offers)
            .where(
                credit_offers.c.merchant_id == merchant_id,
                credit_offers.c.status == OfferStatus.OPEN.value,
            )
            .order_by(credit_offers.c.created_at.desc(), credit_offers.c.id.desc())
        )
        return [_offer(row) for row in self._conn.execute(query)]

    def set_offer_status(self, offer_id: str, old: OfferStatus, new: OfferStatus) -> bool:
        result = self._conn.execute(
            credit_offers.update()
            .where(credit_offers.c.id == offer_id, credit_offers.c.status == old.value)
            .values(status=new.value)
        )
        return result.rowcount == 1

    # --- loans ---------------------------------------------------------------------------------

    def insert_loan(self, loan: Loan) -> None:
        try:
            self._conn.execute(loans.insert(), _loan_values(loan))
        except sa.exc.IntegrityError as error:
            raise TransientConflict(f"offer {loan.offer_id} taken by another loan") from error

    def get_loan(self, loan_id: str, *, lock: bool = False) -> Loan | None:
        query = _LOAN_BY_ID_LOCKED if lock and self._row_locks else _LOAN_BY_ID
        row = self._conn.execute(query, {"loan_id": loan_id}).first()
        return None if row is None else _loan(row)

    def lock_sweep_terms(self, loan_id: str) -> SweepTerms | None:
        sql = _sweep_sql(self._conn.dialect.name)
        cursor = self._dbapi().cursor()
        try:
            with sqlalchemy_errors(self._conn.dialect, sql.lock):
                cursor.execute(sql.lock, {"loan_id": loan_id})
                row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        currency, status, withhold_bps, principal_left, fee_left = row
        return SweepTerms(currency, LoanStatus(status), withhold_bps, principal_left, fee_left)

    def record_sweep(self, repayment: LoanRepayment) -> None:
        sql = _sweep_sql(self._conn.dialect.name)
        created_at: Any = repayment.created_at
        if not sql.row_locks:
            created_at = to_epoch_micros(created_at)  # SQLite's UtcDateTime, as its type would
        values = {
            "d_principal": repayment.principal_part_minor,
            "d_fee": repayment.fee_part_minor,
            "b_id": repayment.loan_id,
            "r_id": repayment.id,
            "r_loan_id": repayment.loan_id,
            "r_kind": repayment.kind.value,
            "r_amount": repayment.amount_minor,
            "r_principal_part": repayment.principal_part_minor,
            "r_fee_part": repayment.fee_part_minor,
            "r_payment_id": repayment.payment_id,
            "r_created_at": created_at,
        }
        # With the COMMIT (db/deferred.py): nothing later in the sale's transaction reads the
        # loan's repaid amounts or this row (a transaction sweeps a loan at most once), and the
        # loan stays locked until then. On PostgreSQL that is one round trip fewer while the
        # merchant's row is locked; the statements themselves are unchanged.
        if sql.add is not None:
            self._deferred.execute(sql.add, values)
        self._deferred.execute(sql.record, values)

    def _dbapi(self) -> Any:
        # The transaction's own DBAPI connection: statements on it are inside the same BEGIN.
        dbapi = self._conn.connection.driver_connection
        assert dbapi is not None, "a unit of work always holds a live connection"
        return dbapi

    def update_loan(self, loan: Loan) -> None:
        values = {
            f"new_{name}": value
            for name, value in _loan_values(loan).items()
            if name not in _LOAN_FIXED
        }
        self._conn.execute(_UPDATE_LOAN, {"loan_id": loan.id, **values})

    def list_loans(
        self,
        *,
        merchant_id: str | None,
        status: LoanStatus | None,
        limit: int,
        before: str | None = None,
    ) -> list[Loan]:
        query = sa.select(loans).order_by(loans.c.id.desc()).limit(limit)
        if merchant_id is not None:
            query = query.where(loans.c.merchant_id == merchant_id)
        if status is not None:
            query = query.where(loans.c.status == status.value)
        if before is not None:
            query = query.where(loans.c.id < before)
        return [_loan(row) for row in self._conn.execute(query)]

    def active_loan_ids(self, limit: int, after: str | None = None) -> list[str]:
        query = (
            sa.select(loans.c.id)
            .where(loans.c.status == LoanStatus.ACTIVE.value)
            .order_by(loans.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(loans.c.id > after)
        return list(self._conn.execute(query).scalars())

    def insert_repayment(self, repayment: LoanRepayment) -> None:
        # Written last and read only by later transactions: it travels with the COMMIT (on
        # PostgreSQL one round trip less while a sale holds the merchant's row; ADR 0012).
        self._deferred.insert(
            loan_repayments,
            [
                {
                    "id": repayment.id,
                    "loan_id": repayment.loan_id,
                    "kind": repayment.kind.value,
                    "amount": repayment.amount_minor,
                    "principal_part": repayment.principal_part_minor,
                    "fee_part": repayment.fee_part_minor,
                    "payment_id": repayment.payment_id,
                    "created_at": repayment.created_at,
                }
            ],
        )

    def list_repayments(self, loan_id: str, limit: int) -> list[LoanRepayment]:
        query = (
            sa.select(loan_repayments)
            .where(loan_repayments.c.loan_id == loan_id)
            .order_by(loan_repayments.c.created_at.desc(), loan_repayments.c.id.desc())
            .limit(limit)
        )
        return [
            LoanRepayment(
                id=row.id,
                loan_id=row.loan_id,
                kind=RepaymentKind(row.kind),
                amount_minor=row.amount,
                principal_part_minor=row.principal_part,
                fee_part_minor=row.fee_part,
                payment_id=row.payment_id,
                created_at=row.created_at,
            )
            for row in self._conn.execute(query)
        ]

    def outstanding_principal_by_currency(self) -> dict[str, int]:
        query = (
            sa.select(loans.c.currency, sa.func.sum(loans.c.principal - loans.c.repaid_principal))
            .where(loans.c.status == LoanStatus.ACTIVE.value)
            .group_by(loans.c.currency)
        )
        return {row[0]: int(row[1]) for row in self._conn.execute(query)}

    def all_loans(self, limit: int) -> Sequence[Loan]:
        query = sa.select(loans).order_by(loans.c.id).limit(limit)
        return [_loan(row) for row in self._conn.execute(query)]


def _decision(row: Row[Any]) -> StoredDecision:
    return StoredDecision(
        id=row.id,
        merchant_id=row.merchant_id,
        currency=row.currency,
        scorecard_version=row.scorecard_version,
        score=row.score,
        grade=row.grade,
        offered=bool(row.offered),
        record=row.record,
        created_at=row.created_at,
    )


def _offer(row: Row[Any]) -> StoredOffer:
    return StoredOffer(
        id=row.id,
        decision_id=row.decision_id,
        merchant_id=row.merchant_id,
        currency=row.currency,
        limit_minor=row.limit_amount,
        fee_bps=row.fee_bps,
        withhold_bps=row.withhold_bps,
        term_days=row.term_days,
        grade=row.grade,
        expires_at=row.expires_at,
        status=OfferStatus(row.status),
        created_at=row.created_at,
    )


def _loan_values(loan: Loan) -> dict[str, Any]:
    return {
        "id": loan.id,
        "merchant_id": loan.merchant_id,
        "offer_id": loan.offer_id,
        "currency": loan.currency,
        "principal": loan.principal_minor,
        "fee": loan.fee_minor,
        "late_fees": loan.late_fees_minor,
        "fee_bps": loan.fee_bps,
        "withhold_bps": loan.withhold_bps,
        "term_days": loan.term_days,
        "repayment": loan.repayment.value,
        "method": None if loan.method is None else loan.method.value,
        "frequency": None if loan.frequency is None else loan.frequency.value,
        "instalments": loan.instalments,
        "repaid_principal": loan.repaid_principal_minor,
        "repaid_fee": loan.repaid_fee_minor,
        "missed_periods": loan.missed_periods,
        "max_days_past_due": loan.max_days_past_due,
        "status": loan.status.value,
        "scorecard_version": loan.scorecard_version,
        "grade": loan.grade,
        "disbursed_at": loan.disbursed_at,
        "closed_at": loan.closed_at,
    }


def _loan(row: Row[Any]) -> Loan:
    return Loan(
        id=row.id,
        merchant_id=row.merchant_id,
        offer_id=row.offer_id,
        currency=row.currency,
        principal_minor=row.principal,
        fee_minor=row.fee,
        late_fees_minor=row.late_fees,
        fee_bps=row.fee_bps,
        withhold_bps=row.withhold_bps,
        term_days=row.term_days,
        repayment=Repayment(row.repayment),
        method=None if row.method is None else Method(row.method),
        frequency=None if row.frequency is None else Frequency(row.frequency),
        instalments=row.instalments,
        repaid_principal_minor=row.repaid_principal,
        repaid_fee_minor=row.repaid_fee,
        missed_periods=row.missed_periods,
        max_days_past_due=row.max_days_past_due,
        status=LoanStatus(row.status),
        scorecard_version=row.scorecard_version,
        grade=row.grade,
        disbursed_at=row.disbursed_at,
        closed_at=row.closed_at,
    )
