"""Small builders for deadline tests: an agency on EQAR, a provider, a result."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from registry.accounts.services import create_user
from registry.agencies.models import Agency
from registry.agencies.services import add_registration, create_agency
from registry.audit.services import Actor
from registry.providers.models import Provider
from registry.providers.services import ProviderInput, create_provider
from registry.qa.models import QAResult
from registry.qa.services import ResultInput, record_result
from registry.timeutil import today

TEST = Actor("test")
TODAY = today()
_numbers = itertools.count(1)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def agency(session: Session) -> Agency:
    number = next(_numbers)
    agency = create_agency(session, name=f"Test Agency {number}", acronym=f"TA{number}", country="NL", actor=TEST)
    add_registration(session, agency, registered_from=dt.date(2000, 1, 1), actor=TEST)
    return agency


@pytest.fixture
def make_provider(session: Session) -> Callable[..., Provider]:
    def make(name: str | None = None) -> Provider:
        number = next(_numbers)
        return create_provider(
            session,
            ProviderInput(name=name or f"Test University {number}", country="NL", provider_type="public HEI"),
            TEST,
        )

    return make


@pytest.fixture
def make_result(session: Session, agency: Agency) -> Callable[..., QAResult]:
    def make(provider: Provider, **changes: Any) -> QAResult:
        data: dict[str, Any] = {
            "agency_id": agency.id,
            "provider_ids": [provider.id],
            "activity_type": "institutional",
            "status": "voluntary",
            "decision": "positive",
            "valid_from": days(-365),
            "valid_to": days(100),
        }
        data.update(changes)
        return record_result(session, ResultInput(**data), TEST)

    return make


@pytest.fixture
def staff_and_editor(session: Session, agency: Agency, make_provider: Callable[..., Provider]) -> Provider:
    """A provider with one staff account, its agency with one editor, and an operator."""
    provider = make_provider("Lakeside University")
    number = next(_numbers)
    create_user(
        session,
        email=f"staff{number}@lakeside.test",
        display_name="Staff",
        password=None,
        role="provider staff",
        provider_id=provider.id,
        actor=TEST,
    )
    create_user(
        session,
        email=f"editor{number}@agency.test",
        display_name="Editor",
        password=None,
        role="agency editor",
        agency_id=agency.id,
        actor=TEST,
    )
    create_user(
        session, email=f"operator{number}@registry.test", display_name="Op", password=None, role="operator", actor=TEST
    )
    return provider
