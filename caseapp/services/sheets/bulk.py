"""Bulk actions on the case list: reassign, set the priority, move the status or close the
selected cases, or every case the list's filters match; and undo the person's latest one.

Each case is judged on its own. A case the action cannot change (the workflow refuses the
move, or it already has that value) is listed with the reason and left as it is; the cases
that can change do, in the same unit of work: a bulk action is not all or nothing, because
one closed case among forty must not stop the other thirty-nine (issue 18: "the result lists
what moved and what was refused and why"). Every refusal is decided before anything is
written, so no step raises inside the unit of work (core/transaction.py: an inner block that
raises spoils the outer one).

The changes go through the services that own them (records.update_case for the assignee and
the priority, workflow.set_status for the status), which write the case's one timeline entry;
while a bulk action runs, every entry they add carries the action's id in its data and says
"(bulk change)" in its summary, so there is no second entry per case. One audit event names
the action, its value and its counts.

Undo: the author's own latest bulk action, within UNDO_HOURS, once. Each case goes back to
the value it had before, unless someone changed it since (its value is no longer the one the
action set): that case is left and listed. A status goes back the way a person could move it
on the case page, where the workflow lets one. Where it does not (Drafting POA back to Denied,
which only Amazon sets), the move back is a workflow correction (by=CORRECTION, the undoing of
a move that should not have happened) when the bulk's move had no consequence to restore;
when it had one (a close ended the case's clocks, leaving "Submitted" stopped its follow-ups)
the case is left and listed with the reason, to be moved by hand. A case that left "Submitted"
is never put back: it would read "Submitted" with no follow-up running. A closed case reopened
by the undo keeps its ended clocks ended, exactly as when a person reopens it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from caseapp.core import locking
from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.parsing import parse_id
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import BULK_ACTIONS, PRIORITIES, BulkAction, Case, CaseEvent, User, utcnow
from caseapp.models.case import PRIORITY_LABELS
from caseapp.services.accounts import audit
from caseapp.services.appeals import workflow
from caseapp.services.cases import records
from caseapp.services.cases.records import CaseFilters

MAX_CASES = 5000  # one bulk action at most; a filter matching more is refused, never cut short
BATCH = 500  # the filtered list is read in keyset batches of this size
UNDO_HOURS = 24
ACTION_LABELS = {"reassign": "Reassign to", "priority": "Set priority", "status": "Move status to",
                 "close": "Close"}
# The entries the bulk's own changes write (others, such as a reminder stopped by a close,
# get the bulk's id but keep their summary).
_CHANGE_KINDS = ("assigned", "edited", "status_changed")


@dataclass
class BulkResult:
    bulk: BulkAction
    moved: list[Case] = field(default_factory=list)
    refused: list[tuple[Case | None, str]] = field(default_factory=list)


# ---- the value ---------------------------------------------------------------------------------

def _target(actor: User, action: str, value: Any) -> Any:
    """The value the action sets (an assignee id or None, a priority, a status), or raise
    ValidationFailed before anything changes."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed({"action": "Choose an action: " + ", ".join(BULK_ACTIONS) + "."},
                               "Choose what to do with the cases.")
    if action == "close":
        return "closed"
    if action == "reassign":
        if value in (None, "", "none"):
            return None
        person = db.session.get(User, parse_id(value)) if parse_id(value) else None
        if person is None or person.agency_id != actor.agency_id or not person.active:
            raise ValidationFailed({"value": "Choose an active member of your agency."},
                                   "Choose an active member of your agency to assign the cases to.")
        return person.id
    if action == "priority":
        if value not in PRIORITIES:
            raise ValidationFailed({"value": "Choose a priority."}, "Choose a priority for the cases.")
        return value
    if value not in workflow.TRANSITIONS:
        raise ValidationFailed({"value": "Choose a status."}, "Choose the status to move the cases to.")
    return value


