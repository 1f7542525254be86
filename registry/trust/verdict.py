"""The trust verdict, policy "esg-2015/v1" (DESIGN.md §2), as a pure function of a timeline.

Dates are ISO strings (YYYY-MM-DD) throughout: they order correctly as text, which keeps the
hot path free of parsing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from registry.vocabulary import INSTITUTION_WIDE_ACTIVITIES, POSITIVE_DECISIONS, WITH_CONDITIONS

POLICY = "esg-2015/v1"
TRUSTED_STATUSES = ("trusted", "trusted_with_conditions")


@dataclass(frozen=True)
class Scope:
    eqf_level: int | None = None
    field: str | None = None
    programme: str | None = None


@dataclass(frozen=True)
class Policy:
    require_eqar_registered: bool = True
    require_internal_qa_years: int | None = None


@dataclass
class Outcome:
    status: str
    basis: list[dict[str, Any]]
    reasons: list[str]
    next_review_due: str | None
    internal_qa: dict[str, Any]

    @property
    def trusted(self) -> bool:
        return self.status in TRUSTED_STATUSES


def _valid_at(result: dict[str, Any], day: str) -> bool:
    counts_from = result["counts_from"]
    revoked = result["revoked_from"]
    return (
        result["valid_from"] <= day <= result["valid_to"]
        and (counts_from is None or counts_from <= day)
        and (revoked is None or day < revoked)
    )


def _ended_by(result: dict[str, Any], day: str) -> bool:
    revoked = result["revoked_from"]
    return result["valid_from"] <= day and (day > result["valid_to"] or (revoked is not None and day >= revoked))


def covers(result: dict[str, Any], scope: Scope) -> bool:
    """Whether a result's limits and named programmes include the credential's scope."""
    limits = result["limits"]
    if scope.eqf_level is not None and limits["eqf_levels"] and scope.eqf_level not in limits["eqf_levels"]:
        return False
    if scope.field and limits["fields"] and not any(scope.field.startswith(code) for code in limits["fields"]):
        return False
    if result["activity_type"] in INSTITUTION_WIDE_ACTIVITIES:
        return True
    # Programme-level results cover only the programmes and micro-credentials they name.
    if not scope.programme:
        return False
    for programme in result["programmes"]:
        if programme["identifier"] != scope.programme:
            continue
        if scope.eqf_level is not None and programme["eqf_level"] not in (None, scope.eqf_level):
            continue
        if scope.field and programme["field"] and not scope.field.startswith(programme["field"]):
            continue
        return True
    return False


def negative_applies(result: dict[str, Any], scope: Scope) -> bool:
    """Whether the asked scope lies within a negative result's limits.

    A query without a scope is blocked only by a negative result without limits; a query never
    names a jurisdiction, so a negative result limited to jurisdictions blocks no query.
    """
    limits = result["limits"]
    if limits["jurisdictions"]:
        return False
    if limits["eqf_levels"] and scope.eqf_level not in limits["eqf_levels"]:
        return False
    return not limits["fields"] or bool(scope.field and any(scope.field.startswith(code) for code in limits["fields"]))


def _why_not_blocking(result: dict[str, Any], latest_start: str, scope: Scope) -> str:
    described = f"A negative {_describe(result)}, valid from {result['valid_from']}"
    if not negative_applies(result, scope):
        return f"{described}, is limited to {limits_text(result['limits'])} and does not apply to {_scope_text(scope)}."
    return f"{described}, is older than a covering result valid from {latest_start}."


def limits_text(limits: dict[str, list[Any]]) -> str:
    """A result's limits in words, e.g. "EQF levels 7, 8; fields 04"."""
    parts = []
    if limits.get("eqf_levels"):
        parts.append(
            "EQF level" + ("s " if len(limits["eqf_levels"]) > 1 else " ") + ", ".join(map(str, limits["eqf_levels"]))
        )
    if limits.get("fields"):
        parts.append("field" + ("s " if len(limits["fields"]) > 1 else " ") + ", ".join(limits["fields"]))
    if limits.get("jurisdictions"):
        parts.append(
            "jurisdiction" + ("s " if len(limits["jurisdictions"]) > 1 else " ") + ", ".join(limits["jurisdictions"])
        )
    return "; ".join(parts) or "no limits"


def _describe(result: dict[str, Any]) -> str:
    agency = result["agency"]["acronym"] or result["agency"]["name"]
    return f"{result['activity_type']} result {result['result_id']} by {agency}"


def internal_qa_status(document: dict[str, Any], day: str) -> dict[str, Any]:
    accepted = [a for a in document["internal_qa"]["accepted"] if a["accepted_on"] <= day]
    if accepted:
        last = accepted[-1]
        return {"status": "accepted", "accepted_at": last["accepted_on"], "next_due": last["next_due"]}
    latest = document["internal_qa"]["latest_state"]
    status = latest if latest in ("submitted", "returned") else "none"
    return {"status": status, "accepted_at": None, "next_due": None}


