"""DEQAR's CSV layout: one row per report, numbered columns for institutions, programmes, files and links.

Rows become the same report objects the JSON API takes and go through the same submit_report.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TextIO

from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry import documents
from registry.agencies.models import Agency
from registry.audit.services import Actor
from registry.db import begin_write
from registry.settings import Settings
from registry.submissions import bulk
from registry.submissions.fetching import ReportFetches
from registry.submissions.fields import CELLS_BEYOND_HEADER
from registry.submissions.import_report import FirstRows, ImportReport
from registry.submissions.institutions import MASTER_DATA_FIELDS
from registry.submissions.services import Outcome

MAX_CSV_BYTES = documents.MAX_DOCUMENT_BYTES
MODES = ("row-by-row", "all-or-nothing")
SCALARS = {
    "agency", "report_id", "local_identifier", "activity", "activity_local_identifier", "activity_type", "status",
    "decision", "summary", "valid_from", "valid_to", "date_format", "other_comment", "conditions_due", "revoked_from",
    "limit_eqf_levels", "limit_fields", "limit_jurisdictions",
}  # fmt: skip
LISTS = {"limit_eqf_levels", "limit_fields", "limit_jurisdictions"}
_CONTRIBUTING = re.compile(r"^contributing_agencies\[(\d+)\]$")
_LINK = re.compile(r"^(link|link_display_name)\[(\d+)\]$")
_FILE = re.compile(r"^file\[(\d+)\]\.(original_location|display_name|report_language\[\d+\])$")
_NESTED = re.compile(r"^(institution|programme|platform)\[(\d+)\]\.([a-z_]+)(?:\[(\d+)\])?$")
NESTED_FIELDS = {
    "institution": {
        "deqar_id", "eter_id", "name_official", "name_official_transliterated", "name_english", "acronym",
        "website_link", "identifier", "resource", "name_alternative", "name_alternative_transliterated", "country",
        "city", "latitude", "longitude", "qf_ehea_level", "provider_type",
    },
    "programme": {
        "name_primary", "qualification_primary", "nqf_level", "qf_ehea_level", "eqf_level", "degree_outcome",
        "workload_ects", "learning_outcome_description", "field_study", "isced_field", "assessment_certification",
        "identifier", "resource", "name_alternative", "qualification_alternative", "country", "learning_outcome",
    },
}  # fmt: skip
NESTED_FIELDS["platform"] = NESTED_FIELDS["institution"]


class UnreadableFile(Exception):
    """The file as a whole cannot be read (encoding, header); nothing was written."""


_BLOCK = 1 << 20


def detect_encoding(stream: BinaryIO) -> str:
    """UTF-8 with BOM ("utf-8-sig"), UTF-8, else Windows-1252, read a block at a time; leaves stream at 0."""
    stream.seek(0)
    start = stream.read(4096)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in start:
        # Excel's "Unicode text" and other UTF-16/32 files: read as Windows-1252 they would be mojibake.
        raise UnreadableFile("The file is UTF-16 or UTF-32 (it holds NUL bytes): save it as CSV UTF-8.")
    stream.seek(0)
    if stream.read(3) == b"\xef\xbb\xbf":
        encoding = "utf-8-sig"
    else:
        stream.seek(0)
        encoding = "utf-8"
    utf8_error = _first_error(stream, "utf-8")
    if utf8_error is not None:
        stream.seek(0)
        if encoding == "utf-8-sig" or _first_error(stream, "cp1252") is not None:
            stream.seek(0)
            raise UnreadableFile(
                f"The file is neither UTF-8 nor Windows-1252 (byte {utf8_error}): save it as UTF-8 CSV."
            )
        encoding = "windows-1252"
    stream.seek(0)
    return encoding


def _first_error(stream: BinaryIO, encoding: str) -> int | None:
    """The offset of the first byte the encoding cannot read from here on, or None."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = stream.tell()
    while True:
        block = stream.read(_BLOCK)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            return offset - pending + error.start
        if not block:
            return None
        offset += len(block)


