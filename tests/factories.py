"""Builders for test data, going through the services like every real write does."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from registry.agencies.models import Agency
from registry.agencies.services import add_registration, create_agency
from registry.audit.services import Actor
from registry.providers.models import Provider
from registry.providers.services import ProviderInput, create_provider
from registry.qa.models import QAResult
from registry.qa.services import ProgrammeInput, ResultInput, record_result

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