def value_label(action: str, value: Any) -> str:
    """The value in words: a person's name, a priority or a status."""
    if action == "reassign":
        person = db.session.get(User, value) if value else None
        return person.name if person else "Unassigned"
    if action == "priority":
        return PRIORITY_LABELS.get(value, str(value))
    return workflow.LABELS.get(value, str(value))


def describe(bulk: BulkAction) -> str:
    """e.g. "Reassign to Dana Li", "Close"."""
    if bulk.action == "close":
        return "Close"
    return f"{ACTION_LABELS[bulk.action]} {value_label(bulk.action, _stored(bulk.action, bulk.value))}"


def _stored(action: str, text: str) -> Any:
    return (int(text) if text else None) if action == "reassign" else text


# ---- which cases ------------------------------------------------------------------------------

def _too_many(count: str) -> ValidationFailed:
    message = (f"{count} cases is more than a bulk action takes ({MAX_CASES:,} at most); "
               "narrow the filter and apply it in parts.")
    return ValidationFailed({"cases": message}, message)


def _selected(actor: User, case_ids) -> tuple[list[int], list[int]]:
    """(the agency's ids among `case_ids`, in the order given; the ids it has no case for)."""
    wanted: list[int] = []
    for raw in case_ids or ():
        case_id = parse_id(raw)
        if case_id is not None and case_id not in wanted:
            wanted.append(case_id)
    if len(wanted) > MAX_CASES:
        raise _too_many(f"{len(wanted):,}")
    found: set[int] = set()
    for start in range(0, len(wanted), BATCH):
        found.update(db.session.scalars(select(Case.id).where(
            Case.id.in_(wanted[start:start + BATCH]), Case.agency_id == actor.agency_id)))
    return [i for i in wanted if i in found], [i for i in wanted if i not in found]


def _matching(actor: User, f: CaseFilters) -> list[int]:
    """Every case the filters match, in the list's order, read BATCH at a time."""
    f = replace(f, page=1, after="", before="")
    ids: list[int] = []
    while True:
        page = records.list_cases(actor, f, per_page=BATCH)
        ids.extend(case.id for case in page.items)
        if len(ids) > MAX_CASES:
            raise _too_many(f"More than {MAX_CASES:,}")
        if not page.has_next:
            return ids
        f = replace(f, after=page.next_cursor)


def matching_count(actor: User, f: CaseFilters) -> int:
    """How many cases "all matching" would take, counted up to MAX_CASES + 1."""
    try:
        return len(_matching(actor, f))
    except ValidationFailed:
        return MAX_CASES + 1


# ---- marking the entries ----------------------------------------------------------------------

@contextmanager
def _marked(bulk: BulkAction, suffix: str, extra: dict[str, Any]) -> Iterator[None]:
    """While the block runs, every timeline entry added to the session carries the bulk's id
    (and `extra`) in its data, and a change's entry says `suffix` in its summary."""
    session = db.session()

    def mark(_session, instance) -> None:
        if isinstance(instance, CaseEvent):
            instance.data = {**(instance.data or {}), "bulk_id": bulk.id, **extra}
            if instance.kind in _CHANGE_KINDS:
                instance.summary = (instance.summary + suffix)[:500]

    event.listen(session, "transient_to_pending", mark)
    try:
        yield
    finally:
        event.remove(session, "transient_to_pending", mark)


# ---- apply --------------------------------------------------------------------------------------

def _current(action: str, case: Case) -> Any:
    return {"reassign": case.assignee_id, "priority": case.priority}.get(action, case.status)


def _why_unchanged(action: str, case: Case, target: Any) -> str | None:
    """Why the action leaves this case as it is, or None when it can change it."""
    if action in ("reassign", "priority"):
        if _current(action, case) == target:
            return ("Already assigned to " + value_label(action, target) if action == "reassign" and target
                    else "Already unassigned" if action == "reassign"
                    else f"Already {value_label(action, target)} priority") + "."
        return None
    try:
        workflow.check_move(case.status, target, workflow.PERSON)
    except Conflict as refusal:
        return refusal.message
    return None


