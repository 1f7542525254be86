"""Reference data shipped with the package: ESG 2015, countries, the EQAR agency snapshot."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources
from typing import Any

from sqlmodel import Session, select

from registry.agencies.models import Agency, AgencyRegistration
from registry.audit.services import Actor, record_event
from registry.reference.models import Country, EsgStandard

# The snapshot's registration windows are history (2019-2020), recorded as such.
SNAPSHOT_SOURCE = "EQAR snapshot 2019-2020"


def _rows(name: str) -> list[dict[str, Any]]:
    text = resources.files("registry.reference").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines(), delimiter="\t"))


def load_reference(session: Session, actor: Actor = Actor("reference")) -> dict[str, int]:
    """Insert what is missing; running it again changes nothing."""
    counts = {"countries": 0, "standards": 0, "agencies": 0}
    for row in _rows("countries.tsv"):
        if session.get(Country, row["iso2"]) is None:
            session.add(
                Country(
                    iso2=row["iso2"],
                    iso3=row["iso3"],
                    name=row["name"],
                    ehea_member=row["ehea_member"] == "yes",
                    eu_country_uri=row["eu_country_uri"] or None,
                )
            )
            counts["countries"] += 1
    for row in _rows("esg2015.tsv"):
        if session.get(EsgStandard, row["code"]) is None:
            session.add(EsgStandard(code=row["code"], part=int(row["part"]), title=row["title"]))
            counts["standards"] += 1
    session.flush()
    for row in _rows("eqar_agencies_snapshot.tsv"):
        deqar_id = int(row["deqar_agency_id"])
        if session.exec(select(Agency).where(Agency.deqar_agency_id == deqar_id)).first():
            continue
        agency = Agency(
            name=row["name"], acronym=row["acronym"], country_iso2=row["country_iso2"], deqar_agency_id=deqar_id
        )
        session.add(agency)
        session.flush()
        session.add(
            AgencyRegistration(
                agency_id=agency.id or 0,
                registered_from=dt.date.fromisoformat(row["snapshot_registration_start"]),
                registered_to=_date(row["snapshot_registration_valid_to"]),
                source=SNAPSHOT_SOURCE,
            )
        )
        record_event(session, actor, "agency.import", agency)
        counts["agencies"] += 1
    session.flush()
    return counts


def _date(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def esg_part(session: Session, part: int) -> list[EsgStandard]:
    standards = session.exec(select(EsgStandard).where(EsgStandard.part == part)).all()
    return sorted(standards, key=lambda s: [int(x) for x in s.code.split(".")])


def countries(session: Session) -> list[Country]:
    return list(session.exec(select(Country).order_by(Country.name)))
