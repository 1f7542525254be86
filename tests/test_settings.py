from __future__ import annotations

import os
from pathlib import Path

import pytest

from registry.serving import behind_proxies, cpu_count
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

    def test_workers_default_to_one_per_core_and_registry_workers_overrides(self, tmp_path: Path) -> None:
        for database_url in (f"sqlite:///{tmp_path / 'r.db'}", "postgresql://db.internal/registry"):
            settings = Settings.from_env({"REGISTRY_VAR_DIR": str(tmp_path), "REGISTRY_DATABASE_URL": database_url})
            assert settings.workers == 0
            # The cores this process may use (its affinity mask), not every core of the machine.
            assert settings.serve_workers == cpu_count() == len(os.sched_getaffinity(0))
            chosen = Settings.from_env({"REGISTRY_DATABASE_URL": database_url, "REGISTRY_WORKERS": "3"})
            assert chosen.serve_workers == 3
        with pytest.raises(ValueError, match="REGISTRY_WORKERS"):
            Settings.from_env({"REGISTRY_WORKERS": "-2"})

    def test_registry_serve_believes_forwarded_headers_only_from_trusted_proxies(self) -> None:
        from litestar import Litestar, Request, get
        from litestar.testing import TestClient

        @get("/who", sync_to_thread=False)
        def who(request: Request) -> str:  # type: ignore[type-arg]
            return f"{request.client.host if request.client else '-'} {request.url.scheme}"

        app = Litestar([who])
        forwarded = {"X-Forwarded-For": "203.0.113.7, 198.51.100.2", "X-Forwarded-Proto": "https"}
        # The test client's peer is "testclient": trusted, the last untrusted hop is the client.
        with TestClient(behind_proxies(app, "testclient, 198.51.100.2")) as client:
            assert client.get("/who", headers=forwarded).text == "203.0.113.7 https"
            assert client.get("/who").text == "testclient http"
        # From an untrusted peer (or with nobody trusted) the headers are ignored: anyone can send them.
        for trusted in ("127.0.0.1", ""):
            with TestClient(behind_proxies(app, trusted)) as client:
                assert client.get("/who", headers=forwarded).text == "testclient http"
        assert Settings.from_env({}).forwarded_allow_ips == "127.0.0.1"
