"""Every table, imported in one place for Alembic and for the metadata."""

from sqlmodel import SQLModel

# Registers the unit of work's listeners that keep derived state current, for every session.
import registry.derived  # noqa: F401
from registry.accounts.models import ProviderInvitation, RoleMembership, User, WebSession
from registry.agencies.models import Agency, AgencyRegistration
from registry.assessments.models import EvidenceFile, SelfAssessment, SelfAssessmentEntry
from registry.audit.models import AuditEvent
from registry.deadlines.models import CalendarFeed, DeadlineReminder, ProviderStatusEvent, ReviewDeadline
from registry.mail.models import OutboxMessage
from registry.providers.models import (
    IdentifierChallenge,
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
from registry.submissions.models import ApiToken, SubmissionWarning
from registry.trust.models import (
    FederationSubordinateEvent,
    SigningKey,
    TrustFeedCounter,
    TrustListEntry,
    TrustTimeline,
)

metadata = SQLModel.metadata

__all__ = [
    "Agency",
    "FederationSubordinateEvent",
    "ApiToken",
    "SubmissionWarning",
    "AgencyRegistration",
    "AuditEvent",
    "CalendarFeed",
    "Country",
    "DeadlineReminder",
    "EvidenceFile",
    "IdentifierChallenge",
    "EsgStandard",
    "OutboxMessage",
    "Provider",
    "ProviderStatusEvent",
    "ProviderIdentifier",
    "ProviderInvitation",
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
    "TrustFeedCounter",
    "TrustListEntry",
    "TrustTimeline",
    "User",
    "WebSession",
    "metadata",
]
