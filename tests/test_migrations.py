from __future__ import annotations

from sqlalchemy import Engine, inspect

from registry import migrations


class TestMigrations:
    def test_models_and_migrations_agree(self, engine: Engine) -> None:
        assert migrations.schema_differences(engine) == []

    def test_database_is_at_the_head_revision(self, engine: Engine) -> None:
        assert migrations.current_revision(engine) == migrations.head_revision()

    def test_every_domain_table_exists(self, engine: Engine) -> None:
        tables = set(inspect(engine).get_table_names())
        assert {
            "provider",
            "provider_identifier",
            "provider_name",
            "provider_relation",
            "provider_suspension",
            "agency",
            "agency_registration",
            "qa_result",
            "qa_result_provider",
            "qa_result_programme",
            "self_assessment",
            "self_assessment_entry",
            "review_deadline",
            "audit_event",
            "user",
            "role_membership",
            "trust_timeline",
            "signing_key",
            "country",
            "esg_standard",
        } <= tables
