"""Webhooks: merchants' endpoints, the events written with each money movement, their delivery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soko.services.ports import Context, UnitOfWork


def emit(
    uow: UnitOfWork, ctx: Context, *, owner_id: str, type: str, data: Mapping[str, Any]
) -> None:
    """Record event `type` for `owner_id` (a merchant's user id) in the caller's transaction and
    queue one delivery per enabled endpoint of that owner subscribed to the type.

    STUB: the notifications work fills this in.
    """
