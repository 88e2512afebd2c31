"""The ledger's hot statements, compiled once from Core and run straight on the DBAPI cursor.

A transfer is three statements (lock the accounts, insert the transfers, update the counters).
Through SQLAlchemy's full execution path each costs about 20 µs of Python on top of the
database's own 4 µs, which made the service several times slower than the raw database on
SQLite. The SQL is still written once, in Core (`tables.py`), and compiled by SQLAlchemy for each
dialect; only the per-call machinery is skipped. Everything else uses the normal path.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Dialect

from soko.kernel import limits
from soko.ledger.chart import LOCK_RANKS
from soko.ledger.tables import accounts, transfers

COUNTERS: Final = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
LOCK_CHUNK: Final = limits.ACCOUNTS_LOCKED_PER_STATEMENT_MAX
TRANSFER_COLUMNS: Final = tuple(column.name for column in transfers.c if column.name != "seq")


#: Rows are locked in the order they are returned: by chart.LOCK_RANKS, then id.
LOCK_ORDER: Final[sa.ColumnClause[int]] = sa.literal_column(
    "CASE code "
    + " ".join(f"WHEN '{code.value}' THEN {rank}" for code, rank in LOCK_RANKS.items())
    + f" ELSE {max(LOCK_RANKS.values())} END"
)


#: Accounts read by one statement on SQLite. It has no row locks (BEGIN IMMEDIATE already holds
#: the whole database), so nothing orders the reads; below SQLite's old limit of 999 parameters.
SQLITE_READ_CHUNK: Final = 500


class HotStatements:
    """The ledger's hot SQL for one dialect, with positional parameters in a fixed order.

    Positional, not named: a tuple per row instead of a dict is a fifth of the cost of building
    the parameters of a batch, and both drivers take them (`?` on SQLite, `%s` on psycopg).
    """

    def __init__(self, dialect: Dialect, *, row_locks: bool) -> None:
        self._dialect = dialect
        self.row_locks = row_locks
        #: Accounts one statement locks (or, on SQLite, reads).
        self.lock_chunk: int = LOCK_CHUNK if row_locks else SQLITE_READ_CHUNK
        self._lock_accounts: dict[int, str] = {}
        #: Parameters: the columns of TRANSFER_COLUMNS, in that order.
        self.insert_transfer = self._compile(
            # inline(): no RETURNING of `seq`, which nothing reads back.
            transfers.insert().inline(),
            TRANSFER_COLUMNS,
            column_keys=list(TRANSFER_COLUMNS),
        )
        #: Parameters: the four counter deltas in COUNTERS order, then the account id.
        self.update_counters = self._compile(
            accounts.update()
            .where(accounts.c.id == sa.bindparam("b_id"))
            .values(
                {
                    counter: accounts.c[counter]
                    + sa.bindparam(f"d_{counter}", type_=sa.BigInteger())
                    for counter in COUNTERS
                }
            ),
            (*(f"d_{counter}" for counter in COUNTERS), "b_id"),
        )

    def lock_accounts(self, count: int) -> str:
        """SELECT the `count` accounts whose ids are the parameters; on PostgreSQL FOR UPDATE,
        in chart.LOCK_RANKS order then id (rows are locked in the order they are returned)."""
        assert 0 < count <= self.lock_chunk, count
        statement = self._lock_accounts.get(count)
        if statement is None:
            names = tuple(f"id_{i}" for i in range(count))
            query = sa.select(accounts).where(accounts.c.id.in_([sa.bindparam(n) for n in names]))
            if self.row_locks:
                query = query.order_by(LOCK_ORDER, accounts.c.id).with_for_update()
            statement = self._lock_accounts[count] = self._compile(query, names)
        return statement

    def _compile(self, statement: Any, order: tuple[str, ...], **kwargs: Any) -> str:
        compiled = statement.compile(dialect=self._dialect, **kwargs)
        # The callers build their tuples in `order`; a schema change that moved a parameter
        # must fail here, at start-up, not write a column into its neighbour.
        if tuple(compiled.positiontup) != order:  # not an assert: `python -O` must check it too
            raise RuntimeError(f"parameters {compiled.positiontup}, callers send {order}")
        return str(compiled)


@functools.cache
def hot_statements(dialect_name: str) -> HotStatements:
    if dialect_name == "sqlite":
        return HotStatements(pysqlite.dialect(paramstyle="qmark"), row_locks=False)
    dialect = postgresql_psycopg.dialect(paramstyle="format")  # type: ignore[no-untyped-call]
    return HotStatements(dialect, row_locks=True)


@contextmanager
def sqlalchemy_errors(dialect: Dialect, statement: str) -> Iterator[None]:
    """Raise driver errors as SQLAlchemy's, as the normal path would.

    The rest of storage recognises conflicts (SQLSTATE 40001, "database is locked") and
    constraint violations by SQLAlchemy's exception classes; bypassing its execution path must
    not bypass that.
    """
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        raise sa.exc.DBAPIError.instance(
            statement, None, error, dbapi_error, dialect=dialect
        ) from error