def _change(actor: User, action: str, case: Case, target: Any, now: datetime,
            by: str = workflow.PERSON) -> None:
    if action == "reassign":
        records.update_case(actor, case.id, {"assignee_id": target})
    elif action == "priority":
        records.update_case(actor, case.id, {"priority": target})
    else:
        workflow.set_status(actor, case, target, by=by, now=now)


@transactional
def apply(actor: User, action: str, value: Any = None, case_ids=None, filters: CaseFilters | None = None,
          now: datetime | None = None) -> BulkResult:
    """Apply `action` with `value` to the cases `case_ids` (of the actor's agency; any other
    id is listed as not found and never read), or, with `filters`, to every case they match.

    Raises ValidationFailed, before anything changes, for an unknown action or value, when no
    case is chosen, and above MAX_CASES cases.
    """
    now = now or utcnow()
    target = _target(actor, action, value)
    if filters is not None:
        ids, missing, scope = _matching(actor, filters), [], "matching"
    else:
        (ids, missing), scope = _selected(actor, case_ids), "selected"
    if not ids and not missing:
        message = ("No case matches the filter." if scope == "matching"
                   else "Select at least one case (tick its box in the list).")
        raise ValidationFailed({"cases": message}, message)
    bulk = BulkAction(agency_id=actor.agency_id, actor_id=actor.id, action=action, scope=scope,
                      value="" if target is None else str(target), created_at=now, items=[], refused=[])
    db.session.add(bulk)
    db.session.flush()
    result = BulkResult(bulk)
    items: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = [{"case_id": i, "title": "", "reason": "No such case."} for i in missing]
    result.refused.extend((None, "No such case.") for _ in missing)
    with _marked(bulk, " (bulk change)", {}):
        # Locked in id order, whatever the list's: two bulk actions over the same cases then
        # wait for each other instead of deadlocking.
        for case_id in sorted(ids):
            case = records.get_case(actor, case_id, for_update=True)
            why = _why_unchanged(action, case, target)
            if why:
                refused.append({"case_id": case.id, "title": case.title, "reason": why})
                result.refused.append((case, why))
                continue
            before = _current(action, case)
            _change(actor, action, case, target, now)
            items.append({"case_id": case.id, "title": case.title, "before": before, "after": target})
            result.moved.append(case)
    bulk.items, bulk.refused = items, refused
    audit.record("bulk_action", actor, target=f"{len(ids) + len(missing)} cases ({scope})",
                 detail=f"bulk {bulk.id}: {describe(bulk)}: {len(items)} changed, {len(refused)} refused")
    return result


# ---- reading and undoing ------------------------------------------------------------------------

def get(actor: User, bulk_id: int, for_update: bool = False) -> BulkAction:
    """One of the actor's own bulk actions; NotFound for anyone else's."""
    stmt = select(BulkAction).where(BulkAction.id == bulk_id, BulkAction.actor_id == actor.id,
                                    BulkAction.agency_id == actor.agency_id)
    if for_update:
        stmt = locking.for_update(stmt, of=BulkAction)
    bulk = db.session.scalar(stmt)
    if bulk is None:
        raise NotFound("No such bulk action.")
    return bulk


def _latest_id(actor: User) -> int | None:
    return db.session.scalar(select(BulkAction.id).where(BulkAction.actor_id == actor.id)
                             .order_by(BulkAction.created_at.desc(), BulkAction.id.desc()).limit(1))


def why_not_undoable(actor: User, bulk: BulkAction, now: datetime | None = None) -> str | None:
    """Why `bulk` cannot be undone now, or None when it can."""
    now = now or utcnow()
    if bulk.undone_at is not None:
        return "This bulk action was already undone."
    if not bulk.items:
        return "This bulk action changed no case, so there is nothing to undo."
    if _latest_id(actor) != bulk.id:
        return "Only your latest bulk action can be undone; you made another one after this."
    if now - bulk.created_at > timedelta(hours=UNDO_HOURS):
        return f"A bulk action can be undone within {UNDO_HOURS} hours; this one is older."
    return None


