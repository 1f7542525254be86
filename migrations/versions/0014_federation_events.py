"""OpenID Federation subordinate events, written by the change feed

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_subordinate_event",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sub", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("position", "ordinal", name=op.f("pk_federation_subordinate_event")),
    )
    op.create_index(op.f("ix_federation_subordinate_event_sub"), "federation_subordinate_event", ["sub"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_federation_subordinate_event_sub"), table_name="federation_subordinate_event")
    op.drop_table("federation_subordinate_event")
