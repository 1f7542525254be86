"""`registry import results FILE.csv --agency ACRONYM`: a DEQAR-layout CSV imported from the command line."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click

from registry.audit.services import Actor
from registry.db import get_engine, session_scope
from registry.settings import get_settings
from registry.submissions import csv_import, fetching
from registry.submissions.import_report import ImportReport, report_csv
from registry.submissions.services import find_agency


@click.group("import")
def import_group() -> None:
    """Import records from files."""


@import_group.command("results")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", "acronym", required=True, help="The agency the reports are for (acronym or DEQAR id).")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option(
    "--mode", type=click.Choice(csv_import.MODES), default="row-by-row", show_default=True,
    help="row-by-row saves the good rows; all-or-nothing saves nothing if any row is rejected.",
)  # fmt: skip
@click.option(
    "--create-providers",
    is_flag=True,
    help="Create providers the registry does not hold from the institution[n] master data columns.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the per-row report (CSV) here.",
)
def import_results(
    file: Path, acronym: str, dry_run: bool, mode: str, create_providers: bool, report_path: Path | None
) -> None:
    """Submit the reports in a CSV file in DEQAR's layout, one row per report."""
    settings = get_settings()
    if file.stat().st_size > csv_import.MAX_CSV_BYTES:
        raise click.ClickException(f"{file} is larger than {csv_import.MAX_CSV_BYTES // (1024 * 1024)} MB")
    try:
        with file.open("rb") as stream:
            urls = csv_import.report_locations(stream)
    except csv_import.UnreadableFile as error:
        raise click.ClickException(str(error)) from None
    # Report files named by URL are fetched first, outside the import's transaction.
    with ExitStack() as spools, fetching.ReportFetches(settings) as fetched:
        if urls:
            click.echo(f"fetching {len(set(urls))} report files", err=True)
            fetched.fetch_all(urls)
        with session_scope(get_engine(settings)) as session:
            agency = find_agency(session, acronym)
            if agency is None:
                raise click.ClickException(f"there is no agency {acronym!r}")
            actor = Actor(f"cli import for {agency.acronym}")
            try:
                with file.open("rb") as stream:
                    lines = max(sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b"")) - 1, 1)
                # The file is read as a stream, a chunk of rows at a time (registry/submissions/bulk.py).
                with file.open("rb") as stream, click.progressbar(length=lines, label="rows", file=sys.stderr) as bar:
                    report = spools.enter_context(
                        csv_import.import_results(
                            session,
                            stream,
                            agency=agency,
                            settings=settings,
                            actor=actor,
                            mode=mode,
                            dry_run=dry_run,
                            progress=lambda rows: bar.update(rows),
                            may_create_providers=create_providers,
                            fetched=fetched,
                        )  # fmt: skip
                    )
            except csv_import.UnreadableFile as error:
                raise click.ClickException(str(error)) from None
            if report.rolled_back:
                session.rollback()
        _print_report(report, report_path)
    if report.rejected:
        raise SystemExit(1)


def _print_report(report: ImportReport, report_path: Path | None) -> None:
    """The report file if asked for, each error and warning, then the counts: all read from the report's spool."""
    if report_path:
        with report_path.open("w", encoding="utf-8", newline="") as out:
            out.writelines(report_csv(report))
    for row, local_id, status, _result, column, message in report.lines():
        if message:
            click.echo(
                f"row {row} ({local_id or 'no local identifier'}): {status}: {column + ': ' if column else ''}{message}"
            )
    by_status = report.counts()
    counts = ", ".join(f"{count} {status}" for status, count in sorted(by_status.items())) or "no rows"
    click.echo(
        f"{counts} ({report.encoding}); "
        + (
            "dry run, nothing saved"
            if report.dry_run
            else "nothing saved"
            if report.nothing_saved or not by_status
            else "saved"
        )
    )
