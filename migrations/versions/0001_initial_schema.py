"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 22:18:41.169811
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "country",
        sa.Column("iso2", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("iso3", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("ehea_member", sa.Boolean(), nullable=False),
        sa.Column("eu_country_uri", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("iso2", name=op.f("pk_country")),
    )
    op.create_table(
        "esg_standard",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_esg_standard")),
    )
    op.create_table(
        "signing_key",
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("publish_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_key")),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("oidc_subject", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_user_oidc_subject")),
    )
    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("acronym", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("country_iso2", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("deqar_agency_id", sa.Integer(), nullable=True),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["country_iso2"], ["country.iso2"], name=op.f("fk_agency_country_iso2_country")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
        sa.UniqueConstraint("deqar_agency_id", name=op.f("uq_agency_deqar_agency_id")),
    )
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agency_acronym"), ["acronym"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["actor_user_id"], ["user.id"], name=op.f("fk_audit_event_actor_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_entity_id"), ["entity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_entity_type"), ["entity_type"], unique=False)

    op.create_table(
        "provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_iso2", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("provider_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("founded_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["country_iso2"], ["country.iso2"], name=op.f("fk_provider_country_iso2_country")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider")),
    )
    with op.batch_alter_table("provider", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_country_iso2"), ["country_iso2"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_provider_type"), ["provider_type"], unique=False)

    op.create_table(
        "agency_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("registered_from", sa.Date(), nullable=False),
        sa.Column("registered_to", sa.Date(), nullable=True),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_agency_registration_agency_id_agency")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_registration")),
    )
    with op.batch_alter_table("agency_registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agency_registration_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "provider_identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("normalised", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("established_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_provider_identifier_agency_id_agency")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_provider_identifier_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_identifier")),
    )
    with op.batch_alter_table("provider_identifier", schema=None) as batch_op:
        batch_op.create_index("ix_provider_identifier_lookup", ["scheme", "normalised"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_identifier_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "provider_name",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lang", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"], name=op.f("fk_provider_name_provider_id_provider")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_name")),
    )
    with op.batch_alter_table("provider_name", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_name_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_provider_name_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "provider_relation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("related_provider_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_provider_relation_provider_id_provider")
        ),
        sa.ForeignKeyConstraint(
            ["related_provider_id"], ["provider.id"], name=op.f("fk_provider_relation_related_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_relation")),
    )
    with op.batch_alter_table("provider_relation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_relation_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_provider_relation_related_provider_id"), ["related_provider_id"], unique=False
        )

    op.create_table(
        "provider_suspension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("suspended_from", sa.Date(), nullable=False),
        sa.Column("suspended_to", sa.Date(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["by_user_id"], ["user.id"], name=op.f("fk_provider_suspension_by_user_id_user")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_provider_suspension_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_suspension")),
    )
    with op.batch_alter_table("provider_suspension", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_suspension_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "qa_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("local_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("activity_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("revoked_from", sa.Date(), nullable=True),
        sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("withdrawn_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("withdrawn_by_user_id", sa.Integer(), nullable=True),
        sa.Column("conditions_due", sa.Date(), nullable=True),
        sa.Column("limit_eqf_levels", sa.JSON(), nullable=False),
        sa.Column("limit_fields", sa.JSON(), nullable=False),
        sa.Column("limit_jurisdictions", sa.JSON(), nullable=False),
        sa.Column("report_links", sa.JSON(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_qa_result_agency_id_agency")),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_user_id"], ["user.id"], name=op.f("fk_qa_result_withdrawn_by_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_result")),
        sa.UniqueConstraint("agency_id", "local_id", name="uq_qa_result_agency_local_id"),
    )
    with op.batch_alter_table("qa_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_result_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "role_membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_role_membership_agency_id_agency")),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"], name=op.f("fk_role_membership_provider_id_provider")),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_role_membership_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_membership")),
    )
    with op.batch_alter_table("role_membership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_membership_user_id"), ["user_id"], unique=False)

    op.create_table(
        "self_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reviewed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reviewer_user_id", sa.Integer(), nullable=True),
        sa.Column("review_comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["user.id"], name=op.f("fk_self_assessment_created_by_user_id_user")
        ),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"], name=op.f("fk_self_assessment_provider_id_provider")),
        sa.ForeignKeyConstraint(
            ["reviewer_user_id"], ["user.id"], name=op.f("fk_self_assessment_reviewer_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_assessment")),
        sa.UniqueConstraint("provider_id", "version_number", name="uq_self_assessment_version"),
    )
    with op.batch_alter_table("self_assessment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_self_assessment_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "trust_timeline",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("current_status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status_until", sa.Date(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"], name=op.f("fk_trust_timeline_provider_id_provider")),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_trust_timeline")),
    )
    with op.batch_alter_table("trust_timeline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trust_timeline_current_status"), ["current_status"], unique=False)
        batch_op.create_index(batch_op.f("ix_trust_timeline_status_until"), ["status_until"], unique=False)

    op.create_table(
        "qa_report_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("storage_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["result_id"], ["qa_result.id"], name=op.f("fk_qa_report_file_result_id_qa_result")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_report_file")),
    )
    with op.batch_alter_table("qa_report_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_report_file_result_id"), ["result_id"], unique=False)

    op.create_table(
        "qa_result_contributing_agency",
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_qa_result_contributing_agency_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["qa_result.id"], name=op.f("fk_qa_result_contributing_agency_result_id_qa_result")
        ),
        sa.PrimaryKeyConstraint("result_id", "agency_id", name=op.f("pk_qa_result_contributing_agency")),
    )
    op.create_table(
        "qa_result_programme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("ects", sa.Float(), nullable=True),
        sa.Column("eqf_level", sa.Integer(), nullable=True),
        sa.Column("isced_field", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("full_degree", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"], ["qa_result.id"], name=op.f("fk_qa_result_programme_result_id_qa_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_result_programme")),
    )
    with op.batch_alter_table("qa_result_programme", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_result_programme_identifier"), ["identifier"], unique=False)
        batch_op.create_index(batch_op.f("ix_qa_result_programme_result_id"), ["result_id"], unique=False)

    op.create_table(
        "qa_result_provider",
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_qa_result_provider_provider_id_provider")
        ),
        sa.ForeignKeyConstraint(
            ["result_id"], ["qa_result.id"], name=op.f("fk_qa_result_provider_result_id_qa_result")
        ),
        sa.PrimaryKeyConstraint("result_id", "provider_id", name=op.f("pk_qa_result_provider")),
    )
    with op.batch_alter_table("qa_result_provider", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_result_provider_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "review_deadline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("met_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_review_deadline_agency_id_agency")),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["self_assessment.id"], name=op.f("fk_review_deadline_assessment_id_self_assessment")
        ),
        sa.ForeignKeyConstraint(["provider_id"], ["provider.id"], name=op.f("fk_review_deadline_provider_id_provider")),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["agency_registration.id"],
            name=op.f("fk_review_deadline_registration_id_agency_registration"),
        ),
        sa.ForeignKeyConstraint(["result_id"], ["qa_result.id"], name=op.f("fk_review_deadline_result_id_qa_result")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_deadline")),
    )
    with op.batch_alter_table("review_deadline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_deadline_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_deadline_due_on"), ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_deadline_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "self_assessment_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("standard_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rating", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("narrative", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("evidence_links", sa.JSON(), nullable=False),
        sa.Column("reviewer_comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["self_assessment.id"],
            name=op.f("fk_self_assessment_entry_assessment_id_self_assessment"),
        ),
        sa.ForeignKeyConstraint(
            ["standard_code"], ["esg_standard.code"], name=op.f("fk_self_assessment_entry_standard_code_esg_standard")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_assessment_entry")),
        sa.UniqueConstraint("assessment_id", "standard_code", name="uq_self_assessment_entry"),
    )
    with op.batch_alter_table("self_assessment_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_self_assessment_entry_assessment_id"), ["assessment_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("self_assessment_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_self_assessment_entry_assessment_id"))

    op.drop_table("self_assessment_entry")
    with op.batch_alter_table("review_deadline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_deadline_provider_id"))
        batch_op.drop_index(batch_op.f("ix_review_deadline_due_on"))
        batch_op.drop_index(batch_op.f("ix_review_deadline_agency_id"))

    op.drop_table("review_deadline")
    with op.batch_alter_table("qa_result_provider", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_result_provider_provider_id"))

    op.drop_table("qa_result_provider")
    with op.batch_alter_table("qa_result_programme", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_result_programme_result_id"))
        batch_op.drop_index(batch_op.f("ix_qa_result_programme_identifier"))

    op.drop_table("qa_result_programme")
    op.drop_table("qa_result_contributing_agency")
    with op.batch_alter_table("qa_report_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_report_file_result_id"))

    op.drop_table("qa_report_file")
    with op.batch_alter_table("trust_timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trust_timeline_status_until"))
        batch_op.drop_index(batch_op.f("ix_trust_timeline_current_status"))

    op.drop_table("trust_timeline")
    with op.batch_alter_table("self_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_self_assessment_provider_id"))

    op.drop_table("self_assessment")
    with op.batch_alter_table("role_membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_membership_user_id"))

    op.drop_table("role_membership")
    with op.batch_alter_table("qa_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_result_agency_id"))

    op.drop_table("qa_result")
    with op.batch_alter_table("provider_suspension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_suspension_provider_id"))

    op.drop_table("provider_suspension")
    with op.batch_alter_table("provider_relation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_relation_related_provider_id"))
        batch_op.drop_index(batch_op.f("ix_provider_relation_provider_id"))

    op.drop_table("provider_relation")
    with op.batch_alter_table("provider_name", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_name_provider_id"))
        batch_op.drop_index(batch_op.f("ix_provider_name_name"))

    op.drop_table("provider_name")
    with op.batch_alter_table("provider_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_identifier_provider_id"))
        batch_op.drop_index("ix_provider_identifier_lookup")

    op.drop_table("provider_identifier")
    with op.batch_alter_table("agency_registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_registration_agency_id"))

    op.drop_table("agency_registration")
    with op.batch_alter_table("provider", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_provider_type"))
        batch_op.drop_index(batch_op.f("ix_provider_country_iso2"))

    op.drop_table("provider")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_entity_type"))
        batch_op.drop_index(batch_op.f("ix_audit_event_entity_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))

    op.drop_table("audit_event")
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_acronym"))

    op.drop_table("agency")
    op.drop_table("user")
    op.drop_table("signing_key")
    op.drop_table("esg_standard")
    op.drop_table("country")
