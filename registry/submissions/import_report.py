"""What happened to each row of an upload, kept on disk as it is written, so memory does not grow with the file.

A 100,000-row file's outcomes, held as objects, were what grew an import's memory with the file's
size; written to an anonymous temporary file as compact JSON lines instead, only the counts stay in
memory, and the answer, the page's downloadable report and the command line's --report are read back
from the file a line at a time. The file has no name: the system frees it when the report is closed,
or when the process ends, whatever happens.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from registry.submissions.services import Outcome

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NOT_SAVED = "not saved (all-or-nothing)"
HEADER = ["row", "local_identifier", "status", "result_id", "column", "message"]
_BLOCK = 1 << 16


@dataclass
class RowReport:
    row: int
    outcome: Outcome


class ImportReport:
    """The outcome of every row, spooled to a temporary file; counts in memory. Close it when done (or use `with`)."""

    def __init__(self, mode: str, dry_run: bool, encoding: str) -> None:
        self.mode = mode
        self.dry_run = dry_run
        self.encoding = encoding
        self.rolled_back = False
        self._counts: dict[str, int] = {}
        # Closed by close(): the report outlives this call (a streamed answer reads it after the import).
        self._spool = tempfile.TemporaryFile("w+b")  # noqa: SIM115

    def __enter__(self) -> ImportReport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._spool.close()

    def add(self, row: int, outcome: Outcome) -> None:
        status = outcome.submission_status
        self._counts[status] = self._counts.get(status, 0) + 1
        o = outcome
        record = [row, o.index, o.local_identifier, status, o.result_id, o.errors, o.warnings]
        self._spool.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")

    @property
    def rejected(self) -> int:
        return self._counts.get("rejected", 0)

    @property
    def saved(self) -> bool:
        return not self.dry_run and not self.rolled_back

    @property
    def every_row_rejected(self) -> bool:
        return bool(self._counts) and set(self._counts) == {"rejected"}

    @property
    def nothing_saved(self) -> bool:
        """True after a dry run, a rolled-back all-or-nothing upload, or an upload whose every row was rejected."""
        return not self.saved or self.every_row_rejected

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def rows(self) -> Iterator[RowReport]:
        """Every row's outcome, in the order read, from the spool (each call reads it from the start)."""
        self._spool.flush()
        descriptor, offset, rest = self._spool.fileno(), 0, b""
        # pread: two readers (the page's lines and its download) never move each other's place.
        while block := os.pread(descriptor, _BLOCK, offset):
            offset += len(block)
            *lines, rest = (rest + block).split(b"\n")
            for line in lines:
                row, index, local_id, status, result_id, errors, warnings = json.loads(line)
                yield RowReport(row, Outcome(index, local_id, status, result_id, errors, warnings))

    def status_of(self, outcome: Outcome) -> str:
        if self.rolled_back and outcome.submission_status != "rejected":
            return NOT_SAVED
        return outcome.submission_status

    def lines(self) -> Iterator[tuple[int, str, str, str, str, str]]:
        """(row, local identifier, status, result id, column, message): one line per error or warning."""
        for r in self.rows():
            o = r.outcome
            base = (r.row, o.local_identifier or "", self.status_of(o), str(o.result_id or ""))
            if not o.errors and not o.warnings:
                yield (*base, "", "")
            for name, messages in o.errors.items():
                for message in messages:
                    yield (*base, column_of(name), message)
            for message in o.warnings:
                yield (*base, "", f"warning: {message}")

    def summary(self) -> dict[str, Any]:
        """The answer's fields other than its rows."""
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "encoding": self.encoding,
            "saved": self.saved,
            "counts": self.counts(),
        }

    def row_answers(self) -> Iterator[dict[str, Any]]:
        for r in self.rows():
            yield {"row": r.row, **r.outcome.as_dict(), "submission_status": self.status_of(r.outcome)}


def json_answer(head: dict[str, Any], report: ImportReport, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """`{**head, "rows": [...]}` as JSON, a few hundred rows at a time; closes the report at the end."""
    try:
        opening = json.dumps(head, ensure_ascii=False)
        yield (opening[:-1] + (", " if head else "") + '"rows": [').encode()
        batch: list[str] = []
        first = True
        for answer in report.row_answers():
            batch.append(json.dumps(answer, ensure_ascii=False))
            if len(batch) >= rows_per_chunk:
                yield _joined(batch, first)
                batch, first = [], False
        if batch:
            yield _joined(batch, first)
        yield b"]}"
    finally:
        report.close()


def _joined(answers: list[str], first: bool) -> bytes:
    return (("" if first else ", ") + ", ".join(answers)).encode()


def column_of(name: str) -> str:
    """The CSV column a report field's error belongs to (institutions[0] is institution[1])."""
    match = re.match(r"^(institutions|programmes|report_files)\[(\d+)\](.*)$", name)
    if not match:
        return name
    singular = {"institutions": "institution", "programmes": "programme", "report_files": "file"}[match.group(1)]
    return f"{singular}[{int(match.group(2)) + 1}]{match.group(3)}"


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def report_csv(report: ImportReport, lines_per_chunk: int = 500) -> Iterator[str]:
    """The per-row report as CSV text, a few hundred lines at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for number, line in enumerate(report.lines(), start=1):
        writer.writerow([safe_cell(cell) for cell in line])
        if number % lines_per_chunk == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


class FirstRows:
    """The row on which each local identifier was first seen in an upload, in a private temporary SQLite database.

    An upload rejects a row whose local identifier an earlier row had, naming that row. Held in a dict,
    the identifiers of a 100,000-row file took memory in proportion to it; SQLite's own temporary
    database keeps at most its page cache (about 2 MB) in memory and is gone when closed.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("CREATE TABLE seen (local_id TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")

    def __enter__(self) -> FirstRows:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._db.close()

    def earlier(self, rows: Iterable[tuple[int, str]]) -> dict[int, int]:
        """For the (row, local identifier) of a chunk, in order: {row: the earlier row with its identifier}.

        Records the identifiers not seen before, with the first row that had them.
        """
        rows = list(rows)
        wanted = sorted({local_id for _row, local_id in rows})
        first: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            names = wanted[start : start + 500]
            query = f"SELECT local_id, row FROM seen WHERE local_id IN ({', '.join('?' * len(names))})"
            first.update(self._db.execute(query, names))
        repeated: dict[int, int] = {}
        new: list[tuple[str, int]] = []
        for row, local_id in rows:
            if local_id in first:
                repeated[row] = first[local_id]
            else:
                first[local_id] = row
                new.append((local_id, row))
        self._db.executemany("INSERT INTO seen (local_id, row) VALUES (?, ?)", new)
        return repeated
