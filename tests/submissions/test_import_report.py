"""The per-row report spooled to disk: every row's outcome comes back, in order, and no temporary file outlives it."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlmodel import Session

from registry.agencies.models import Agency
from registry.settings import Settings
from registry.submissions import bulk, csv_import, views
from registry.submissions.import_report import FirstRows, ImportReport, json_answer, report_csv
from registry.submissions.services import Outcome
from tests.conftest import post_form, sign_in
from tests.factories import World
from tests.submissions.test_api import bearer, make_token
from tests.submissions.test_bulk import ACTOR, agency, csv_bytes, deqar_ids, rows  # noqa: F401 (fixtures)

URL = "/api/v1/submissions/results.csv"
pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads the open files from /proc")


def unnamed_files() -> set[str]:
    """The files this process holds open that have no name any more (temporary files, SQLite's temporary databases)."""
    found = set()
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            continue
        if target.endswith("(deleted)"):
            found.add(f"{descriptor} {target}")
    return found


def broken_file(ids: list[str]) -> tuple[bytes, dict[int, tuple[str, str]]]:
    """Twelve rows (CSV rows 2-13) with errors in rows spread over the chunks; the errors expected by row."""
    lines = rows(ids, 12)
    lines[1] = lines[1].replace("positive", "splendid")  # row 3
    lines[5] = lines[5].replace(ids[1], "DEQARINST0404")  # row 7
    lines[8] = lines[0]  # row 10 repeats row 2's local identifier, three chunks later
    lines[10] = lines[10].replace("2019-0", "19-0")  # row 12
    expected = {
        3: ("decision", ""),
        7: ("institution[1]", "deqar DEQARINST0404"),
        10: ("local_identifier", "row 2 has the same local identifier"),
        12: ("valid_from", ""),
    }
    return csv_bytes(lines), expected


class TestSpooledReport:
    @pytest.mark.parametrize("mode", ["row-by-row", "all-or-nothing"])
    def test_every_rows_error_comes_back_with_its_row_number_across_chunks(
        self,
        session: Session,
        settings: Settings,
        agency: Agency,  # noqa: F811
        deqar_ids: list[str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
        mode: str,
    ) -> None:
        monkeypatch.setattr(bulk, "CHUNK", 3)
        data, expected = broken_file(deqar_ids)
        with csv_import.import_results(
            session, data, agency=agency, settings=settings, actor=ACTOR, mode=mode
        ) as report:
            assert report.counts() == {"created": 8, "rejected": 4}
            assert report.rolled_back == (mode == "all-or-nothing")
            # Read twice, in small pieces: the same lines each time.
            text = "".join(report_csv(report, lines_per_chunk=2))
            assert text == "".join(report_csv(report))
        lines = list(csv.reader(io.StringIO(text)))
        assert lines[0] == ["row", "local_identifier", "status", "result_id", "column", "message"]
        assert [int(line[0]) for line in lines[1:]] == list(range(2, 14))
        rejected = {int(line[0]): line for line in lines[1:] if line[2] == "rejected"}
        assert sorted(rejected) == sorted(expected)
        for row, (column, message) in expected.items():
            assert rejected[row][4] == column and message in rejected[row][5], rejected[row]
        accepted = [line for line in lines[1:] if line[2] != "rejected"]
        if mode == "all-or-nothing":
            assert {line[2] for line in accepted} == {"not saved (all-or-nothing)"}
        else:
            assert {line[2] for line in accepted} == {"created"} and all(line[3].isdigit() for line in accepted)
        assert rejected[10][1] == "B-0"

    def test_the_spool_is_gone_when_the_report_is_closed_and_after_an_unreadable_file(
        self,
        session: Session,
        settings: Settings,
        agency: Agency,  # noqa: F811
        deqar_ids: list[str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(bulk, "CHUNK", 2)
        before = unnamed_files()
        report = csv_import.import_results(session, csv_bytes(rows(deqar_ids, 5)), agency=agency, settings=settings,
                                           actor=ACTOR)  # fmt: skip
        assert len(unnamed_files() - before) == 1  # the report's spool, while the report is open
        report.close()
        assert unnamed_files() == before
        late = csv_bytes(rows(deqar_ids, 5, start=20)) + b"BULK," + b"x" * 200_000 + b"\n"
        for mode in ("row-by-row", "all-or-nothing"):
            # The error is held, and with it the import's frames: the spool is closed, not merely unreachable.
            with pytest.raises(csv_import.UnreadableFile, match="after row 6:") as caught:
                csv_import.import_results(session, late, agency=agency, settings=settings, actor=ACTOR, mode=mode)
            assert unnamed_files() == before, caught
        with pytest.raises(csv_import.UnreadableFile, match="Unknown columns") as caught:
            csv_import.import_results(session, b"colour\nred\n", agency=agency, settings=settings, actor=ACTOR)
        assert unnamed_files() == before, caught

    def test_the_api_streams_the_same_answer_and_leaves_no_file(
        self,
        client: TestClient,
        session: Session,
        agency: Agency,  # noqa: F811
        deqar_ids: list[str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(bulk, "CHUNK", 3)
        secret = make_token(session, agency.id or 0)
        session.commit()
        data, expected = broken_file(deqar_ids)
        before = unnamed_files()
        answer = client.post(f"{URL}?mode=all-or-nothing", content=data, headers=bearer(secret))
        assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/problem+json")
        body = answer.json()
        assert body["status"] == 400 and body["detail"] == "4 rows were rejected; nothing was saved."
        assert (body["counts"], body["saved"], body["mode"]) == ({"created": 8, "rejected": 4}, False, "all-or-nothing")
        assert [r["row"] for r in body["rows"]] == list(range(2, 14))
        assert {r["row"] for r in body["rows"] if r["submission_status"] == "rejected"} == set(expected)
        assert body["rows"][8]["errors"] == {"local_identifier": ["row 2 has the same local identifier"]}
        as_csv = client.post(URL, content=data, headers={**bearer(secret), "accept": "text/csv"})
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert len(list(csv.reader(io.StringIO(as_csv.text)))) == 1 + 12
        unreadable = client.post(URL, content=data + b"BULK," + b"x" * 200_000 + b"\n", headers=bearer(secret))
        assert unreadable.status_code == 400 and "cannot be read after row 13" in unreadable.json()["detail"]
        assert unnamed_files() == before

    def test_the_page_shows_the_first_lines_and_the_download_has_every_row(
        self,
        client: TestClient,
        world: World,
        session: Session,
        deqar_ids: list[str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(views, "PAGE_LINES", 5)
        sign_in(client, world.emails["editor_a"])
        acronym = session.get(Agency, world.agency_a).acronym  # type: ignore[union-attr]
        data, expected = broken_file(deqar_ids)
        before = unnamed_files()
        form = {"agency_id": str(world.agency_a), "mode": "row-by-row"}
        content = data.replace(b"\nBULK,", f"\n{acronym},".encode())
        page = post_form(client, "/staff/imports/", form, files={"file": ("reports.csv", content, "text/csv")})
        assert page.status_code == 400 and "8 created, 4 rejected" in page.text
        assert page.text.count("<tr") == 1 + 5 and "The first 5 lines are shown here" in page.text
        link = page.text.split('href="/staff/imports/reports/')[1].split('"')[0]
        download = list(csv.reader(io.StringIO(client.get(f"/staff/imports/reports/{link}").text)))
        assert [int(line[0]) for line in download[1:]] == list(range(2, 14))
        assert {int(line[0]) for line in download[1:] if line[2] == "rejected"} == set(expected)
        assert unnamed_files() == before


def test_the_json_answer_is_one_document_in_any_number_of_pieces() -> None:
    report = ImportReport("row-by-row", False, "utf-8")
    for row in range(2, 9):
        outcome = Outcome(row, f"R-{row}é", "rejected" if row % 3 == 0 else "created", None if row % 3 == 0 else row)
        if row % 3 == 0:
            outcome.errors["valid_from"] = ["not a date"]
        report.add(row, outcome)
    head = {"status": 400, "counts": report.counts()}
    for size in (1, 2, 500):
        reopened = ImportReport("row-by-row", False, "utf-8")
        for r in report.rows():
            reopened.add(r.row, r.outcome)
        body = json.loads(b"".join(json_answer(head, reopened, rows_per_chunk=size)))
        with pytest.raises(ValueError, match="closed file"):
            next(reopened.rows())  # the answer closed the report's spool once sent
        assert body["status"] == 400 and body["counts"] == {"created": 5, "rejected": 2}
        assert [(r["row"], r["local_identifier"], r["result_id"]) for r in body["rows"]][:2] == [
            (2, "R-2é", 2), (3, "R-3é", None),
        ]  # fmt: skip
        assert len(body["rows"]) == 7 and body["rows"][1]["errors"] == {"valid_from": ["not a date"]}
    report.close()


def test_first_rows_names_the_earlier_row_across_chunks() -> None:
    with FirstRows() as first_rows:
        assert first_rows.earlier([(2, "A"), (3, "B"), (4, "A")]) == {4: 2}
        assert first_rows.earlier([(5, "B"), (6, "C"), (7, "C"), (8, "A")]) == {5: 3, 7: 6, 8: 2}
        assert first_rows.earlier([]) == {}
