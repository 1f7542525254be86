"""A fictional, clearly labelled demo registry that exercises every case of the trust verdict.

Dates are set relative to the day of loading, so each case stays what it claims to be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from registry.accounts.services import create_user
from registry.agencies.services import add_registration, create_agency
from registry.assessments.models import SelfAssessment, SelfAssessmentEntry
from registry.audit.services import Actor
from registry.providers import services as providers
from registry.providers.models import Provider
from registry.qa.services import ProgrammeInput, ResultInput, record_result, revoke_result, withdraw_result
from registry.reference.services import esg_part
from registry.timeutil import add_years, today, utcnow

DEMO = Actor("demo")
DEMO_PASSWORD = "demo-password"
OBLIGATORY = "part of obligatory external QA system"


@dataclass
class DemoCase:
    slug: str
    name: str
    country: str
    provider_type: str
    expect: str
    note: str
    results: list[dict[str, Any]] = field(default_factory=list)


def _d(days: int) -> dt.date:
    return today() + dt.timedelta(days=days)


def _result(agency: str, decision: str = "positive", start: int = -730, end: int | None = 1460, **extra: Any) -> dict:
    return {"agency": agency, "decision": decision, "start": start, "end": end, **extra}


CASES = [
    DemoCase(
        "northbridge",
        "Northbridge University",
        "NL",
        "public HEI",
        "trusted",
        "institutional review, positive",
        [_result("DAC")],
    ),
    DemoCase(
        "meridian",
        "Meridian Open Learning",
        "DE",
        "MOOC platform",
        "trusted_with_conditions",
        "institutional/programme review with conditions, follow-up due in 120 days",
        [
            _result(
                "NQA",
                "positive with conditions or restrictions",
                activity="institutional/programme",
                conditions_due=120,
            )
        ],
    ),
    DemoCase(
        "castellan",
        "Universidad Castellana de Demostración",
        "ES",
        "private HEI",
        "not_trusted",
        "a newer negative institutional result overrides an older positive one",
        [_result("ADE", start=-1500, end=700), _result("ADE", "negative", start=-200, end=1900)],
    ),
    DemoCase(
        "hollowmere",
        "Université de Hollowmere",
        "FR",
        "public HEI",
        "expired",
        "its only positive result ended two years ago",
        [_result("ADE", start=-2920, end=-730)],
    ),
    DemoCase(
        "ridgefield",
        "Ridgefield Institute of Technology",
        "IT",
        "private HEI",
        "expired",
        "positive result revoked 100 days ago (trusted before that)",
        [_result("DAC", start=-1095, revoke=-100)],
    ),
    DemoCase(
        "lakeshore",
        "Lakeshore Business School",
        "PL",
        "private HEI",
        "not_trusted",
        "its only result was withdrawn as entered in error",
        [_result("NQA", withdraw=True)],
    ),
    DemoCase(
        "skillforge",
        "SkillForge Academy",
        "SE",
        "employer academy",
        "not_covered",
        "programme-level result for one micro-credential only; "
        "trusted with programme=urn:demo:skillforge:data-analytics",
        [
            _result(
                "NQA",
                activity="programme",
                programmes=[
                    {
                        "name": "Micro-credential in Data Analytics",
                        "identifier": "urn:demo:skillforge:data-analytics",
                        "ects": 6,
                        "eqf_level": 6,
                        "isced_field": "0612",
                        "full_degree": False,
                    }
                ],
            )
        ],
    ),
    DemoCase(
        "brightpath",
        "Brightpath Private University",
        "AT",
        "private HEI",
        "suspended",
        "positive result, but suspended by the operators 30 days ago",
        [_result("DAC")],
    ),
    DemoCase(
        "oldgate",
        "Oldgate Polytechnic",
        "PT",
        "public HEI",
        "closed",
        "closed 400 days ago; trusted before that",
        [_result("ADE", start=-1800, end=400)],
    ),
    DemoCase(
        "westbury",
        "Westbury College",
        "IE",
        "public HEI",
        "closed",
        "absorbed by Eastbury University 365 days ago",
        [_result("DAC", start=-900, end=1200)],
    ),
    DemoCase(
        "eastbury",
        "Eastbury University",
        "IE",
        "public HEI",
        "trusted",
        "holds no result of its own; counts Westbury's result from the merger on",
        [],
    ),
    DemoCase(
        "tidewater",
        "Tidewater University of Applied Sciences",
        "FI",
        "public HEI",
        "trusted",
        "positive result expiring in 45 days",
        [_result("NQA", start=-2145, end=45)],
    ),
    DemoCase(
        "greyfield",
        "Greyfield Vocational Centre",
        "CZ",
        "VET provider",
        "not_trusted",
        "positive result from an agency that is not registered on EQAR",
        [_result("URB")],
    ),
    DemoCase(
        "dawnridge",
        "Dawnridge School of Design",
        "IT",
        "private HEI",
        "not_trusted",
        "its first result only starts in 30 days",
        [_result("ADE", start=30, end=2220)],
    ),
    DemoCase(
        "chartered",
        "Chartered Institute of Demo Engineers",
        "IE",
        "professional body",
        "trusted",
        "institutional result limited to EQF 6-7 in engineering (ISCED-F 07); EQF 8 is not_covered",
        [_result("DAC", limit_eqf_levels=[6, 7], limit_fields=["07"])],
    ),
    DemoCase(
        "newcomer", "Newcomer Learning Lab", "NL", "other", "not_trusted", "no external QA result recorded yet", []
    ),
]

# Further providers so the demo registry is browsable: (slug, name, country, type).
FILLER = [
    ("amberlake", "Amberlake University", "DE", "public HEI"),
    ("brennhof", "Hochschule Brennhof", "DE", "public HEI"),
    ("cortevale", "Università di Cortevale", "IT", "public HEI"),
    ("dunmore", "Dunmore Institute of Technology", "IE", "public HEI"),
    ("elmsford", "Elmsford School of Management", "NL", "private HEI"),
    ("fjordline", "Fjordline University College", "SE", "public HEI"),
    ("galdana", "Universidad de Galdana", "ES", "public HEI"),
    ("harrowgate", "Harrowgate Digital Academy", "FI", "MOOC platform"),
    ("isarbrook", "Isarbrook Professional Academy", "AT", "employer academy"),
    ("juniper", "Juniper Nursing Council", "PT", "professional body"),
    ("kestrel", "Kestrel Vocational College", "PL", "VET provider"),
    ("lumenfall", "Lumenfall Open University", "FR", "MOOC platform"),
    ("marlowe", "Marlowe Conservatory", "CZ", "private HEI"),
    ("norhaven", "Norhaven University", "SE", "public HEI"),
    ("orchardia", "Orchardia Agricultural University", "PL", "public HEI"),
    ("pinecrest", "Pinecrest Coding School", "PT", "other"),
    ("quayside", "Quayside Maritime Academy", "NL", "VET provider"),
    ("rosenthal", "Rosenthal University of Music", "AT", "public HEI"),
    ("silverbay", "Silverbay Institute of Health", "FI", "private HEI"),
    ("thornbury", "Thornbury Law School", "IE", "private HEI"),
    ("umberton", "École d'Umberton", "FR", "public HEI"),
    ("valebrook", "Valebrook Teacher Training College", "CZ", "public HEI"),
    ("wyndham", "Wyndham Engineering Academy", "ES", "employer academy"),
    ("yarrow", "Yarrow Institute of Accountants", "DE", "professional body"),
]

AGENCIES = [
    # acronym, name, country, registered from (days), to (days); None = not on EQAR
    ("DAC", "Demo Accreditation Council", "NL", -4000, 1800),
    ("NQA", "Northern Quality Agency (demo)", "SE", -3500, 1500),
    ("ADE", "Agence de démonstration pour l'évaluation", "FR", -3000, 130),
    ("URB", "Unlisted Review Bureau (demo, not on EQAR)", "DE", None, None),
]


def demo_loaded(session: Session) -> bool:
    return session.exec(select(Provider.id).where(Provider.is_demo == True)).first() is not None  # noqa: E712


def load_demo(session: Session) -> dict[str, Any]:
    """Create the demo registry once; loading it again changes nothing."""
    if demo_loaded(session):
        return {"loaded": False}
    agencies = _agencies(session)
    ids: dict[str, int] = {}
    for number, case in enumerate(CASES, start=1):
        ids[case.slug] = _provider(session, case.slug, case.name, case.country, case.provider_type, number)
    for number, (slug, name, country, provider_type) in enumerate(FILLER, start=len(CASES) + 1):
        ids[slug] = _provider(session, slug, name, country, provider_type, number)
    for case in CASES:
        for spec in case.results:
            _record(session, agencies, [ids[case.slug]], case.slug, spec)
    for index, (slug, *_rest) in enumerate(FILLER):
        agency = ["DAC", "NQA", "ADE"][index % 3]
        start = -200 - 97 * index
        spec = _result(agency, start=start, end=start + 2190)
        if index % 5 == 4:
            spec = _result(
                agency,
                "positive with conditions or restrictions",
                start=start,
                end=start + 2190,
                conditions_due=60 + index * 11,
            )
        _record(session, agencies, [ids[slug]], slug, spec)
    _special_cases(session, ids)
    _pending_request(session)
    _self_assessments(session, ids)
    accounts = _accounts(session, agencies, ids)
    return {"loaded": True, "providers": len(ids), "agencies": len(agencies), "accounts": accounts}


def _agencies(session: Session) -> dict[str, int]:
    ids = {}
    for acronym, name, country, start, end in AGENCIES:
        agency = create_agency(
            session,
            name=name,
            acronym=acronym,
            country=country,
            actor=DEMO,
            website=f"https://{acronym.lower()}.example",
            activities=["institutional", "programme", "institutional/programme"],
            is_demo=True,
        )
        if start is not None and end is not None:
            add_registration(
                session, agency, registered_from=_d(start), registered_to=_d(end), actor=DEMO, source="demo"
            )
        ids[acronym] = agency.id or 0
    return ids


def _provider(session: Session, slug: str, name: str, country: str, provider_type: str, number: int) -> int:
    host = f"{slug}.example"
    provider = providers.create_provider(
        session,
        providers.ProviderInput(
            name=name,
            country=country,
            provider_type=provider_type,
            website=f"https://{host}",
            founded_on=dt.date(1950 + number, 9, 1),
            identifiers=[
                {"scheme": "did", "value": f"did:web:{host}"},
                {"scheme": "url", "value": f"https://{host}/issuer"},
                {"scheme": "domain", "value": host},
                {"scheme": "deqar", "value": f"DEQARINST9{number:03d}"},
            ],
        ),
        DEMO,
        is_demo=True,
    )
    return provider.id or 0


def _record(session: Session, agencies: dict[str, int], provider_ids: list[int], slug: str, spec: dict) -> None:
    activity = spec.get("activity", "institutional")
    result = record_result(
        session,
        ResultInput(
            agency_id=agencies[spec["agency"]],
            provider_ids=provider_ids,
            activity_type=activity,
            status=OBLIGATORY,
            decision=spec["decision"],
            valid_from=_d(spec["start"]),
            valid_to=_d(spec["end"]) if spec["end"] is not None else None,
            conditions_due=_d(spec["conditions_due"]) if spec.get("conditions_due") else None,
            local_id=f"{spec['agency']}-{slug}-{spec['start']}",
            limit_eqf_levels=spec.get("limit_eqf_levels", []),
            limit_fields=spec.get("limit_fields", []),
            programmes=[ProgrammeInput(**p) for p in spec.get("programmes", [])],
            report_links=[f"https://{spec['agency'].lower()}.example/reports/{slug}.pdf"],
            summary="Demonstration result (fictional).",
        ),
        DEMO,
        is_demo=True,
    )
    if spec.get("revoke") is not None:
        revoke_result(session, result, revoked_from=_d(spec["revoke"]), actor=DEMO)
    if spec.get("withdraw"):
        withdraw_result(session, result, reason="Entered in error: the report belongs to another provider.", actor=DEMO)


def _special_cases(session: Session, ids: dict[str, int]) -> None:
    brightpath = session.get(Provider, ids["brightpath"])
    assert brightpath is not None
    providers.suspend(
        session,
        brightpath,
        suspended_from=_d(-30),
        suspended_to=None,
        reason="Investigation of irregular certificate issuance (demo)",
        actor=DEMO,
    )
    oldgate = session.get(Provider, ids["oldgate"])
    assert oldgate is not None
    providers.update_provider(session, oldgate, {"closed_on": _d(-400)}, DEMO, oldgate.version)
    westbury = session.get(Provider, ids["westbury"])
    assert westbury is not None
    providers.add_relation(
        session, westbury, kind="absorbed by", related_provider_id=ids["eastbury"], valid_from=_d(-365), actor=DEMO
    )
    providers.add_relation(
        session,
        session.get(Provider, ids["thornbury"]),  # type: ignore[arg-type]
        kind="parent",
        related_provider_id=ids["dunmore"],
        actor=DEMO,
    )
    # An identifier the provider claims but has not proven: it does not resolve.
    providers.add_identifier(
        session,
        session.get(Provider, ids["newcomer"]),  # type: ignore[arg-type]
        scheme="did",
        value="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        origin="claimed",
        actor=DEMO,
    )


def _pending_request(session: Session) -> None:
    providers.create_provider(
        session,
        providers.ProviderInput(
            name="Pending Request Institute",
            country="BE",
            provider_type="other",
            website="https://pending.example",
            identifiers=[{"scheme": "domain", "value": "pending.example"}],
        ),
        DEMO,
        confirmed=False,
        is_demo=True,
    )


def _self_assessments(session: Session, ids: dict[str, int]) -> None:
    standards = esg_part(session, 1)
    plan = [
        ("northbridge", "accepted"),
        ("northbridge", "draft"),
        ("meridian", "submitted"),
        ("tidewater", "returned"),
        ("skillforge", "accepted"),
    ]
    versions: dict[str, int] = {}
    for slug, state in plan:
        versions[slug] = versions.get(slug, 0) + 1
        accepted_on = _d(-200) if state == "accepted" else None
        assessment = SelfAssessment(
            provider_id=ids[slug],
            version_number=versions[slug],
            state=state,
            is_demo=True,
            submitted_at=utcnow() if state != "draft" else None,
            reviewed_at=utcnow() if state in ("accepted", "returned") else None,
            review_comment="Evidence for 1.9 is missing; please add the programme review calendar."
            if state == "returned"
            else None,
            accepted_on=accepted_on,
            next_due=add_years(accepted_on, 3) if accepted_on else None,
        )
        session.add(assessment)
        session.flush()
        for standard in standards:
            session.add(
                SelfAssessmentEntry(
                    assessment_id=assessment.id or 0,
                    standard_code=standard.code,
                    rating=None if state == "draft" and standard.code in ("1.9", "1.10") else "compliant",
                    narrative=None
                    if state == "draft" and standard.code in ("1.9", "1.10")
                    else f"How {standard.title.lower()} is assured (demo text).",
                    evidence_links=[f"https://{slug}.example/qa/{standard.code}"],
                )
            )
    session.flush()


def _accounts(session: Session, agencies: dict[str, int], ids: dict[str, int]) -> list[dict[str, str]]:
    specs = [
        ("operator@registry.example", "Olivia Operator", "operator", {}),
        ("editor@dac.example", "Eddie Editor (DAC)", "agency editor", {"agency_id": agencies["DAC"]}),
        ("reviewer@dac.example", "Rita Reviewer (DAC)", "agency reviewer", {"agency_id": agencies["DAC"]}),
        ("staff@northbridge.example", "Sam Staff (Northbridge)", "provider staff", {"provider_id": ids["northbridge"]}),
    ]
    created = []
    for email, name, role, scope in specs:
        create_user(session, email=email, display_name=name, password=DEMO_PASSWORD, role=role, actor=DEMO, **scope)
        created.append({"email": email, "role": role, "password": DEMO_PASSWORD})
    return created
