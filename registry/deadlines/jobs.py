"""The deadlines domain's periodic job."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from registry.db import session_scope
from registry.deadlines.sweep import run_sweep
from registry.settings import Settings
from registry.timeutil import today

log = logging.getLogger(__name__)


def sweep(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        report = run_sweep(session, today(), settings)
    log.info("deadline sweep: %s", report)
