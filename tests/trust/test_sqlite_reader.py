"""The embedded default's direct SQLite lookup answers exactly as the engine path does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from registry import migrations
from registry.audit.services import Actor
from registry.db import create_db_engine
from registry.providers.services import add_identifier
from registry.reference.services import load_reference
from registry.trust import services
from registry.trust.sqlite_reader import SqliteLookupReader
from tests import factories as f


@pytest.fixture
def registry_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'reader.db'}"
    migrations.upgrade(url)
    engine = create_db_engine(url)
    with Session(engine) as session:
        load_reference(session)
        agency = f.agency(session)
        first = f.provider(
            session,
            identifiers=[
                {"scheme": "domain", "value": "handed.example", "valid_to": "2021-12-31"},
                {"scheme": "did", "value": "did:web:first.example"},
            ],
        )
        second = f.provider(
            session, identifiers=[{"scheme": "domain", "value": "handed.example", "valid_from": "2022-01-01"}]
        )
        f.result(session, agency, [first], valid_from="2020-01-01", valid_to="2025-12-31")
        add_identifier(
            session, second, scheme="did", value="did:web:claimed.example", origin="claimed", actor=Actor("test")
        )
        f.provider(session, identifiers=[{"scheme": "schac", "value": "clash.example"}])
        f.provider(session, identifiers=[{"scheme": "domain", "value": "clash.example"}])
        session.commit()
    engine.dispose()
    return url


QUESTIONS = [
    ("did:web:first.example", None, "2021-06-01"),
    ("handed.example", "domain", "2021-06-01"),
    ("handed.example", "domain", "2022-06-01"),
    ("https://handed.example/badges", None, "2022-06-01"),
    ("did:web:claimed.example", None, "2022-06-01"),
    ("did:web:nobody.example", None, "2022-06-01"),
    ("clash.example", "schac", "2022-06-01"),
]


@pytest.mark.parametrize(("identifier", "scheme", "day"), QUESTIONS)
def test_both_paths_give_the_same_answer(registry_file: str, identifier: str, scheme: str | None, day: str) -> None:
    engine = create_db_engine(registry_file)
    reader = SqliteLookupReader(engine)
    on = dt.date.fromisoformat(day)
    with engine.connect() as connection:
        assert reader_result(reader, identifier, scheme, on) == services.resolve(connection, identifier, scheme, on)
    engine.dispose()


def reader_result(reader: SqliteLookupReader, identifier: str, scheme: str | None, on: dt.date):  # type: ignore[no-untyped-def]
    return services.resolve(reader, identifier, scheme, on)


def test_an_ambiguous_identifier_is_refused_on_both_paths(registry_file: str) -> None:
    from registry.errors import ValidationFailed

    engine = create_db_engine(registry_file)
    with pytest.raises(ValidationFailed):
        services.resolve(SqliteLookupReader(engine), "clash.example", None, dt.date(2022, 6, 1))
    engine.dispose()


def test_writes_are_seen_at_once(registry_file: str) -> None:
    engine = create_db_engine(registry_file)
    reader = SqliteLookupReader(engine)
    on = dt.date(2022, 6, 1)
    assert services.resolve(reader, "late.example", "domain", on)[2] is None
    with Session(engine) as session:
        f.provider(session, identifiers=[{"scheme": "domain", "value": "late.example"}])
        session.commit()
    assert services.resolve(reader, "late.example", "domain", on)[2] is not None
    engine.dispose()


def test_a_missing_database_fails_closed_instead_of_creating_one(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'absent' / 'none.db'}")
    (tmp_path / "absent").rmdir()
    with pytest.raises(OperationalError):
        services.resolve(SqliteLookupReader(engine), "did:web:x.example", None, dt.date(2022, 1, 1))
    assert not (tmp_path / "absent" / "none.db").exists()
