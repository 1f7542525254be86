from __future__ import annotations

from litestar.testing import TestClient


class TestHealth:
    def test_healthz_answers_alive(self, client: TestClient) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "alive"}

    def test_health_checks_set_no_cookie(self, client: TestClient) -> None:
        # Load balancers poll these: no CSRF or session cookie for them to store.
        for path in ("/healthz", "/readyz"):
            assert "set-cookie" not in client.get(path).headers, path
        assert "set-cookie" in client.get("/signin").headers  # pages with forms still get their CSRF cookie

    def test_readyz_reports_the_migrated_revision(self, client: TestClient) -> None:
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"
