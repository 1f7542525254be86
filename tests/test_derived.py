"""Every write service leaves timelines, deadlines and trust list entries current, with no refresh of its own.

The walk discovers the write services (public functions taking a session and an actor) and fails
when one has no step here, so a new write path is walked as soon as it exists.
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session, col

import registry
from registry import derived
from registry.accounts.models import RoleMembership
from registry.accounts.services import create_user
from registry.agencies import services as agencies
from registry.assessments import evidence
from registry.assessments import services as assessments
from registry.deadlines.models import ReviewDeadline
from registry.deadlines.services import sync_all
from registry.providers import proofs, self_requests
from registry.providers import services as providers
from registry.providers.models import Provider, ProviderIdentifier, ProviderSuspension
from registry.qa import services as qa
from registry.reference.services import load_reference
from registry.settings import Settings, get_settings
from registry.submissions import bulk, csv_import, institutions
from registry.submissions import services as submissions
from registry.submissions.fields import Problems
from registry.trust import feed
from registry.trust.models import TrustListEntry, TrustTimeline
from registry.trust.timeline import build_document
from registry.trust.verdict import Policy
from registry.web import Database
from tests import factories as f
from tests.providers.test_proofs import ed25519_did_key, sign

# Writes that no trust timeline, deadline or list entry depends on.
UNRELATED = {
    "registry.accounts.invitations.create_invitation",
    "registry.accounts.services.change_password",
    "registry.accounts.services.create_user",
    "registry.accounts.services.map_oidc_subject",
    "registry.accounts.services.set_active",
    "registry.accounts.services.lift_throttle",
    "registry.audit.services.mark_in_error",
    "registry.audit.services.record_event",
    "registry.deadlines.calendar.feed_for",
    "registry.mail.services.retry_now",
    "registry.submissions.tokens.create_token",
    "registry.submissions.tokens.revoke_token",
}
PDF = f.pdf_document()
CODES = [f"1.{n}" for n in range(1, 11)]


def write_services() -> set[str]:
    found = set()
    for module_info in pkgutil.walk_packages(registry.__path__, "registry."):
        module = importlib.import_module(module_info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            parameters = inspect.signature(function).parameters
            if "session" in parameters and "actor" in parameters:
                found.add(f"{module.__name__}.{name}")
    return found


def assert_current(session: Session, step: str) -> None:
    """Commit, then compare every piece of derived state with a rebuild from the records."""
    session.commit()
    session.expire_all()
    policy = Policy(get_settings().require_eqar_registered, get_settings().require_internal_qa_years)
    every = list(session.scalars(select(Provider).order_by(col(Provider.id))))
    stored_entries = {row.provider_id: row.entry for row in session.scalars(select(TrustListEntry))}
    built = feed.build_entries(session, [p.id or 0 for p in every], policy)
    for provider in every:
        timeline = session.get(TrustTimeline, provider.id)
        if not provider.confirmed:
            assert timeline is None, f"{step}: an unconfirmed provider has a timeline"
        else:
            assert timeline is not None, f"{step}: provider {provider.id} has no timeline"
            assert timeline.document == build_document(session, provider), f"{step}: stale timeline of {provider.id}"
        assert stored_entries.get(provider.id or 0) == built[provider.id or 0], (
            f"{step}: stale trust list entry of {provider.id}"
        )

    def deadlines() -> set[tuple[Any, ...]]:
        rows = session.scalars(select(ReviewDeadline))
        return {(d.source_key, d.due_on, d.provider_id, d.agency_id, d.met_at is None) for d in rows}

    kept = deadlines()
    rebuild = session.begin_nested()
    sync_all(session)
    session.expire_all()
    rebuilt = deadlines()
    rebuild.rollback()
    assert kept == rebuilt, f"{step}: stale deadlines: {kept ^ rebuilt}"


class TestEveryWriteKeepsDerivedStateCurrent:
    def test_every_write_service_is_walked(self) -> None:
        missing = write_services() - UNRELATED - set(steps_by_name())
        assert not missing, f"write services with no step in this walk: {sorted(missing)}"

    def test_walk(self, session: Session, settings: Settings) -> None:
        state: dict[str, Any] = {}
        for name, step in steps_by_name().items():
            step(session, settings, state)
            assert_current(session, name)
        # The walk changed the list: every entry's position was handed out once, in order.
        positions = list(session.scalars(select(col(TrustListEntry.position))))
        assert len(positions) == len(set(positions)) and max(positions) == feed.current_position(session)

    def test_rebuild_derives_everything_again(self, session: Session) -> None:
        provider = f.provider(session)
        f.result(session, f.agency(session), [provider], conditions_due="2022-01-01")
        session.commit()
        # Derived rows lost (say, written by a bulk load that bypassed the session):
        session.execute(delete(TrustTimeline.__table__))  # type: ignore[attr-defined]
        session.execute(delete(ReviewDeadline.__table__))  # type: ignore[attr-defined]
        session.commit()
        assert derived.rebuild_all(session) >= 1
        assert_current(session, "rebuild")
        assert session.get(TrustTimeline, provider.id) is not None


class TestTransactionsThatAddResults:
    """A settle that saw only new results skips looking for deadlines that lost their source."""

    def test_a_withdrawal_beside_new_results_removes_its_deadlines(self, session: Session) -> None:
        agency, provider = f.agency(session), f.provider(session)
        old = f.result(session, agency, [provider], conditions_due="2022-01-01")
        session.commit()
        f.result(session, agency, [provider], valid_from="2024-01-01", valid_to="2029-12-31")
        qa.withdraw_result(session, old, reason="entered in error", actor=f.TEST)
        assert_current(session, "new result and a withdrawal")
        assert not session.scalars(select(ReviewDeadline).where(col(ReviewDeadline.result_id) == old.id)).all()

    def test_a_new_result_withdrawn_after_a_settle_loses_its_deadlines(self, session: Session) -> None:
        agency, provider = f.agency(session), f.provider(session)
        f.result(session, agency, [provider])
        session.commit()
        new = f.result(session, agency, [provider], valid_from="2024-01-01", conditions_due="2025-01-01")
        # Reading deadlines settles what the transaction did so far: the new result's deadlines exist.
        assert session.scalars(select(ReviewDeadline).where(col(ReviewDeadline.result_id) == new.id)).all()
        qa.withdraw_result(session, new, reason="entered in error", actor=f.TEST)
        assert_current(session, "new result withdrawn in its own transaction")
        assert not session.scalars(select(ReviewDeadline).where(col(ReviewDeadline.result_id) == new.id)).all()

    def test_new_results_meet_older_ends(self, session: Session) -> None:
        agency, provider = f.agency(session), f.provider(session)
        old = f.result(session, agency, [provider], valid_to="2025-12-31")
        session.commit()
        f.result(session, agency, [provider], valid_from="2024-01-01", valid_to="2029-12-31")
        assert_current(session, "a renewal")
        expiry = session.scalars(select(ReviewDeadline).where(col(ReviewDeadline.result_id) == old.id)).one()
        assert expiry.met_at is not None


Step = Callable[[Session, Settings, dict[str, Any]], None]


def steps_by_name() -> dict[str, Step]:
    return {
        "registry.reference.services.load_reference": lambda s, _c, _st: _ignore(load_reference(s)),
        "registry.agencies.services.create_agency": _create_agency,
        "registry.providers.services.create_provider": _create_provider,
        "registry.qa.services.record_result": _record_result,
        "registry.qa.services.update_result": _update_result,
        "registry.qa.services.attach_report_file": _attach_report_file,
        "registry.qa.services.withdraw_report_file": _withdraw_report_file,
        "registry.qa.services.revoke_result": _revoke_result,
        "registry.qa.services.withdraw_result": _withdraw_result,
        "registry.submissions.services.submit_report": _submit_report,
        "registry.submissions.services.withdraw_submission": _withdraw_submission,
        "registry.submissions.institutions.create_provider": _create_submitted_provider,
        "registry.submissions.csv_import.import_results": _import_results,
        "registry.submissions.bulk.submit_chunk": _submit_chunk,
        "registry.agencies.services.add_registration": _add_registration,
        "registry.agencies.services.update_registration": _update_registration,
        "registry.agencies.services.withdraw_registration": _withdraw_registration,
        "registry.providers.services.update_provider": _update_provider,
        "registry.providers.services.add_identifier": _add_identifier,
        "registry.providers.proofs.issue_challenge": _issue_challenge,
        "registry.providers.proofs.verify_proof": _verify_proof,
        "registry.providers.services.suspend": _suspend,
        "registry.providers.services.end_suspension": _end_suspension,
        "registry.providers.services.cancel_suspension": _cancel_suspension,
        "registry.providers.services.add_relation": _add_relation,
        "registry.providers.services.withdraw_relation": _withdraw_relation,
        "registry.providers.self_requests.request_entry": _request_entry,
        "registry.providers.self_requests.confirm_entry": _confirm_entry,
        "registry.providers.self_requests.reject_entry": _reject_entry,
        "registry.assessments.services.start_draft": _start_draft,
        "registry.assessments.evidence.upload_evidence": _upload_evidence,
        "registry.assessments.evidence.withdraw_evidence": _withdraw_evidence,
        "registry.assessments.services.save_entries": _save_entries,
        "registry.assessments.services.submit": _submit,
        "registry.assessments.services.review": _review,
    }


def _ignore(_value: object) -> None:
    return None


def _create_agency(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    state["agency"] = f.agency(session, registered=None)


def _add_registration(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    # The agency's results start counting once it is registered at their start.
    state["registration"] = agencies.add_registration(
        session, state["agency"], registered_from="2010-01-01", actor=f.TEST
    )


def _create_provider(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    state["provider"] = f.provider(session)
    state["other"] = f.provider(session)


def _record_result(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    state["result"] = f.result(
        session,
        state["agency"],
        [state["provider"], state["other"]],
        decision="positive with conditions or restrictions",
        valid_from="2020-01-01",
        valid_to="2030-12-31",
        conditions_due="2022-06-30",
    )
    state["negative"] = f.result(session, state["agency"], [state["other"]], decision="negative")


def _update_result(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    result = state["result"]
    # No longer for the other provider, and no longer with conditions.
    qa.update_result(
        session,
        result,
        qa.ResultInput(
            agency_id=result.agency_id,
            provider_ids=[state["provider"].id],
            activity_type="institutional",
            status=f.OBLIGATORY,
            decision="positive",
            valid_from="2020-01-01",
            valid_to="2031-06-30",
        ),
        f.TEST,
        result.version,
    )


def _attach_report_file(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    state["report"] = qa.attach_report_file(
        session, state["result"], filename="report.pdf", content=PDF, settings=settings, actor=f.TEST
    )


def _withdraw_report_file(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    qa.withdraw_report_file(session, state["report"], reason="the draft report, not the final one", actor=f.TEST)


def _update_registration(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    # Registered a year earlier than first entered: the results still count.
    agencies.update_registration(
        session, state["registration"], registered_from="2009-01-01", registered_to=None, actor=f.TEST
    )


def _withdraw_registration(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    wrong = agencies.add_registration(
        session, state["agency"], registered_from="2001-01-01", registered_to="2005-12-31", actor=f.TEST
    )
    agencies.withdraw_registration(session, wrong, reason="another agency's window", actor=f.TEST)


def _cancel_suspension(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    mistaken = providers.suspend(
        session,
        state["provider"],
        suspended_from="2025-01-01",
        suspended_to=None,
        reason="wrong provider",
        actor=f.TEST,
    )
    providers.cancel_suspension(session, mistaken, reason="entered for the wrong provider", actor=f.TEST)


def _reject_entry(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    unwanted = self_requests.request_entry(
        session,
        providers.ProviderInput(
            name="Diploma Mill Online",
            country="NL",
            provider_type="MOOC platform",
            identifiers=[{"scheme": "did", "value": "did:web:mill.example"}],
        ),
        f.TEST,
    )
    self_requests.reject_entry(
        session,
        unwanted,
        reason="not an education provider",
        roles=[RoleMembership(user_id=1, role="operator")],
        actor=f.TEST,
        expected_version=unwanted.version,
    )


def _withdraw_evidence(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    evidence.withdraw_evidence(session, state["evidence"], reason="the wrong file", actor=f.TEST)


def _revoke_result(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    qa.revoke_result(session, state["result"], revoked_from="2029-01-01", actor=f.TEST)


def _withdraw_result(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    qa.withdraw_result(session, state["negative"], reason="recorded for the wrong provider", actor=f.TEST)


def _submit_report(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    agency, provider = state["agency"], state["other"]
    report = {
        "agency": agency.acronym,
        "local_identifier": "SUB-1",
        "activity": "institutional audit",
        "status": "voluntary",
        "decision": "positive",
        "valid_from": "2021-01-01",
        "institutions": [{"identifiers": [{"identifier": f.did(provider, session), "resource": "did"}]}],
    }
    created = submissions.submit_report(session, report, agency=agency, index=0, settings=settings, actor=f.TEST)
    assert created.submission_status == "created", created.errors
    assert_current(session, "submit_report (created)")
    updated = submissions.submit_report(
        session, {**report, "valid_to": "2024-12-31"}, agency=agency, index=0, settings=settings, actor=f.TEST
    )
    assert updated.submission_status == "updated", updated.errors
    assert_current(session, "submit_report (updated)")
    # A provider the registry does not hold, created from the report's master data, with its first result.
    newcomer = {
        "eter_id": "PT0099",
        "name_official": "Submitted College",
        "country": "PT",
        "provider_type": "VET provider",
    }
    fresh = {**report, "local_identifier": "SUB-NEW", "institutions": [newcomer]}
    created = submissions.submit_report(
        session, fresh, agency=agency, index=0, settings=settings, actor=f.TEST, may_create_providers=True
    )
    assert created.submission_status == "created", created.errors


def _create_submitted_provider(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    entry = {"eter_id": "PT0098", "name_official": "Planned College", "country": "PT", "provider_type": "VET provider"}
    problems = Problems()
    planned = institutions.planned_provider(problems, 0, entry, state["agency"])
    assert planned is not None, problems.errors
    institutions.create_provider(session, 0, *planned, state["agency"], f.TEST)


def _withdraw_submission(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    submissions.withdraw_submission(session, agency=state["agency"], local_identifier="SUB-1", actor=f.TEST)


def _import_results(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    agency, provider = state["agency"], state["provider"]
    text = (
        "agency,local_identifier,activity,status,decision,valid_from,valid_to,"
        "institution[1].identifier[1],institution[1].resource[1]\n"
        f"{agency.acronym},CSV-1,institutional audit,voluntary,negative,2022-01-01,2023-01-01,"
        f"{f.did(provider, session)},did\n"
    )
    report = csv_import.import_results(session, text.encode(), agency=agency, settings=settings, actor=f.TEST)
    assert report.counts() == {"created": 1}, list(report.lines())


def _submit_chunk(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    agency, provider, other = state["agency"], state["provider"], state["other"]
    reports = [
        {
            "agency": agency.acronym,
            "local_identifier": f"CHUNK-{n}",
            "activity": "institutional audit",
            "status": "voluntary",
            "decision": decision,
            "valid_from": "2023-01-01",
            "institutions": [{"identifiers": [{"identifier": f.did(p, session), "resource": "did"}]}],
        }
        for n, (p, decision) in enumerate([(provider, "positive"), (other, "negative")])
    ]
    with bulk.upload(session, agency) as lookups:
        outcomes = bulk.submit_chunk(
            session, lookups, list(enumerate(reports)), agency=agency, settings=settings, actor=f.TEST
        )
        assert [o.submission_status for o in outcomes] == ["created", "created"]


def _update_provider(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    provider = state["provider"]
    providers.update_provider(
        session, provider, {"name": "Renamed College", "closed_on": "2040-01-01"}, f.TEST, provider.version
    )


def _add_identifier(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    providers.add_identifier(
        session, state["provider"], scheme="url", value="https://renamed.example/issuer", actor=f.TEST
    )
    key, did = ed25519_did_key()
    state["key"] = key
    state["claimed"] = providers.add_identifier(
        session, state["provider"], scheme="did", value=did, actor=f.TEST, origin="claimed"
    )


def _issue_challenge(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    state["challenge"] = proofs.issue_challenge(session, state["claimed"], actor=f.TEST, settings=settings)


def _verify_proof(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    challenge = state["challenge"]
    proofs.verify_proof(
        Database(session.connection()),
        challenge.id,
        actor=f.TEST,
        settings=settings,
        signature=sign(challenge.challenge, state["key"]),
    )
    identifier = session.get(ProviderIdentifier, state["claimed"].id)
    assert identifier is not None and identifier.origin == "proven"


def _suspend(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    state["suspension"] = providers.suspend(
        session, state["provider"], suspended_from="2024-01-01", suspended_to=None, reason="fraud inquiry", actor=f.TEST
    )


def _end_suspension(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    suspension = session.get(ProviderSuspension, state["suspension"].id)
    assert suspension is not None
    providers.end_suspension(session, suspension, ends_on="2024-03-01", actor=f.TEST)


def _add_relation(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    providers.add_relation(
        session,
        state["other"],
        kind="absorbed by",
        related_provider_id=state["provider"].id,
        valid_from="2025-01-01",
        actor=f.TEST,
    )


def _withdraw_relation(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    mistaken = providers.add_relation(
        session,
        f.provider(session),
        kind="absorbed by",
        related_provider_id=state["provider"].id,
        valid_from="2025-06-01",
        actor=f.TEST,
    )
    providers.withdraw_relation(session, mistaken, reason="recorded for the wrong provider", actor=f.TEST)


def _request_entry(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    state["requested"] = self_requests.request_entry(
        session,
        providers.ProviderInput(
            name="Self Made Academy",
            country="NL",
            provider_type="MOOC platform",
            identifiers=[{"scheme": "did", "value": "did:web:self-made.example"}],
        ),
        f.TEST,
    )
    f.result(session, state["agency"], [state["requested"]])


def _confirm_entry(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    provider = state["requested"]
    self_requests.confirm_entry(
        session,
        provider,
        roles=[RoleMembership(user_id=1, role="operator")],
        actor=f.TEST,
        expected_version=provider.version,
    )


def _start_draft(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    state["assessment"] = assessments.start_draft(session, state["provider"], f.TEST)


def _upload_evidence(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    state["evidence"] = evidence.upload_evidence(
        session, state["assessment"], filename="plan.pdf", content=io.BytesIO(PDF), actor=f.TEST, settings=settings
    )


def _save_entries(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    assessment = state["assessment"]
    changes = {code: {"rating": "compliant", "narrative": f"How we meet {code}."} for code in CODES}
    assessments.save_entries(session, assessment, changes, f.TEST, assessment.version)


def _submit(session: Session, _settings: Settings, state: dict[str, Any]) -> None:
    assessment = state["assessment"]
    assessments.submit(session, assessment, f.TEST, assessment.version)


def _review(session: Session, settings: Settings, state: dict[str, Any]) -> None:
    assessment = state["assessment"]
    reviewer = create_user(
        session,
        email="reviewer@walk.example",
        display_name="Walk Reviewer",
        password=None,
        role="agency reviewer",
        actor=f.TEST,
        agency_id=state["agency"].id,
    )
    assessments.review(
        session,
        assessment,
        accept=True,
        reviewer_user_id=reviewer.id or 0,
        actor=f.TEST,
        expected_version=assessment.version,
        settings=settings,
    )
