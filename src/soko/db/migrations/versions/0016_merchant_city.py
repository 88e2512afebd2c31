"""Each merchant's own city, printed in its QR code (it printed the operator's city before).

Existing merchants get the operator's city (SOKO_QR_MERCHANT_CITY, "Nairobi" by default): what
their codes printed until now, so no printed sticker changes.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from soko.config import Settings

revision = "0016"
# 0014 and 0015 are being written beside this one: whichever lands last before it is its parent.
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    city = Settings().qr_merchant_city
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("city", sa.String(length=80), nullable=True))
    op.execute(sa.text("UPDATE merchants SET city = :city").bindparams(city=city))
    with op.batch_alter_table("merchants") as batch:
        batch.alter_column("city", existing_type=sa.String(length=80), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("city")
