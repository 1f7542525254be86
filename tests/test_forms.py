"""Form errors in people's words: labels for error keys, website errors that speak of websites, NUL characters."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.testing import TestClient
from sqlmodel import Session, func, select

from registry.assessments.models import SelfAssessment
from registry.audit.models import AuditEvent
from registry.errors import ValidationFailed
from registry.forms import field_label, form_page
from registry.request_checks import NUL_MESSAGE
from tests.conftest import PASSWORD, post_form, sign_in
from tests.factories import World


class TestFieldLabels:
    def test_self_assessment_keys_name_the_standard(self) -> None:
        assert field_label("1.9.rating") == "Standard 1.9, rating"
        assert field_label("1.10.evidence_links[0]") == "Standard 1.10, evidence link 1"
        assert field_label("1.2.narrative") == "Standard 1.2, narrative"

    def test_form_keys_read_as_words(self) -> None:
        assert field_label("related_provider_id") == "provider"
        assert field_label("suspended_to") == "suspended until"
        assert field_label("display_name") == "display name"


class TestWebsiteErrors:
    def test_a_bad_website_is_called_a_website_in_the_summary_and_next_to_the_field(
        self, client: TestClient, world: World
    ) -> None:
        sign_in(client, world.emails["editor_a"])
        response = post_form(
            client,
            "/staff/providers/",
            {"name": "Typo College", "country": "NL", "provider_type": "other", "website": "ftp://typo.example"},
        )
        assert response.status_code == 400
        assert "issuer URL" not in response.text
        assert "a website address must start with https:// or http://" in response.text
        summary = post_form(
            client,
            "/staff/providers/",
            {"name": "", "country": "NL", "provider_type": "other", "founded_on": "2020-01-01", "closed_on": "2019"},
        ).text
        assert '<a href="#f-closed_on">closure date</a>' in summary


HTML = {"accept": "text/html"}


def _audit_events(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


def _field_error(page: str, name: str) -> str:
    """The message shown next to a field (includes/forms.html), or ''."""
    found = re.search(rf'<p class="field-error" id="e-{re.escape(name)}">([^<]*)</p>', page)
    return found.group(1) if found else ""


class TestNulInAForm:
    """A NUL character in a form field: the form again with the message next to the field, nothing saved."""

    def test_the_provider_form_comes_back_with_the_message_next_to_the_name(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["operator"])
        before = _audit_events(session)
        path = f"/staff/providers/{world.provider_p}/edit"
        current = client.get(path).text
        version = re.search(r'name="version" value="(\d+)"', current)
        assert version is not None
        fields = {"name": "Nul\x00 College", "country": "NL", "provider_type": "public HEI", "version": version[1]}
        response = post_form(client, path, fields, headers=HTML)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert "NUL character" in _field_error(response.text, "name")
        assert 'value="Nul College"' in response.text  # what was typed, less the NUL
        assert "\x00" not in response.text
        assert _audit_events(session) == before
        session.expire_all()
        assert "Nul College" not in client.get(f"/staff/providers/{world.provider_p}").text

    def test_a_form_refused_for_another_reason_shows_the_nul_too(self) -> None:
        """A handler may refuse before it writes (a missing file, say): the NUL's message is shown as well."""
        typed = {"name": "Nul\x00", "tags": ["a\x00", "b"]}
        page = form_page("providers/form.html", {}, typed, ValidationFailed({"country": "required"}))
        assert page.status_code == 400
        assert page.context["errors"] == {"country": "required", "name": NUL_MESSAGE, "tags": NUL_MESSAGE}
        assert page.context["values"] == {"name": "Nul", "tags": ["a", "b"]}

    def test_the_sign_in_form_comes_back_with_the_message_next_to_the_e_mail_address(
        self, client: TestClient, world: World
    ) -> None:
        fields = {"email": world.emails["operator"] + "\x00", "password": PASSWORD, "next": "/staff"}
        response = post_form(client, "/signin", fields, headers=HTML)
        assert response.status_code == 400
        assert "NUL character" in _field_error(response.text, "email")
        assert f'value="{world.emails["operator"]}"' in response.text
        assert client.get("/staff", follow_redirects=False).status_code == 401  # not signed in

    def test_a_self_assessment_draft_is_not_saved(self, client: TestClient, world: World, session: Session) -> None:
        """The draft's answers are saved in a unit of work of their own: that one is refused too."""
        sign_in(client, world.emails["staff_p"])
        assert post_form(client, f"/staff/providers/{world.provider_p}/self-assessment", {}).status_code == 303
        draft = session.exec(select(SelfAssessment).where(SelfAssessment.provider_id == world.provider_p)).one()
        before = _audit_events(session)
        typed = {"version": str(draft.version), "1.1.narrative": "Our\x00 policy"}
        response = post_form(client, f"/staff/self-assessments/{draft.id}", typed, headers=HTML)
        assert response.status_code == 400
        assert "NUL character" in _field_error(response.text, "1.1.narrative")
        assert "Our policy</textarea>" in response.text
        assert _audit_events(session) == before

    def test_every_web_form_refuses_to_save_a_nul(
        self, app: Litestar, client: TestClient, world: World, session: Session
    ) -> None:
        """Whatever the handler: it runs with a database that refuses writes, so nothing is saved."""
        sign_in(client, world.emails["operator"])
        ids = {"provider_id": world.provider_p, "agency_id": world.agency_a, "result_id": world.result_r}
        tried = []
        for route in app.routes:
            for handler in getattr(route, "route_handlers", []):
                if "POST" not in handler.http_methods or not _takes_a_form(handler) or route.path == "/signout":
                    continue
                path = re.sub(r"\{([a-z_]+):int\}", lambda m: str(ids.get(m.group(1), 1)), route.path)
                path = re.sub(r"\{[a-z_]+:str\}", "enable", path)
                before = _audit_events(session)
                fields = {"name": "A\x00", "email": "a\x00@b.example", "note": "\x00", "oidc_subject": "s\x00"}
                response = post_form(client, path, fields, headers=HTML)
                # 400: refused (the form again, or the error page of a handler without a form to show);
                # 403/404: the operator may not, or the id names nothing. Never saved, never redirected.
                assert response.status_code in (400, 403, 404), (path, response.status_code)
                assert _audit_events(session) == before, path
                tried.append(path)
        assert len(tried) > 25


def _takes_a_form(handler: HTTPRouteHandler) -> bool:
    data = handler.parsed_fn_signature.parameters.get("data")
    media_type = getattr(getattr(data, "kwarg_definition", None), "media_type", None)
    return media_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART)
