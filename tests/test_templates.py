"""Every template is rendered by some page in this test, so none can break unnoticed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import Connection
from sqlmodel import Session, select

from registry.accounts.invitations import create_invitation
from registry.accounts.models import RoleMembership
from registry.agencies.models import AgencyRegistration
from registry.app import TEMPLATES_DIR, create_app
from registry.assessments.models import EvidenceFile
from registry.assessments.services import start_draft
from registry.audit.services import Actor
from registry.deadlines.models import ProviderStatusEvent
from registry.deadlines.services import KINDS
from registry.mail.models import OutboxMessage
from registry.providers.models import ProviderRelation, ProviderSuspension
from registry.providers.services import get_provider
from registry.qa.models import QAReportFile
from registry.settings import Settings
from registry.timeutil import today
from tests.conftest import post_form, sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


# E-mails are rendered by the mail renderer: reminders in tests/deadlines/test_templates.py, the
# invitation in tests/accounts/test_invitation_views.py.
MAIL_TEMPLATES = {
    "deadlines/_mail.html",
    "mail/invitation.html",
    "mail/assessment_returned.html",
    *(f"deadlines/{kind}.html" for kind in KINDS),
}


def _all_templates() -> set[str]:
    return {str(path.relative_to(TEMPLATES_DIR)) for path in TEMPLATES_DIR.rglob("*.html")} - MAIL_TEMPLATES


def test_every_template_renders(settings: Settings, connection: Connection, world: World) -> None:
    app = create_app(settings, bind=connection)
    environment = app.template_engine.engine  # type: ignore[union-attr]
    loaded: set[str] = set()
    original = environment.loader.get_source

    def recording(env: Any, name: str) -> Any:
        loaded.add(name)
        return original(env, name)

    environment.loader.get_source = recording
    p, q, r, a = world.provider_p, world.provider_q, world.result_r, world.agency_a
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        message = OutboxMessage(to="editor@aaa.example", subject="Reminder", text="Body")
        session.add(message)
        session.add(
            ProviderStatusEvent(
                provider_id=p,
                occurred_on=today(),
                kind="verdict_change",
                from_status="trusted",
                to_status="expired",
                detail="ended",
                dedupe_key="t",
            )
        )
        first = start_draft(session, get_provider(session, p), Actor("test"))
        first.state = "accepted"
        second = start_draft(session, get_provider(session, p), Actor("test"))
        _, invitation_token = create_invitation(
            session,
            get_provider(session, p),
            email="invited@alpha.example",
            roles=[RoleMembership(user_id=0, role="operator")],
            actor=Actor("test"),
            settings=settings,
        )
        evidence = EvidenceFile(
            assessment_id=second.id or 0, filename="e.pdf", media_type="application/pdf", size=1, sha256="0" * 64
        )
        report = QAReportFile(
            result_id=r, filename="r.pdf", content_type="application/pdf", size=1, sha256="0" * 64, storage_path="x"
        )
        suspension = ProviderSuspension(provider_id=q, suspended_from=today(), reason="test")
        relation = ProviderRelation(provider_id=q, kind="parent", related_provider_id=p)
        session.add_all([evidence, report, suspension, relation])
        session.flush()
        window = session.exec(select(AgencyRegistration.id).where(AgencyRegistration.agency_id == a)).first()
        ids = {
            "evidence": evidence.id,
            "report": report.id,
            "suspension": suspension.id,
            "window": window,
            "relation": relation.id,
        }
        session.commit()
        message_id = message.id
        versions = (first.id, second.id)
        submitted = start_draft(session, get_provider(session, q), Actor("test"))
        submitted.state = "submitted"
        session.commit()
        submitted_id, submitted_version = submitted.id, submitted.version
    with TestClient(app, base_url="http://registry.test") as client:
        pages = [
            "/",
            "/providers/",
            f"/providers/{p}",
            "/signin",
            "/no-such-page",
            "/request-entry",
            "/invitations/not-a-real-token",
            f"/invitations/{invitation_token}",
            "/trust-marks/esg-2015",
        ]
        for path in pages:
            assert client.get(path, headers=HTML).status_code in (200, 404), path
        sign_in(client, world.emails["operator"])
        staff = [
            "/staff",
            "/staff/providers/?q=alpha",
            "/staff/providers/new",
            f"/staff/providers/{p}",
            f"/staff/providers/{p}/edit",
            f"/staff/providers/{p}/identifiers",
            f"/staff/providers/{p}/suspend",
            f"/staff/providers/{p}/merger",
            f"/staff/providers/{q}/relations/{ids['relation']}/withdraw",
            f"/staff/providers/{q}/results/new",
            f"/staff/results/{r}/withdraw",
            f"/staff/results/{r}/edit",
            f"/staff/results/{r}/revoke",
            f"/staff/results/{r}/reports",
            "/staff/agencies/",
            "/staff/agencies/new",
            f"/staff/agencies/{a}",
            "/staff/users/",
            "/staff/users/new",
            "/account/password",
            "/staff/outbox/",
            f"/staff/outbox/{message_id}",
            "/staff/changes/",
            "/staff/audit/",
            "/staff/calendars/",
            f"/staff/providers/{p}/invitations",
            "/staff/requests/",
            f"/staff/providers/{p}/self-assessment",
            f"/staff/self-assessments/{versions[0]}",
            f"/staff/self-assessments/compare?first={versions[0]}&second={versions[1]}",
            f"/staff/providers/{q}/suspensions/{ids['suspension']}",
            f"/staff/agencies/{a}/registrations/{ids['window']}",
            f"/staff/results/{r}/reports/{ids['report']}/withdraw",
            "/staff/self-assessments/",
            "/staff/tokens/",
            "/staff/imports/",
        ]
        for path in staff:
            response = client.get(path, headers=HTML)
            assert response.status_code == 200, (path, response.text[:500])
        confirm = post_form(
            client,
            f"/staff/self-assessments/{submitted_id}/review",
            {"decision": "accept", "version": str(submitted_version)},
            headers=HTML,
        )
        assert "Yes, accept version" in confirm.text
        token = {"name": "t", "agency_id": str(a), "expires_on": (today() + dt.timedelta(days=9)).isoformat()}
        assert post_form(client, "/staff/tokens/", {**token, "scopes": "results:read"}, headers=HTML).status_code == 200
        stale = {"name": "X", "country": "DE", "provider_type": "public HEI", "version": "0"}
        assert post_form(client, f"/staff/providers/{p}/edit", stale, headers=HTML).status_code == 409
        post_form(client, "/signout", {})
        sign_in(client, world.emails["staff_p"])
        assert client.get("/staff/agencies/", headers=HTML).status_code == 403
        assert client.get("/staff/providers/?page=0", headers=HTML).status_code in (400, 403)
        assert client.get(f"/staff/evidence/{ids['evidence']}/withdraw", headers=HTML).status_code == 200
    # Shown after a successful entry request (tests/accounts/test_invitation_views.py posts one).
    environment.get_template("providers/request_received.html").render(request=_BareRequest(), name="X")
    # The proof page belongs to provider staff only; render it with a claimed identifier.
    environment.get_template("providers/proof.html").render(
        request=_BareRequest(),
        identifier=_Claimed(),
        provider_name="P",
        method="did:key",
        challenge=None,
        well_known_url=None,
        values={},
        errors={},
        csrf_input="",
    )
    # The 500 page has no route that fails on purpose; render it directly.
    environment.get_template("500.html").render(request=_BareRequest(), detail="x", status=500)
    missing = _all_templates() - loaded
    assert not missing, f"templates no test renders: {sorted(missing)}"


class _Claimed:
    id = 1
    provider_id = 1
    normalised = "did:key:z6Mk"
    scheme = "did"
    origin = "claimed"


class _BareRequest:
    scope: dict[str, Any] = {}
