"""provider portal: evidence files, identifier challenges, provider invitations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:39:47.736795
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("invited_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invited_by_user_id"], ["user.id"], name=op.f("fk_provider_invitation_invited_by_user_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_provider_invitation_provider_id_provider")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_provider_invitation_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_provider_invitation_token_hash")),
    )
    with op.batch_alter_table("provider_invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_invitation_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "evidence_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("standard_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("uploaded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["self_assessment.id"], name=op.f("fk_evidence_file_assessment_id_self_assessment")
        ),
        sa.ForeignKeyConstraint(
            ["standard_code"], ["esg_standard.code"], name=op.f("fk_evidence_file_standard_code_esg_standard")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"], ["user.id"], name=op.f("fk_evidence_file_uploaded_by_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_file")),
    )
    with op.batch_alter_table("evidence_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_file_assessment_id"), ["assessment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_file_sha256"), ["sha256"], unique=False)

    op.create_table(
        "identifier_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier_id", sa.Integer(), nullable=False),
        sa.Column("challenge", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("issued_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["provider_identifier.id"],
            name=op.f("fk_identifier_challenge_identifier_id_provider_identifier"),
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_user_id"], ["user.id"], name=op.f("fk_identifier_challenge_issued_by_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifier_challenge")),
        sa.UniqueConstraint("challenge", name=op.f("uq_identifier_challenge_challenge")),
    )
    with op.batch_alter_table("identifier_challenge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identifier_challenge_identifier_id"), ["identifier_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identifier_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identifier_challenge_identifier_id"))

    op.drop_table("identifier_challenge")
    with op.batch_alter_table("evidence_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_file_sha256"))
        batch_op.drop_index(batch_op.f("ix_evidence_file_assessment_id"))

    op.drop_table("evidence_file")
    with op.batch_alter_table("provider_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_invitation_provider_id"))

    op.drop_table("provider_invitation")
