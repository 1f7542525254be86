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
    missing = _run(env, "import", "results", csv_file, "--agency", "NOPE")
    assert missing.returncode != 0 and "there is no agency 'NOPE'" in missing.stderr


def test_the_json_example_is_valid_json_for_the_demo_agency() -> None:
    reports = json.loads((EXAMPLES / "programme.json").read_text())
    assert {report["agency"] for report in reports} == {"DAC"}
