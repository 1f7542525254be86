"""The mail domain's periodic job."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from registry.db import session_scope
from registry.mail.delivery import deliver_due
from registry.settings import Settings

log = logging.getLogger(__name__)


def deliver(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        report = deliver_due(session, settings)
    if report.sent or report.failed:
        log.info("outbox delivery: %s", report)
