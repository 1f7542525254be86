"""Inviting provider staff by e-mail, accepting the invitation, and providers requesting an entry."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.mail.models import OutboxMessage
from registry.providers.models import Provider
from tests.conftest import post_form, sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


class TestInvitations:
    def test_an_editor_invites_and_the_invited_person_joins_once(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        page = post_form(
            client,
            f"/staff/providers/{world.provider_p}/invitations",
            {"email": "New.Staff@alpha.example"},
            headers=HTML,
        )
        assert page.status_code == 200
        link = re.search(r"http://registry\.test/invitations/([A-Za-z0-9_-]+)", page.text)
        assert link is not None
        mail = session.exec(select(OutboxMessage).where(OutboxMessage.to == "new.staff@alpha.example")).one()
        assert link.group(0) in mail.text and mail.html is not None and link.group(0) in mail.html

        with TestClient(client.app, base_url="http://registry.test") as invited:
            path = f"/invitations/{link.group(1)}"
            assert invited.get(path, headers=HTML).status_code == 200
            differ = post_form(
                invited,
                path,
                {"display_name": "New Staff", "password": "long-enough-1", "repeat_password": "long-enough-2"},
                headers=HTML,
            )
            assert differ.status_code == 400 and 'id="e-repeat_password"' in differ.text
            assert 'value="New Staff"' in differ.text
            joined = post_form(
                invited,
                path,
                {"display_name": "New Staff", "password": "long-enough-1", "repeat_password": "long-enough-1"},
            )
            assert joined.status_code == 303
            again = post_form(
                invited,
                path,
                {"display_name": "Again", "password": "long-enough-1", "repeat_password": "long-enough-1"},
                headers=HTML,
            )
            assert again.status_code == 409
            assert sign_in(invited, "new.staff@alpha.example", "long-enough-1").status_code == 303
            assert invited.get(f"/staff/providers/{world.provider_p}/self-assessment", headers=HTML).status_code == 200

    def test_an_agency_that_does_not_review_the_provider_cannot_invite(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_b"])
        response = post_form(
            client, f"/staff/providers/{world.provider_p}/invitations", {"email": "x@y.example"}, headers=HTML
        )
        assert response.status_code == 403
        assert session.exec(select(OutboxMessage).where(OutboxMessage.to == "x@y.example")).first() is None

    def test_the_invitation_e_mail_renders_as_text_and_html(self) -> None:
        from registry.mail.services import render

        mail = render(
            "mail/invitation",
            "Invitation",
            {
                "inviter": "Eddie",
                "provider_name": "Alpha",
                "link": "L",
                "accept_link": "https://r.example/invitations/t",
                "expires_on": "2026-12-06",
            },
        )
        assert "https://r.example/invitations/t" in mail.text
        assert mail.html is not None and 'href="https://r.example/invitations/t"' in mail.html


class TestEntryRequests:
    def test_a_provider_requests_an_entry_that_an_editor_confirms(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        refused = post_form(
            client,
            "/request-entry",
            {
                "name": "",
                "country": "QQ",
                "provider_type": "castle",
                "domain": "not a domain",
                "contact": "a@b.example",
            },
            headers=HTML,
        )
        assert refused.status_code == 400
        for name in ("name", "country", "provider_type", "domain"):
            assert f'id="e-{name}"' in refused.text, name
        received = post_form(
            client,
            "/request-entry",
            {
                "name": "Harbour Skills Institute",
                "country": "NL",
                "provider_type": "VET provider",
                "domain": "harbour.example",
                "contact": "head@harbour.example",
            },
            headers=HTML,
        )
        assert received.status_code == 200 and "Request received" in received.text
        assert client.get("/api/v1/providers", params={"q": "Harbour Skills"}).json()["total"] == 0
        entry = session.exec(select(Provider).where(Provider.website.is_(None), Provider.confirmed == False)).first()  # type: ignore[union-attr]  # noqa: E712
        assert entry is not None

        sign_in(client, world.emails["editor_a"])
        listing = client.get("/staff/requests/", headers=HTML)
        assert "Harbour Skills Institute" in listing.text
        confirmed = post_form(client, f"/staff/requests/{entry.id}/confirm", {"version": str(entry.version)})
        assert confirmed.status_code == 303
        assert client.get("/api/v1/providers", params={"q": "Harbour Skills"}).json()["total"] == 1
        # Its domain was only claimed: verifiers get no answer until the provider proves it.
        assert client.get("/api/v1/trust", params={"identifier": "harbour.example"}).json()["status"] == "unknown"

    def test_an_editor_sees_who_asked_and_refuses_an_entry(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        received = post_form(
            client,
            "/request-entry",
            {
                "name": "Dubious Diploma Mill",
                "country": "NL",
                "provider_type": "VET provider",
                "contact": "x@mill.example",
            },
            headers=HTML,
        )
        assert received.status_code == 200
        entry = session.exec(select(Provider).where(Provider.request_contact == "x@mill.example")).one()
        sign_in(client, world.emails["editor_a"])
        listing = client.get("/staff/requests/", headers=HTML).text
        assert '<a href="mailto:x@mill.example">x@mill.example</a>' in listing
        assert re.search(r'Reason to refuse Dubious Diploma Mill <span class="required-marker"', listing)

        path = f"/staff/requests/{entry.id}/reject"
        refused = post_form(client, path, {"version": str(entry.version), "reason": ""}, headers=HTML)
        assert refused.status_code == 400
        assert f'id="e-reason-{entry.id}">this field is required' in refused.text

        rejected = post_form(client, path, {"version": str(entry.version), "reason": "no such institution"})
        assert rejected.status_code == 303
        listing = client.get(rejected.headers["location"], headers=HTML).text
        assert "The entry request of Dubious Diploma Mill was refused." in listing
        assert "Confirm Dubious Diploma Mill" not in listing
        session.refresh(entry)
        assert (entry.confirmed, entry.rejected_reason) == (False, "no such institution")
        # A refused request can no longer be confirmed, and verifiers never see it.
        confirm = post_form(client, f"/staff/requests/{entry.id}/confirm", {"version": str(entry.version)})
        assert confirm.status_code == 409
        assert client.get("/api/v1/providers", params={"q": "Dubious Diploma"}).json()["total"] == 0

    def test_provider_staff_cannot_confirm_entries(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["staff_p"])
        assert client.get("/staff/requests/", headers=HTML).status_code == 403
