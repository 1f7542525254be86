"""The mail domain's periodic job."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from registry.mail.delivery import deliver_due
from registry.settings import Settings
from registry.web import Database

log = logging.getLogger(__name__)


def deliver(engine: Engine, settings: Settings) -> None:
    report = deliver_due(Database(engine), settings)
    if report.sent or report.failed:
        log.info("outbox delivery: %s", report)
