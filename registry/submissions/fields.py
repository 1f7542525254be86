"""A submitted report's fields read into the registry's terms: dates, programmes, report files, links, vocabularies.

Each reader records what it cannot read in Problems, under the report's own field name, and carries on,
so a report's answer names every problem at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from registry import documents
from registry.errors import ValidationFailed
from registry.qa import services as qa
from registry.submissions.fetching import Fetched, ReportFetches
from registry.vocabulary import ACTIVITY_TYPES, DECISIONS

STATUS_NAMES = {
    "part of obligatory eqa system": "part of obligatory external QA system",
    "part of obligatory external qa system": "part of obligatory external QA system",
    "voluntary": "voluntary",
}
# DEQAR also accepts its vocabularies' numeric ids.
STATUS_IDS = {"1": "part of obligatory eqa system", "2": "voluntary"}
DECISION_IDS = {"1": DECISIONS[0], "2": DECISIONS[1], "3": DECISIONS[2], "4": DECISIONS[3]}
QF_EHEA_TO_EQF = {
    "short cycle": 5, "first cycle": 6, "second cycle": 7, "third cycle": 8, "0": 5, "1": 6, "2": 7, "3": 8,
}  # fmt: skip


class Problems:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def activity_type(report: dict[str, Any]) -> str | None:
    """Our activity type for DEQAR's activity name (e.g. "programme review"), or the type itself."""
    raw = report.get("activity_type") or report.get("activity") or report.get("activity_local_identifier")
    text = str(raw or "").strip().lower()
    if not text:
        return None
    if text in ACTIVITY_TYPES:
        return text
    if "joint" in text:
        return "joint programme"
    if "institution" in text and "programme" in text:
        return "institutional/programme"
    if "programme" in text or "program" in text:
        return "programme"
    if "institution" in text or "audit" in text:
        return "institutional"
    return None


EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def date(problems: Problems, name: str, value: Any, date_format: str) -> dt.date | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        day = dt.datetime.strptime(str(value).strip(), date_format).date()
    except ValueError:
        problems.add(name, f"{value!r} does not match the date format {date_format!r}")
        return None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        problems.add(name, f"{value!r} is out of range: give a year from {EARLIEST_YEAR} to {LATEST_YEAR}")
        return None
    return day


def list_items(problems: Problems, name: str, value: Any) -> list[Any]:
    """A list field's items; anything but a list is an error, not a list of its characters."""
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        problems.add(name, "a list is expected")
        return []
    return value


def programmes(problems: Problems, warnings: list[str], items: Any) -> list[qa.ProgrammeInput]:
    result: list[qa.ProgrammeInput] = []
    if not isinstance(items, list):
        if items:
            problems.add("programmes", "a list of programmes is expected")
        return result
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.add(f"programmes[{index}]", "a programme is an object")
            continue
        name = str(item.get("name_primary") or item.get("name") or "").strip()
        level: int | None = None
        raw_level = item.get("eqf_level") or item.get("qf_ehea_level")
        if isinstance(raw_level, int) and not isinstance(raw_level, bool):
            level = raw_level if "eqf_level" in item else QF_EHEA_TO_EQF.get(str(raw_level))
        elif raw_level:
            text = str(raw_level).strip().lower()
            last = text.split()[-1] if text.split() else ""
            level = QF_EHEA_TO_EQF.get(text) or (int(last) if last.isdigit() and len(last) < 3 else None)
            if level is None:
                problems.add(f"programmes[{index}].qf_ehea_level", f"{raw_level!r} is not a QF-EHEA or EQF level")
        if level is None and not raw_level:
            warnings.append(f"programme {name or index!r} has no EQF level")
        identifiers = item.get("identifiers") or []
        identifier = None
        if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict):
            identifier = str(identifiers[0].get("identifier") or "") or None
        ects = item.get("ects") or item.get("workload_ects")
        result.append(
            qa.ProgrammeInput(
                name=name,
                identifier=identifier,
                ects=float(ects) if isinstance(ects, int | float) else None,
                eqf_level=level,
                isced_field=str(item.get("isced_field") or "").strip() or None,
            )
        )
    return result


def report_files(problems: Problems, items: Any, fetched: ReportFetches | None) -> list[documents.CheckedDocument]:
    """Report files sent base64-encoded or fetched by URL before the transaction, each checked like an upload."""
    files: list[documents.CheckedDocument] = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            problems.add(f"report_files[{index}]", "a report file is an object")
            continue
        name = str(item.get("file_original_filename") or "").strip()
        if not item.get("file"):
            location = str(item.get("original_location") or "").strip()
            if not location:
                problems.add(
                    f"report_files[{index}]", "give the file base64-encoded in `file`, or its original_location"
                )
                continue
            found = fetched.get(location) if fetched is not None else Fetched(location, error="it was not fetched")
            if found.error is not None:
                problems.add(f"report_files[{index}].original_location", found.error)
                continue
            where, data, name = f"report_files[{index}].original_location", found.read(), name or found.filename
        else:
            where = f"report_files[{index}].file"
            try:
                data = base64.b64decode(str(item["file"]), validate=True)
            except (binascii.Error, ValueError):
                problems.add(where, "this is not valid base64")
                continue
        try:
            files.append(documents.check(data, name or "report.pdf", fallback_name="report"))
        except ValidationFailed as error:
            for message in error.errors.values():
                problems.add(where, message)
    return files


def links(items: Any) -> list[str]:
    links = []
    for item in items if isinstance(items, list) else []:
        link = item.get("link") if isinstance(item, dict) else item
        if link:
            links.append(str(link))
    return links


# The CSV reader's key for a row's cells beyond its header: (the header's column count, {column number: cell}).
# A JSON report cannot carry it (JSON has no tuples, and its object keys are strings): there it is an unknown field.
CELLS_BEYOND_HEADER = "cells beyond the header"


def cells_beyond_header(problems: Problems, report: dict[str, Any]) -> bool:
    """An error under "column N" for each non-empty cell of a CSV row beyond its header; whether the row had any."""
    found = report.get(CELLS_BEYOND_HEADER)
    if not (isinstance(found, tuple) and len(found) == 2 and isinstance(found[1], dict)):
        return False
    columns, cells = found
    for position, cell in sorted(cells.items()):
        problems.add(
            f"column {position}",
            f"the header names {columns} columns, but this row has a value in column {position} "
            f"({spreadsheet_column(position)} in a spreadsheet): {cell!r}; remove it or name the column in the header",
        )
    return True


def spreadsheet_column(position: int) -> str:
    """A column's number as a spreadsheet names it: 1 is A, 27 is AA."""
    letters = ""
    while position > 0:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
