"""QA result rules: vocabularies, dates, limits, programmes, withdrawal and revocation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from registry.audit.models import AuditEvent
from registry.audit.services import Actor
from registry.errors import ValidationFailed
from registry.qa.services import revoke_result, withdraw_result
from tests import factories as f

ACTOR = Actor("test")


def _errors(session: Session, **overrides: Any) -> dict[str, str]:
    provider, agency = f.provider(session), f.agency(session)
    with pytest.raises(ValidationFailed) as error:
        f.result(session, agency, [provider], **overrides)
    return error.value.errors


class TestRecording:
    def test_validity_must_end_after_it_starts(self, session: Session) -> None:
        assert "after its start" in _errors(session, valid_from="2022-01-01", valid_to="2022-01-01")["valid_to"]

    def test_decision_comes_from_the_vocabulary(self, session: Session) -> None:
        assert "not one of" in _errors(session, decision="excellent")["decision"]

    def test_an_impossible_date_is_named(self, session: Session) -> None:
        assert "YYYY-MM-DD" in _errors(session, valid_from="2021-02-30")["valid_from"]

    def test_limits_are_checked(self, session: Session) -> None:
        errors = _errors(session, limit_eqf_levels=[4], limit_fields=["computing"], limit_jurisdictions=["ZZ"])
        assert set(errors) >= {"limit_eqf_levels", "limit_fields", "limit_jurisdictions"}

    def test_programme_results_name_their_programmes(self, session: Session) -> None:
        assert "programmes" in _errors(session, activity_type="programme")
        errors = _errors(session, activity_type="programme", programmes=[{"name": "", "eqf_level": 3, "ects": 0}])
        assert {"programmes[0].name", "programmes[0].eqf_level", "programmes[0].ects"} <= set(errors)

    def test_local_id_is_unique_per_agency(self, session: Session) -> None:
        provider, agency = f.provider(session), f.agency(session)
        f.result(session, agency, [provider], local_id="R-1")
        with pytest.raises(ValidationFailed) as error:
            f.result(session, agency, [provider], local_id="R-1")
        assert "local id" in error.value.errors["local_id"]
        f.result(session, f.agency(session), [provider], local_id="R-1")

    def test_unknown_provider_and_agency(self, session: Session) -> None:
        from registry.qa.services import ResultInput, record_result

        with pytest.raises(ValidationFailed) as error:
            record_result(
                session,
                ResultInput(
                    agency_id=999999,
                    provider_ids=[999999],
                    activity_type="institutional",
                    status=f.OBLIGATORY,
                    decision="positive",
                    valid_from="2020-01-01",
                ),
                ACTOR,
            )
        assert {"agency_id", "provider_ids"} <= set(error.value.errors)


class TestWithdrawAndRevoke:
    def test_withdrawal_needs_a_reason_and_happens_once(self, session: Session) -> None:
        made = f.result(session, f.agency(session), [f.provider(session)])
        with pytest.raises(ValidationFailed):
            withdraw_result(session, made, reason="  ", actor=ACTOR)
        withdraw_result(session, made, reason="duplicate entry", actor=ACTOR)
        assert made.withdrawn_at is not None and made.withdrawn_reason == "duplicate entry"
        with pytest.raises(ValidationFailed) as error:
            withdraw_result(session, made, reason="again", actor=ACTOR)
        assert "already withdrawn" in error.value.errors["reason"]
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "result.withdraw")).one()
        assert event.before is not None and event.before["withdrawn_at"] is None

    def test_revocation_is_after_the_start(self, session: Session) -> None:
        made = f.result(session, f.agency(session), [f.provider(session)], valid_from="2020-01-01")
        with pytest.raises(ValidationFailed) as error:
            revoke_result(session, made, revoked_from="2020-01-01", actor=ACTOR)
        assert "withdraw it instead" in error.value.errors["revoked_from"]
        revoke_result(session, made, revoked_from="2021-01-01", actor=ACTOR)
        assert str(made.revoked_from) == "2021-01-01"
