"""Import reports and progress files under var/ are removed once they have expired, and only then."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from litestar.testing import TestClient

from registry.settings import Settings
from registry.submissions import housekeeping
from tests.conftest import sign_in
from tests.factories import World

DAY = 86400.0


def _file(folder: Path, name: str, age_seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("row,message\n")
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def test_expired_reports_and_stale_progress_files_are_removed(settings: Settings) -> None:
    reports = settings.var_dir / housekeeping.REPORT_AREA
    progress = settings.var_dir / housekeeping.PROGRESS_AREA
    old_report = _file(reports, "1-old.csv", (housekeeping.REPORT_KEEP_DAYS + 0.1) * DAY)
    young_report = _file(reports, "1-young.csv", (housekeeping.REPORT_KEEP_DAYS - 0.1) * DAY)
    stale_progress = _file(progress, "1-stale.json", 1.1 * DAY)
    running_progress = _file(progress, "1-running.json", 60)
    assert housekeeping.prune(settings) == 2
    assert not old_report.exists() and not stale_progress.exists()
    assert young_report.exists() and running_progress.exists()
    assert housekeeping.prune(settings) == 0


def test_a_registry_that_never_imported_has_nothing_to_prune(tmp_path: Path, settings: Settings) -> None:
    fresh = dataclasses.replace(settings, var_dir=tmp_path / "never-imported")
    assert housekeeping.prune(fresh) == 0
    assert not (fresh.var_dir / housekeeping.REPORT_AREA).exists()


def test_an_expired_report_download_says_how_long_reports_are_kept(
    client: TestClient, world: World, settings: Settings
) -> None:
    sign_in(client, world.emails["editor_a"])
    user_id = world.user_ids["editor_a"]
    name = f"{user_id}-{'a' * 22}.csv"
    path = _file(settings.var_dir / housekeeping.REPORT_AREA, name, (housekeeping.REPORT_KEEP_DAYS + 1) * DAY)
    assert client.get(f"/staff/imports/reports/{name}").status_code == 200
    housekeeping.prune(settings)
    assert not path.exists()
    gone = client.get(f"/staff/imports/reports/{name}", headers={"accept": "text/html"})
    assert gone.status_code == 404
    assert f"kept for {housekeeping.REPORT_KEEP_DAYS} days" in gone.text
