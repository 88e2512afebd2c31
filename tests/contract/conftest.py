"""Helpers for the storage contract suite: funded wallets, raw rows, and whole-database dumps.

The test modules here are not a package, so helpers are handed out as fixtures, not imported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from soko.bootstrap import Runtime
from soko.context import Context
from soko.db.types import UtcDateTime
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import Account

Dump = dict[str, list[tuple[Any, ...]]]


def open_wallet_in(
    ctx: Context,
    balance: int = 0,
    *,
    currency: str = "KES",
    code: AccountCode = AccountCode.WALLET,
) -> Account:
    """A customer account, funded with `balance` minor units from the settlement account."""
    account = ledger.open_account(ctx, currency=currency, code=code)
    if balance:
        settlement = ledger.system_account(ctx, AccountCode.SETTLEMENT, currency)
        ledger.transfer(
            ctx,
            debit_account_id=settlement.id,
            credit_account_id=account.id,
            amount=Money.of(balance, currency),
            code=TransferCode.DEPOSIT,
        )
    return ledger.get_account(ctx, account.id)


@pytest.fixture
def open_wallet(any_ctx: Context) -> Callable[..., Account]:
    """`open_wallet(balance=0, currency="KES", code=AccountCode.WALLET)`."""

    def open_(
        balance: int = 0, *, currency: str = "KES", code: AccountCode = AccountCode.WALLET
    ) -> Account:
        return open_wallet_in(any_ctx, balance, currency=currency, code=code)

    return open_


def dump(engine: Engine) -> Dump:
    """Every row of every table (migration bookkeeping included), exactly as the driver reads it."""
    tables = sorted(sa.inspect(engine).get_table_names())
    assert {"accounts", "transfers", "pending_transfers", "idempotency_keys"} <= set(tables)
    with engine.connect() as connection:
        return {
            table: sorted(
                (tuple(row) for row in connection.exec_driver_sql(f"SELECT * FROM {table}")),
                key=repr,
            )
            for table in tables
        }


@pytest.fixture
def dump_database(any_runtime: Runtime) -> Callable[[], Dump]:
    return lambda: dump(any_runtime.engine)


_INSERT_TRANSFER = sa.text(
    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, currency, code,"
    " flags, pending_id, expires_at, reference, created_at)"
    " VALUES (:id, :debit_account_id, :credit_account_id, :amount, :currency, :code,"
    " :flags, :pending_id, :expires_at, :reference, :created_at)"
).bindparams(
    sa.bindparam("expires_at", type_=UtcDateTime()),
    sa.bindparam("created_at", type_=UtcDateTime()),
)

_INSERT_ACCOUNT = sa.text(
    "INSERT INTO accounts (id, currency, code, flags, name, debits_pending, debits_posted,"
    " credits_pending, credits_posted, created_at)"
    " VALUES (:id, :currency, :code, :flags, :name, :debits_pending, :debits_posted,"
    " :credits_pending, :credits_posted, :created_at)"
).bindparams(sa.bindparam("created_at", type_=UtcDateTime()))

_INSERT_PENDING = sa.text(
    "INSERT INTO pending_transfers (transfer_id, state, expires_at)"
    " VALUES (:transfer_id, :state, :expires_at)"
).bindparams(sa.bindparam("expires_at", type_=UtcDateTime()))


class RawRows:
    """Rows written with raw SQL, past every check the domain makes: only the database judges."""

    def __init__(self, created_at: datetime) -> None:
        self.created_at = created_at

    def transfer(self, connection: Connection, **fields: Any) -> None:
        values: dict[str, Any] = {
            "currency": "KES",
            "code": TransferCode.CORRECTION.value,
            "flags": 0,
            "pending_id": None,
            "expires_at": None,
            "reference": None,
            "created_at": self.created_at,
        }
        connection.execute(_INSERT_TRANSFER, values | fields)

    def account(self, connection: Connection, **fields: Any) -> None:
        values: dict[str, Any] = {
            "currency": "KES",
            "code": AccountCode.WALLET.value,
            "flags": 1,
            "name": None,
            "debits_pending": 0,
            "debits_posted": 0,
            "credits_pending": 0,
            "credits_posted": 0,
            "created_at": self.created_at,
        }
        connection.execute(_INSERT_ACCOUNT, values | fields)

    def pending(self, connection: Connection, **fields: Any) -> None:
        connection.execute(_INSERT_PENDING, {"state": "pending", "expires_at": None} | fields)


@pytest.fixture
def raw_rows(clock: Any) -> RawRows:
    return RawRows(clock.now())


@pytest.fixture
def backend(any_runtime: Runtime) -> str:
    """`sqlite` or `postgresql`: the database this run of the test is on."""
    return any_runtime.engine.dialect.name
