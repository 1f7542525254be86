"""An institution's identifiers must name one provider: identifiers that name several reject the report."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.agencies.models import Agency
from registry.audit.services import Actor
from registry.providers.models import Provider
from registry.qa.models import QAResult
from registry.settings import Settings
from registry.submissions import bulk, csv_import
from tests import factories as f
from tests.factories import World
from tests.submissions.test_api import URL, bearer, make_token, programme_report

ACTOR = Actor("test")
CSV_HEADER = (
    "agency,local_identifier,activity,status,decision,valid_from,institution[1].deqar_id,institution[1].eter_id\n"
)


@pytest.fixture
def two_providers(session: Session) -> tuple[Provider, Provider]:
    """Alpha holds DEQARINST0501 and ETER NL0501; Beta holds DEQARINST0502 and ETER NL0502."""
    alpha = f.provider(
        session,
        name="Alpha Hogeschool",
        identifiers=[{"scheme": "deqar", "value": "DEQARINST0501"}, {"scheme": "eter", "value": "NL0501"}],
    )
    beta = f.provider(
        session,
        name="Beta Academy",
        identifiers=[{"scheme": "deqar", "value": "DEQARINST0502"}, {"scheme": "eter", "value": "NL0502"}],
    )
    session.commit()
    return alpha, beta


def assert_names_both(message: str, alpha: Provider, beta: Provider) -> None:
    assert "different providers" in message
    assert f"deqar DEQARINST0501 is provider {alpha.id} (Alpha Hogeschool)" in message, message
    assert f"eter NL0502 is provider {beta.id} (Beta Academy)" in message, message


def stored(session: Session, *local_ids: str) -> list[str]:
    session.expire_all()
    return [r.local_id or "" for r in session.exec(select(QAResult).where(QAResult.local_id.in_(local_ids)))]  # type: ignore[union-attr]


class TestJson:
    def test_a_deqar_id_and_an_eter_id_of_different_providers_reject_the_report(
        self, client: TestClient, world: World, session: Session, two_providers: tuple[Provider, Provider]
    ) -> None:
        alpha, beta = two_providers
        secret = make_token(session, world.agency_a)
        mixed = programme_report("MIX-1", institutions=[{"deqar_id": "DEQARINST0501", "eter_id": "NL0502"}])
        agreeing = programme_report("MIX-2", institutions=[{"deqar_id": "DEQARINST0501", "eter_id": "NL0501"}])
        answer = client.post(URL, json=[mixed, agreeing], headers=bearer(secret))
        first, second = answer.json()["reports"]
        assert first["submission_status"] == "rejected"
        assert list(first["errors"]) == ["institutions[0]"]
        assert_names_both(first["errors"]["institutions[0]"][0], alpha, beta)
        assert second["submission_status"] == "created", second
        assert stored(session, "MIX-1", "MIX-2") == ["MIX-2"]

    def test_one_identifier_held_in_turn_by_two_providers_names_both(
        self, client: TestClient, world: World, session: Session
    ) -> None:
        old = f.provider(
            session,
            name="Old College",
            identifiers=[{"scheme": "domain", "value": "college.example", "valid_to": "2019-12-31"}],
        )
        new = f.provider(
            session,
            name="New College",
            identifiers=[{"scheme": "domain", "value": "college.example", "valid_from": "2020-01-01"}],
        )
        session.commit()
        secret = make_token(session, world.agency_a)
        report = programme_report(
            "HELD-1", institutions=[{"identifiers": [{"identifier": "college.example", "resource": "domain"}]}]
        )
        outcome = client.post(URL, json=report, headers=bearer(secret)).json()["reports"][0]
        assert outcome["submission_status"] == "rejected"
        message = outcome["errors"]["institutions[0]"][0]
        assert f"domain college.example is provider {old.id} (Old College)" in message, message
        assert f"provider {new.id} (New College)" in message


class TestCsv:
    def test_the_row_is_rejected_with_the_institution_column_and_all_or_nothing_saves_nothing(
        self, client: TestClient, world: World, session: Session, two_providers: tuple[Provider, Provider]
    ) -> None:
        alpha, beta = two_providers
        secret = make_token(session, world.agency_a)
        text = (
            CSV_HEADER
            + "AAA,CSV-OK,institutional audit,voluntary,positive,2021-01-01,DEQARINST0502,NL0502\n"
            + "AAA,CSV-MIX,institutional audit,voluntary,positive,2021-01-01,DEQARINST0501,NL0502\n"
        )
        answer = client.post(f"{URL}.csv?mode=all-or-nothing", content=text.encode(), headers=bearer(secret))
        assert answer.status_code == 400, answer.text
        rows = {row["row"]: row for row in answer.json()["rows"]}
        assert rows[3]["submission_status"] == "rejected"
        assert_names_both(rows[3]["errors"]["institutions[0]"][0], alpha, beta)
        assert rows[2]["submission_status"] == "not saved (all-or-nothing)"
        assert stored(session, "CSV-OK", "CSV-MIX") == []
        report = client.post(
            f"{URL}.csv?mode=all-or-nothing", content=text.encode(), headers={**bearer(secret), "accept": "text/csv"}
        )
        line = next(line for line in report.text.splitlines() if line.startswith("3,"))
        assert ",institution[1]," in line and "different providers" in line


class TestBulkLookups:
    def test_several_reports_in_one_chunk_are_checked_against_the_cached_lookups(
        self,
        session: Session,
        settings: Settings,
        world: World,
        two_providers: tuple[Provider, Provider],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        alpha, beta = two_providers
        agency = session.get(Agency, world.agency_a)
        assert agency is not None
        text = CSV_HEADER + "".join(
            f"AAA,CHUNK-{n},institutional audit,voluntary,positive,2021-01-01,{deqar},{eter}\n"
            for n, (deqar, eter) in enumerate(
                [
                    ("DEQARINST0501", "NL0501"),
                    ("DEQARINST0501", "NL0502"),
                    ("DEQARINST0502", "NL0502"),
                    ("DEQARINST0502", "NL0501"),
                ]
            )
        )
        seen: list[bulk.Lookups] = []
        prefetch = bulk.prefetch

        def watched(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            prefetch(*args, **kwargs)
            seen.append(args[1])

        monkeypatch.setattr(bulk, "prefetch", watched)
        report = csv_import.import_results(session, text.encode(), agency=agency, settings=settings, actor=ACTOR)
        session.commit()
        # One chunk: every identifier was looked up by the prefetch, so the rows were resolved from the cache.
        assert len(seen) == 1
        assert seen[0].providers[("deqar", "DEQARINST0501")] == [alpha.id]
        assert seen[0].providers[("eter", "NL0502")] == [beta.id]
        rows = list(report.rows())
        statuses = [(r.row, r.outcome.submission_status) for r in rows]
        assert statuses == [(2, "created"), (3, "rejected"), (4, "created"), (5, "rejected")]
        assert_names_both(rows[1].outcome.errors["institutions[0]"][0], alpha, beta)
        assert "eter NL0501 is provider" in rows[3].outcome.errors["institutions[0]"][0]
        assert sorted(stored(session, *(f"CHUNK-{n}" for n in range(4)))) == ["CHUNK-0", "CHUNK-2"]
