"""A database file that cannot be written: reads go on, /readyz says so, writes answer 503, never 500.

The file is opened read-only by SQLite itself (a `mode=ro` URI): the tests run as root, for whom a
chmod does not stop a write, while SQLite refuses every write on a read-only open exactly as it does
on a file it may not write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlmodel import Session

from registry.app import create_app
from registry.settings import Settings
from tests.conftest import PASSWORD, _migrated_engine
from tests.factories import World, build_world

HTML = {"accept": "text/html"}


@pytest.fixture
def registry_file(tmp_path: Path, password_hash: str) -> Iterator[tuple[Path, World]]:
    path = tmp_path / "registry.db"
    engine = _migrated_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        world = build_world(session, password_hash)
        session.commit()
    engine.dispose()
    yield path, world


def _client(tmp_path: Path, url: str) -> TestClient:  # type: ignore[type-arg]
    settings = Settings(
        var_dir=tmp_path, database_url=url, secret_key="test-secret-key", base_url="http://registry.test"
    )
    return TestClient(create_app(settings), base_url="http://registry.test")


def _read_only(path: Path) -> str:
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def _sign_in(client: TestClient, email: str):  # type: ignore[no-untyped-def,type-arg]
    client.get("/signin", headers=HTML)
    token = client.cookies.get("registry_csrf")
    return client.post(
        "/signin",
        data={"email": email, "password": PASSWORD, "next": "/staff", "_csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )


def _unavailable_page(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"].isdigit()
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Unavailable</h1>" in response.text


class TestReadOnlyDatabase:
    def test_readyz_reports_a_database_that_cannot_be_written(self, tmp_path: Path, registry_file) -> None:  # type: ignore[no-untyped-def]
        path, _ = registry_file
        with _client(tmp_path, f"sqlite:///{path}") as client:
            assert client.get("/readyz").status_code == 200
        with _client(tmp_path, _read_only(path)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "readonly" in ready.json()["detail"]
            # Reads still work: verifiers keep getting verdicts.
            verdict = client.get("/api/v1/trust", params={"identifier": "did:web:alpha-test.example"})
            assert verdict.status_code == 200 and verdict.json()["status"] == "trusted"

    def test_sign_in_answers_503_not_500(self, tmp_path: Path, registry_file) -> None:  # type: ignore[no-untyped-def]
        path, world = registry_file
        with _client(tmp_path, _read_only(path)) as client:
            _unavailable_page(_sign_in(client, world.emails["operator"]))

    def test_signed_in_pages_and_writes_answer_503_not_500(self, tmp_path: Path, registry_file) -> None:  # type: ignore[no-untyped-def]
        path, world = registry_file
        with _client(tmp_path, f"sqlite:///{path}") as writable:
            assert _sign_in(writable, world.emails["operator"]).status_code == 303
            cookies = dict(writable.cookies)
        with _client(tmp_path, _read_only(path)) as client:
            client.cookies.update(cookies)
            # Reading a signed-in page needs no write: the session is renewed at most every few minutes.
            page = client.get("/staff/agencies/new", headers=HTML)
            assert page.status_code == 200 and "Sign out" in page.text
            assert client.get("/staff/agencies", headers=HTML).status_code == 200
            token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            form = {"name": "Agency Gamma", "acronym": "GGG", "country": "FR", "_csrf_token": token.group(1)}
            _unavailable_page(client.post("/staff/agencies/", data=form, headers=HTML, follow_redirects=False))
            answer = client.post("/staff/agencies/", data=form, follow_redirects=False)
            assert answer.status_code == 503
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.headers["retry-after"].isdigit()
