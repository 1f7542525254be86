"""Audit events told as people read them: a sentence with names, a link, and the fields that changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from registry.accounts.models import User
from registry.agencies.models import Agency
from registry.audit.models import AuditEvent
from registry.providers.services import display_name

# Bookkeeping that changes on every write and says nothing to a reader.
QUIET_FIELDS = {"id", "version", "created_at", "updated_at", "password_hash", "folded"}

FIELD_LABELS = {
    "agency_id": "agency",
    "provider_id": "provider",
    "provider_ids": "providers",
    "related_provider_id": "related provider",
    "country_iso2": "country",
    "provider_type": "type",
    "closed_on": "closure date",
    "founded_on": "founding date",
    "valid_from": "valid from",
    "valid_to": "valid to",
    "revoked_from": "revoked from",
    "withdrawn_at": "withdrawn at",
    "withdrawn_reason": "reason for withdrawal",
    "withdrawn_by_user_id": "withdrawn by",
    "conditions_due": "conditions due",
    "limit_eqf_levels": "EQF levels",
    "limit_fields": "ISCED-F fields",
    "limit_jurisdictions": "jurisdictions",
    "report_links": "report links",
    "activity_type": "activity",
    "suspended_from": "suspended from",
    "suspended_to": "suspended until",
    "registered_from": "registered from",
    "registered_to": "registered until",
    "deqar_agency_id": "DEQAR agency id",
    "is_active": "active",
    "locked_until": "locked until",
    "failed_logins": "failed sign-ins",
    "oidc_subject": "OpenID subject",
    "display_name": "name",
    "local_id": "agency's own id",
    "by_user_id": "by",
    "is_demo": "demonstration entry",
    "version_number": "version",
}

VERBS = {
    "create": "created",
    "update": "edited",
    "record": "recorded",
    "withdraw": "withdrew",
    "revoke": "revoked",
    "close": "closed",
    "reopen": "reopened",
    "suspend": "suspended",
    "unsuspend": "ended a suspension of",
    "confirm": "confirmed the entry of",
    "request": "requested an entry for",
    "add": "added",
    "prove": "proved",
    "challenge": "asked for proof of",
    "import": "imported",
    "registration": "recorded an EQAR registration of",
    "report_file": "attached a report file to",
    "upload": "uploaded",
    "save": "saved",
    "start": "started",
    "submit": "submitted",
    "accept": "accepted",
    "return": "returned",
    "grant": "granted",
    "disable": "disabled",
    "enable": "enabled",
    "lock": "locked",
    "unlock": "unlocked",
    "password": "changed the password of",
}


@dataclass
class Story:
    event: AuditEvent
    who: str
    sentence: str
    link: str | None
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    is_new: bool = False


class Teller:
    """Tells events, remembering the names it has looked up."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._providers: dict[int, str] = {}
        self._agencies: dict[int, str] = {}
        self._users: dict[int, str] = {}

    def provider(self, provider_id: Any) -> str:
        if not isinstance(provider_id, int):
            return "a provider"
        if provider_id not in self._providers:
            self._providers[provider_id] = display_name(self.session, provider_id)
        return self._providers[provider_id]

    def agency(self, agency_id: Any) -> str:
        if not isinstance(agency_id, int):
            return "an agency"
        if agency_id not in self._agencies:
            agency = self.session.get(Agency, agency_id)
            self._agencies[agency_id] = f"{agency.name} ({agency.acronym})" if agency else f"agency {agency_id}"
        return self._agencies[agency_id]

    def user(self, user_id: Any) -> str:
        if not isinstance(user_id, int):
            return "someone"
        if user_id not in self._users:
            user = self.session.get(User, user_id)
            self._users[user_id] = user.display_name if user else "a removed account"
        return self._users[user_id]

    def tell(self, event: AuditEvent) -> Story:
        data = {**(event.before or {}), **(event.after or {})}
        who = self.user(event.actor_user_id) if event.actor_user_id else event.actor_label
        verb = VERBS.get(event.action.rsplit(".", 1)[-1], event.action.rsplit(".", 1)[-1].replace("_", " "))
        what, link = self._subject(event, data)
        if event.action == "relation.add":
            sentence = (
                f"recorded that {self.provider(data.get('provider_id'))} was {data.get('kind')} "
                f"{self.provider(data.get('related_provider_id'))}"
                + (f" on {data['valid_from']}" if data.get("valid_from") else "")
            )
        elif event.action == "relation.withdraw":
            sentence = (
                f"withdrew, as entered in error, that {self.provider(data.get('provider_id'))} was "
                f"{data.get('kind')} {self.provider(data.get('related_provider_id'))}"
            )
        else:
            sentence = f"{verb} {what}"
        return Story(
            event=event,
            who=who,
            sentence=sentence,
            link=link,
            changes=self.changes(event),
            is_new=event.before is None,
        )

    def _subject(self, event: AuditEvent, data: dict[str, Any]) -> tuple[str, str | None]:
        kind, entity_id = event.entity_type, event.entity_id
        if kind == "provider":
            return self.provider(entity_id), f"/staff/providers/{entity_id}"
        if kind == "qa_result":
            providers = data.get("provider_ids") or []
            names = ", ".join(self.provider(p) for p in providers) or "a provider"
            decision = data.get("decision", "")
            text = f"the {decision} {data.get('activity_type', '')} result of {self.agency(data.get('agency_id'))}"
            first = providers[0] if providers else None
            return f"{text} for {names}", f"/staff/providers/{first}" if first else None
        if kind in ("provider_identifier", "identifier_challenge"):
            owner = data.get("provider_id")
            scheme = f"{data.get('scheme', '')} " if data.get("scheme") else ""
            value = data.get("normalised") or data.get("value") or "an identifier"
            return f"the identifier {scheme}{value} of {self.provider(owner)}", _provider_link(owner)
        if kind in ("provider_suspension", "provider_relation", "self_assessment", "provider_invitation"):
            owner = data.get("provider_id")
            noun = {"provider_suspension": "", "self_assessment": "the self-assessment of "}.get(kind, "")
            if kind == "self_assessment":
                return f"{noun}{self.provider(owner)}", f"/staff/self-assessments/{entity_id}"
            return f"{noun}{self.provider(owner)}", _provider_link(owner)
        if kind == "agency":
            return self.agency(entity_id), f"/staff/agencies/{entity_id}"
        if kind == "agency_registration":
            owner = data.get("agency_id")
            return self.agency(owner), f"/staff/agencies/{owner}" if owner else None
        if kind == "user":
            return f"the account of {data.get('display_name') or self.user(entity_id)}", "/staff/users/"
        if kind == "role_membership":
            scope = ""
            if data.get("agency_id"):
                scope = f" at {self.agency(data['agency_id'])}"
            elif data.get("provider_id"):
                scope = f" at {self.provider(data['provider_id'])}"
            return f"the role {data.get('role', '')}{scope} to {self.user(data.get('user_id'))}", "/staff/users/"
        if kind == "outbox_message":
            return f"the e-mail “{data.get('subject', '')}” to {data.get('to', '')}", f"/staff/outbox/{entity_id}"
        return kind.replace("_", " "), None

    def changes(self, event: AuditEvent) -> list[tuple[str, str, str]]:
        """(label, before, after) for each field the event changed; every field set when it created something."""
        before, after = event.before or {}, event.after or {}
        rows = []
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            if key in QUIET_FIELDS or old == new or (event.before is None and new in (None, "", [], False)):
                continue
            rows.append((FIELD_LABELS.get(key, key.replace("_", " ")), self._value(key, old), self._value(key, new)))
        return rows

    def _value(self, key: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if key in ("provider_id", "related_provider_id"):
            return self.provider(value)
        if key == "provider_ids" and isinstance(value, list):
            return ", ".join(self.provider(v) for v in value)
        if key == "agency_id":
            return self.agency(value)
        if key.endswith("user_id"):
            return self.user(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(_plain(v) for v in value)
        return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, ""))
    text = str(value)
    # Timestamps read to the minute; dates stay as they are.
    return text[:16].replace("T", " ") if len(text) > 19 and text[10:11] == "T" else text


def _provider_link(provider_id: Any) -> str | None:
    return f"/staff/providers/{provider_id}" if isinstance(provider_id, int) else None


def tell_all(session: Session, events: list[AuditEvent]) -> list[Story]:
    teller = Teller(session)
    return [teller.tell(event) for event in events]