def _text(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    codec = {"windows-1252": "cp1252"}.get(encoding, encoding)
    return io.TextIOWrapper(stream, encoding=codec, newline="")


def _plan(header: list[str]) -> list[Callable[[dict[str, Any], str], None]]:
    """For each column, how its cell goes into the report object; unknown columns refuse the file."""
    unknown: list[str] = []
    plan: list[Callable[[dict[str, Any], str], None]] = []
    for raw in header:
        name = raw.strip().lower()
        plan.append(_placer(name) or _unknown(unknown, raw))
    if unknown:
        raise UnreadableFile("Unknown columns: " + ", ".join(unknown) + ". Use DEQAR's CSV column names.")
    return plan


def _unknown(unknown: list[str], raw: str) -> Callable[[dict[str, Any], str], None]:
    unknown.append(repr(raw))
    return lambda _report, _value: None


def _slot(items: list[dict[str, Any]], number: int) -> dict[str, Any]:
    while len(items) < number:
        items.append({})
    return items[number - 1]


def _placer(name: str) -> Callable[[dict[str, Any], str], None] | None:
    if name in SCALARS:
        if name in LISTS:

            def put_list(report: dict[str, Any], value: str) -> None:
                parts = [p for p in value.replace(",", " ").split() if p]
                report[name] = [int(p) if p.isdigit() and name == "limit_eqf_levels" else p for p in parts]

            return put_list
        if name in {"report_id", "other_comment"}:
            return lambda _report, _value: None
        return lambda report, value: report.__setitem__(name, value)
    if match := _CONTRIBUTING.match(name):
        return lambda report, value: report.setdefault("contributing_agencies", []).append(value)
    if match := _LINK.match(name):
        key, number = ("link" if match.group(1) == "link" else "link_display_name"), int(match.group(2))
        return lambda report, value: _slot(report.setdefault("report_links", []), number).__setitem__(key, value)
    if match := _FILE.match(name):
        number, key = int(match.group(1)), match.group(2)
        if key.startswith("report_language"):
            return lambda report, value: (
                _slot(report.setdefault("report_files", []), number).setdefault("report_language", []).append(value)
            )

        def put_file(report: dict[str, Any], value: str) -> None:
            _slot(report.setdefault("report_files", []), number)[key] = value

        put_file.is_file_location = key == "original_location"  # type: ignore[attr-defined]
        return put_file
    if (match := _NESTED.match(name)) and match.group(3) in NESTED_FIELDS[match.group(1)]:
        kind, number, key, sub = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        wrapper = {"institution": "institutions", "programme": "programmes", "platform": "institutions"}[kind]
        if kind == "platform":
            number += 1000  # platforms after institutions; compacted in _row
        if key in {"identifier", "resource"} and sub:
            index = int(sub)

            def put_identifier(report: dict[str, Any], value: str) -> None:
                item = _slot(report.setdefault(wrapper, []), number)
                _slot(item.setdefault("identifiers", []), index)[key] = value

            return put_identifier
        if key in {"deqar_id", "eter_id", "name_primary", "qualification_primary", "nqf_level", "qf_ehea_level",
                   "eqf_level", "workload_ects", "isced_field", "field_study"} and not (
            kind != "programme" and key == "qf_ehea_level"
        ):  # fmt: skip
            target = "isced_field" if key == "field_study" else key
            return lambda report, value: _slot(report.setdefault(wrapper, []), number).__setitem__(target, value)
        if kind != "programme" and key in MASTER_DATA_FIELDS:
            # A provider new to the registry is created from these when the upload may create providers.
            return lambda report, value: _slot(report.setdefault(wrapper, []), number).__setitem__(key, value)

        # Master data the registry does not take from a report (names, locations): accepted, not used.
        def keep_slot(report: dict[str, Any], _value: str) -> None:
            _slot(report.setdefault(wrapper, []), number)

        return keep_slot
    return None


def _row(plan: list[Callable[[dict[str, Any], str], None]], cells: list[str]) -> dict[str, Any]:
    """The report object of one row. Missing cells at the end are empty (as in DEQAR); cells beyond the header
    are an error unless they are empty too (the trailing separators spreadsheets write)."""
    report: dict[str, Any] = {}
    for place, cell in zip(plan, cells, strict=False):
        value = cell.strip()
        if value and value != "-":
            place(report, value)
    beyond = {number: cell.strip() for number, cell in enumerate(cells[len(plan) :], len(plan) + 1) if cell.strip()}
    if beyond:
        report[CELLS_BEYOND_HEADER] = (len(plan), beyond)
    for key in ("institutions", "programmes", "report_links", "report_files"):
        if key in report:
            report[key] = [_compact(item) for item in report[key] if _compact(item)]
    for programme in report.get("programmes", []):
        if isinstance(programme.get("workload_ects"), str):
            try:
                programme["workload_ects"] = float(programme["workload_ects"])
            except ValueError:
                programme["workload_ects"] = None
    return report


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in item.items() if v not in ({}, [], "")}
    if "identifiers" in clean:
        clean["identifiers"] = [i for i in clean["identifiers"] if i]
    return clean


