"""Controlled vocabularies of the domain (ESG 2015, DEQAR, European Learning Model)."""

from __future__ import annotations

DECISIONS = ("positive", "positive with conditions or restrictions", "negative", "not applicable")
POSITIVE_DECISIONS = ("positive", "positive with conditions or restrictions")
WITH_CONDITIONS = "positive with conditions or restrictions"

STATUSES = ("part of obligatory external QA system", "voluntary")

ACTIVITY_TYPES = ("institutional", "programme", "joint programme", "institutional/programme")
INSTITUTION_WIDE_ACTIVITIES = ("institutional", "institutional/programme")

PROVIDER_TYPES = (
    "public HEI",
    "private HEI",
    "MOOC platform",
    "employer academy",
    "professional body",
    "VET provider",
    "other",
)

NAME_KINDS = ("official", "english", "acronym")

RELATION_KINDS = ("parent", "succeeded by", "absorbed by", "spun off from")
# A provider that is succeeded or absorbed closes on the relation's date; its successor inherits.
MERGER_RELATIONS = ("succeeded by", "absorbed by")

IDENTIFIER_ORIGINS = ("agency", "imported", "proven", "claimed")
# A claim the provider has not proven never resolves in the trust API.
RESOLVING_ORIGINS = ("agency", "imported", "proven")

EQF_LEVELS = (5, 6, 7, 8)

ASSESSMENT_STATES = ("draft", "submitted", "accepted", "returned")
ASSESSMENT_RATINGS = ("compliant", "partially compliant", "non-compliant", "not applicable")

ROLES = ("operator", "agency editor", "agency reviewer", "provider staff")

DEADLINE_KINDS = ("result expiry", "conditions follow-up", "self-assessment renewal", "registration end")
