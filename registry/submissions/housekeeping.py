"""What an import leaves under var/: per-row reports for their uploaders to download, and progress files.

Reports are kept for REPORT_KEEP_DAYS, long enough to download after a long import and short enough
that var/ does not fill up with them; a progress file outlives its import only when the process
stopped part way, and goes after a day.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from registry.settings import Settings

REPORT_AREA = "import-reports"
PROGRESS_AREA = "import-progress"
REPORT_KEEP_DAYS = 7
PROGRESS_KEEP = dt.timedelta(days=1)

log = logging.getLogger(__name__)


def prune(settings: Settings, now: float | None = None) -> int:
    """Remove reports older than REPORT_KEEP_DAYS and stale progress files; the number of files removed."""
    now = time.time() if now is None else now
    removed = 0
    for area, keep in ((REPORT_AREA, dt.timedelta(days=REPORT_KEEP_DAYS)), (PROGRESS_AREA, PROGRESS_KEEP)):
        removed += _prune_area(settings.var_dir / area, now - keep.total_seconds())
    if removed:
        log.info("removed %d expired import report or progress files", removed)
    return removed


def _prune_area(folder: Path, before: float) -> int:
    removed = 0
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return 0
    for path in entries:
        try:
            if path.is_file() and path.stat().st_mtime < before:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # another worker's prune, or the import itself, removed it first
    return removed
