"""Choosing a provider by name: suggestions while typing, and turning what was typed into one provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from registry.errors import ValidationFailed
from registry.folding import fold, like_pattern
from registry.forms import text
from registry.providers.models import Provider, ProviderName

SUGGESTIONS = 10


@dataclass
class Choice:
    """What a name typed into a provider field came to: one provider, or a message and the candidates."""

    provider_id: int | None = None
    message: str | None = None
    candidates: list[dict[str, object]] = field(default_factory=list)


def suggest(session: Session, typed: str, limit: int = SUGGESTIONS) -> list[dict[str, object]]:
    """Providers whose names contain the typed text, accents and case ignored; exact matches first."""
    if not fold(typed):
        return []
    rows = session.exec(
        select(ProviderName.provider_id, ProviderName.folded)
        .join(Provider, col(Provider.id) == ProviderName.provider_id)
        .where(col(ProviderName.folded).like(like_pattern(typed), escape="\\"), col(Provider.confirmed).is_(True))
        .order_by(col(ProviderName.provider_id))
        .limit(limit * 4)
    ).all()
    wanted = fold(typed)
    ordered = sorted(rows, key=lambda row: (row[1] != wanted, not row[1].startswith(wanted), row[0]))
    ids: list[int] = []
    for provider_id, _ in ordered:
        if provider_id not in ids:
            ids.append(provider_id)
    return [described(session, provider_id) for provider_id in ids[:limit]]


def described(session: Session, provider_id: int) -> dict[str, object]:
    """A provider as a picker offers it: its name, and country and type to tell namesakes apart."""
    provider = session.get(Provider, provider_id)
    names = {n.kind: n.name for n in session.exec(select(ProviderName).where(ProviderName.provider_id == provider_id))}
    name = names.get("english") or names.get("official") or f"Provider {provider_id}"
    country = provider.country_iso2 if provider else ""
    kind = provider.provider_type if provider else ""
    closed = f", closed {provider.closed_on}" if provider and provider.closed_on else ""
    return {"id": provider_id, "name": name, "label": f"{name} ({country}, {kind}{closed})"}


def choose(session: Session, typed: str, chosen_id: str = "", what: str = "provider") -> Choice:
    """The provider meant by a typed name, or why there is none.

    chosen_id comes from the suggestion the browser picked (or a candidate chosen in a second step);
    it counts only if that provider really bears the typed name, so a stale hidden id never wins.
    """
    wanted = fold(typed)
    if chosen_id.isdigit():
        provider = session.get(Provider, int(chosen_id))
        label = fold(str(described(session, int(chosen_id))["label"]))
        if provider is not None and provider.confirmed and (wanted in ("", label) or _bears(session, provider, wanted)):
            return Choice(provider_id=int(chosen_id))
    if not wanted:
        return Choice(message=f"type the {what}'s name and choose it from the list")
    if typed.rstrip().endswith(")") and " (" in typed:
        # A suggestion's label, "Name (country, type)", picks one of several namesakes.
        name = typed[: typed.rindex(" (")]
        labelled = [m for m in suggest(session, name, limit=20) if fold(str(m["label"])) == wanted]
        if len(labelled) == 1:
            return Choice(provider_id=int(str(labelled[0]["id"])))
    matches = suggest(session, typed, limit=20)
    exact = [m for m in matches if fold(str(m["name"])) == wanted]
    if len(exact) == 1:
        return Choice(provider_id=int(str(exact[0]["id"])))
    if len(matches) == 1:
        return Choice(provider_id=int(str(matches[0]["id"])))
    if not matches:
        return Choice(message=f"no {what} is called “{typed}”; check the spelling or type part of the name")
    return Choice(message=f"several providers match “{typed}”; choose one below", candidates=exact or matches)


def _bears(session: Session, provider: Provider, wanted: str) -> bool:
    names = session.exec(select(ProviderName.folded).where(ProviderName.provider_id == provider.id)).all()
    return any(wanted in name for name in names)


def picked(session: Session, data: dict[str, Any], name: str, what: str = "provider") -> tuple[int, Any]:
    """The provider a picker field names, or 0 and the errors and candidates to show next to it."""
    choice = choose(session, text(data, f"{name}_name"), text(data, name), what)
    if choice.provider_id is not None:
        return choice.provider_id, None
    return 0, (ValidationFailed({name: choice.message or ""}), {name: choice.candidates})


def choose_many(session: Session, lines: list[str], key: str) -> tuple[list[int], dict[str, str]]:
    """Providers named one per line; the errors say which line did not come to one provider, and why."""
    chosen: list[int] = []
    problems = []
    for number, line in enumerate(lines, start=1):
        choice = choose(session, line)
        if choice.provider_id is not None:
            chosen.append(choice.provider_id)
            continue
        offered = "; ".join(str(c["label"]) for c in choice.candidates[:5])
        problems.append(f"line {number}: {choice.message}" + (f" (type one of: {offered})" if offered else ""))
    return chosen, {key: "; ".join(problems)} if problems else {}
