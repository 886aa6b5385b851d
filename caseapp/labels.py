"""Human labels for the stored vocabularies, shared by pages and emails."""
from caseapp.models.case import KIND_LABELS, PRIORITY_LABELS, REASON_LABELS
from caseapp.services.appeals.workflow import LABELS as STATUS_LABELS

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