def evaluate(document: dict[str, Any], day: dt.date, scope: Scope, policy: Policy) -> Outcome:
    today = day.isoformat()
    internal_qa = internal_qa_status(document, today)

    def outcome(status: str, basis: list[dict[str, Any]], reasons: list[str], due: str | None = None) -> Outcome:
        return Outcome(status, basis, reasons, due, internal_qa)

    closed_on = document["closed_on"]
    if closed_on is not None and today >= closed_on:
        merged = document["merged_into"]
        reason = f"The provider closed on {closed_on}."
        if merged is not None:
            reason = f"The provider was {merged['kind']} {merged['name']} on {merged['on']} and closed then."
        return outcome("closed", [], [reason])
    for suspension in document["suspensions"]:
        if suspension["from"] <= today and (suspension["to"] is None or today < suspension["to"]):
            until = f" until {suspension['to']}" if suspension["to"] else ""
            return outcome(
                "suspended", [], [f"The provider is suspended from {suspension['from']}{until}: {suspension['reason']}"]
            )

    results = document["results"]

    def registered(result: dict[str, Any]) -> bool:
        return not policy.require_eqar_registered or result["agency"]["eqar_registered_at_decision"]

    # Positive results by an agency the policy accepts, in the document's order (filtered again below).
    eligible = [r for r in results if r["decision"] in POSITIVE_DECISIONS and registered(r)]
    covering = [r for r in eligible if _valid_at(r, today) and covers(r, scope)]
    latest_start = max((r["valid_from"] for r in covering), default="")
    # A negative result by an agency that was not registered on its start counts for nothing.
    negatives = [
        r
        for r in results
        if r["decision"] == "negative"
        and r["activity_type"] in INSTITUTION_WIDE_ACTIVITIES
        and registered(r)
        and _valid_at(r, today)
    ]
    blocking = [r for r in negatives if r["valid_from"] > latest_start and negative_applies(r, scope)]
    if blocking:
        newest = blocking[-1]
        return outcome(
            "not_trusted",
            [newest],
            [f"A negative {_describe(newest)}, valid from {newest['valid_from']}, is the latest decision."],
        )
    # Negative results that block nothing still show in the basis and the reasons.
    noted = [(r, _why_not_blocking(r, latest_start, scope)) for r in negatives]

    def outcome_noting(status: str, basis: list[dict[str, Any]], reasons: list[str], due: str | None = None) -> Outcome:
        return outcome(status, basis + [r for r, _ in noted], reasons + [why for _, why in noted], due)

    if covering:
        if policy.require_internal_qa_years is not None:
            accepted_at = internal_qa["accepted_at"]
            oldest = _years_before(day, policy.require_internal_qa_years)
            if accepted_at is None or accepted_at < oldest:
                return outcome_noting(
                    "not_trusted",
                    covering,
                    [
                        "The policy requires an internal-QA self-assessment accepted in the last "
                        f"{policy.require_internal_qa_years} years, and there is none."
                    ],
                )
        with_conditions = all(r["decision"] == WITH_CONDITIONS for r in covering)
        due_dates = [r["conditions_due"] for r in covering if r["conditions_due"] and r["conditions_due"] >= today]
        lapses = max(min(r["valid_to"], _day_before(r["revoked_from"])) for r in covering)
        reasons = [f"Covered by {_describe(r)}, valid {r['valid_from']} to {r['valid_to']}." for r in covering]
        if with_conditions:
            reasons.append("Every covering result carries conditions or restrictions.")
        return outcome_noting(
            "trusted_with_conditions" if with_conditions else "trusted",
            covering,
            reasons,
            min([lapses, *due_dates]),
        )

    ended = [r for r in eligible if covers(r, scope) and _ended_by(r, today)]
    if ended:
        last = max(ended, key=lambda r: (r["valid_to"], r["result_id"]))
        how = (
            f"was revoked from {last['revoked_from']}"
            if last["revoked_from"] and last["revoked_from"] <= today
            else (f"ended on {last['valid_to']}")
        )
        return outcome_noting("expired", ended, [f"The last covering result, {_describe(last)}, {how}."])
    out_of_scope = [r for r in eligible if _valid_at(r, today)]
    if out_of_scope:
        return outcome_noting(
            "not_covered",
            out_of_scope,
            [
                "The provider holds valid QA results, but none covers the asked scope "
                f"({_scope_text(scope)}{'' if scope != Scope() else '; only programme-level results are held'})."
            ],
        )
    return outcome_noting("not_trusted", [], _why_nothing(results, today, policy))


def _why_nothing(results: list[dict[str, Any]], today: str, policy: Policy) -> list[str]:
    if not results:
        return ["No external QA result is recorded for this provider."]
    reasons = []
    for result in results:
        if result["valid_from"] > today:
            reasons.append(f"{_describe(result)} only starts on {result['valid_from']}.")
        elif policy.require_eqar_registered and not result["agency"]["eqar_registered_at_decision"]:
            reasons.append(
                f"{_describe(result)} was issued by an agency not registered on EQAR on {result['valid_from']}."
            )
        elif result["decision"] not in POSITIVE_DECISIONS:
            reasons.append(f"{_describe(result)} has the decision {result['decision']!r}.")
    return reasons or ["No external QA result covers this provider at this date."]


def _scope_text(scope: Scope) -> str:
    parts = []
    if scope.eqf_level is not None:
        parts.append(f"EQF level {scope.eqf_level}")
    if scope.field:
        parts.append(f"field {scope.field}")
    if scope.programme:
        parts.append(f"programme {scope.programme}")
    return ", ".join(parts) or "the provider's provision as a whole"


def _day_before(day: str | None) -> str:
    if day is None:
        return "9999-12-31"
    return (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()


def _years_before(day: dt.date, years: int) -> str:
    try:
        return day.replace(year=day.year - years).isoformat()
    except ValueError:
        return day.replace(year=day.year - years, day=28).isoformat()
