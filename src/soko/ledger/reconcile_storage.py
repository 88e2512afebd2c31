"""Whole-ledger aggregate queries for `soko reconcile`, one SQL statement per check."""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from soko.ledger.chart import CUSTOMER_ACCOUNT_CODES
from soko.ledger.domain import Account
from soko.ledger.ports import CounterMismatch, CurrencyTotals
from soko.ledger.storage import account_from_row

# Sums are split into high and low 32-bit halves: each half-sum fits in 64 bits for any number
# of accounts the database can hold, so SQLite (whose SUM raises on overflow) stays exact.
_HALF: Final = 2**32
_COUNTERS: Final = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")

_CURRENCY_TOTALS = sa.text(
    "SELECT currency, "
    + ", ".join(f"SUM({c} / {_HALF}) AS {c}_hi, SUM({c} % {_HALF}) AS {c}_lo" for c in _COUNTERS)
    + " FROM accounts GROUP BY currency ORDER BY currency"
)

# What each counter should be, rebuilt from the transfers alone: posted counters from plain
# transfers (flags 0) and posts (flags 2); pending counters from holds (flags 1) still open.
_COUNTER_MISMATCHES = sa.text(
    """
    WITH sides AS (
        SELECT t.debit_account_id AS account_id,
               CASE WHEN t.flags IN (0, 2) THEN t.amount ELSE 0 END AS debits_posted,
               CASE WHEN t.flags = 1 AND p.state = 'pending' THEN t.amount ELSE 0 END
                   AS debits_pending,
               0 AS credits_posted,
               0 AS credits_pending
          FROM transfers t LEFT JOIN pending_transfers p ON p.transfer_id = t.id
        UNION ALL
        SELECT t.credit_account_id,
               0,
               0,
               CASE WHEN t.flags IN (0, 2) THEN t.amount ELSE 0 END,
               CASE WHEN t.flags = 1 AND p.state = 'pending' THEN t.amount ELSE 0 END
          FROM transfers t LEFT JOIN pending_transfers p ON p.transfer_id = t.id
    ),
    sums AS (
        SELECT account_id,
               SUM(debits_posted) AS debits_posted,
               SUM(debits_pending) AS debits_pending,
               SUM(credits_posted) AS credits_posted,
               SUM(credits_pending) AS credits_pending
          FROM sides GROUP BY account_id
    )
    SELECT a.id, a.debits_posted, a.debits_pending, a.credits_posted, a.credits_pending,
           COALESCE(s.debits_posted, 0) AS x_debits_posted,
           COALESCE(s.debits_pending, 0) AS x_debits_pending,
           COALESCE(s.credits_posted, 0) AS x_credits_posted,
           COALESCE(s.credits_pending, 0) AS x_credits_pending
      FROM accounts a LEFT JOIN sums s ON s.account_id = a.id
     WHERE a.debits_posted <> COALESCE(s.debits_posted, 0)
        OR a.debits_pending <> COALESCE(s.debits_pending, 0)
        OR a.credits_posted <> COALESCE(s.credits_posted, 0)
        OR a.credits_pending <> COALESCE(s.credits_pending, 0)
     ORDER BY a.id
     LIMIT :limit
    """
)

_CUSTOMER_CODES: Final = ", ".join(f"'{code.value}'" for code in sorted(CUSTOMER_ACCOUNT_CODES))
_BALANCE_RULES = sa.text(
    f"""
    SELECT * FROM accounts
     WHERE ((flags & 1) <> 0 AND debits_pending + debits_posted > credits_posted)
        OR ((flags & 2) <> 0 AND credits_pending + credits_posted > debits_posted)
        OR (code IN ({_CUSTOMER_CODES}) AND (flags & 1) = 0)
     ORDER BY id
     LIMIT :limit
    """
)

