"""Running a use case in one transaction, retried a bounded number of times on conflicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import TransactionConflict
from soko.kernel.ports import TransientConflict

T = TypeVar("T")


def in_transaction(ctx: Context, work: Callable[[UnitOfWork], T], *, read_only: bool = False) -> T:
    """Run `work` in a fresh transaction and commit it, retrying on transient conflicts.

    A `DomainError` from `work` rolls the transaction back and reaches the caller unchanged: the
    database is exactly as it was. A serialization failure, deadlock or lost insert race makes
    the whole of `work` run again on a new transaction, at most
    `limits.TRANSACTION_ATTEMPTS_MAX` times, so `work` must not have effects outside it.
    """
    for attempt in range(1, limits.TRANSACTION_ATTEMPTS_MAX + 1):
        try:
            with ctx.unit_of_work(read_only=read_only) as uow:
                result = work(uow)
                if not read_only:
                    uow.commit()
                return result
        except TransientConflict:
            ctx.backoff(attempt)
    raise TransactionConflict(
        f"gave up after {limits.TRANSACTION_ATTEMPTS_MAX} conflicting attempts"
    )
