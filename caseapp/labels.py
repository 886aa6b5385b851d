"""Human labels for the stored vocabularies, shared by pages and emails."""
from caseapp.services.appeals.workflow import LABELS as STATUS_LABELS

KIND_LABELS = {
    "account_suspension": "Account suspension",
    "listing_deactivation": "Listing deactivation",
    "other": "Other",
}
REASON_LABELS = {
    "policy_violation": "Policy violation",
    "customer_complaints": "Customer complaints",
    "performance_metrics": "Performance metrics",
    "intellectual_property": "Intellectual property",
    "other": "Other",
}
PRIORITY_LABELS = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
ROLE_LABELS = {"admin": "Admin", "consultant": "Consultant"}
STATUS_COLOURS = {
    "open": "secondary",
    "drafting": "info",
    "submitted": "primary",
    "more_info_requested": "warning",
    "reinstated": "success",
    "denied": "danger",
    "closed": "dark",
}

ALL = {
    "status": STATUS_LABELS,
    "kind": KIND_LABELS,
    "reason": REASON_LABELS,
    "priority": PRIORITY_LABELS,
    "role": ROLE_LABELS,
}
