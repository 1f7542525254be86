"""The operators' audit log: every recorded change, filtered and paged, told in sentences."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from litestar import Controller, get
from litestar.params import FromQuery
from litestar.response import Template
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from registry.accounts.guards import operator_only
from registry.accounts.models import RoleMembership, User
from registry.agencies.models import AgencyRegistration
from registry.agencies.services import list_agencies
from registry.audit.models import AuditEvent
from registry.audit.services import EventFilter, action_kinds, process_labels, search_events
from registry.audit.story import tell_all
from registry.providers import lookup
from registry.providers.profile import page_number, provider_events
from registry.qa.models import QAResult
from registry.web import DatabaseDep

PER_PAGE = 50


def agency_events(agency_id: int) -> Any:
    """The condition on audit events that selects those about an agency, its registrations and results."""
    registration_ids = select(AgencyRegistration.id).where(AgencyRegistration.agency_id == agency_id)
    result_ids = select(QAResult.id).where(QAResult.agency_id == agency_id)
    role_ids = select(RoleMembership.id).where(RoleMembership.agency_id == agency_id)
    return or_(
        and_(col(AuditEvent.entity_type) == "agency", col(AuditEvent.entity_id) == agency_id),
        and_(col(AuditEvent.entity_type) == "agency_registration", col(AuditEvent.entity_id).in_(registration_ids)),
        and_(col(AuditEvent.entity_type) == "qa_result", col(AuditEvent.entity_id).in_(result_ids)),
        and_(col(AuditEvent.entity_type) == "role_membership", col(AuditEvent.entity_id).in_(role_ids)),
    )


def _date(text: str, errors: dict[str, str], key: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[key] = f"“{text}” is not a date (YYYY-MM-DD)"
        return None


class AuditLogPage(Controller):
    path = "/staff/audit"
    include_in_schema = False
    guards = [operator_only]

    @get("/", sync_to_thread=True)
    def index(
        self,
        db: DatabaseDep,
        who: FromQuery[str] = "",
        kind: FromQuery[str] = "",
        provider_name: FromQuery[str] = "",
        provider: FromQuery[str] = "",
        agency: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
        page: FromQuery[str] = "",
    ) -> Template:
        errors: dict[str, str] = {}
        values = {
            "who": who,
            "kind": kind,
            "provider_name": provider_name,
            "provider": provider,
            "agency": agency,
            "since": since,
            "until": until,
        }
        with db.read() as session:
            wanted, candidates = self._filter(session, values, errors)
            number = page_number(page)
            events, total = search_events(session, wanted, (number - 1) * PER_PAGE, PER_PAGE)
            last = max(1, -(-total // PER_PAGE))
            if number > last:
                number = last
                events, total = search_events(session, wanted, (number - 1) * PER_PAGE, PER_PAGE)
            context = {
                "stories": tell_all(session, events),
                "found": {"total": total, "page": number, "per_page": PER_PAGE},
                "users": session.exec(select(User).order_by(col(User.display_name))).all(),
                "processes": process_labels(session),
                "kinds": action_kinds(session),
                "agencies": list_agencies(session),
                "values": values,
                "errors": errors,
                "candidates": candidates,
                "query": "&".join(f"{key}={value}" for key, value in _encoded(values).items() if value),
            }
        return Template("audit/log.html", context=context, status_code=400 if errors else 200)

    @staticmethod
    def _filter(session: Session, values: dict[str, str], errors: dict[str, str]) -> tuple[EventFilter, dict[str, Any]]:
        user_id, label = None, None
        who = values["who"]
        if who.startswith("user:") and who[5:].isdigit():
            user_id = int(who[5:])
        elif who.startswith("process:"):
            label = who[8:]
        about = []
        candidates: dict[str, Any] = {}
        if values["provider_name"] or values["provider"]:
            choice = lookup.choose(session, values["provider_name"], values["provider"])
            if choice.provider_id is None:
                errors["provider"] = choice.message or ""
                candidates["provider"] = choice.candidates
            else:
                values["provider"] = str(choice.provider_id)
                about.append(provider_events(choice.provider_id))
        if values["agency"].isdigit():
            about.append(agency_events(int(values["agency"])))
        since = _date(values["since"], errors, "since")
        until = _date(values["until"], errors, "until")
        wanted = EventFilter(
            user_id=user_id,
            actor_label=label,
            action_prefix=f"{values['kind']}." if values["kind"] else None,
            about=and_(*about) if about else None,
            since=since,
            until=until,
        )
        return wanted, candidates


def _encoded(values: dict[str, str]) -> dict[str, str]:
    return {key: quote(value, safe="") for key, value in values.items()}
