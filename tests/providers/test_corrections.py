"""Correcting mistakes on a provider: ending or cancelling a suspension the same day, the creating agency's rights."""

from __future__ import annotations

import re

from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.audit.models import AuditEvent
from registry.providers.models import ProviderSuspension
from registry.timeutil import today
from tests.conftest import post_form, sign_in
from tests.factories import World

ALPHA = "did:web:alpha-test.example"


def _status(client: TestClient, identifier: str = ALPHA) -> str:
    return str(client.get("/api/v1/trust", params={"identifier": identifier}).json()["status"])


def _suspend_today(client: TestClient, world: World) -> int:
    response = post_form(
        client,
        f"/staff/providers/{world.provider_p}/suspend",
        {"suspended_from": today().isoformat(), "reason": "entered for the wrong provider"},
    )
    assert response.status_code == 303
    assert _status(client) == "suspended"
    page = client.get(f"/staff/providers/{world.provider_p}").text
    found = re.search(rf"/staff/providers/{world.provider_p}/suspensions/(\d+)\"", page)
    assert found, "the staff page links to the suspension"
    return int(found.group(1))


def _flash(html: str) -> str:
    found = re.search(r'<div class="flash" role="status" aria-live="polite">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


class TestSuspensionEnteredByMistake:
    def test_ending_it_today_makes_todays_verdict_no_longer_suspended(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        suspension = _suspend_today(client, world)
        # The staff page's quick form sends an empty date: it means today.
        response = post_form(client, f"/staff/providers/{world.provider_p}/suspensions/{suspension}/end", {})
        assert response.status_code == 303
        assert _status(client) == "trusted"
        page = client.get(response.headers["location"]).text
        assert _flash(page) == f"The suspension ends on {today().isoformat()}."
        # Shown once only.
        assert _flash(client.get(response.headers["location"]).text) == ""

    def test_an_end_before_the_start_is_refused_next_to_the_field(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        suspension = _suspend_today(client, world)
        response = post_form(
            client,
            f"/staff/providers/{world.provider_p}/suspensions/{suspension}/end",
            {"ends_on": "2000-01-01"},
        )
        assert response.status_code == 400
        assert re.search(
            r'id="e-ends_on">the suspension must end after it starts \(\d{4}-\d\d-\d\d\) or today', response.text
        )
        assert 'value="2000-01-01"' in response.text
        assert _status(client) == "suspended"

    def test_cancelling_it_removes_it_from_every_verdict_and_keeps_it_in_the_history(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        sign_in(client, world.emails["operator"])
        suspension = _suspend_today(client, world)
        path = f"/staff/providers/{world.provider_p}/suspensions/{suspension}/cancel"
        refused = post_form(client, path, {"reason": ""})
        assert refused.status_code == 400
        assert re.search(r'id="e-reason">this field is required', refused.text)
        assert _status(client) == "suspended"

        response = post_form(client, path, {"reason": "typed on the wrong provider's page"})
        assert response.status_code == 303
        assert _status(client) == "trusted"
        assert (
            client.get("/api/v1/trust", params={"identifier": ALPHA, "at": today().isoformat()}).json()["status"]
            == "trusted"
        )
        page = client.get(response.headers["location"]).text
        assert "cancelled</strong>: typed on the wrong provider" in page
        assert "no longer counts in any verdict" in _flash(page)
        row = session.get(ProviderSuspension, suspension)
        assert row is not None and row.cancelled_reason == "typed on the wrong provider's page"
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.entity_type == "provider_suspension"))
        assert "provider.suspension_cancel" in set(actions)

    def test_only_operators_end_or_cancel(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["operator"])
        suspension = _suspend_today(client, world)
        post_form(client, "/signout", {})
        sign_in(client, world.emails["editor_a"])
        path = f"/staff/providers/{world.provider_p}/suspensions/{suspension}/cancel"
        assert post_form(client, path, {"reason": "x"}).status_code == 403
        assert _status(client) == "suspended"


class TestTheCreatingAgency:
    def test_its_editor_adds_identifiers_and_edits_before_any_result(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_b"])
        created = post_form(
            client, "/staff/providers/", {"name": "Fresh Institute", "country": "AT", "provider_type": "private HEI"}
        )
        assert created.status_code == 303
        page = client.get(created.headers["location"]).text
        assert _flash(page) == "Provider Fresh Institute created."
        assert "Add an identifier" in page and "Edit master data" in page
        provider_path = created.headers["location"]
        assert client.get(f"{provider_path}/identifiers").status_code == 200
        assert client.get(f"{provider_path}/edit").status_code == 200
        added = post_form(client, f"{provider_path}/identifiers", {"scheme": "did", "value": "did:web:fresh.example"})
        assert added.status_code == 303
        # Established by an agency, so it resolves at once (and the verdict says not trusted: no result yet).
        assert _status(client, "did:web:fresh.example") == "not_trusted"

    def test_another_agencys_editor_may_not(self, client: TestClient, world: World) -> None:
        sign_in(client, world.emails["editor_b"])
        created = post_form(
            client, "/staff/providers/", {"name": "Other Institute", "country": "AT", "provider_type": "private HEI"}
        )
        post_form(client, "/signout", {})
        sign_in(client, world.emails["editor_a"])
        assert client.get(f"{created.headers['location']}/edit").status_code == 403
