"""CSV uploads in DEQAR's layout: rows, encodings, duplicates, modes and the per-row report."""

from __future__ import annotations

import csv
import io

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from registry.qa.models import QAResult, QAResultProgramme
from registry.submissions import csv_import
from registry.submissions.import_report import safe_cell
from tests import factories as f
from tests.factories import World
from tests.submissions.test_api import URL as JSON_URL
from tests.submissions.test_api import bearer, make_token, programme_report

URL = "/api/v1/submissions/results.csv"
# DEQAR's own programme CSV example (fulltest_prog.csv), adapted to the test agency and identifiers; its
# report file is a link here (files by URL are fetched: tests/submissions/test_report_fetch.py).
HEADER = (
    "agency,local_identifier,activity,status,decision,valid_from,valid_to,date_format,"
    "link[1],link_display_name[1],"
    "institution[1].deqar_id,institution[1].eter_id,"
    "programme[1].identifier[1],programme[1].name_primary,programme[1].qualification_primary,"
    "programme[1].name_alternative[1],programme[1].degree_outcome,programme[1].qf_ehea_level,"
    "programme[2].identifier[1],programme[2].name_primary,programme[2].qualification_primary,"
    "programme[2].name_alternative[1],programme[2].degree_outcome,programme[2].qf_ehea_level,other_comment"
)
ROWS = [
    "AAA,ANTWERP-May18,programme review,voluntary,not applicable,2015-03-14,,%Y-%m-%d,"
    "https://aaa.example/2019.03.14_Report_Antwerp.pdf,Report,DEQARINST0034,,"
    "MusiQuE32,Arts in Music study programme group,Master,,yes,second cycle,"
    "MusiQuE31,Arts in Music study programme group,Bachelor,,yes,first cycle,",
    "AAA,ESML-Dec17,programme review,2,1,2016-06-18,2017-03-31,%Y-%m-%d,"
    "https://aaa.example/2018.06.06_ESML_report.pdf,Report,,DE0140,"
    "MusiQuE14,Music,Master,Música,1,2,MusiQuE13,Music,Bachelor,Música,1,1,",
]


