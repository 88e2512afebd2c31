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
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Dialect

from soko import limits
from soko.domain.chart import LOCK_RANKS
from soko.storage.tables import accounts, transfers

COUNTERS: Final = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
LOCK_CHUNK: Final = limits.ACCOUNTS_LOCKED_PER_STATEMENT_MAX
TRANSFER_COLUMNS: Final = tuple(column.name for column in transfers.c if column.name != "seq")


#: Rows are locked in the order they are returned: by chart.LOCK_RANKS, then id.
LOCK_ORDER: Final[sa.ColumnClause[int]] = sa.literal_column(
    "CASE code "
    + " ".join(f"WHEN '{code.value}' THEN {rank}" for code, rank in LOCK_RANKS.items())
    + f" ELSE {max(LOCK_RANKS.values())} END"
)


@dataclass(frozen=True, slots=True)
class HotStatements:
    #: SELECT ... WHERE id IN (:id_0 .. :id_n-1) ORDER BY rank, id [FOR UPDATE], by n.
    lock_accounts: tuple[str, ...]
    insert_transfer: str
    update_counters: str


@functools.cache
def hot_statements(dialect_name: str) -> HotStatements:
    dialect: Dialect
    if dialect_name == "sqlite":
        # Named parameters, so SQLite and psycopg both take the same dicts.
        dialect = pysqlite.dialect(paramstyle="named")
        row_locks = False
    else:
        dialect = postgresql_psycopg.dialect()  # type: ignore[no-untyped-call]
        row_locks = True

    def compile_sql(statement: Any, **kwargs: Any) -> str:
        return str(statement.compile(dialect=dialect, **kwargs))

    locks = [""]
    for count in range(1, LOCK_CHUNK + 1):
        query = (
            sa.select(accounts)
            .where(accounts.c.id.in_([sa.bindparam(f"id_{i}") for i in range(count)]))
            .order_by(LOCK_ORDER, accounts.c.id)
        )
        locks.append(compile_sql(query.with_for_update() if row_locks else query))
    update = (
        accounts.update()
        .where(accounts.c.id == sa.bindparam("b_id"))
        .values(
            {
                counter: accounts.c[counter] + sa.bindparam(f"d_{counter}", type_=sa.BigInteger())
                for counter in COUNTERS
            }
        )
    )
    return HotStatements(
        lock_accounts=tuple(locks),
        # inline(): no RETURNING of `seq`, which nothing reads back.
        insert_transfer=compile_sql(
            transfers.insert().inline(), column_keys=list(TRANSFER_COLUMNS)
        ),
        update_counters=compile_sql(update),
    )


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
