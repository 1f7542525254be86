"""The public provider list and page as a verifier sees them: accent-blind search, paging, filters, limits."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session

from tests import factories as f

HTML = {"Accept": "text/html"}


def _names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/providers/\d+">([^<]*)</a></td>', html)


class TestSearch:
    def test_accents_and_case_are_ignored_both_ways(self, session: Session, client: TestClient) -> None:
        f.provider(session, name="Université Grenoble Alpes")
        f.provider(session, name="Politechnika Łódzka")
        session.commit()
        assert _names(client.get("/providers/", params={"q": "universite"}, headers=HTML).text) == [
            "Université Grenoble Alpes"
        ]
        assert _names(client.get("/providers/", params={"q": "LODZKA"}, headers=HTML).text) == ["Politechnika Łódzka"]
        assert _names(client.get("/providers/", params={"q": "Universitè"}, headers=HTML).text) == [
            "Université Grenoble Alpes"
        ]
        # The JSON search answers the same.
        found = client.get("/api/v1/providers", params={"q": "universite grenoble"}).json()
        assert found["total"] == 1

    def test_wildcards_typed_by_people_match_themselves(self, session: Session, client: TestClient) -> None:
        f.provider(session, name="Hundred Percent College")
        session.commit()
        assert _names(client.get("/providers/", params={"q": "%"}, headers=HTML).text) == []

    def test_a_page_that_is_not_a_number_is_the_first_page(self, session: Session, client: TestClient) -> None:
        f.provider(session, name="Paged College")
        session.commit()
        response = client.get("/providers/", params={"q": "Paged", "page": "abc"}, headers=HTML)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert _names(response.text) == ["Paged College"]

    def test_a_page_past_the_end_shows_the_last_page(self, session: Session, client: TestClient) -> None:
        for number in range(30):
            f.provider(session, name=f"Numerous College {number:02d}")
        session.commit()
        response = client.get("/providers/", params={"q": "Numerous", "page": "99"}, headers=HTML)
        assert response.status_code == 200
        assert "Page 2 of 2" in response.text
        assert "Page 99" not in response.text
        assert len(_names(response.text)) == 5
        negative = client.get("/providers/", params={"q": "Numerous", "page": "-1"}, headers=HTML)
        assert "Page 1 of 2" in negative.text

    def test_the_public_list_filters_by_type(self, session: Session, client: TestClient) -> None:
        f.provider(session, name="Typed Academy", provider_type="employer academy")
        f.provider(session, name="Typed University", provider_type="public HEI")
        session.commit()
        page = client.get("/providers/", params={"q": "Typed", "type": "employer academy"}, headers=HTML).text
        assert _names(page) == ["Typed Academy"]
        assert '<select id="type" name="type">' in page
        assert "<option selected>employer academy</option>" in page


class TestResultLimits:
    def test_the_public_and_staff_pages_show_what_a_result_covers(
        self, session: Session, client: TestClient, world: object
    ) -> None:
        provider = f.provider(session, name="Limited Institute")
        agency = f.agency(session)
        f.result(
            session,
            agency,
            [provider],
            limit_eqf_levels=[6, 7],
            limit_fields=["0413"],
            limit_jurisdictions=["NL"],
            valid_to="2099-01-01",
        )
        f.result(
            session,
            agency,
            [provider],
            activity_type="programme",
            programmes=[{"name": "MSc Data", "identifier": "urn:prog:msc", "eqf_level": 7, "full_degree": True}],
            valid_to="2099-01-01",
        )
        session.commit()
        page = client.get(f"/providers/{provider.id}", headers=HTML).text
        assert "<li>EQF levels 6, 7</li>" in page
        assert "<li>ISCED-F field 0413</li>" in page
        assert "<li>jurisdiction NL</li>" in page
        assert "MSc Data (<code>urn:prog:msc</code>), EQF 7" in page
        from tests.conftest import sign_in

        sign_in(client, "operator@test.example")
        staff = client.get(f"/staff/providers/{provider.id}").text
        assert "<li>EQF levels 6, 7</li>" in staff
        assert "MSc Data (<code>urn:prog:msc</code>), EQF 7" in staff
