"""signing_key_purpose: one key set per purpose (signed verdicts, OpenID Federation statements)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        # Existing keys sign verdicts.
        batch_op.add_column(
            sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="verdict")
        )
        batch_op.create_index(batch_op.f("ix_signing_key_purpose"), ["purpose"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_key_purpose"))
        batch_op.drop_column("purpose")
