from __future__ import annotations

from pathlib import Path

import pytest

from registry.settings import Settings


class TestSettings:
    def test_defaults_are_the_embedded_registry(self, tmp_path: Path) -> None:
        settings = Settings.from_env({"REGISTRY_VAR_DIR": str(tmp_path)})
        assert settings.database_url == f"sqlite:///{tmp_path / 'registry.db'}"
        assert settings.require_eqar_registered is True
        assert settings.require_internal_qa_years is None
        assert settings.base_url == "http://127.0.0.1:8000"

    def test_policy_options_and_base_url(self, tmp_path: Path) -> None:
        settings = Settings.from_env(
            {
                "REGISTRY_VAR_DIR": str(tmp_path),
                "REGISTRY_REQUIRE_EQAR_REGISTERED": "off",
                "REGISTRY_REQUIRE_INTERNAL_QA_YEARS": "5",
                "REGISTRY_BASE_URL": "https://qa.example.org/",
            }
        )
        assert (settings.require_eqar_registered, settings.require_internal_qa_years) == (False, 5)
        assert settings.base_url == "https://qa.example.org"

    def test_a_malformed_boolean_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="not a boolean"):
            Settings.from_env({"REGISTRY_VAR_DIR": str(tmp_path), "REGISTRY_REQUIRE_EQAR_REGISTERED": "maybe"})

    def test_embedded_secret_key_is_generated_once_and_kept(self, tmp_path: Path) -> None:
        settings = Settings.from_env({"REGISTRY_VAR_DIR": str(tmp_path)})
        key = settings.resolved_secret_key()
        assert len(key) >= 40
        assert settings.resolved_secret_key() == key
        assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0

    def test_postgresql_requires_a_secret_key(self, tmp_path: Path) -> None:
        settings = Settings.from_env(
            {"REGISTRY_VAR_DIR": str(tmp_path), "REGISTRY_DATABASE_URL": "postgresql://db.internal/registry"}
        )
        with pytest.raises(RuntimeError, match="REGISTRY_SECRET_KEY"):
            settings.resolved_secret_key()

    def test_portal_settings(self, tmp_path: Path) -> None:
        defaults = Settings.from_env({"REGISTRY_VAR_DIR": str(tmp_path)})
        assert (defaults.self_assessment_cycle_years, defaults.allow_private_fetch, defaults.fetch_ca_bundle) == (
            3,
            False,
            None,
        )
        assert (defaults.proof_challenge_minutes, defaults.invitation_days, defaults.fetch_https_port) == (
            1440,
            14,
            443,
        )
        settings = Settings.from_env(
            {
                "REGISTRY_VAR_DIR": str(tmp_path),
                "REGISTRY_SELF_ASSESSMENT_CYCLE_YEARS": "5",
                "REGISTRY_PROOF_CHALLENGE_MINUTES": "30",
                "REGISTRY_INVITATION_DAYS": "7",
                "REGISTRY_ALLOW_PRIVATE_FETCH": "yes",
                "REGISTRY_FETCH_CA_BUNDLE": "/etc/ssl/test-ca.pem",
                "REGISTRY_FETCH_HTTPS_PORT": "8443",
                "REGISTRY_REPORT_FETCH_SECONDS": "20",
                "REGISTRY_REPORT_FETCH_BUDGET_SECONDS": "90",
            }
        )
        assert (settings.report_fetch_seconds, settings.report_fetch_budget_seconds) == (20.0, 90.0)
        assert settings.self_assessment_cycle_years == 5
        assert (settings.proof_challenge_minutes, settings.invitation_days) == (30, 7)
        assert (settings.allow_private_fetch, settings.fetch_ca_bundle, settings.fetch_https_port) == (
            True,
            "/etc/ssl/test-ca.pem",
            8443,
        )
