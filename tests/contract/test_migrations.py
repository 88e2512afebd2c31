"""The migrations build exactly the schema the features' `tables.py` declare, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from soko.db import schema
from soko.db.engine import create_engine
from soko.db.metadata import metadata
from soko.features import modules

modules("tables")  # every feature's tables join the metadata the migrations are compared with


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_upgrade_is_idempotent_and_at_head(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        schema.upgrade(engine)
        schema.upgrade(engine)
        assert schema.is_current(engine)
        assert schema.current_revision(engine) == schema.head_revision()
    finally:
        engine.dispose()


def test_check_constraints_exist(database_url: str) -> None:
    """compare_metadata does not compare CHECK constraints: check the ones money relies on."""
    engine = create_engine(database_url)
    try:
        names = {
            check["name"] for check in sa.inspect(engine).get_check_constraints("accounts")
        } | {check["name"] for check in sa.inspect(engine).get_check_constraints("transfers")}
    finally:
        engine.dispose()
    assert {
        "ck_accounts_debits_must_not_exceed_credits",
        "ck_accounts_credits_must_not_exceed_debits",
        "ck_accounts_debits_posted_non_negative",
        "ck_transfers_amount_positive",
        "ck_transfers_accounts_different",
        "ck_transfers_pending_id_iff_resolution",
    } <= names
