"""Signed-in browsing reads the session; it is written only when it changes or is due for renewal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from litestar.testing import TestClient
from sqlmodel import Session

from registry.accounts.models import WebSession
from registry.sessions import RENEW_INTERVAL
from registry.web import Database
from tests.conftest import sign_in
from tests.factories import World

HTML = {"accept": "text/html"}


@pytest.fixture
def writes(app, monkeypatch: pytest.MonkeyPatch) -> list[str]:  # type: ignore[no-untyped-def]
    """Every write transaction the app opens, by the code that opened it."""
    database: Database = app.state.database
    opened: list[str] = []
    real = database.write

    @contextmanager
    def counted() -> Iterator[Session]:
        opened.append("write")
        with real() as session:
            yield session

    monkeypatch.setattr(database, "write", counted)
    return opened


class TestSessionReads:
    def test_browsing_signed_in_opens_no_write_transaction(
        self, client: TestClient, world: World, writes: list[str]
    ) -> None:
        assert sign_in(client, world.emails["operator"]).status_code == 303
        client.get("/staff", headers=HTML)  # the first page after sign-in may still settle the session
        writes.clear()
        for path in ("/staff", "/staff/users/", "/providers/"):
            assert client.get(path, headers=HTML).status_code == 200
        assert writes == []

    def test_a_session_is_renewed_once_the_interval_has_passed(
        self, client: TestClient, world: World, session: Session, writes: list[str]
    ) -> None:
        sign_in(client, world.emails["operator"])
        client.get("/staff", headers=HTML)
        session_id = client.cookies.get("registry_session")
        row = session.get(WebSession, session_id)
        assert row is not None and row.expires_at is not None
        # As if the last renewal had happened a little longer ago than the interval.
        stale = row.expires_at - RENEW_INTERVAL - dt.timedelta(seconds=5)
        row.expires_at = stale
        session.add(row)
        session.commit()
        writes.clear()
        response = client.get("/staff", headers=HTML)
        assert response.status_code == 200
        assert len(writes) == 1
        assert any(h.startswith("registry_session=") for h in response.headers.get_list("set-cookie"))
        session.expire_all()
        renewed = session.get(WebSession, session_id)
        assert renewed is not None and renewed.expires_at is not None and renewed.expires_at > stale
        writes.clear()
        client.get("/staff", headers=HTML)
        assert writes == []

    def test_an_expired_session_signs_nobody_in(self, client: TestClient, world: World, session: Session) -> None:
        sign_in(client, world.emails["operator"])
        row = session.get(WebSession, client.cookies.get("registry_session"))
        assert row is not None
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.add(row)
        session.commit()
        assert client.get("/staff", headers=HTML, follow_redirects=False).status_code == 303
