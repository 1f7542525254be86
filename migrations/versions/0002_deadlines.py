"""deadlines

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:24:48.687036
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("html", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("cause", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_message_next_attempt_at"), ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_message_status"), ["status"], unique=False)

    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("regenerated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_calendar_feed_agency_id_agency")),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"], name=op.f("fk_calendar_feed_provider_id_provider")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feed")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_calendar_feed_agency_id")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_calendar_feed_provider_id")),
        sa.UniqueConstraint("token", name=op.f("uq_calendar_feed_token")),
    )
    op.create_table(
        "provider_status_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_provider_status_event_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_status_event")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_provider_status_event_dedupe_key")),
    )
    with op.batch_alter_table("provider_status_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_status_event_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "deadline_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.Integer(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deadline_id"], ["review_deadline.id"], name=op.f("fk_deadline_reminder_deadline_id_review_deadline")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_reminder")),
        sa.UniqueConstraint("deadline_id", "offset_days", "due_on", name="uq_deadline_reminder_once"),
    )
    with op.batch_alter_table("review_deadline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False))
        # review_deadline had no writer before this revision; the default covers any row anyway.
        batch_op.add_column(sa.Column("concerns_operators", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("overdue_since", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_review_deadline_result_id"), ["result_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_review_deadline_source_key"), ["source_key"])


def downgrade() -> None:
    with op.batch_alter_table("review_deadline", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_review_deadline_source_key"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_review_deadline_result_id"))
        batch_op.drop_column("overdue_since")
        batch_op.drop_column("concerns_operators")
        batch_op.drop_column("source_key")

    op.drop_table("deadline_reminder")
    with op.batch_alter_table("provider_status_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_status_event_provider_id"))

    op.drop_table("provider_status_event")
    op.drop_table("calendar_feed")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_next_attempt_at"))

    op.drop_table("outbox_message")
