"""A PIN lock times out, tries being checked are counted apart, and wrong PINs are counted per
client address and for numbers without an account (ADR 0019).

`users.pin_locked` (locked until an operator unlocked it) becomes `pin_locked_until` and
`pin_lock_count`. A PIN locked before this stays locked for the longest time-out from the
upgrade, as its third lock in a row: it was locked by five wrong tries that no one has answered.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from soko.db.types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: limits.PIN_LOCK_SECONDS as of this migration: a migration does not change with the code.
_LONGEST_LOCK_SECONDS = 24 * 3600
_LOCKS_BEFORE_THE_LONGEST = 3


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.add_column(
            sa.Column("pin_checking", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("pin_checking_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("pin_locked_until", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column("pin_lock_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.create_check_constraint("pin_checking_non_negative", "pin_checking >= 0")
        batch.create_check_constraint("pin_lock_count_non_negative", "pin_lock_count >= 0")
    users = sa.table(
        "users",
        sa.column("pin_locked", sa.Integer()),
        sa.column("pin_failures", sa.Integer()),
        sa.column("pin_locked_until", UtcDateTime()),
        sa.column("pin_lock_count", sa.Integer()),
    )
    until = datetime.now(UTC) + timedelta(seconds=_LONGEST_LOCK_SECONDS)
    op.execute(
        users.update()
        .where(users.c.pin_locked == 1)
        .values(pin_failures=0, pin_locked_until=until, pin_lock_count=_LOCKS_BEFORE_THE_LONGEST)
    )
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_users_pin_locked_boolean"), type_="check")
        batch.drop_column("pin_locked")

    op.create_table(
        "address_pin_tries",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.CheckConstraint("tries >= 0", name=op.f("ck_address_pin_tries_tries_non_negative")),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_address_pin_tries")),
    )
    op.create_index(op.f("ix_address_pin_tries_started_at"), "address_pin_tries", ["started_at"])
    op.create_table(
        "unknown_number_pins",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("checking", sa.Integer(), nullable=False),
        sa.Column("checking_until", UtcDateTime(), nullable=True),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("lock_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "failures >= 0 AND checking >= 0 AND lock_count >= 0",
            name=op.f("ck_unknown_number_pins_counts_valid"),
        ),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_unknown_number_pins")),
    )
    op.create_index(
        op.f("ix_unknown_number_pins_updated_at"), "unknown_number_pins", ["updated_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_unknown_number_pins_updated_at"), table_name="unknown_number_pins")
    op.drop_table("unknown_number_pins")
    op.drop_index(op.f("ix_address_pin_tries_started_at"), table_name="address_pin_tries")
    op.drop_table("address_pin_tries")
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.add_column(
            sa.Column("pin_locked", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    users = sa.table(
        "users", sa.column("pin_locked", sa.Integer()), sa.column("pin_locked_until", UtcDateTime())
    )
    # A lock still running stays a lock, now until an operator lifts it.
    op.execute(
        users.update().where(users.c.pin_locked_until > datetime.now(UTC)).values(pin_locked=1)
    )
    with op.batch_alter_table("users", recreate="auto") as batch:
        batch.create_check_constraint("pin_locked_boolean", "pin_locked IN (0, 1)")
        batch.drop_constraint(op.f("ck_users_pin_checking_non_negative"), type_="check")
        batch.drop_constraint(op.f("ck_users_pin_lock_count_non_negative"), type_="check")
        batch.drop_column("pin_lock_count")
        batch.drop_column("pin_locked_until")
        batch.drop_column("pin_checking_until")
        batch.drop_column("pin_checking")
