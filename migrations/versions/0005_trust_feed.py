"""trust list entries and the change feed's counter

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trust_list_entry",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=True),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_trust_list_entry_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_trust_list_entry")),
        sa.UniqueConstraint("position", name=op.f("uq_trust_list_entry_position")),
    )
    counter = op.create_table(
        "trust_feed_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_feed_counter")),
    )
    op.bulk_insert(counter, [{"id": 1, "position": 0}])


def downgrade() -> None:
    op.drop_table("trust_feed_counter")
    op.drop_table("trust_list_entry")
