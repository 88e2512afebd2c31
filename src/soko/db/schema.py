"""Applying the Alembic migrations, from code (`soko db upgrade`, `soko serve`) and tests."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

_SCRIPTS = Path(__file__).parent / "migrations"
# Any fixed number: serialises migrations run by several processes against one PostgreSQL.
_MIGRATION_LOCK_KEY = 0x50C0


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` in one transaction (PostgreSQL and SQLite both roll
    back DDL, so a failed migration leaves the schema as it was)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        command.upgrade(_config(connection), revision)


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
