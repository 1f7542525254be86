"""Large uploads: read as a stream, looked up and written a chunk at a time, with the same outcomes as one by one."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlmodel import Session, col, select

from registry.agencies.models import Agency
from registry.audit.models import AuditEvent
from registry.audit.services import Actor
from registry.qa import services as qa
from registry.qa.models import QAResult
from registry.settings import Settings
from registry.submissions import bulk, csv_import
from registry.submissions.import_report import ImportReport
from registry.submissions.models import SubmissionWarning
from registry.submissions.services import submit_report
from tests import factories as f

ACTOR = Actor("test")
HEADER = (
    "agency,local_identifier,activity,status,decision,valid_from,valid_to,institution[1].deqar_id,"
    "institution[2].deqar_id"
)


@pytest.fixture
def agency(session: Session) -> Agency:
    return f.agency(session, acronym="BULK", registered=("2018-01-01", None))


@pytest.fixture
def deqar_ids(session: Session) -> list[str]:
    ids = [f"DEQARINST9{n:03d}" for n in range(4)]
    for value in ids:
        f.provider(session, identifiers=[{"scheme": "deqar", "value": value}])
    session.commit()
    return ids


def rows(deqar_ids: list[str], count: int, start: int = 0) -> list[str]:
    return [
        f"BULK,B-{n},institutional review,voluntary,positive,2019-0{1 + n % 9}-01,,"
        f"{deqar_ids[n % 4]},{deqar_ids[(n + 1) % 4]}"
        for n in range(start, start + count)
    ]


def csv_bytes(lines: list[str]) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def stored(session: Session, agency: Agency) -> dict[str, tuple[Any, ...]]:
    session.expire_all()
    found = session.exec(select(QAResult).where(QAResult.agency_id == agency.id).order_by(col(QAResult.id)))
    return {r.local_id or "": (r.valid_from, r.valid_to, tuple(qa.provider_ids(session, r.id or 0))) for r in found}


def outcomes(report: ImportReport) -> list[tuple[Any, ...]]:
    return [(r.row, r.outcome.submission_status, r.outcome.errors, r.outcome.warnings) for r in report.rows()]


class TestChunks:
    def test_chunks_give_the_outcomes_of_one_by_one(
        self,
        session: Session,
        settings: Settings,
        agency: Agency,
        deqar_ids: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        lines = rows(deqar_ids, 7)
        lines.insert(3, lines[1])  # a duplicate local identifier
        lines.insert(5, "BULK,B-bad,institutional review,voluntary,positive,2019-01-01,,DEQARINST0404,")
        lines.insert(6, ",,,,,,,,")  # a blank row is skipped
        monkeypatch.setattr(bulk, "CHUNK", 3)
        chunked = csv_import.import_results(session, csv_bytes(lines), agency=agency, settings=settings, actor=ACTOR)
        session.commit()
        by_chunks = stored(session, agency)
        assert chunked.counts() == {"created": 7, "rejected": 2}
        chunked_rows = list(chunked.rows())
        assert [r.row for r in chunked_rows] == [2, 3, 4, 5, 6, 7, 9, 10, 11]
        # One by one, through submit_report with no upload lookups, in a fresh agency: the same outcomes.
        other = f.agency(session, acronym="ONE", registered=("2018-01-01", None))
        seen: set[str] = set()
        expected = []
        for number, line in enumerate([line.replace("BULK", "ONE", 1) for line in lines], start=2):
            cells = line.split(",")
            if not any(cells):
                continue
            item = csv_import._row(csv_import.rows(HEADER)[0], cells)
            if item["local_identifier"] in seen:
                expected.append((number, "rejected"))
                continue
            seen.add(item["local_identifier"])
            outcome = submit_report(session, item, agency=other, index=number, settings=settings, actor=ACTOR)
            expected.append((number, outcome.submission_status))
        assert [(row, status) for row, status, _e, _w in outcomes(chunked)] == expected
        assert stored(session, other) == by_chunks
        assert chunked_rows[3].outcome.errors == {"local_identifier": ["row 3 has the same local identifier"]}
        bad = chunked_rows[5].outcome
        assert bad.errors == {"institutions[0]": ["no provider in the registry has deqar DEQARINST0404"]}
        # The same file again: every row unchanged (found through the chunk's lookups), nothing duplicated.
        again = csv_import.import_results(session, csv_bytes(lines), agency=agency, settings=settings, actor=ACTOR)
        assert again.counts() == {"unchanged": 7, "rejected": 2}
        assert stored(session, agency) == by_chunks

    def test_a_list_naming_one_local_identifier_twice_creates_then_updates(
        self, session: Session, settings: Settings, agency: Agency, deqar_ids: list[str]
    ) -> None:
        report = {
            "agency": "BULK", "local_identifier": "TWICE", "activity": "institutional review", "status": "voluntary",
            "decision": "positive", "valid_from": "2020-01-01", "institutions": [{"deqar_id": deqar_ids[0]}],
        }  # fmt: skip
        changed = {**report, "valid_to": "2024-01-01"}
        with bulk.upload(session, agency) as lookups:
            answers = list(
                bulk.submit_chunk(
                    session, lookups, [(0, report), (1, changed)], agency=agency, settings=settings, actor=ACTOR
                )  # fmt: skip
            )
        assert [a.submission_status for a in answers] == ["created", "updated"]
        assert answers[0].result_id == answers[1].result_id
        assert bulk.current(session) is None

    def test_the_audit_record_of_a_new_result_is_what_the_result_reads_back(
        self, session: Session, agency: Agency, deqar_ids: list[str]
    ) -> None:
        providers = [f.provider(session) for _ in range(3)]
        data = qa.ResultInput(
            agency_id=agency.id or 0, provider_ids=[providers[2].id or 0, providers[0].id or 0, providers[2].id or 0],
            activity_type="programme", status="voluntary", decision="positive", valid_from="2020-01-01",
            programmes=[qa.ProgrammeInput(name=" Zoology ", identifier=" Z1 ", eqf_level=6), qa.ProgrammeInput("Art")],
        )  # fmt: skip
        result = qa.record_result(session, data, ACTOR)
        event = session.exec(
            select(AuditEvent).where(AuditEvent.entity_type == "qa_result", AuditEvent.entity_id == result.id)
        ).one()
        assert event.after == qa.result_snapshot(session, result)
        assert event.after["programmes"][0] == {"name": "Zoology", "identifier": "Z1", "eqf_level": 6}


class TestStreaming:
    def test_row_by_row_commits_every_few_chunks_and_all_or_nothing_keeps_one_transaction(
        self,
        session: Session,
        settings: Settings,
        agency: Agency,
        deqar_ids: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(bulk, "CHUNK", 2)
        monkeypatch.setattr(bulk, "COMMIT_ROWS", 3)
        commits: list[int] = []
        original = session.commit

        def counted() -> None:
            commits.append(1)
            original()

        monkeypatch.setattr(session, "commit", counted)
        csv_import.import_results(session, csv_bytes(rows(deqar_ids, 5)), agency=agency, settings=settings, actor=ACTOR)
        assert len(commits) == 1  # after rows 1-4 (two chunks); the caller commits the fifth
        commits.clear()
        lines = rows(deqar_ids, 4, start=10) + ["BULK,B-x,institutional review,voluntary,nonsense,2019-01-01,,"]
        report = csv_import.import_results(
            session, csv_bytes(lines), agency=agency, settings=settings, actor=ACTOR, mode="all-or-nothing"
        )
        assert commits == [] and report.rolled_back

    def test_an_unreadable_row_late_in_an_all_or_nothing_file_leaves_nothing_written(
        self,
        session: Session,
        settings: Settings,
        agency: Agency,
        deqar_ids: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(bulk, "CHUNK", 2)
        data = csv_bytes(rows(deqar_ids, 5)) + b"BULK," + b"x" * 200_000 + b"\n"  # over the csv module's field limit
        with pytest.raises(csv_import.UnreadableFile, match="after row 6:"):
            csv_import.import_results(
                session, io.BytesIO(data), agency=agency, settings=settings, actor=ACTOR, mode="all-or-nothing"
            )
        session.commit()
        assert stored(session, agency) == {}
        assert session.exec(select(SubmissionWarning)).first() is None

    def test_encodings_are_detected_a_block_at_a_time(
        self,
        session: Session,
        settings: Settings,
        agency: Agency,
        deqar_ids: list[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(csv_import, "_BLOCK", 7)
        # é in Windows-1252 far after the first block; a UTF-8 character split across blocks.
        latin = csv_bytes(rows(deqar_ids, 3)).replace(b"B-2", "B-2é".encode("cp1252"))
        assert csv_import.detect_encoding(io.BytesIO(latin)) == "windows-1252"
        utf8 = csv_bytes(rows(deqar_ids, 3)).replace(b"B-2", "B-2ééé€".encode())
        for offset in range(7):
            assert csv_import.detect_encoding(io.BytesIO(b"x" * offset + utf8)) == "utf-8"
        assert csv_import.detect_encoding(io.BytesIO(b"\xef\xbb\xbf" + utf8)) == "utf-8-sig"
        broken = b"agency,local_identifier\nBULK,\x81\x8d\n"  # bytes Windows-1252 leaves undefined
        with pytest.raises(csv_import.UnreadableFile, match=r"byte 29\)"):
            csv_import.detect_encoding(io.BytesIO(broken))
        report = csv_import.import_results(session, latin, agency=agency, settings=settings, actor=ACTOR)
        assert report.encoding == "windows-1252" and "B-2é" in {r.outcome.local_identifier for r in report.rows()}
