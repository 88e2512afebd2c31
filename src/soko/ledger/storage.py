"""Accounts, transfers and pending states in SQL: the ledger port for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.db.driver import hot_statements, sqlalchemy_errors
from soko.db.types import to_epoch_micros
from soko.kernel.ports import TransientConflict
from soko.ledger.chart import LOCK_RANKS, AccountCode, AccountFlags, TransferCode
from soko.ledger.domain import Account, LedgerPlan, PendingState, Transfer, TransferFlags
from soko.ledger.ports import SystemTotal
from soko.ledger.tables import accounts, pending_transfers, transfers

_COUNTERS: Final = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")

# The colder statements go through SQLAlchemy, which caches their compiled form.
_SELECT_ACCOUNT = sa.select(accounts).where(accounts.c.id == sa.bindparam("id"))
_SELECT_ACCOUNT_BY_NAME = sa.select(accounts).where(accounts.c.name == sa.bindparam("name"))
_SELECT_ACCOUNT_ID_BY_NAME = sa.select(accounts.c.id).where(accounts.c.name == sa.bindparam("name"))
#: The operator's own accounts (the named ones), summed per role and currency.
_SYSTEM_SUMS = (
    sa.select(
        accounts.c.code,
        accounts.c.currency,
        *(sa.func.sum(accounts.c[counter]).label(counter) for counter in _COUNTERS),
    )
    .where(accounts.c.name.is_not(None))
    .group_by(accounts.c.code, accounts.c.currency)
    .order_by(accounts.c.currency, accounts.c.code)
)
_SELECT_CODES = sa.select(accounts.c.id, accounts.c.code).where(
    accounts.c.id.in_(sa.bindparam("ids", expanding=True))
)
_SELECT_ACCOUNTS_BY_NAME = sa.select(accounts).where(
    accounts.c.name.in_(sa.bindparam("names", expanding=True))
)
_TRANSFER_COLUMNS: Final = [c for c in transfers.c if c.name != "seq"]
_SELECT_TRANSFERS = sa.select(*_TRANSFER_COLUMNS).where(
    transfers.c.id.in_(sa.bindparam("ids", expanding=True))
)
_SELECT_TRANSFER = sa.select(*_TRANSFER_COLUMNS).where(transfers.c.id == sa.bindparam("id"))
_LOCK_PENDING = (
    sa.select(pending_transfers.c.transfer_id, pending_transfers.c.state)
    .where(pending_transfers.c.transfer_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(pending_transfers.c.transfer_id)
)
_SELECT_PENDING_STATE = sa.select(pending_transfers.c.state).where(
    pending_transfers.c.transfer_id == sa.bindparam("id")
)
_INSERT_PENDING = pending_transfers.insert()
_RESOLVE_PENDING = (
    pending_transfers.update()
    .where(
        pending_transfers.c.transfer_id == sa.bindparam("b_id"),
        pending_transfers.c.state == PendingState.PENDING.value,
    )
    .values(state=sa.bindparam("b_state"))
)
_DUE_PENDING = (
    sa.select(pending_transfers.c.transfer_id)
    .where(
        pending_transfers.c.state == PendingState.PENDING.value,
        pending_transfers.c.expires_at.is_not(None),
        pending_transfers.c.expires_at <= sa.bindparam("now"),
    )
    .order_by(pending_transfers.c.expires_at, pending_transfers.c.transfer_id)
    .limit(sa.bindparam("limit"))
)
_DUE_PENDING_SKIP_LOCKED = _DUE_PENDING.with_for_update(skip_locked=True)


def _statement_page(*, after_cursor: bool) -> sa.Select[Any]:
    """An account's transfers, newest first: two index range scans (debit side, credit side)
    merged, instead of an OR that can use neither index for the ordering.

    Built once: constructing this union of subqueries costs SQLAlchemy several milliseconds
    (column proxies), ten times what the database takes to run it."""
    account: sa.BindParameter[str] = sa.bindparam("account_id")
    limit: sa.BindParameter[int] = sa.bindparam("limit", type_=sa.Integer())

    def side(column: sa.Column[str]) -> Any:
        query = sa.select(transfers).where(column == account)
        if after_cursor:
            before = sa.select(transfers.c.seq).where(transfers.c.id == sa.bindparam("before_id"))
            query = query.where(transfers.c.seq < before.scalar_subquery())
        # Wrapped so that SQLite accepts the ORDER BY and LIMIT inside a UNION ALL.
        return sa.select(query.order_by(transfers.c.seq.desc()).limit(limit).subquery())

    both = sa.union_all(
        side(transfers.c.debit_account_id), side(transfers.c.credit_account_id)
    ).subquery()
    return sa.select(both).order_by(both.c.seq.desc()).limit(limit)


_STATEMENT_PAGE: Final = _statement_page(after_cursor=False)
_STATEMENT_PAGE_AFTER: Final = _statement_page(after_cursor=True)


class SqlLedgerRepository:
    """The ledger port on one open transaction."""

    def __init__(
        self,
        connection: Connection,
        *,
        row_locks: bool,
        named_ids: dict[str, str] | None = None,
    ) -> None:
        self._conn = connection
        #: Committed system accounts' ids by name, shared by the units of work of one factory
        #: (ADR 0015). Never an account this transaction opened: it may yet roll back.
        self._named_ids = {} if named_ids is None else named_ids
        self._opened_names: set[str] = set()
        # PostgreSQL locks rows; on SQLite the whole database is already locked by BEGIN IMMEDIATE.
        self._row_locks = row_locks
        self._dialect = connection.dialect
        self._hot = hot_statements(self._dialect.name)
        self._db_time = to_epoch_micros if self._dialect.name == "sqlite" else _unchanged
        # The transaction's own DBAPI connection: statements on it are inside the same BEGIN.
        dbapi = connection.connection.driver_connection
        assert dbapi is not None, "a unit of work always holds a live connection"
        self._dbapi = dbapi
        # The accounts this transaction has locked (or opened), as it has left them: a locked
        # row cannot change under us, so later reads and locks of it need no round trip.
        self._locked: dict[str, Account] = {}

    def insert_account(self, account: Account, created_at: datetime) -> None:
        assert all(getattr(account, counter) == 0 for counter in _COUNTERS), account
        try:
            self._conn.execute(
                accounts.insert(),
                {
                    "id": account.id,
                    "currency": account.currency,
                    "code": account.code.value,
                    "flags": int(account.flags),
                    "name": account.name,
                    "created_at": created_at,
                },
            )
        except sa.exc.IntegrityError as error:
            if account.name is None:
                raise  # ids are random: a collision here is a bug, not a race
            # A named system account collides when two transactions open it at once.
            raise TransientConflict(f"account {account.name} opened concurrently") from error
        self._locked[account.id] = account  # no one else sees it before we commit
        if account.name is not None:
            self._opened_names.add(account.name)

    def get_account(self, account_id: str) -> Account | None:
        if account_id in self._locked:
            return self._locked[account_id]
        row = self._conn.execute(_SELECT_ACCOUNT, {"id": account_id}).first()
        return None if row is None else account_from_row(row)

    def get_account_by_name(self, name: str) -> Account | None:
        row = self._conn.execute(_SELECT_ACCOUNT_BY_NAME, {"name": name}).first()
        return None if row is None else account_from_row(row)

    def account_id_by_name(self, name: str) -> str | None:
        known = self._named_ids.get(name)
        if known is not None:
            return known
        found: str | None = self._conn.execute(_SELECT_ACCOUNT_ID_BY_NAME, {"name": name}).scalar()
        if found is not None and name not in self._opened_names:
            self._named_ids[name] = found  # committed by another transaction: for good
        return found

    def get_accounts_by_name(self, names: Collection[str]) -> list[Account]:
        rows = self._conn.execute(_SELECT_ACCOUNTS_BY_NAME, {"names": list(names)})
        return [account_from_row(row) for row in rows]

    def system_totals(self) -> list[SystemTotal]:
        return [
            SystemTotal(
                AccountCode(row.code),
                row.currency,
                debits_pending=int(row.debits_pending),
                debits_posted=int(row.debits_posted),
                credits_pending=int(row.credits_pending),
                credits_posted=int(row.credits_posted),
            )
            for row in self._conn.execute(_SYSTEM_SUMS)
        ]

    def lock_accounts(self, account_ids: Collection[str]) -> dict[str, Account]:
        locked = self._locked
        hot = self._hot
        wanted = [account_id for account_id in set(account_ids) if account_id not in locked]
        if len(wanted) > hot.lock_chunk and self._row_locks:
            wanted = self._in_lock_order(wanted)
        cursor = self._dbapi.cursor()
        try:
            # On PostgreSQL each statement locks in chart.LOCK_RANKS order, then id, and chunks
            # follow that order too. SQLite's BEGIN IMMEDIATE has locked everything already.
            # Accounts locked earlier in the transaction are not locked again.
            for start in range(0, len(wanted), hot.lock_chunk):
                chunk = wanted[start : start + hot.lock_chunk]
                statement = hot.lock_accounts(len(chunk))
                with sqlalchemy_errors(self._dialect, statement):
                    cursor.execute(statement, chunk)
                    rows = cursor.fetchall()
                for row in rows:
                    locked[row[0]] = _account_from_tuple(row)
        finally:
            cursor.close()
        missing = {account_id for account_id in wanted if account_id not in locked}
        if missing and self._named_ids:
            self._forget_missing_named(missing)
        return {account_id: locked[account_id] for account_id in account_ids
                if account_id in locked}  # fmt: skip

    def _forget_missing_named(self, missing: set[str]) -> None:
        """A remembered system account id that the database no longer has (restored from a
        backup, emptied by a test under a running process): forget it and retry, so the
        retry finds or opens the account by its name. Any other missing id is the caller's."""
        stale = [name for name, account_id in self._named_ids.items() if account_id in missing]
        if stale:
            for name in stale:
                self._named_ids.pop(name, None)
            raise TransientConflict(f"system accounts {stale} are no longer in the database")

    def _in_lock_order(self, account_ids: list[str]) -> list[str]:
        """More accounts than one statement locks: their codes first (without a lock; an
        account's code never changes), to split them into chunks in the global lock order."""
        rows = self._conn.execute(_SELECT_CODES, {"ids": account_ids}).all()
        rank = {row.id: LOCK_RANKS[AccountCode(row.code)] for row in rows}
        # An unknown id locks nothing; it goes last and the caller finds it missing.
        return sorted(account_ids, key=lambda account_id: (rank.get(account_id, 3), account_id))

    def lock_transfers(
        self, transfer_ids: Collection[str]
    ) -> tuple[dict[str, Transfer], dict[str, PendingState]]:
        ids = sorted(transfer_ids)
        statement = _LOCK_PENDING.with_for_update() if self._row_locks else _LOCK_PENDING
        states = {
            row.transfer_id: PendingState(row.state)
            for row in self._conn.execute(statement, {"ids": ids})
        }
        found = {
            row.id: transfer_from_row(row)
            for row in self._conn.execute(_SELECT_TRANSFERS, {"ids": ids})
        }
        return found, states

    def apply(self, plan: LedgerPlan, before: dict[str, Account]) -> None:
        if not plan.transfers:
            return
        db_time = self._db_time
        cursor = self._dbapi.cursor()
        # On PostgreSQL both statements go in one pipeline: one round trip while the accounts
        # are locked, not two. An error surfaces when the pipeline syncs, still inside.
        pipeline = self._dbapi.pipeline() if self._row_locks else contextlib.nullcontext()
        try:
            with sqlalchemy_errors(self._dialect, self._hot.insert_transfer), pipeline:
                cursor.executemany(
                    self._hot.insert_transfer,
                    [_transfer_values(t, db_time) for t in plan.transfers],
                )
                # Increments, not absolute values: even a missed lock could not lose an update.
                cursor.executemany(
                    self._hot.update_counters,
                    [
                        (
                            after.debits_pending - old.debits_pending,
                            after.debits_posted - old.debits_posted,
                            after.credits_pending - old.credits_pending,
                            after.credits_posted - old.credits_posted,
                            account_id,
                        )
                        for account_id, after in plan.accounts.items()
                        for old in (before[account_id],)
                    ],
                )
        finally:
            cursor.close()
        self._locked.update(plan.accounts)
        if plan.created_pending:
            expiry = {t.id: t.expires_at for t in plan.transfers}
            self._conn.execute(
                _INSERT_PENDING,
                [
                    {
                        "transfer_id": pending_id,
                        "state": state.value,
                        "expires_at": expiry[pending_id],
                    }
                    for pending_id, state in plan.created_pending.items()
                ],
            )
        for pending_id, state in plan.resolved_pending.items():
            result = self._conn.execute(
                _RESOLVE_PENDING, {"b_id": pending_id, "b_state": state.value}
            )
            if result.rowcount != 1:
                # The state row was locked, so only a broken lock could get here; never guess.
                raise TransientConflict(f"pending transfer {pending_id} resolved concurrently")

    def get_transfer(self, transfer_id: str) -> Transfer | None:
        row = self._conn.execute(_SELECT_TRANSFER, {"id": transfer_id}).first()
        return None if row is None else transfer_from_row(row)

    def pending_state(self, transfer_id: str) -> PendingState | None:
        state = self._conn.execute(_SELECT_PENDING_STATE, {"id": transfer_id}).scalar()
        return None if state is None else PendingState(state)

    def list_transfers(
        self, account_id: str, *, limit: int, before_id: str | None
    ) -> list[Transfer]:
        if before_id is None:
            rows = self._conn.execute(_STATEMENT_PAGE, {"account_id": account_id, "limit": limit})
        else:
            rows = self._conn.execute(
                _STATEMENT_PAGE_AFTER,
                {"account_id": account_id, "limit": limit, "before_id": before_id},
            )
        return [transfer_from_row(row) for row in rows]

    def due_pending_ids(self, now: datetime, limit: int) -> list[str]:
        statement = _DUE_PENDING_SKIP_LOCKED if self._row_locks else _DUE_PENDING
        return list(self._conn.execute(statement, {"now": now, "limit": limit}).scalars())


