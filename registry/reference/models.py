from __future__ import annotations

from sqlmodel import Field, SQLModel


class Country(SQLModel, table=True):
    iso2: str = Field(primary_key=True, max_length=2)
    iso3: str = Field(max_length=3)
    name: str
    ehea_member: bool = False
    eu_country_uri: str | None = None


class EsgStandard(SQLModel, table=True):
    __tablename__ = "esg_standard"

    code: str = Field(primary_key=True, max_length=8)
    part: int
    title: str
