"""The composition root: the one place that wires settings, database, clock and ids together."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from soko.config import Settings
from soko.domain.ids import ENTROPY_BYTES, format_id
from soko.services.ports import Clock, Context
from soko.storage import schema
from soko.storage.engine import create_engine
from soko.storage.unit_of_work import SqlUnitOfWorkFactory

if not __debug__:  # pragma: no cover - the check itself is the point
    raise SystemExit("Soko keeps its assertions on: run it without python -O.")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Time-ordered ids from the given clock and the operating system's random source."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def new(self, prefix: str) -> str:
        timestamp_ms = int(self._clock.now().timestamp() * 1000)
        return format_id(prefix, timestamp_ms, os.urandom(ENTROPY_BYTES))


def jittered_backoff(attempt: int) -> None:
    """Sleep a random time up to a cap that doubles per attempt: colliding retries spread out."""
    cap_seconds = min(0.001 * 2**attempt, 0.1)
    time.sleep(random.uniform(0, cap_seconds))  # noqa: S311 - jitter, not security


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    context: Context

    def close(self) -> None:
        self.engine.dispose()


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    upgrade_schema: bool = False,
) -> Runtime:
    """Everything a channel needs, from settings (read from SOKO_* variables by default)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    engine = create_engine(
        settings.database_url,
        isolation=settings.isolation,
        pool_size=settings.pool_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    if upgrade_schema:
        schema.upgrade(engine)
    context = Context(
        unit_of_work=SqlUnitOfWorkFactory(engine),
        clock=clock,
        ids=RandomIds(clock),
        backoff=jittered_backoff,
    )
    return Runtime(settings=settings, engine=engine, context=context)
