"""Every model, imported here so Alembic sees every table."""
from caseapp.models.agency import ROLES, Agency, Invitation, User
from caseapp.models.api_token import ApiToken
from caseapp.models.audit import AUDIT_KINDS, AuditEvent, PasswordReset
from caseapp.models.bulk import BULK_ACTIONS, BulkAction
from caseapp.models.case import (
    KINDS,
    PRIORITIES,
    REASONS,
    STATUSES,
    Case,
    CaseAsin,
    CaseEvent,
    Note,
)
from caseapp.models.client import MARKETPLACES, Client
from caseapp.models.deadline import (
    CLOCKS,
    DEADLINE_KINDS,
    DEADLINE_STATUSES,
    PRESET_UNITS,
    Deadline,
    DeadlinePreset,
)
from caseapp.models.evidence import CATEGORIES, Evidence, PoaEvidenceLink
from caseapp.models.idempotency import IdempotencyKey
from caseapp.models.inbound import INBOUND_STATUSES, MATCHED_BY, PROPOSAL_STATES, SENDER_ROLES, InboundMessage
from caseapp.models.poa import PoaDraft
from caseapp.models.portal import (
    ITEM_KINDS,
    ITEM_STATUSES,
    REQUEST_STATUSES,
    SHARE_STATUSES,
    DocumentChecklist,
    DocumentRequest,
    DocumentRequestItem,
    PoaShare,
    PortalLink,
)
from caseapp.models.submission import (
    CHANNELS,
    OUTCOMES,
    AmazonResponse,
    MailProblem,
    OutboxMessage,
    Reminder,
    Submission,
    SubmissionEvidence,
)
from caseapp.models.saved_view import SavedView
from caseapp.models.search import SearchDocument
from caseapp.models.types import utcnow
from caseapp.models.user_session import END_REASONS, UserSession

__all__ = [
    "Agency", "User", "Invitation", "ROLES", "UserSession", "END_REASONS",
    "ApiToken", "AuditEvent", "PasswordReset", "AUDIT_KINDS",
    "BulkAction", "BULK_ACTIONS",
    "Client", "MARKETPLACES",
    "Case", "CaseAsin", "CaseEvent", "Note",
    "PoaDraft", "SearchDocument", "SavedView",
    "PortalLink", "DocumentRequest", "DocumentRequestItem", "DocumentChecklist", "PoaShare",
    "REQUEST_STATUSES", "ITEM_STATUSES", "ITEM_KINDS", "SHARE_STATUSES",
    "Evidence", "PoaEvidenceLink", "CATEGORIES",
    "IdempotencyKey",
    "InboundMessage", "INBOUND_STATUSES", "MATCHED_BY", "SENDER_ROLES", "PROPOSAL_STATES",
    "Deadline", "DeadlinePreset", "DEADLINE_KINDS", "DEADLINE_STATUSES", "CLOCKS", "PRESET_UNITS",
    "Submission", "SubmissionEvidence", "AmazonResponse", "Reminder", "OutboxMessage", "MailProblem", "CHANNELS", "OUTCOMES",
    "KINDS", "REASONS", "STATUSES", "PRIORITIES",
    "utcnow",
]
