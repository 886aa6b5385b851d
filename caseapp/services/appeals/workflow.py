"""The case status workflow: which moves are allowed, and why the others are not."""
from caseapp.core.errors import Conflict, ValidationFailed

LABELS = {
    "open": "Open",
    "drafting": "Drafting POA",
    "submitted": "Submitted to Amazon",
    "more_info_requested": "More info requested",
    "reinstated": "Reinstated",
    "denied": "Denied",
    "closed": "Closed",
}

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("drafting", "closed"),
    "drafting": ("submitted", "open", "closed"),
    "submitted": ("more_info_requested", "reinstated", "denied", "drafting", "closed"),
    "more_info_requested": ("drafting", "submitted", "closed"),
    "reinstated": ("closed",),
    "denied": ("drafting", "closed"),
    "closed": ("open",),
}

# Why a status cannot be reached from where the case is, keyed by the target.
_WHY_NOT = {
    "open": "only a closed case can be reopened, and a draft can go back to open",
    "drafting": "a closed or reinstated case must be reopened before a new POA is drafted",
    "submitted": "a case is submitted from drafting (or after Amazon asked for more "
    "information), once a POA is ready",
    "more_info_requested": "only Amazon can ask for more information, and only about a "
    "submitted case",
    "reinstated": "Amazon can only reinstate a case that was submitted",
    "denied": "Amazon can only deny a case that was submitted",
    "closed": "a closed case is already closed",
}


def allowed_moves(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


def check_move(current: str, target: str) -> None:
    """Raise Conflict, with the reason, when the workflow does not allow the move."""
    if not isinstance(target, str) or target not in TRANSITIONS:
        raise ValidationFailed({"status": "Choose one of: " + ", ".join(TRANSITIONS) + "."})
    if target == current:
        raise Conflict(f"The case is already in status {LABELS[current]}.")
    if target not in TRANSITIONS[current]:
        raise Conflict(
            f"A case cannot move from {LABELS[current]} to {LABELS[target]}: {_WHY_NOT[target]}."
        )
