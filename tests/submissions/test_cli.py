"""`registry import results` against a migrated database with the demo data, and the example files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import _env, _run, empty_database_url  # noqa: F401 (the fixture)

EXAMPLES = Path(__file__).parents[2] / "examples" / "submissions"


def test_import_results_dry_run_then_for_real_then_unchanged(empty_database_url: str, tmp_path: Path) -> None:  # noqa: F811
    env = _env(empty_database_url, tmp_path)
    for step in (("db", "upgrade"), ("reference", "load"), ("demo", "load")):
        assert _run(env, *step).returncode == 0
    csv_file = str(EXAMPLES / "reports.csv")
    dry = _run(env, "import", "results", csv_file, "--agency", "DAC", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "2 created (utf-8); dry run, nothing saved" in dry.stdout
    assert "rows" in dry.stderr  # the progress bar
    real = _run(env, "import", "results", csv_file, "--agency", "DAC")
    assert "2 created (utf-8); saved" in real.stdout, real.stdout + real.stderr
    report = tmp_path / "report.csv"
    again = _run(env, "import", "results", csv_file, "--agency", "dac", "--report", str(report))
    assert "2 unchanged" in again.stdout
    assert report.read_text().splitlines()[0] == "row,local_identifier,status,result_id,column,message"
    other = _run(env, "import", "results", csv_file, "--agency", "NQA", "--mode", "all-or-nothing")
    assert other.returncode == 1 and "reports may only be submitted for NQA" in other.stdout
    assert "nothing saved" in other.stdout
    every_row_rejected = _run(env, "import", "results", csv_file, "--agency", "NQA")
    assert every_row_rejected.returncode == 1 and "2 rejected (utf-8); nothing saved" in every_row_rejected.stdout
    missing = _run(env, "import", "results", csv_file, "--agency", "NOPE")
    assert missing.returncode != 0 and "there is no agency 'NOPE'" in missing.stderr


def test_the_json_example_is_valid_json_for_the_demo_agency() -> None:
    reports = json.loads((EXAMPLES / "programme.json").read_text())
    assert {report["agency"] for report in reports} == {"DAC"}


def test_import_results_creates_providers_only_when_asked_and_fetches_report_files(
    empty_database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = _env(empty_database_url, tmp_path)
    for step in (("db", "upgrade"), ("reference", "load"), ("demo", "load")):
        assert _run(env, *step).returncode == 0
    csv_file = tmp_path / "new.csv"
    csv_file.write_text(
        "agency,local_identifier,activity,status,decision,valid_from,institution[1].eter_id,"
        "institution[1].name_official,institution[1].country,institution[1].provider_type,file[1].original_location\n"
        "DAC,CLI-NEW-1,institutional audit,voluntary,positive,2024-01-01,PT0077,Escola CLI,PT,other,\n"
        "DAC,CLI-NEW-2,institutional audit,voluntary,positive,2024-01-01,PT0077,Escola CLI,PT,other,"
        "https://reports.invalid/r.pdf\n"
    )
    refused = _run(env, "import", "results", str(csv_file), "--agency", "DAC")
    assert refused.returncode == 1 and "needs the scope 'providers:create'" in refused.stdout, refused.stdout
    created = _run(env, "import", "results", str(csv_file), "--agency", "DAC", "--create-providers")
    assert created.returncode == 1, created.stdout + created.stderr
    assert "fetching 1 report files" in created.stderr
    assert "file[1].original_location: the report file could not be fetched" in created.stdout
    assert "1 created, 1 rejected" in created.stdout
    again = _run(env, "import", "results", str(csv_file), "--agency", "DAC", "--create-providers")
    assert "1 rejected, 1 unchanged" in again.stdout, again.stdout
