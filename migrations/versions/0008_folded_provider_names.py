"""Provider names folded for accent- and case-insensitive search

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from registry.folding import fold

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider_name", schema=None) as batch_op:
        batch_op.add_column(sa.Column("folded", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
    names = sa.table("provider_name", sa.column("id", sa.Integer), sa.column("name", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(names.c.id, names.c.name)).all()
    for row_id, name in rows:
        connection.execute(
            sa.text("UPDATE provider_name SET folded = :folded WHERE id = :id"), {"folded": fold(name), "id": row_id}
        )
    with op.batch_alter_table("provider_name", schema=None) as batch_op:
        batch_op.alter_column("folded", server_default=None)
        batch_op.create_index(batch_op.f("ix_provider_name_folded"), ["folded"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("provider_name", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_name_folded"))
        batch_op.drop_column("folded")