def account_from_row(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        currency=row.currency,
        code=AccountCode(row.code),
        flags=AccountFlags(row.flags),
        name=row.name,
        debits_pending=row.debits_pending,
        debits_posted=row.debits_posted,
        credits_pending=row.credits_pending,
        credits_posted=row.credits_posted,
    )


def transfer_from_row(row: Row[Any]) -> Transfer:
    return Transfer(
        id=row.id,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        amount=row.amount,
        currency=row.currency,
        code=TransferCode(row.code),
        flags=TransferFlags(row.flags),
        created_at=row.created_at,
        pending_id=row.pending_id,
        expires_at=row.expires_at,
        reference=row.reference,
    )


# Enum members by stored value: a dict lookup, where calling the Enum costs a microsecond.
_ACCOUNT_CODES: Final = {code.value: code for code in AccountCode}
_ACCOUNT_FLAGS: Final = {
    int(flags): flags for flags in (AccountFlags(0), AccountFlags(1), AccountFlags(2))
}


def _account_from_tuple(row: tuple[Any, ...]) -> Account:
    # Column order of `accounts`, as compiled in driver.hot_statements.
    return Account(
        id=row[0],
        currency=row[1],
        code=_ACCOUNT_CODES[row[2]],
        flags=_ACCOUNT_FLAGS[row[3]],
        name=row[4],
        debits_pending=row[5],
        debits_posted=row[6],
        credits_pending=row[7],
        credits_posted=row[8],
    )


def _unchanged(value: datetime) -> Any:
    return value


def _transfer_values(transfer: Transfer, db_time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    # In driver.TRANSFER_COLUMNS order (checked when the statement is compiled).
    return (
        transfer.id,
        transfer.debit_account_id,
        transfer.credit_account_id,
        transfer.amount,
        transfer.currency,
        transfer.code.value,
        int(transfer.flags),
        transfer.pending_id,
        None if transfer.expires_at is None else db_time(transfer.expires_at),
        transfer.reference,
        db_time(transfer.created_at),
    )
