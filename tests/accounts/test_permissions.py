"""The authorisation matrix of DESIGN.md §4: every write route, every role and anonymous.

Each role's attempt runs in its own savepoint, rolled back afterwards, so an allowed write cannot
change what the next role meets; allowed writes must succeed (303), refused ones change nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from litestar.testing import TestClient
from sqlalchemy import Connection, func
from sqlmodel import Session, select

from registry.audit.models import AuditEvent
from registry.providers.models import ProviderSuspension
from registry.timeutil import today
from tests.conftest import PASSWORD, post_form, sign_in
from tests.factories import World

ROLES = ("anonymous", "operator", "editor_a", "reviewer_a", "editor_b", "staff_p")


@dataclass
class Route:
    name: str
    path: Callable[[World], str]
    data: Callable[[World], dict[str, str]]
    allowed: tuple[str, ...]


def _day(offset: int) -> str:
    return (today() + dt.timedelta(days=offset)).isoformat()


def _result_form(agency: Callable[[World], int]) -> Callable[[World], dict[str, str]]:
    return lambda w: {
        "agency_id": str(agency(w)),
        "activity_type": "institutional",
        "status": "voluntary",
        "decision": "positive",
        "valid_from": _day(-10),
    }


# Changing one's password rotates the browser's session, so that route stays last.
ROUTES = [
    Route(
        "create provider",
        lambda w: "/staff/providers/",
        lambda w: {"name": "New Test College", "country": "NL", "provider_type": "private HEI"},
        ("operator", "editor_a", "editor_b"),
    ),
    Route(
        "edit provider master data",
        lambda w: f"/staff/providers/{w.provider_p}/edit",
        lambda w: {"name": "Renamed University", "country": "DE", "provider_type": "public HEI", "version": "1"},
        ("operator", "editor_a"),
    ),
    Route(
        "add identifier",
        lambda w: f"/staff/providers/{w.provider_p}/identifiers",
        lambda w: {"scheme": "domain", "value": "alpha-test.example"},
        ("operator", "editor_a", "staff_p"),
    ),
    Route(
        "record a result for one's own agency",
        lambda w: f"/staff/providers/{w.provider_q}/results",
        _result_form(lambda w: w.agency_a),
        ("operator", "editor_a"),
    ),
    Route(
        "record a result for another agency",
        lambda w: f"/staff/providers/{w.provider_q}/results",
        _result_form(lambda w: w.agency_b),
        ("operator", "editor_b"),
    ),
    Route(
        "edit a result",
        lambda w: f"/staff/results/{w.result_r}/edit",
        lambda w: {**_result_form(lambda w: w.agency_a)(w), "decision": "negative", "version": "1"},
        ("operator", "editor_a"),
    ),
    Route(
        "withdraw a result",
        lambda w: f"/staff/results/{w.result_r}/withdraw",
        lambda w: {"reason": "entered twice"},
        ("operator", "editor_a"),
    ),
    Route(
        "revoke a result",
        lambda w: f"/staff/results/{w.result_r}/revoke",
        lambda w: {"revoked_from": _day(0)},
        ("operator", "editor_a"),
    ),
    Route(
        "suspend a provider",
        lambda w: f"/staff/providers/{w.provider_p}/suspend",
        lambda w: {"suspended_from": _day(0), "reason": "under investigation"},
        ("operator",),
    ),
    Route(
        "create an agency",
        lambda w: "/staff/agencies/",
        lambda w: {"name": "Gamma Agency", "acronym": "GGG", "country": "FR"},
        ("operator",),
    ),
    Route(
        "add a registration window",
        lambda w: f"/staff/agencies/{w.agency_b}/registrations",
        # Before the agency's open-ended window: an overlapping one would be refused.
        lambda w: {"registered_from": _day(-5000), "registered_to": _day(-4000)},
        ("operator",),
    ),
    Route(
        "create an account",
        lambda w: "/staff/users/",
        lambda w: {
            "email": "new@test.example",
            "display_name": "New",
            "password": "long-enough-pw",
            "role": "operator",
        },
        ("operator",),
    ),
    Route(
        "disable an account",
        lambda w: f"/staff/users/{w.user_ids['reviewer_a']}/disable",
        lambda w: {},
        ("operator",),
    ),
    Route(
        "map an OpenID subject to an account",
        lambda w: f"/staff/users/{w.user_ids['editor_b']}/subject",
        lambda w: {"oidc_subject": "bob-at-idp"},
        ("operator",),
    ),
    Route(
        "unlock an account",
        lambda w: f"/staff/users/{w.user_ids['editor_b']}/unlock",
        lambda w: {},
        ("operator",),
    ),
    Route(
        "start a self-assessment",
        lambda w: f"/staff/providers/{w.provider_p}/self-assessment",
        lambda w: {},
        ("staff_p",),
    ),
    Route(
        "issue an agency's calendar feed",
        lambda w: "/staff/calendars/",
        lambda w: {"owner": f"agency:{w.agency_a}"},
        ("editor_a", "reviewer_a"),
    ),
    Route(
        "issue a provider's calendar feed",
        lambda w: "/staff/calendars/",
        lambda w: {"owner": f"provider:{w.provider_p}"},
        ("staff_p",),
    ),
    Route(
        "retry an outbox message",
        lambda w: f"/staff/outbox/{w.outbox_message}/retry",
        lambda w: {},
        ("operator",),
    ),
    Route(
        "change one's password",
        lambda w: "/account/password",
        lambda w: {
            "current_password": PASSWORD,
            "new_password": "another-password",
            "repeat_password": "another-password",
        },
        ("operator", "editor_a", "reviewer_a", "editor_b", "staff_p"),
    ),
]


def _audit_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


@pytest.fixture
def clients(app, world: World) -> Iterator[dict[str, TestClient]]:  # type: ignore[no-untyped-def]
    """One browser per role, signed in once (outside the per-attempt savepoints)."""
    with ExitStack() as stack:
        browsers = {}
        for role in ROLES:
            client = stack.enter_context(TestClient(app, base_url="http://registry.test"))
            if role != "anonymous":
                assert sign_in(client, world.emails[role]).status_code == 303
            browsers[role] = client
        yield browsers


def test_write_routes_answer_each_role_as_designed(
    clients: dict[str, TestClient], connection: Connection, session: Session, world: World
) -> None:
    for route in ROUTES:
        for role in ROLES:
            savepoint = connection.begin_nested()
            try:
                before = _audit_count(session)
                response = post_form(clients[role], route.path(world), route.data(world))
                session.expire_all()
                where = f"{route.name} as {role}"
                if role in route.allowed:
                    assert response.status_code == 303, (where, response.status_code, response.text[:500])
                    assert _audit_count(session) > before, f"{where}: an allowed write left no audit event"
                else:
                    expected = 401 if role == "anonymous" else 403
                    assert response.status_code == expected, (where, response.status_code, response.text[:300])
                    assert _audit_count(session) == before, f"{where}: a refused write changed something"
            finally:
                session.rollback()  # the test session's own savepoint sits inside this one
                savepoint.rollback()


def test_ending_a_suspension_is_for_operators_only(
    clients: dict[str, TestClient], connection: Connection, session: Session, world: World
) -> None:
    from registry.audit.services import Actor
    from registry.providers.services import get_provider, suspend

    suspension = suspend(
        session,
        get_provider(session, world.provider_p),
        suspended_from=_day(-3),
        suspended_to=None,
        reason="test",
        actor=Actor("test"),
    )
    session.commit()
    path = f"/staff/providers/{world.provider_p}/suspensions/{suspension.id}/end"
    for role in ROLES:
        savepoint = connection.begin_nested()
        try:
            response = post_form(clients[role], path, {"ends_on": _day(1)})
            session.expire_all()
            ended = session.get(ProviderSuspension, suspension.id)
            if role == "operator":
                assert response.status_code == 303
                assert ended is not None and ended.suspended_to is not None
            else:
                assert response.status_code in (401, 403), role
                assert ended is not None and ended.suspended_to is None
        finally:
            session.rollback()  # the test session's own savepoint sits inside this one
            savepoint.rollback()


READ_PAGES = [
    ("dashboard", lambda w: "/staff", ("operator", "editor_a", "reviewer_a", "editor_b", "staff_p")),
    ("provider search", lambda w: "/staff/providers/", ("operator", "editor_a", "reviewer_a", "editor_b")),
    ("own provider page", lambda w: f"/staff/providers/{w.provider_p}", ROLES[1:]),
    (
        "another provider's page",
        lambda w: f"/staff/providers/{w.provider_q}",
        ("operator", "editor_a", "reviewer_a", "editor_b"),
    ),
    ("agencies", lambda w: "/staff/agencies/", ("operator",)),
    ("accounts", lambda w: "/staff/users/", ("operator",)),
]


def test_staff_pages_are_shown_only_to_their_roles(clients: dict[str, TestClient], world: World) -> None:
    for name, path, allowed in READ_PAGES:
        for role in ROLES:
            response = clients[role].get(path(world), headers={"accept": "text/html"}, follow_redirects=False)
            where = f"{name} as {role}"
            if role in allowed:
                assert response.status_code == 200, (where, response.status_code)
            elif role == "anonymous":
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/signin?next="), where
            else:
                assert response.status_code == 403, (where, response.status_code)
                assert "Not allowed" in response.text