_PENDING_PROBLEMS: Final = (
    (
        "hold {0} has no state row",
        """SELECT t.id FROM transfers t
             LEFT JOIN pending_transfers p ON p.transfer_id = t.id
            WHERE t.flags = 1 AND p.transfer_id IS NULL ORDER BY t.id LIMIT :limit""",
    ),
    (
        "transfer {0} has a hold's state row but is not a hold",
        """SELECT p.transfer_id FROM pending_transfers p
             JOIN transfers t ON t.id = p.transfer_id
            WHERE t.flags <> 1 ORDER BY p.transfer_id LIMIT :limit""",
    ),
    (
        "transfer {0} resolves a transfer that is not a hold",
        """SELECT r.id FROM transfers r JOIN transfers t ON t.id = r.pending_id
            WHERE t.flags <> 1 ORDER BY r.id LIMIT :limit""",
    ),
    (
        "hold {0}'s state disagrees with the transfer that resolves it",
        """SELECT p.transfer_id FROM pending_transfers p
             JOIN transfers t ON t.id = p.transfer_id
             LEFT JOIN transfers r ON r.pending_id = p.transfer_id
            WHERE (p.state = 'pending' AND r.id IS NOT NULL)
               OR (p.state <> 'pending' AND r.id IS NULL)
               OR (p.state = 'posted' AND r.flags <> 2)
               OR (p.state = 'voided' AND r.flags <> 4)
               OR (p.state = 'expired' AND r.flags <> 8)
               OR (r.id IS NOT NULL AND (
                       r.debit_account_id <> t.debit_account_id
                    OR r.credit_account_id <> t.credit_account_id
                    OR r.currency <> t.currency
                    OR r.amount > t.amount
                    OR (r.flags <> 2 AND r.amount <> t.amount)))
            ORDER BY p.transfer_id LIMIT :limit""",
    ),
)

_MALFORMED_TRANSFERS = sa.text(
    """
    SELECT t.id FROM transfers t
      JOIN accounts d ON d.id = t.debit_account_id
      JOIN accounts c ON c.id = t.credit_account_id
     WHERE t.currency <> d.currency OR t.currency <> c.currency
     ORDER BY t.id LIMIT :limit
    """
)


_WALLET_PROBLEMS = sa.text(
    f"""
    SELECT w.id FROM wallets w JOIN accounts a ON a.id = w.account_id
     WHERE a.currency <> w.currency OR a.code NOT IN ({_CUSTOMER_CODES})
     ORDER BY w.id LIMIT :limit
    """
)


class SqlReconcileQueries:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def currency_totals(self) -> list[CurrencyTotals]:
        totals = []
        for row in self._conn.execute(_CURRENCY_TOTALS).mappings():
            sums = {c: int(row[f"{c}_hi"]) * _HALF + int(row[f"{c}_lo"]) for c in _COUNTERS}
            totals.append(CurrencyTotals(currency=row["currency"], **sums))
        return totals

    def counter_mismatches(self, limit: int) -> list[CounterMismatch]:
        found = []
        for row in self._conn.execute(_COUNTER_MISMATCHES, {"limit": limit}).mappings():
            for counter in _COUNTERS:
                stored, expected = int(row[counter]), int(row[f"x_{counter}"])
                if stored != expected:
                    found.append(CounterMismatch(row["id"], counter, stored, expected))
        return found

    def accounts_breaking_balance_rules(self, limit: int) -> list[Account]:
        return [
            account_from_row(row) for row in self._conn.execute(_BALANCE_RULES, {"limit": limit})
        ]

    def pending_inconsistencies(self, limit: int) -> list[str]:
        found: list[str] = []
        for message, query in _PENDING_PROBLEMS:
            rows = self._conn.execute(sa.text(query), {"limit": limit}).scalars()
            found.extend(message.format(transfer_id) for transfer_id in rows)
        return found[:limit]

    def malformed_transfers(self, limit: int) -> list[str]:
        rows = self._conn.execute(_MALFORMED_TRANSFERS, {"limit": limit}).scalars()
        return [f"transfer {transfer_id} is not in its accounts' currency" for transfer_id in rows]

    def wallet_inconsistencies(self, limit: int) -> list[str]:
        rows = self._conn.execute(_WALLET_PROBLEMS, {"limit": limit}).scalars()
        return [
            f"wallet {wallet_id}'s account is not a customer account in its currency"
            for wallet_id in rows
        ]

    def counts(self) -> tuple[int, int]:
        accounts = self._conn.execute(sa.text("SELECT COUNT(*) FROM accounts")).scalar_one()
        transfers = self._conn.execute(sa.text("SELECT COUNT(*) FROM transfers")).scalar_one()
        return int(accounts), int(transfers)
