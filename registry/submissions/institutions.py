"""The institutions a report names: the providers their identifiers resolve to, or new ones from master data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from registry.agencies.models import Agency
from registry.audit.services import Actor
from registry.errors import ValidationFailed
from registry.providers import services as providers
from registry.providers.identifiers import SCHEMES, InvalidIdentifier, normalise
from registry.providers.models import ProviderIdentifier
from registry.submissions import bulk
from registry.submissions.fields import Problems
from registry.vocabulary import RESOLVING_ORIGINS


def identifier_pairs(institution: Any, agency: Agency) -> list[tuple[str, str]]:
    """The (scheme, value) pairs an institution entry names, in DEQAR's fields."""
    return [(scheme, value) for scheme, value, _label in labelled_identifiers(institution, agency)]


def labelled_identifiers(institution: Any, agency: Agency) -> list[tuple[str, str, str]]:
    """(scheme, value, the field it came from) for each identifier an institution entry names."""
    if not isinstance(institution, dict):
        return []
    pairs: list[tuple[str, str, str]] = []
    if institution.get("deqar_id"):
        pairs.append(("deqar", str(institution["deqar_id"]), "deqar_id"))
    if institution.get("eter_id"):
        pairs.append(("eter", str(institution["eter_id"]), "eter_id"))
    raw = institution.get("identifiers")
    entries = [(f"identifiers[{i}]", entry) for i, entry in enumerate(raw if isinstance(raw, list) else [])]
    if institution.get("identifier"):
        entries.append(
            ("identifier", {"identifier": institution["identifier"], "resource": institution.get("resource")})
        )
    for label, entry in entries:
        if not isinstance(entry, dict) or not entry.get("identifier"):
            continue
        resource = str(entry.get("resource") or "").strip().lower()
        value = str(entry["identifier"])
        if resource in SCHEMES:
            pairs.append((resource, value, label))
        elif not resource or resource == "local identifier":
            # DEQAR: an identifier without a resource is the agency's own.
            pairs.append(("local", f"{agency.acronym}:{value}", label))
        else:
            pairs.append((resource, value, label))
    return pairs


# An institution the registry does not hold yet is created from these fields (DEQAR's CSV names, plus our
# provider_type) when the token has the scope providers:create.
MASTER_DATA_FIELDS = ("name_official", "name_english", "acronym", "country", "website_link", "provider_type")
CREATE_SCOPE = "providers:create"


def has_master_data(institution: Any) -> bool:
    return isinstance(institution, dict) and bool(str(institution.get("name_official") or "").strip())


def planned_provider(
    problems: Problems, position: int, institution: dict[str, Any], agency: Agency
) -> tuple[providers.ProviderInput, list[str]] | None:
    """The master data of a provider to create, its identifiers validated and normalised; None on errors."""
    where = f"institutions[{position}]"
    before = len(problems.errors)
    for name in ("country", "provider_type"):
        if not str(institution.get(name) or "").strip():
            problems.add(f"{where}.{name}", "required to create a provider the registry does not hold")
    identifiers: list[dict[str, Any]] = []
    labels: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for scheme, value, label in labelled_identifiers(institution, agency):
        try:
            normalised = normalise(scheme, value)
        except InvalidIdentifier as error:
            problems.add(f"{where}.{label}", f"{scheme} {value!r}: {error}")
            continue
        if (scheme, normalised) in seen:
            continue
        seen[(scheme, normalised)] = label
        identifiers.append(
            {
                "scheme": scheme,
                "value": value,
                "origin": "agency",
                "agency_id": agency.id if scheme == "local" else None,
            }
        )
        labels.append(label)
    if len(problems.errors) > before:
        return None
    data = providers.ProviderInput(
        name=str(institution.get("name_official") or "").strip(),
        country=str(institution.get("country") or "").strip(),
        provider_type=str(institution.get("provider_type") or "").strip(),
        english_name=str(institution.get("name_english") or "").strip() or None,
        acronym=str(institution.get("acronym") or "").strip() or None,
        website=str(institution.get("website_link") or "").strip() or None,
        identifiers=identifiers,
    )
    return data, labels


PROVIDER_FIELDS = {"name": "name_official", "website": "website_link", "english_name": "name_english"}


def create_provider(
    session: Session, position: int, data: providers.ProviderInput, labels: list[str], agency: Agency, actor: Actor
) -> int:
    """Create the provider (inside the report's savepoint); its field errors name the institution's fields."""
    try:
        provider = providers.create_provider(session, data, actor, created_by_agency_id=agency.id)
    except ValidationFailed as error:
        renamed: dict[str, str] = {}
        for name, message in error.errors.items():
            head, dot, rest = name.partition(".")
            if head.startswith("identifiers[") and dot:
                index = int(head[len("identifiers[") : -1])
                label = labels[index] if index < len(labels) else head
                renamed[f"institutions[{position}].{label}"] = message if rest == "value" else f"{rest}: {message}"
            else:
                renamed[f"institutions[{position}].{PROVIDER_FIELDS.get(name, name)}"] = message
        raise ValidationFailed(renamed) from None
    return provider.id or 0


@dataclass
class Resolution:
    """The providers an institution entry's identifiers resolve to."""

    # "scheme value" of each identifier tried, as sent.
    tried: list[str] = field(default_factory=list)
    # provider id -> the identifiers tried that resolve to it, in the order found.
    holders: dict[int, list[str]] = field(default_factory=dict)

    @property
    def provider_id(self) -> int | None:
        """The one provider named; None when none is, or when the identifiers name several."""
        return next(iter(self.holders)) if len(self.holders) == 1 else None

    def conflict(self, session: Session) -> str | None:
        """The error for identifiers that name different providers (DEQAR: "does not match"); None if they agree."""
        if len(self.holders) < 2:
            return None
        named = "; ".join(
            f"{', '.join(identifiers)} {'is' if len(identifiers) == 1 else 'are'} provider {provider_id} "
            f"({providers.display_name(session, provider_id)})"
            for provider_id, identifiers in self.holders.items()
        )
        return f"the identifiers name different providers: {named}; send the identifiers of one provider"


def provider_for(session: Session, pairs: list[tuple[str, str]], agency: Agency) -> Resolution:
    """Every provider the (scheme, value) pairs resolve to: one identifier may be held in turn by several."""
    resolution = Resolution()
    lookups = bulk.current(session)
    for scheme, value in pairs:
        identifier = f"{scheme} {value}"
        resolution.tried.append(identifier)
        try:
            normalised = normalise(scheme, value)
        except InvalidIdentifier:
            continue
        found = lookups.provider_ids(scheme, normalised) if lookups is not None else None
        if found is None:
            query = (
                select(ProviderIdentifier.provider_id)
                .where(
                    ProviderIdentifier.scheme == scheme,
                    ProviderIdentifier.normalised == normalised,
                    col(ProviderIdentifier.origin).in_(RESOLVING_ORIGINS),
                )
                .order_by(col(ProviderIdentifier.id))
            )
            if scheme == "local":
                query = query.where(ProviderIdentifier.agency_id == agency.id)
            found = list(session.exec(query))
        for provider_id in found:
            held = resolution.holders.setdefault(provider_id, [])
            if identifier not in held:
                held.append(identifier)
    return resolution
