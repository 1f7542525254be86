"""The set-based timeline refresh builds the very documents the per-provider build_document does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import Session, col, select

from registry.assessments.models import SelfAssessment
from registry.audit.services import Actor
from registry.providers import services as providers
from registry.providers.models import Provider
from registry.qa import services as qa
from registry.settings import Settings
from registry.trust import timeline, timeline_bulk
from registry.trust.models import TrustTimeline
from tests import factories as f

ACTOR = Actor("test")


def varied_registry(session: Session, settings: Settings) -> tuple[list[Provider], int]:
    """Providers with every kind of record a timeline reads, in awkward combinations; and the id of one
    whose only merger was withdrawn."""
    on_eqar = f.agency(session)
    late = f.agency(session, registered=("2021-06-01", "2023-12-31"))
    never = f.agency(session, registered=None)
    a, b, c, d = (f.provider(session) for _ in range(4))
    english = f.provider(session, english_name="English Name")
    lonely = f.provider(session)  # no records at all
    unconfirmed = f.provider(session)
    unconfirmed.confirmed = False
    session.add(unconfirmed)
    programmes: list[dict[str, Any]] = [
        {"name": "Physics", "eqf_level": 7, "isced_field": "0533", "ects": 120.0},
        {"name": "Chemistry", "identifier": "CH-1"},
    ]
    f.result(
        session, on_eqar, [a, b, english], activity_type="programme", programmes=programmes, conditions_due="2021-01-01"
    )
    f.result(session, late, [a], valid_from="2021-01-01", valid_to="2026-12-31", report_links=["https://r.example/1"])
    f.result(session, never, [b], decision="negative", valid_from="2019-01-01")
    revoked = f.result(session, on_eqar, [c], valid_from="2018-01-01", valid_to="2030-01-01")
    qa.revoke_result(session, revoked, revoked_from=dt.date(2022, 3, 1), actor=ACTOR)
    gone = f.result(session, on_eqar, [c, d])
    qa.withdraw_result(session, gone, reason="entered in error", actor=ACTOR)
    with_file = f.result(session, late, [d], valid_from="2022-01-01", limit_eqf_levels=[6, 7], limit_fields=["04"])
    first = qa.attach_report_file(session, with_file, filename="a.pdf", content=f.pdf_document(), settings=settings,
                                  actor=ACTOR)  # fmt: skip
    qa.attach_report_file(
        session, with_file, filename="b.pdf", content=f.pdf_document(1), settings=settings, actor=ACTOR
    )
    qa.withdraw_report_file(session, first, reason="wrong file", actor=ACTOR)
    f.result(session, on_eqar, [lonely], valid_from="2016-01-01", valid_to="9999-12-31", activity_type="institutional")
    f.result(session, on_eqar, [unconfirmed])
    providers.suspend(session, b, suspended_from="2021-01-01", suspended_to="2021-06-30", reason="one", actor=ACTOR)
    providers.suspend(session, b, suspended_from="2021-01-01", suspended_to=None, reason="same day", actor=ACTOR)
    cancelled = providers.suspend(session, c, suspended_from="2020-01-01", suspended_to=None, reason="x", actor=ACTOR)
    providers.cancel_suspension(session, cancelled, reason="in error", actor=ACTOR)
    # A chain of mergers: a into c, c into english; d succeeded by c.
    providers.add_relation(session, a, kind="absorbed by", related_provider_id=c.id or 0, valid_from="2021-03-01",
                           actor=ACTOR)  # fmt: skip
    providers.add_relation(session, d, kind="succeeded by", related_provider_id=c.id or 0, valid_from="2023-01-01",
                           actor=ACTOR)  # fmt: skip
    providers.add_relation(session, c, kind="absorbed by", related_provider_id=english.id or 0,
                           valid_from="2024-01-01", actor=ACTOR)  # fmt: skip
    # A merger withdrawn as entered in error passes nothing on and merges nothing.
    mistaken = providers.add_relation(
        session, lonely, kind="absorbed by", related_provider_id=english.id or 0, valid_from="2022-01-01", actor=ACTOR
    )
    providers.withdraw_relation(session, mistaken, reason="recorded for the wrong provider", actor=ACTOR)
    for number, (state, accepted) in enumerate(
        [("accepted", "2020-05-01"), ("accepted", "2023-05-01"), ("draft", None)]
    ):
        session.add(
            SelfAssessment(
                provider_id=english.id or 0,
                version_number=number + 1,
                state=state,
                accepted_on=dt.date.fromisoformat(accepted) if accepted else None,
                next_due=dt.date.fromisoformat(accepted).replace(year=2026 + number) if accepted else None,
            )
        )
    session.add(SelfAssessment(provider_id=a.id or 0, version_number=1, state="submitted"))
    session.commit()
    return list(session.exec(select(Provider).order_by(col(Provider.id)))), lonely.id or 0


@pytest.mark.parametrize("chunk", [500, 2])
def test_set_based_documents_equal_the_per_provider_ones(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    everyone, lonely = varied_registry(session, settings)
    # Tiny chunks and IN lists put related providers in different chunks.
    monkeypatch.setattr(timeline_bulk, "CHUNK", chunk)
    monkeypatch.setattr(timeline_bulk, "IN_LIST", max(chunk, 3))
    built = dict(timeline_bulk.build_documents(session, [p.id or 0 for p in everyone] + [10**9]))
    assert built.pop(10**9) is None
    compared = 0
    for provider in everyone:
        if provider.confirmed:
            assert built[provider.id or 0] == timeline.build_document(session, provider), provider.id
            compared += 1
        else:
            assert built[provider.id or 0] is None
    assert compared >= 6
    # The data really is varied: inheritance, suspensions, files, programmes and assessments all appear.
    documents = list(built.values())
    entries = [entry for document in documents if document for entry in document["results"]]
    assert any(entry["inherited_from"] for entry in entries)
    assert any(entry["report_url"] and "/reports/" in entry["report_url"] for entry in entries)
    assert any(entry["programmes"] for entry in entries)
    assert any(not entry["agency"]["eqar_registered_at_decision"] for entry in entries)
    assert any(document and len(document["suspensions"]) == 2 for document in documents)
    assert any(document and document["internal_qa"]["accepted"] for document in documents)
    assert any(document and document["merged_into"] for document in documents)
    assert built[lonely]["merged_into"] is None  # type: ignore[index]
    assert not any(entry["inherited_from"] == lonely for entry in entries)


def test_the_stored_timelines_equal_the_per_provider_refresh(session: Session, settings: Settings) -> None:
    everyone, lonely = varied_registry(session, settings)
    ids = [p.id or 0 for p in everyone]
    assert timeline.refresh(session, ids) >= set(ids)
    session.expire_all()
    bulk = {t.provider_id: (t.document, t.current_status, t.status_until) for t in session.exec(select(TrustTimeline))}
    timeline.refresh_one_by_one(session, ids)
    session.flush()
    session.expire_all()
    one_by_one = {
        t.provider_id: (t.document, t.current_status, t.status_until) for t in session.exec(select(TrustTimeline))
    }
    assert bulk == one_by_one
    assert set(bulk) == {p.id for p in everyone if p.confirmed}