def _why_not_back(actor: User, action: str, case: Case | None, item: dict[str, Any]) -> str | None:
    if case is None:
        return "The case no longer exists."
    now_value = _current(action, case)
    if now_value != item["after"]:
        return f"Changed since the bulk action: now {value_label(action, now_value)}; left as it is."
    before = item["before"]
    if action == "reassign" and before is not None:
        person = db.session.get(User, before)
        if person is None or not person.active:
            return f"{person.name if person else 'The previous assignee'} is deactivated; assign the case by hand."
    if action in ("status", "close") and before == "submitted":
        return ("Moving it off Submitted to Amazon stopped its follow-ups, which an undo cannot "
                "restart: record Amazon's reply or a new submission on the case page.")
    if action in ("status", "close") and _status_mover(case.status, before) is None:
        try:
            workflow.check_move(case.status, before, workflow.PERSON)
        except Conflict as refusal:
            return refusal.message + " Move it by hand on the case page."
    return None


def _status_mover(current: str, before: str) -> str | None:
    """Who moves a case back from `current` (the status the bulk action set) to `before`: a
    person, where the workflow lets one; else a correction, where the bulk's move had no
    consequence to restore (it neither left "submitted", which stops the follow-ups, nor
    ended or denied the case, which ends its clocks); else nobody (None)."""
    if workflow.may_move(current, before, workflow.PERSON):
        return workflow.PERSON
    if before != "submitted" and current not in (*workflow.ENDED, "denied"):
        return workflow.CORRECTION
    return None


@transactional
def undo(actor: User, bulk_id: int, now: datetime | None = None) -> BulkAction:
    """Put back what the actor's latest bulk action changed (module docstring). Raises
    NotFound for another person's action, Conflict when it cannot be undone (why_not_undoable)."""
    now = now or utcnow()
    bulk = get(actor, bulk_id, for_update=True)
    refusal = why_not_undoable(actor, bulk, now)
    if refusal:
        raise Conflict(refusal)
    not_undone: list[dict[str, Any]] = []
    done = 0
    with _marked(bulk, " (bulk change undone)", {"bulk_undo": True}):
        for item in bulk.items:
            case = db.session.scalar(select(Case.id).where(Case.id == item["case_id"],
                                                           Case.agency_id == actor.agency_id))
            case = records.get_case(actor, case, for_update=True) if case is not None else None
            why = _why_not_back(actor, bulk.action, case, item)
            if why:
                not_undone.append({"case_id": item["case_id"], "title": item["title"], "reason": why})
                continue
            by = (_status_mover(case.status, item["before"]) if bulk.action in ("status", "close")
                  else workflow.PERSON)
            _change(actor, bulk.action, case, item["before"], now, by=by)
            done += 1
    bulk.undone_at, bulk.not_undone, bulk.undone_count = now, not_undone, done
    audit.record("bulk_undo", actor, target=f"{len(bulk.items)} cases",
                 detail=f"bulk {bulk.id}: undid {describe(bulk)}: {done} put back, {len(not_undone)} left")
    return bulk


# ---- the result page ----------------------------------------------------------------------------

SHOWN = 200  # changed cases listed on the result page; every refusal is listed


@dataclass
class Report:
    bulk: BulkAction
    title: str
    changed: list[dict[str, Any]]  # case_id, title, before, after (in words)
    more_changed: int
    refused: list[dict[str, Any]]
    not_undone: list[dict[str, Any]]
    undo_refusal: str | None


def report(actor: User, bulk_id: int, now: datetime | None = None) -> Report:
    """What one of the actor's bulk actions did, in words, and whether it can be undone."""
    found = get(actor, bulk_id)
    action = found.action
    changed = [{**item, "before": value_label(action, item["before"]), "after": value_label(action, item["after"])}
               for item in found.items[:SHOWN]]
    refusal = why_not_undoable(actor, found, now)
    return Report(found, describe(found), changed, max(len(found.items) - SHOWN, 0), found.refused,
                  found.not_undone, None if found.undone_at else refusal)
