"""Inviting provider staff by e-mail, accepting the invitation, and providers requesting an entry."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.accounts.models import User
from registry.accounts.roles import memberships
from registry.audit.models import AuditEvent
from registry.audit.services import history
from registry.mail.models import OutboxMessage
from registry.providers.models import Provider
from tests.conftest import post_form, sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


def invite(client: TestClient, session: Session, provider_id: int, address: str) -> tuple[str, str]:
    """Send an invitation through the form; (the page the sender sees, the link that was e-mailed)."""
    page = post_form(client, f"/staff/providers/{provider_id}/invitations", {"email": address}, headers=HTML)
    assert page.status_code == 200, page.text
    mail = session.exec(
        select(OutboxMessage).where(OutboxMessage.to == address.lower()).order_by(OutboxMessage.id.desc())  # type: ignore[union-attr]
    ).first()
    assert mail is not None
    link = re.search(r"http://registry\.test/invitations/([A-Za-z0-9_-]+)", mail.text)
    assert link is not None and mail.html is not None and link.group(0) in mail.html
    return page.text, link.group(0)


def path_of(link: str) -> str:
    return link.removeprefix("http://registry.test")


class TestInvitations:
    def test_an_editor_invites_and_the_invited_person_joins_once(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        page, link = invite(client, session, world.provider_p, "New.Staff@alpha.example")
        # The sender learns that the invitation is on its way, never the link itself.
        assert "new.staff@alpha.example" in page
        assert link.rsplit("/", 1)[1] not in page and "/invitations/" not in page

        with TestClient(client.app, base_url="http://registry.test") as invited:
            path = path_of(link)
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

    def test_an_existing_account_accepts_signed_in_and_never_by_setting_a_password(
        self,
        app,
        session: Session,
        client: TestClient,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        # Provider staff of P invite the address of an account that exists (staff of Q-to-be).
        owner = world.emails["editor_b"]
        sign_in(client, world.emails["staff_p"])
        _, link = invite(client, session, world.provider_p, owner)
        path = path_of(link)
        with TestClient(app, base_url="http://registry.test") as taker:
            page = taker.get(path, headers=HTML)
            assert "Sign in to it" in page.text and 'name="password"' not in page.text
            refused = post_form(
                taker,
                path,
                {"display_name": "Taker", "password": "takers-password", "repeat_password": "takers-password"},
                headers=HTML,
            )
            assert refused.status_code == 409 and "already an account" in refused.text
            assert sign_in(taker, owner, "takers-password").status_code == 400
        session.expire_all()
        assert world.provider_p not in {m.provider_id for m in memberships(session, world.user_ids["editor_b"])}

    def test_a_provider_staff_invitation_cannot_take_over_an_agency_account(
        self,
        app,
        session: Session,
        client: TestClient,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        _, link = invite(client, session, world.provider_p, world.emails["reviewer_a"])
        with TestClient(app, base_url="http://registry.test") as reviewer:
            sign_in(reviewer, world.emails["reviewer_a"])
            page = reviewer.get(path_of(link), headers=HTML)
            assert "Accept the invitation" in page.text
            refused = post_form(reviewer, path_of(link), {}, headers=HTML)
            assert refused.status_code == 403 and "only an operator" in refused.text
        session.expire_all()
        assert [m.role for m in memberships(session, world.user_ids["reviewer_a"])] == ["agency reviewer"]

    def test_the_invited_account_accepts_and_the_grant_is_in_its_history(
        self,
        app,
        session: Session,
        client: TestClient,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        sign_in(client, world.emails["operator"])
        consultant = "consultant@elsewhere.example"
        _, first = invite(client, session, world.provider_q, consultant)
        with TestClient(app, base_url="http://registry.test") as person:
            post_form(
                person,
                path_of(first),
                {"display_name": "Consultant", "password": "consultant-pw", "repeat_password": "consultant-pw"},
            )
        _, second = invite(client, session, world.provider_p, consultant)
        with TestClient(app, base_url="http://registry.test") as person:
            sign_in(person, world.emails["staff_p"])
            wrong = person.get(path_of(second), headers=HTML)
            assert "Sign out, then open this link again" in wrong.text
            assert post_form(person, path_of(second), {}, headers=HTML).status_code == 403
        with TestClient(app, base_url="http://registry.test") as person:
            assert sign_in(person, consultant, "consultant-pw").status_code == 303
            accepted = post_form(person, path_of(second), {})
            assert accepted.status_code == 303
            assert person.get(accepted.headers["location"], headers=HTML).status_code == 200
        user = session.exec(select(User).where(User.email == consultant)).one()
        assert {m.provider_id for m in memberships(session, user.id or 0)} == {world.provider_p, world.provider_q}
        actions = [e.action for e in history(session, "user", user.id or 0)]
        assert "user.role_grant" in actions and "user.create" in actions

    def test_staff_of_another_provider_get_403_for_the_invitation_form(
        self, session: Session, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["staff_p"])
        assert client.get(f"/staff/providers/{world.provider_q}/invitations", headers=HTML).status_code == 403
        posted = post_form(
            client, f"/staff/providers/{world.provider_q}/invitations", {"email": "x@q.example"}, headers=HTML
        )
        assert posted.status_code == 403
        assert session.exec(select(OutboxMessage).where(OutboxMessage.to == "x@q.example")).first() is None
        assert client.get(f"/staff/providers/{world.provider_p}/invitations", headers=HTML).status_code == 200

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
                "contact": "no address",
            },
            headers=HTML,
        )
        assert refused.status_code == 400
        for name in ("name", "country", "provider_type", "domain", "contact"):
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
        # What an anonymous visitor typed is kept as data, never as the name of who acted.
        request_event = session.exec(select(AuditEvent).where(AuditEvent.action == "provider.request")).one()
        assert request_event.actor_label == "entry request" and request_event.actor_user_id is None
        assert request_event.after is not None and request_event.after["contact"] == "head@harbour.example"
        labels = session.exec(select(AuditEvent.actor_label).where(AuditEvent.entity_id == request_event.entity_id))
        assert "head@harbour.example" not in "".join(labels)
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
