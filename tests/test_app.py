from __future__ import annotations

from litestar.testing import TestClient


class TestHealth:
    def test_healthz_answers_alive(self, client: TestClient) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "alive"}

    def test_readyz_reports_the_migrated_revision(self, client: TestClient) -> None:
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"
