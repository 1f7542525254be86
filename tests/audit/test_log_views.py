"""The operators' audit log and the places that tell audit events: sentences with names, never ids."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session

from registry.audit.services import Actor
from registry.providers import services as providers
from tests import factories as f
from tests.conftest import post_form, sign_in
from tests.factories import World


def _rows(html: str) -> list[str]:
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return re.findall(r"<tr>.*?</tr>", body, re.S)


class TestAuditLog:
    def test_every_event_is_listed_as_a_sentence_with_a_link(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        post_form(
            client,
            f"/staff/providers/{world.provider_p}/edit",
            {"name": "Alpha Test University", "country": "DE", "provider_type": "private HEI", "version": "1"},
        )
        page = client.get("/staff/audit/")
        assert page.status_code == 200
        assert "Every change recorded in the registry" in page.text
        first = _rows(page.text)[0]
        assert f'<a href="/staff/providers/{world.provider_p}">edited Alpha Test University</a>' in first
        assert "<td>operator</td>" in first
        assert "<del>public HEI</del> → <ins>private HEI</ins>" in first
        assert "qa_result" not in page.text

    def test_filters_by_who_kind_provider_agency_and_dates(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["operator"])
        post_form(
            client,
            f"/staff/providers/{world.provider_q}/suspend",
            {"suspended_from": "2024-01-01", "reason": "inspection"},
        )
        by_operator = client.get("/staff/audit/", params={"who": f"user:{world.user_ids['operator']}"}).text
        assert [row for row in _rows(by_operator) if "suspended Quiet Test Academy" in row]
        assert len(_rows(by_operator)) == 1
        results = client.get("/staff/audit/", params={"kind": "result"}).text
        assert all("result of Agency Alpha (AAA)" in row for row in _rows(results))
        about_q = client.get("/staff/audit/", params={"provider_name": "quiet test"}).text
        rows = _rows(about_q)
        assert rows and all("Quiet Test Academy" in row for row in rows)
        assert not any("Alpha Test University" in row for row in rows)
        agency_b = client.get("/staff/audit/", params={"agency": str(world.agency_b)}).text
        assert all("Agency Beta" in row for row in _rows(agency_b))
        future = client.get("/staff/audit/", params={"since": "2999-01-01"}).text
        assert "No recorded change matches." in future
        bad = client.get("/staff/audit/", params={"since": "yesterday"})
        assert bad.status_code == 400
        assert "is not a date" in bad.text

    def test_pages_of_fifty(self, client: TestClient, world: World, session: Session) -> None:
        for number in range(60):
            providers.create_provider(
                session,
                providers.ProviderInput(name=f"Logged College {number}", country="NL", provider_type="other"),
                Actor("cli"),
            )
        session.commit()
        sign_in(client, world.emails["operator"])
        first = client.get("/staff/audit/", params={"who": "process:cli"}).text
        assert len(_rows(first)) == 50
        assert "Page 1 of 2" in first
        assert 'href="?who=process%3Acli&page=2"' in first
        last = client.get("/staff/audit/", params={"who": "process:cli", "page": "7"}).text
        assert len(_rows(last)) == 10
        assert "Page 2 of 2" in last

    def test_only_operators_read_it(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        assert client.get("/staff/audit/").status_code == 403


class TestNamesInsteadOfIds:
    def test_the_dashboard_tells_recent_changes_in_words(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_a"])
        page = client.get("/staff").text
        assert "result.record" not in page
        assert "recorded the positive institutional result of Agency Alpha (AAA) for Alpha Test University" in page

    def test_the_accounts_page_names_agencies_and_providers(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        page = client.get("/staff/users/").text
        assert f'agency editor at <a href="/staff/agencies/{world.agency_a}">Agency Alpha (AAA)</a>' in page
        assert f'provider staff at <a href="/staff/providers/{world.provider_p}">Alpha Test University</a>' in page
        assert "(agency " not in page and "(provider " not in page

    def test_provider_staff_accounts_choose_their_provider_by_name(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        form = {"email": "new@quiet.example", "display_name": "New Staff", "role": "provider staff"}
        unknown = post_form(client, "/staff/users/", {**form, "provider_id_name": "Nonexistent"})
        assert unknown.status_code == 400
        assert 'id="e-provider_id"' in unknown.text
        made = post_form(client, "/staff/users/", {**form, "provider_id_name": "Quiet Test Academy"})
        assert made.status_code == 303
        page = client.get("/staff/users/").text
        assert f'provider staff at <a href="/staff/providers/{world.provider_q}">Quiet Test Academy</a>' in page

    def test_a_merger_in_the_history_names_both_providers(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        absorbed = f.provider(session, name="Westbury College")
        providers.add_relation(
            session,
            absorbed,
            kind="absorbed by",
            related_provider_id=world.provider_q,
            valid_from="2024-09-01",
            actor=Actor("test"),
        )
        session.commit()
        sign_in(client, world.emails["operator"])
        successor_page = client.get(f"/staff/providers/{world.provider_q}").text
        assert "recorded that Westbury College was absorbed by Quiet Test Academy on 2024-09-01" in successor_page
        assert "Provider " + str(absorbed.id) not in successor_page
