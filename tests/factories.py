"""Builders for test data, going through the services like every real write does."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from registry.accounts.models import User
from registry.accounts.services import create_user
from registry.agencies.models import Agency
from registry.agencies.services import add_registration, create_agency
from registry.audit.services import Actor
from registry.mail.models import OutboxMessage
from registry.providers.models import Provider
from registry.providers.services import ProviderInput, create_provider
from registry.qa.models import QAResult
from registry.qa.services import ProgrammeInput, ResultInput, record_result
from registry.timeutil import today

TEST = Actor("test")
OBLIGATORY = "part of obligatory external QA system"
_counter = iter(range(1, 10**9))


def agency(session: Session, registered: tuple[Any, Any] | None = ("2000-01-01", None), **extra: Any) -> Agency:
    number = next(_counter)
    made = create_agency(
        session,
        name=extra.pop("name", f"Test Agency {number}"),
        acronym=extra.pop("acronym", f"TA{number}"),
        country=extra.pop("country", "NL"),
        actor=TEST,
        **extra,
    )
    if registered is not None:
        add_registration(session, made, registered_from=registered[0], registered_to=registered[1], actor=TEST)
    return made


def provider(session: Session, *, identifiers: list[dict[str, Any]] | None = None, **extra: Any) -> Provider:
    number = next(_counter)
    host = f"p{number}.example"
    return create_provider(
        session,
        ProviderInput(
            name=extra.pop("name", f"Test Provider {number}"),
            country=extra.pop("country", "NL"),
            provider_type=extra.pop("provider_type", "public HEI"),
            identifiers=identifiers
            if identifiers is not None
            else [{"scheme": "did", "value": f"did:web:{host}"}, {"scheme": "domain", "value": host}],
            **extra,
        ),
        TEST,
    )


def result(
    session: Session,
    agency_: Agency,
    providers: list[Provider],
    *,
    decision: str = "positive",
    valid_from: Any = "2020-01-01",
    valid_to: Any = "2025-12-31",
    activity_type: str = "institutional",
    programmes: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> QAResult:
    return record_result(
        session,
        ResultInput(
            agency_id=agency_.id or 0,
            provider_ids=[p.id or 0 for p in providers],
            activity_type=activity_type,
            status=OBLIGATORY,
            decision=decision,
            valid_from=valid_from,
            valid_to=valid_to,
            programmes=[ProgrammeInput(**p) for p in programmes or []],
            **extra,
        ),
        TEST,
    )


def did(provider_: Provider, session: Session) -> str:
    from sqlmodel import select

    from registry.providers.models import ProviderIdentifier

    return session.exec(
        select(ProviderIdentifier.normalised).where(
            ProviderIdentifier.provider_id == provider_.id, ProviderIdentifier.scheme == "did"
        )
    ).one()


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


SETUP = Actor("test")


@dataclass
class World:
    agency_a: int
    agency_b: int
    provider_p: int
    provider_q: int
    result_r: int
    emails: dict[str, str]
    user_ids: dict[str, int]
    outbox_message: int


def build_world(session: Session, password_hash: str) -> World:
    day = today()
    agency_a = create_agency(session, name="Agency Alpha", acronym="AAA", country="DE", actor=SETUP)
    agency_b = create_agency(session, name="Agency Beta", acronym="BBB", country="AT", actor=SETUP)
    for agency in (agency_a, agency_b):
        add_registration(session, agency, registered_from=day - dt.timedelta(days=3650), actor=SETUP)
    p = create_provider(
        session,
        ProviderInput(
            name="Alpha Test University",
            country="DE",
            provider_type="public HEI",
            identifiers=[{"scheme": "did", "value": "did:web:alpha-test.example"}],
        ),
        SETUP,
    )
    q = create_provider(
        session,
        ProviderInput(
            name="Quiet Test Academy",
            country="AT",
            provider_type="VET provider",
            identifiers=[{"scheme": "did", "value": "did:web:quiet-test.example"}],
        ),
        SETUP,
    )
    result = record_result(
        session,
        ResultInput(
            agency_id=agency_a.id or 0,
            provider_ids=[p.id or 0],
            activity_type="institutional",
            status="voluntary",
            decision="positive",
            valid_from=day - dt.timedelta(days=365),
            valid_to=day + dt.timedelta(days=90),
        ),
        SETUP,
    )
    specs = {
        "operator": ("operator@test.example", "operator", {}),
        "editor_a": ("editor@aaa.example", "agency editor", {"agency_id": agency_a.id}),
        "reviewer_a": ("reviewer@aaa.example", "agency reviewer", {"agency_id": agency_a.id}),
        "editor_b": ("editor@bbb.example", "agency editor", {"agency_id": agency_b.id}),
        "staff_p": ("staff@alpha-test.example", "provider staff", {"provider_id": p.id}),
    }
    emails, ids = {}, {}
    for key, (email, role, scope) in specs.items():
        user = create_user(session, email=email, display_name=key, password=None, role=role, actor=SETUP, **scope)
        user.password_hash = password_hash
        session.add(user)
        emails[key], ids[key] = email, user.id or 0
    message = OutboxMessage(to=emails["editor_a"], subject="Reminder", text="A deadline is near.")
    session.add(message)
    session.flush()
    session.commit()
    return World(agency_a.id or 0, agency_b.id or 0, p.id or 0, q.id or 0, result.id or 0, emails, ids, message.id or 0)


def user(session: Session, user_id: int) -> User:
    found = session.get(User, user_id)
    assert found is not None
    return found


def pdf_document(size: int = 0) -> bytes:
    """A real PDF of one blank page; with `size`, padded to that many bytes by an attached file."""
    import io
    import os

    from pypdf import PdfWriter

    def _write(padding: int) -> bytes:
        writer = PdfWriter()
        writer.add_blank_page(595, 842)
        if padding:
            writer.add_attachment("padding.bin", os.urandom(padding))
        buffer = io.BytesIO()
        writer.write(buffer)
        return buffer.getvalue()

    data = _write(0)
    if size <= len(data):
        return data
    padding = size - len(data)
    # Offsets and lengths written in the file grow with it by a few digits: settle in a few rounds.
    for _ in range(5):
        data = _write(padding)
        if len(data) == size:
            break
        padding += size - len(data)
    return data
