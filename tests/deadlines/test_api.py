from __future__ import annotations

from collections.abc import Callable

from litestar.testing import TestClient
from sqlmodel import Session

from registry.deadlines.sweep import run_sweep
from registry.providers.models import Provider
from registry.qa.models import QAResult
from registry.settings import Settings
from tests.deadlines.conftest import days


class TestProviderStatusEvents:
    def test_a_verdict_change_from_a_passing_deadline_is_visible_per_provider(
        self,
        session: Session,
        client: TestClient,
        settings: Settings,
        make_provider: Callable[..., Provider],
        make_result: Callable[..., QAResult],
    ) -> None:
        provider = make_provider()
        make_result(provider, valid_to=days(30))
        run_sweep(session, days(31), settings)
        session.flush()  # the client reads through this connection
        response = client.get(f"/api/v1/providers/{provider.id}/status-events")
        assert response.status_code == 200
        [event] = response.json()["events"]
        assert (event["on"], event["kind"], event["from_status"], event["to_status"]) == (
            days(31).isoformat(),
            "verdict_changed",
            "trusted",
            "expired",
        )

    def test_an_unknown_provider_is_a_problem(self, client: TestClient) -> None:
        response = client.get("/api/v1/providers/999999/status-events")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
