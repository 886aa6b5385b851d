"""Everything the case page shows, gathered in one place.

The case page is shown by several views (the page itself, and again with a form's errors
after a refused note or upload); each asks `case_overview` and renders what it returns, so
the page cannot show one thing after a GET and another after a refused POST.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import (AmazonResponse, Case, CaseEvent, Deadline, Evidence, Note, PoaDraft, Reminder,
                            Submission, User)
from caseapp.services.appeals import corrections, followups, submissions, workflow
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks
from caseapp.services.evidence import files
from caseapp.services.poa import drafts

TIMELINE_LIMIT = 100  # the newest events; the rest one click away


@dataclass
class CaseOverview:
    case: Case
    events: list[CaseEvent]
    more_events: bool  # the timeline was cut at its limit
    notes: dict[int, Note]  # the notes the shown events added, by id
    changeable_notes: set[int]  # of those, the ones the actor may edit or delete
    status_moves: tuple[str, ...]  # where the actor may move the status by hand
    people: list[User]  # whom the case can be assigned to
    poa_versions: list[PoaDraft]
    evidence_files: list[Evidence]
    clock: submissions.Clock
    # While the latest submission waits on Amazon: its next follow-up, the reminder before
    # it, or why there is none (dismissed, refused mail...). None when nothing waits.
    standing: followups.Standing | None
    pending_reminders: list[Reminder]
    submission_list: list[Submission]
    sent_evidence: dict[int, list[Evidence]]  # submission id -> the files sent with it
    responses: dict[int, list[AmazonResponse]]  # submission id -> Amazon's replies
    submittable: bool  # a submission can be recorded in the case's status
    # ("submission", id) and ("response", id) the actor may correct or withdraw
    changeable: set[tuple[str, int]]
    next_step: str  # what the case needs now, one of NEXT_STEPS
    # The case's deadlines (clocks.for_case: open soonest first, then closed), where each
    # stands now, and the names of the people who added or closed them, by id.
    deadlines: list[Deadline]
    deadline_clocks: dict[int, clocks.Clock]
    deadline_people: dict[int, str]


# What a case needs next, the first line of its page (templates/cases/detail.html words them).
# "deadline": nothing else to do, but a deadline is open (never "nothing to do" then).
NEXT_STEPS = ("start_poa", "finish_poa", "submit", "await_amazon", "revise_poa", "deadline", "none")


def next_step(case: Case, clock: submissions.Clock, poa_versions: list[PoaDraft], submittable: bool,
              open_deadlines: bool = False) -> str:
    """The one next action of the case's daily job, from its status, POA, clock and deadlines."""
    if case.status in ("reinstated", "denied", "closed"):
        return "deadline" if open_deadlines else "none"
    if clock.silent_hours is not None:
        return "await_amazon"  # follow up by the clock, or record Amazon's reply
    if case.status == "more_info_requested":
        return "revise_poa"
    if not poa_versions:
        return "start_poa"
    if not any(v.is_final for v in poa_versions):
        return "finish_poa"
    if submittable:
        return "submit"
    return "deadline" if open_deadlines else "none"


def deadline_people(deadlines: list[Deadline]) -> dict[int, str]:
    """The names of whoever added or closed these deadlines, by id (one query)."""
    ids = {i for d in deadlines for i in (d.created_by_id, d.closed_by_id) if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def case_overview(actor: User, case_id: int, now: datetime, *,
                  timeline_limit: int | None = TIMELINE_LIMIT) -> CaseOverview:
    """The case page of `case_id` as `actor` may see it; NotFound for another agency's case.

    With `timeline_limit` None, the whole timeline; otherwise its newest entries.
    """
    case = records.get_case(actor, case_id)
    events = records.events(actor, case.id, limit=timeline_limit)
    more_events = timeline_limit is not None and len(events) > timeline_limit
    events = events[:timeline_limit]
    notes = records.notes_by_id(case, [e.data.get("note_id") for e in events if e.kind == "note_added"])
    clock = submissions.clock(case, now)
    standing = (followups.standing(case, submissions.latest_submission(case.id), now)
                if clock.silent_hours is not None else None)
    submission_list = submissions.submissions_for_case(case.id)
    responses = submissions.responses_by_submission(case.id)
    poa_versions = drafts.versions(actor, case.id)
    submittable = workflow.may_submit(case.status)
    deadlines = clocks.for_case(case)
    return CaseOverview(
        case=case,
        events=events,
        more_events=more_events,
        notes=notes,
        changeable_notes={n.id for n in notes.values() if records.may_change_note(actor, n)},
        status_moves=workflow.allowed_moves(case.status, workflow.PERSON),
        people=records.assignee_choices(actor),
        poa_versions=poa_versions,
        evidence_files=files.list_for_case(actor, case.id),
        clock=clock,
        standing=standing,
        pending_reminders=followups.pending_for_case(case.id),
        submission_list=submission_list,
        sent_evidence=submissions.evidence_by_submission(case.id),
        responses=responses,
        submittable=submittable,
        changeable=corrections.changeable(actor, submission_list, responses),
        next_step=next_step(case, clock, poa_versions, submittable,
                            any(d.status == "open" for d in deadlines)),
        deadlines=deadlines,
        deadline_clocks={d.id: clocks.clock(d, now) for d in deadlines},
        deadline_people=deadline_people(deadlines),
    )
