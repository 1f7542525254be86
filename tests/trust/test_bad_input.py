"""Bad input to the trust API gets a 4xx problem, never a 500: dates out of range, RFC 3339 strictness, deep JSON."""

from __future__ import annotations

import json

import pytest
from litestar.testing import TestClient
from sqlmodel import Session

from registry.trust.services import MAX_BATCH_BYTES
from tests import factories as f

PROBLEM = "application/problem+json"
IDENTIFIER = "did:web:nobody-here.example"


def _at_errors(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"].endswith("/problems/invalid-input")
    return [error["detail"] for error in body["errors"] if error["field"] == "at"]


class TestAtOutOfRange:
    @pytest.mark.parametrize("at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:30:00+01:00"])
    def test_a_moment_outside_the_calendar_in_utc_is_refused(self, client: TestClient, at: str) -> None:
        messages = _at_errors(client.get("/api/v1/trust", params={"identifier": IDENTIFIER, "at": at}))
        assert messages and "years 1 to 9999" in messages[0]

    def test_one_such_query_fails_only_its_own_item_in_a_batch(self, client: TestClient) -> None:
        queries = [
            {"identifier": IDENTIFIER, "at": "9999-12-31T23:59:59-23:59"},
            {"identifier": IDENTIFIER, "at": "2025-03-10"},
        ]
        response = client.post("/api/v1/trust/batch", json={"queries": queries})
        assert response.status_code == 200, response.text
        first, second = response.json()["results"]
        assert first["index"] == 0 and first["error"]["status"] == 400
        assert first["error"]["errors"][0]["field"] == "at"
        assert second["status"] == "unknown"


class TestRfc3339:
    def test_year_one_is_echoed_with_four_digits(self, client: TestClient) -> None:
        response = client.get("/api/v1/trust", params={"identifier": IDENTIFIER, "at": "0001-01-01T00:00:00Z"})
        assert response.status_code == 200, response.text
        assert response.json()["at"] == "0001-01-01T00:00:00Z"

    @pytest.mark.parametrize("at", ["2025-W10-1", "2025-069", "2025-03-10T12:00Z", "2025-03-10 12:00:00Z"])
    def test_iso_8601_forms_outside_rfc_3339_are_refused(self, client: TestClient, at: str) -> None:
        messages = _at_errors(client.get("/api/v1/trust", params={"identifier": IDENTIFIER, "at": at}))
        assert messages and "YYYY-MM-DD" in messages[0]

    @pytest.mark.parametrize(
        ("at", "echoed"),
        [
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z"),
            ("2025-12-31T23:59:60Z", "2025-12-31T23:59:59Z"),
            ("2026-01-01T00:59:60+01:00", "2025-12-31T23:59:59Z"),
        ],
    )
    def test_a_leap_second_is_accepted_as_the_last_second_of_its_day(
        self, client: TestClient, at: str, echoed: str
    ) -> None:
        response = client.get("/api/v1/trust", params={"identifier": IDENTIFIER, "at": at})
        assert response.status_code == 200, response.text
        assert response.json()["at"] == echoed

    def test_a_compact_date_is_told_the_expected_format(self, client: TestClient) -> None:
        messages = _at_errors(client.get("/api/v1/trust", params={"identifier": IDENTIFIER, "at": "20251231"}))
        assert messages and "YYYY-MM-DD" in messages[0] and "has no time zone offset" not in messages[0]

    def test_a_date_time_without_offset_is_told_it_needs_one(self, client: TestClient) -> None:
        messages = _at_errors(
            client.get("/api/v1/trust", params={"identifier": IDENTIFIER, "at": "2025-03-10T12:00:00"})
        )
        assert messages and "offset" in messages[0]

    @pytest.mark.parametrize(
        ("at", "echoed"),
        [
            ("2025-03-10", "2025-03-10T00:00:00Z"),
            ("2025-03-10T12:00:00Z", "2025-03-10T12:00:00Z"),
            ("2025-03-10t12:00:00z", "2025-03-10T12:00:00Z"),
            ("2025-03-10T12:00:00.250+02:00", "2025-03-10T10:00:00Z"),
        ],
    )
    def test_plain_dates_and_rfc_3339_date_times_are_accepted(self, client: TestClient, at: str, echoed: str) -> None:
        response = client.get("/api/v1/trust", params={"identifier": IDENTIFIER, "at": at})
        assert response.status_code == 200, response.text
        assert response.json()["at"] == echoed


class TestBatchBody:
    def test_a_deeply_nested_body_is_refused(self, client: TestClient) -> None:
        depth = 100_000
        body = b'{"queries": ' + b"[" * depth + b"]" * depth + b"}"
        response = client.post("/api/v1/trust/batch", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "nested" in response.json()["detail"]

    def test_a_body_over_the_limit_is_refused(self, client: TestClient) -> None:
        queries = [{"identifier": "did:web:" + "x" * 5000 + ".example"} for _ in range(1000)]
        body = json.dumps({"queries": queries}).encode()
        assert len(body) > MAX_BATCH_BYTES
        response = client.post("/api/v1/trust/batch", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.headers["content-type"].startswith(PROBLEM)


class TestCalendarEdges:
    def test_results_reaching_the_first_and_last_day_of_the_calendar(
        self, session: Session, client: TestClient
    ) -> None:
        provider = f.provider(session, identifiers=[{"scheme": "did", "value": "did:web:edges.example"}])
        agency = f.agency(session, registered=("0001-01-01", None))
        f.result(session, agency, [provider], valid_from="0001-01-01", valid_to="9999-12-31")
        session.commit()
        for at in ("0001-01-01", "9999-12-31T23:59:59Z"):
            response = client.get("/api/v1/trust", params={"identifier": "did:web:edges.example", "at": at})
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "trusted"