def upload(rows: list[str], header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture
def institution(session: Session) -> int:
    provider = f.provider(
        session, identifiers=[{"scheme": "deqar", "value": "DEQARINST0034"}, {"scheme": "eter", "value": "DE0140"}]
    )
    return provider.id or 0


def results(session: Session) -> list[QAResult]:
    return list(session.exec(select(QAResult).where(QAResult.local_id.in_(["ANTWERP-May18", "ESML-Dec17"]))))  # type: ignore[union-attr]


class TestCsvUpload:
    def test_deqar_rows_are_created_and_then_unchanged(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        answer = client.post(URL, content=upload(ROWS), headers={**bearer(secret), "content-type": "text/csv"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["counts"] == {"created": 2} and body["encoding"] == "utf-8" and body["saved"]
        stored = {r.local_id: r for r in results(session)}
        esml = stored["ESML-Dec17"]
        assert (esml.status, esml.decision) == ("voluntary", "positive")
        names = session.exec(select(QAResultProgramme).where(QAResultProgramme.result_id == esml.id)).all()
        assert sorted((p.name, p.eqf_level) for p in names) == [("Music", 6), ("Music", 7)]
        assert "https://aaa.example/2018.06.06_ESML_report.pdf" in esml.report_links
        again = client.post(URL, content=upload(ROWS), headers=bearer(secret)).json()
        assert again["counts"] == {"unchanged": 2}
        assert len(results(session)) == 2

    def test_windows_1252_and_bom_are_read_and_other_bytes_refused(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        cp1252 = upload(ROWS[1:]).decode().encode("cp1252")
        answer = client.post(f"{URL}?dry_run=true", content=cp1252, headers=bearer(secret)).json()
        assert answer["encoding"] == "windows-1252" and answer["counts"] == {"created": 1} and not answer["saved"]
        bom = b"\xef\xbb\xbf" + upload(ROWS[1:])
        assert client.post(f"{URL}?dry_run=true", content=bom, headers=bearer(secret)).json()["encoding"] == "utf-8-sig"
        refused = client.post(URL, content=upload(ROWS[1:]) + b"\x81\x8d", headers=bearer(secret))
        assert refused.status_code == 400 and "neither UTF-8 nor Windows-1252" in refused.json()["detail"]
        assert results(session) == []
        # A byte order mark of UTF-16, or NUL bytes, would read as mojibake in Windows-1252: refused by name.
        for utf16 in (upload(ROWS[1:]).decode().encode("utf-16"), upload(ROWS[1:]).decode().encode("utf-16-be")):
            refused = client.post(URL, content=utf16, headers=bearer(secret))
            assert refused.status_code == 400 and "UTF-16" in refused.json()["detail"], refused.text
        # Latin letters in Windows-1252 come out as the same letters.
        accented = upload([ROWS[1].replace("Music,Master", "Música Española,Master")]).decode().encode("cp1252")
        answer = client.post(URL, content=accented, headers=bearer(secret)).json()
        assert answer["encoding"] == "windows-1252" and answer["counts"] == {"created": 1}
        stored = session.exec(
            select(QAResultProgramme.name).where(QAResultProgramme.result_id == answer["rows"][0]["result_id"])
        )
        assert sorted(stored) == ["Music", "Música Española"]

    def test_unknown_columns_refuse_the_file(self, client: TestClient, world: World, session: Session) -> None:
        secret = make_token(session, world.agency_a)
        refused = client.post(URL, content=upload(ROWS, HEADER + ",colour"), headers=bearer(secret))
        assert refused.status_code == 400 and "'colour'" in refused.json()["detail"]

    def test_duplicates_and_bad_rows_are_reported_per_row_and_column(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        bad = ROWS[1].replace("2016-06-18", "18/06/2016").replace("ESML-Dec17", "=HYPERLINK(1)")
        unknown = ROWS[0].replace("DEQARINST0034", "DEQARINST9999").replace("ANTWERP-May18", "X-2")
        rows = [ROWS[0], ROWS[0], bad, unknown]
        answer = client.post(URL, content=upload(rows), headers={**bearer(secret), "accept": "text/csv"})
        assert answer.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(answer.text)))
        assert lines[0] == ["row", "local_identifier", "status", "result_id", "column", "message"]
        by_row = {line[0]: line for line in lines[1:] if line[2] == "rejected"}
        assert "row 2 has the same local identifier" in by_row["3"][5]
        assert by_row["4"][1] == "'=HYPERLINK(1)" and by_row["4"][4] == "valid_from"
        assert by_row["5"][4] == "institution[1]" and "deqar DEQARINST9999" in by_row["5"][5]
        assert [r.local_id for r in results(session)] == ["ANTWERP-May18"]

    def test_a_row_by_row_upload_whose_every_row_fails_says_nothing_was_saved(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        rows = [row.replace("2015-03-14", "someday").replace("2016-06-18", "someday") for row in ROWS]
        answer = client.post(URL, content=upload(rows), headers=bearer(secret))
        assert answer.status_code == 400
        assert answer.json()["detail"] == "2 rows were rejected; nothing was saved."
        partly = client.post(URL, content=upload([ROWS[0], rows[1]]), headers=bearer(secret))
        assert partly.json()["detail"] == "1 row was rejected; the other rows were saved."
        assert [r.local_id for r in results(session)] == ["ANTWERP-May18"]

    def test_all_or_nothing_saves_nothing_when_a_row_fails(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        bad = ROWS[1].replace("2016-06-18", "someday")
        answer = client.post(f"{URL}?mode=all-or-nothing", content=upload([ROWS[0], bad]), headers=bearer(secret))
        assert answer.status_code == 400
        body = answer.json()
        assert not body["saved"] and body["rows"][0]["submission_status"] == "not saved (all-or-nothing)"
        assert results(session) == []

    def test_cells_beyond_the_header_reject_the_row_unless_they_are_empty(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        shifted = ROWS[1] + ",Music,,second cycle"  # 25 columns named, values in columns 26 and 28
        trailing = ROWS[0] + ",,, "  # a spreadsheet's trailing separators
        answer = client.post(URL, content=upload([trailing, shifted]), headers={**bearer(secret), "accept": "text/csv"})
        lines = list(csv.reader(io.StringIO(answer.text)))
        rejected = [line for line in lines[1:] if line[2] == "rejected"]
        assert [(line[0], line[4]) for line in rejected] == [("3", "column 26"), ("3", "column 28")]
        assert "the header names 25 columns" in rejected[0][5] and "'Music'" in rejected[0][5]
        assert "column 28 (AB in a spreadsheet)" in rejected[1][5]
        assert [r.local_id for r in results(session)] == ["ANTWERP-May18"]

    def test_a_row_beyond_the_header_rolls_back_an_all_or_nothing_upload(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        answer = client.post(
            f"{URL}?mode=all-or-nothing", content=upload([ROWS[0], ROWS[1] + ",x"]), headers=bearer(secret)
        )
        assert answer.status_code == 400
        body = answer.json()
        assert body["rows"][1]["errors"] == {
            "column 26": [
                "the header names 25 columns, but this row has a value in column 26 (Z in a spreadsheet): 'x'; "
                "remove it or name the column in the header"
            ]
        }
        assert not body["saved"] and body["rows"][0]["submission_status"] == "not saved (all-or-nothing)"
        assert results(session) == []

    def test_missing_cells_at_the_end_of_a_row_are_empty(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        short = ",".join(next(csv.reader([ROWS[1]]))[:18])  # programme[2] and other_comment left out
        answer = client.post(URL, content=upload([short]), headers=bearer(secret))
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"] == {"created": 1}
        (esml,) = results(session)
        names = session.exec(select(QAResultProgramme.name).where(QAResultProgramme.result_id == esml.id)).all()
        assert names == ["Music"]

    def test_the_csv_key_for_cells_beyond_the_header_is_an_unknown_field_in_json(
        self, client: TestClient, world: World, session: Session, institution: int
    ) -> None:
        secret = make_token(session, world.agency_a)
        report = {**programme_report(), "cells beyond the header": [25, {"26": "x"}]}
        outcome = client.post(JSON_URL, json=report, headers=bearer(secret)).json()["reports"][0]
        assert outcome["errors"] == {"cells beyond the header": ["this field is not part of the submission layout"]}

    def test_a_file_over_the_limit_is_413(self, client: TestClient, world: World, session: Session) -> None:
        secret = make_token(session, world.agency_a)
        answer = client.post(URL, content=b"a" * (csv_import.MAX_CSV_BYTES + 1), headers=bearer(secret))
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("application/problem+json")

    def test_without_a_token_nothing_is_read(self, client: TestClient, world: World) -> None:
        answer = client.post(URL, content=upload(ROWS))
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")


def test_formula_cells_are_neutralised() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+3", "-2", "@SUM", "plain", "\tx")] == [
        "'=1+1", "'+3", "'-2", "'@SUM", "plain", "'\tx",
    ]  # fmt: skip
