"""The case status workflow: the one table of moves, and `set_status`, the one function that
changes a case's status.

Every path goes through `set_status`: the status form and `PATCH /api/v1/cases/<id>` (a
person), recording a submission, and logging Amazon's reply. `TRANSITIONS` says, for each
move, who may make it:

- PERSON: someone moving the status by hand (the case page's form, the API).
- SUBMISSION: recording a submission to Amazon. A consultant who logs an appeal on a case
  still "open" (the POA was written outside caseapp, or before the case was entered) expects
  the case to read "Submitted" at once, with one timeline entry; so a submission moves a
  case to "submitted" from open, drafting, more information requested and denied, without
  an invented "drafting" step. By hand, "submitted" is reached only from drafting or after
  Amazon asked for more: the form has no submission to attach the follow-up to.
- AMAZON: Amazon's reply. It is a fact, not a request: it moves any case that is not closed
  to what Amazon decided (a reply logged on a closed case is kept without reopening it).
- CORRECTION: a submission or reply corrected or withdrawn (services/appeals/corrections.py).
  Not a move along the workflow but the undoing of moves that should not have happened: the
  case goes to the status its history, replayed through this table, now leads to, which may
  be any status (a withdrawn "Reinstated" puts the case back to "Submitted").

`closed_at` (see models/case.py) is the moment the case's work ended: it is set when the
case reaches "reinstated" or "closed" from any other status, kept while it stays in one of
the two (reinstated, then closed for the files, ended at the reinstatement), and cleared
when it leaves them. Whoever made the move, the rule is the same.
"""
from __future__ import annotations

from datetime import datetime

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.models import Case, User, utcnow
from caseapp.services.appeals import followups
from caseapp.services.deadlines import clocks
from caseapp.services.portal import requests as portal_requests
from caseapp.services.cases import records, timeline

LABELS = {
    "open": "Open",
    "drafting": "Drafting POA",
    "submitted": "Submitted to Amazon",
    "more_info_requested": "More info requested",
    "reinstated": "Reinstated",
    "denied": "Denied",
    "closed": "Closed",
}

PERSON = "person"
SUBMISSION = "submission"
AMAZON = "amazon"
CORRECTION = "correction"
BY = (PERSON, SUBMISSION, AMAZON, CORRECTION)

# Where a case's work has ended: closed_at is set exactly while the status is one of these.
ENDED = clocks.CASE_ENDED  # ("reinstated", "closed"): the deadlines end with the case

_P, _S, _A = frozenset({PERSON}), frozenset({SUBMISSION}), frozenset({AMAZON})
_PS, _PA = _P | _S, _P | _A

# status -> {target: who may make that move}; the order of the targets is the form's order.
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "open": {"drafting": _P, "submitted": _S, "closed": _P,
             "more_info_requested": _A, "reinstated": _A, "denied": _A},
    "drafting": {"submitted": _PS, "open": _P, "closed": _P,
                 "more_info_requested": _A, "reinstated": _A, "denied": _A},
    "submitted": {"more_info_requested": _PA, "reinstated": _PA, "denied": _PA, "drafting": _P,
                  "closed": _P},
    "more_info_requested": {"drafting": _P, "submitted": _PS, "closed": _P,
                            "reinstated": _A, "denied": _A},
    "reinstated": {"closed": _P, "more_info_requested": _A, "denied": _A},
    "denied": {"drafting": _P, "submitted": _S, "closed": _P,
               "more_info_requested": _A, "reinstated": _A},
    "closed": {"open": _P},
}

# Why a person cannot reach a status from where the case is, keyed by the target.
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


def allowed_moves(status: str, by: str = PERSON) -> tuple[str, ...]:
    """The statuses `by` may move a case in `status` to, in the form's order."""
    return tuple(target for target, who in TRANSITIONS.get(status, {}).items() if by in who)


def may_move(current: str, target: str, by: str) -> bool:
    return by in TRANSITIONS.get(current, {}).get(target, ())


def may_submit(status: str) -> bool:
    """Can a submission be recorded on a case in `status`? ("submitted": a resubmission,
    which leaves the status as it is.)"""
    return status == "submitted" or may_move(status, "submitted", SUBMISSION)


def check_move(current: str, target: str, by: str = PERSON) -> None:
    """Raise ValidationFailed for a status that does not exist, Conflict (with the reason)
    when `by` may not make the move."""
    if not isinstance(target, str) or target not in TRANSITIONS:
        raise ValidationFailed({"status": "Choose one of: " + ", ".join(TRANSITIONS) + "."})
    if by not in BY:
        raise ValueError(f"unknown mover {by!r}")
    if may_move(current, target, by) or (by == CORRECTION and target != current):
        return
    if by == SUBMISSION:
        raise Conflict(f"A case in status {LABELS[current]} cannot be submitted; reopen it first.")
    if target == current:
        raise Conflict(f"The case is already in status {LABELS[current]}.")
    raise Conflict(
        f"A case cannot move from {LABELS[current]} to {LABELS[target]}: {_WHY_NOT[target]}."
    )


def set_status(actor: User | None, case: Case, status: str, *, by: str = PERSON,
               now: datetime | None = None) -> None:
    """Move `case` (loaded for update) to `status`, or raise as `check_move` does.

    Writes the timeline entry, keeps `closed_at` to its meaning (module docstring), and stops
    the follow-ups when nothing is left to chase: the case left "submitted", or Amazon
    answered or decided, or the agency stopped. Adds to the caller's unit of work.
    """
    check_move(case.status, status, by)
    now = now or utcnow()
    previous = case.status
    case.status = status
    if status not in ENDED:
        case.closed_at = None
    elif previous not in ENDED or case.closed_at is None:
        case.closed_at = now
    case.updated_at = now
    timeline.record(case, "status_changed", actor,
                    f"Status: {LABELS[previous]} → {LABELS[status]}",
                    {"from": previous, "to": status, "by": by})
    if previous == "submitted" or status in ("reinstated", "denied", "closed"):
        followups.cancel_for_case(case, f"status moved to {LABELS[status]}", actor)
        case.awaiting_since = None
    if status in ENDED and previous not in ENDED:
        clocks.case_ended(case, status, actor, now)
        portal_requests.case_ended(case, status, actor, now)


# The statuses a submission can be recorded in (the case page offers the form only there).
SUBMITTABLE = tuple(status for status in TRANSITIONS if may_submit(status))


@transactional
def change_status(actor: User, case_id: int, target: str, now: datetime | None = None) -> Case:
    """A person moves the case along the workflow (the status form, the API, the demo)."""
    case = records.get_case(actor, case_id, for_update=True)
    set_status(actor, case, target, by=PERSON, now=now)
    return records.get_case(actor, case.id)