def rows(text: str | TextIO) -> tuple[list[Callable[[dict[str, Any], str], None]], Iterator[list[str]]]:
    source = io.StringIO(text, newline="") if isinstance(text, str) else text
    start = source.read(65536)
    source.seek(0)
    try:
        dialect = csv.Sniffer().sniff(start.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.reader(source, dialect)
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise UnreadableFile("The file is empty: the first line names the columns.")
    return _plan(header), reader


def report_locations(data: bytes | BinaryIO) -> list[str]:
    """The report files the rows name by URL (file[n].original_location), to fetch before the import's transaction.

    Reads the file as a stream, as the import does, and leaves a stream open and rewound.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    text = _text(stream, detect_encoding(stream))
    found: list[str] = []
    try:
        plan, reader = rows(text)
        if not any(getattr(place, "is_file_location", False) for place in plan):
            return []
        for cells in reader:
            for place, cell in zip(plan, cells, strict=False):
                if getattr(place, "is_file_location", False) and cell.strip() not in ("", "-"):
                    found.append(cell.strip())
    except csv.Error:
        return found  # the import itself reports the unreadable row
    finally:
        text.detach()
        stream.seek(0)
    return found


def import_results(
    session: Session,
    data: bytes | BinaryIO,
    *,
    agency: Agency,
    settings: Settings,
    actor: Actor,
    mode: str = "row-by-row",
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    may_create_providers: bool = False,
    fetched: ReportFetches | None = None,
) -> ImportReport:
    """Submit every row; in all-or-nothing mode one rejected row rolls back the rest (the caller's transaction).

    The file (bytes, or a binary file open for reading) is read a chunk of rows at a time and each
    chunk is looked up and written together (registry/submissions/bulk.py), so a large file is never
    held as rows in memory; each row's outcome goes to the report's spool file, the local identifiers
    seen to a temporary database (registry/submissions/import_report.py). Row-by-row mode commits every
    bulk.COMMIT_ROWS rows (the derived state is refreshed once per commit); all-or-nothing stays one
    transaction, committed or rolled back by the caller. The caller closes the report returned.
    """
    if mode not in MODES:
        raise UnreadableFile(f"The mode is one of: {', '.join(MODES)}.")
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    encoding = detect_encoding(stream)
    plan, reader = rows(_text(stream, encoding))
    report = ImportReport(mode, dry_run, encoding)
    try:
        with FirstRows() as first_rows:
            _import_rows(
                session, plan, reader, report, first_rows, agency=agency, settings=settings, actor=actor,
                progress=progress, may_create_providers=may_create_providers, fetched=fetched,
            )  # fmt: skip
    except BaseException:
        report.close()
        raise
    if mode == "all-or-nothing" and report.rejected and not dry_run:
        report.rolled_back = True
    return report


def _import_rows(
    session: Session,
    plan: list[Callable[[dict[str, Any], str], None]],
    reader: Iterator[list[str]],
    report: ImportReport,
    first_rows: FirstRows,
    *,
    agency: Agency,
    settings: Settings,
    actor: Actor,
    progress: Callable[[int], None] | None,
    may_create_providers: bool,
    fetched: ReportFetches | None,
) -> None:
    commit_chunks = report.mode == "row-by-row" and not report.dry_run
    uncommitted = 0
    read = [1]  # the number of the last row read, for the message about a row that cannot be read
    # All-or-nothing: the rows are written inside one savepoint, undone if the file turns out unreadable.
    whole = session.begin_nested() if report.mode == "all-or-nothing" and not report.dry_run else None
    with bulk.upload(session, agency) as lookups:
        try:
            for chunk in _chunked(reader, bulk.CHUNK, read):
                items = [(number, _row(plan, cells)) for number, cells in chunk]
                named = [(number, str(item.get("local_identifier") or "").strip()) for number, item in items]
                earlier = first_rows.earlier((number, local_id) for number, local_id in named if local_id)
                refused: dict[int, Outcome] = {}
                for number, local_id in named:
                    if number in earlier:
                        refused[number] = Outcome(number, local_id)
                        refused[number].errors["local_identifier"] = [
                            f"row {earlier[number]} has the same local identifier"
                        ]
                pending = [(number, item) for number, item in items if number not in refused]
                submitted = bulk.submit_chunk(
                    session, lookups, pending, agency=agency, settings=settings, actor=actor,
                    dry_run=report.dry_run, may_create_providers=may_create_providers, fetched=fetched,
                )  # fmt: skip
                for row_number, _cells in chunk:
                    report.add(row_number, refused.get(row_number) or next(submitted))
                    if progress:
                        progress(1)
                uncommitted += len(chunk)
                if commit_chunks and uncommitted >= bulk.COMMIT_ROWS:
                    uncommitted = 0
                    session.commit()
                    if isinstance(session.bind, Engine):
                        begin_write(session)
        except csv.Error as error:
            if whole is not None:
                whole.rollback()  # all-or-nothing: the rows before the broken one are not kept either
            raise UnreadableFile(f"The CSV cannot be read after row {read[0]}: {error}") from None
    if whole is not None:
        whole.commit()


def _chunked(reader: Iterator[list[str]], size: int, read: list[int]) -> Iterator[list[tuple[int, list[str]]]]:
    """(row number, cells) of the non-blank rows, a chunk at a time; the header is row 1; read[0] is the last read."""
    chunk: list[tuple[int, list[str]]] = []
    for number, cells in enumerate(reader, start=2):
        read[0] = number
        if not any(cell.strip() for cell in cells):
            continue
        chunk.append((number, cells))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
