"""SMS notifications: texts queued with each money movement, sent by the worker."""

from __future__ import annotations

from soko.services.ports import Context, UnitOfWork


def queue(uow: UnitOfWork, ctx: Context, *, phone: str, text: str) -> None:
    """Queue `text` (at most 160 characters) to `phone` in the caller's transaction.

    STUB: the notifications work fills this in.
    """
