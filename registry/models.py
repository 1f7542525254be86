"""Every table, imported in one place for Alembic and for the metadata."""

from sqlmodel import SQLModel

from registry.accounts.models import RoleMembership, User, WebSession
from registry.agencies.models import Agency, AgencyRegistration
from registry.assessments.models import SelfAssessment, SelfAssessmentEntry
from registry.audit.models import AuditEvent
from registry.deadlines.models import ReviewDeadline
from registry.providers.models import (
    Provider,
    ProviderIdentifier,
    ProviderName,
    ProviderRelation,
    ProviderSuspension,
)
from registry.qa.models import (
    QAReportFile,
    QAResult,
    QAResultContributingAgency,
    QAResultProgramme,
    QAResultProvider,
)
from registry.reference.models import Country, EsgStandard
from registry.trust.models import SigningKey, TrustTimeline

metadata = SQLModel.metadata

__all__ = [
    "Agency",
    "AgencyRegistration",
    "AuditEvent",
    "Country",
    "EsgStandard",
    "Provider",
    "ProviderIdentifier",
    "ProviderName",
    "ProviderRelation",
    "ProviderSuspension",
    "QAReportFile",
    "QAResult",
    "QAResultContributingAgency",
    "QAResultProgramme",
    "QAResultProvider",
    "ReviewDeadline",
    "RoleMembership",
    "SelfAssessment",
    "SelfAssessmentEntry",
    "SigningKey",
    "TrustTimeline",
    "User",
    "WebSession",
    "metadata",
]
