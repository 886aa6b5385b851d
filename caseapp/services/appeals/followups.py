"""Follow-up reminders: scheduling, cancelling, snoozing, dismissing, and the case deadline.

The helpers add to the caller's unit of work; `snooze` and `dismiss`, which a person calls,
are units of work of their own (core.transaction). The rules:
- a submission schedules a follow-up at submitted_at + the agency's follow-up hours;
- it repeats every FOLLOW_UP_REPEAT_HOURS until a reply, the case closing, or a dismissal;
- a reply cancels the submission's pending reminders, a new submission supersedes them;
- a submission dated before the case's latest one is history: it starts no follow-up
  (`newer_than`, `history_note` say so to whoever records it).

`next_follow_up` is the one definition of a case's next follow-up and of "overdue" that the
dashboard, the case page, the digest, the calendar feed and the API all show; `open_sql` and
`overdue_sql` are the same rule as SQL conditions.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, or_, select

from caseapp.core import paging
from caseapp.core.errors import Conflict, NotFound
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import Agency, Case, CaseEvent, Reminder, Submission, User, utcnow
from caseapp.services.accounts import people
from caseapp.services.cases import records, timeline
from caseapp.services.deadlines import clocks
from caseapp.services.mail import outbox


def follow_up_hours(case: Case) -> int:
    return people.follow_up_hours(db.session.get(Agency, case.agency_id))


def repeat_hours() -> int:
    return current_app.config["FOLLOW_UP_REPEAT_HOURS"]


def schedule_first(case: Case, submission: Submission) -> Reminder:
    reminder = Reminder(
        agency_id=case.agency_id, case_id=case.id, submission_id=submission.id, sequence=1,
        due_at=submission.submitted_at + timedelta(hours=follow_up_hours(case)),
    )
    db.session.add(reminder)
    db.session.flush()
    return reminder


def _pending(where) -> list[Reminder]:
    """Pending reminders, locked: one the dispatcher marks sent meanwhile is not overwritten."""
    return list(db.session.scalars(
        select(Reminder).where(Reminder.status == "pending", *where).with_for_update()
        .execution_options(populate_existing=True)))


def cancel(pending: list[Reminder], case: Case, reason: str, actor: User | None,
           mail_of=None) -> int:
    """Cancel reminders, and mail of theirs not yet sent; one timeline entry per reminder.

    `mail_of` selects which queued mail goes too (by default, that of the cancelled
    reminders); mail of a reminder already sent to one person can still wait for another
    person's quiet hours, and must not go out after Amazon replied.
    """
    ids = [r.id for r in pending]
    for reminder in pending:
        reminder.status = "cancelled"
        reminder.cancelled_reason = reason
        timeline.record(case, "reminder_cancelled", actor,
                        f"Follow-up reminder {reminder.sequence} cancelled: {reason}",
                        {"reminder_id": reminder.id, "submission_id": reminder.submission_id})
    if mail_of is None:
        mail_of = Reminder.id.in_(ids)
    outbox.cancel_for_reminders(select(Reminder.id).where(mail_of), reason)
    refresh_deadline(case)
    return len(pending)


def cancel_for_submission(case: Case, submission_id: int, reason: str, actor: User | None) -> int:
    return cancel(_pending([Reminder.submission_id == submission_id]), case, reason, actor,
                  mail_of=Reminder.submission_id == submission_id)


def cancel_for_case(case: Case, reason: str, actor: User | None) -> int:
    return cancel(_pending([Reminder.case_id == case.id]), case, reason, actor,
                  mail_of=Reminder.case_id == case.id)


def refresh_deadline(case: Case) -> None:
    refresh_deadlines([case])


def still_to_do() -> ColumnElement[bool]:
    """A reminder that is a follow-up still to be done, as a condition on Reminder: pending,
    and not yet handed to the mail, or handed to it and its email failed for good or is held
    (nobody was told). One handed to the mail and not refused no longer counts: its repeat does."""
    return and_(Reminder.status == "pending",
                or_(Reminder.dispatched_at.is_(None), Reminder.undelivered_at.is_not(None)))


def refresh_deadlines(cases: list[Case]) -> None:
    """Keep `case.follow_up_due_at` equal to the case's next follow-up, for lists and sorting:
    the earliest reminder `still_to_do`; and the case's amazon_follow_up deadline with it
    (deadlines.clocks.follow_up_changed)."""
    if not cases:
        return
    db.session.flush()
    chased: dict[int, tuple[int, datetime]] = {}
    for case_id, submission_id, due_at in db.session.execute(
            select(Reminder.case_id, Reminder.submission_id, Reminder.due_at).where(
                Reminder.case_id.in_([c.id for c in cases]), still_to_do())
            .order_by(Reminder.case_id, Reminder.due_at.desc(), Reminder.sequence.desc(), Reminder.id.desc())):
        chased[case_id] = (submission_id, due_at)  # the last row of a case is its earliest
    for case in cases:
        case.follow_up_due_at = chased[case.id][1] if case.id in chased else None
    clocks.follow_up_changed(cases, chased, utcnow())


# ---- the next follow-up: one definition for every page, mail, feed and the API ----------

# The one status in which a follow-up can be open: a reply, closing the case or moving it
# by hand all leave "submitted" (workflow.set_status cancels the reminders then).
OPEN_STATUS = "submitted"


@dataclass(frozen=True)
class FollowUp:
    """A case's next follow-up with Amazon, or none (`due_at` None).

    `due_at` is the earliest reminder still to be handed to the mail, or handed to it and its
    email failed for good or is held (`still_to_do`): a snooze moves it, a reminder that went
    out is replaced by its repeat, a reply, a dismissal or the case leaving "submitted" ends
    it. It is overdue once `due_at` has passed.
    """

    due_at: datetime | None
    now: datetime

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at <= self.now

    @property
    def hours(self) -> int | None:
        """Whole hours until it is due, or, when overdue, since it fell due."""
        if self.due_at is None:
            return None
        return int(abs((self.due_at - self.now).total_seconds()) // 3600)

    @property
    def amount(self) -> str:
        """The hours of `hours` as words: "5 h", "less than 1 h"."""
        if self.due_at is None:
            return ""
        return f"{self.hours} h" if self.hours else "less than 1 h"

    @property
    def relative(self) -> str:
        """"due in 5 h", "due in less than 1 h", "overdue by 3 h", "overdue by less than 1 h"."""
        if self.due_at is None:
            return ""
        return f"overdue by {self.amount}" if self.overdue else f"due in {self.amount}"


def next_follow_up(case: Case, now: datetime) -> FollowUp:
    """The case's next follow-up at `now`, read from the row alone (no query): lists of any
    length call it per row. `case.follow_up_due_at` is kept by `refresh_deadlines`."""
    due = case.follow_up_due_at if case.status == OPEN_STATUS else None
    return FollowUp(due, now)


def open_sql() -> ColumnElement[bool]:
    """`next_follow_up(case, now).due_at is not None`, as a condition on Case."""
    return and_(Case.status == OPEN_STATUS, Case.follow_up_due_at.is_not(None))


def overdue_sql(now: datetime) -> ColumnElement[bool]:
    """`next_follow_up(case, now).overdue`, as a condition on Case."""
    return and_(open_sql(), Case.follow_up_due_at <= now)


def submission_follow_up(submission: Submission, now: datetime) -> FollowUp:
    """The follow-up a submission has running: the case's next follow-up when its reminder
    chases this submission; none for a submission that is history, answered or dismissed."""
    case = db.session.get(Case, submission.case_id)
    follow_up = next_follow_up(case, now)
    if follow_up.due_at is None:
        return follow_up
    chased = reminder_at(case, follow_up)
    return follow_up if chased is not None and chased.submission_id == submission.id else FollowUp(None, now)


def reminder_at(case: Case, follow_up: FollowUp) -> Reminder | None:
    """The reminder that is the case's next follow-up `follow_up` (one query), if any."""
    if follow_up.due_at is None:
        return None
    return db.session.scalar(select(Reminder).where(
        Reminder.case_id == case.id, still_to_do(), Reminder.due_at == follow_up.due_at)
        .order_by(Reminder.sequence, Reminder.id).limit(1))


HISTORY_NOTE = "Recorded as history: it is older than the submission of {date}, so it starts no follow-up."


def newer_than(submission: Submission) -> Submission | None:
    """The case's latest submission when `submission` is dated before it, else None.

    Such a submission (an earlier appeal entered late) is history: it moves no status and
    starts no follow-up, and the newer submission keeps its own. One at the same moment as
    the latest is not history: recording it superseded the other (submissions.record_submission).
    """
    return db.session.scalar(
        select(Submission).where(Submission.case_id == submission.case_id,
                                 Submission.id != submission.id, Submission.withdrawn_at.is_(None),
                                 Submission.submitted_at > submission.submitted_at)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(1))


def history_note(submission: Submission, show: Callable[[datetime], str]) -> str | None:
    """What to tell whoever recorded `submission` when it is history (see `newer_than`), with
    the newer submission's time written by `show` (the viewer's zone on a page, ISO 8601 in
    the API); None when it is the case's latest."""
    newer = newer_than(submission)
    return HISTORY_NOTE.format(date=show(newer.submitted_at)) if newer is not None else None


@dataclass(frozen=True)
class Standing:
    """What became of the follow-ups of a submission still waiting on Amazon, for the case
    page: the next one and the reminder before it, or why there is none any more."""

    next: FollowUp
    previous: Reminder | None  # the reminder before the next one (handed to the mail)
    stopped: Reminder | None = None  # no next one: the last reminder (cancelled or failed), if any
    stopped_at: datetime | None = None  # when it was cancelled or failed (from the timeline)
    # The next one is a reminder already handed to the mail whose email failed or is held.
    undelivered: Reminder | None = None

    @property
    def stopped_what(self) -> str:
        """"follow-ups dismissed by Sam", "follow-ups stopped", "no follow-up is scheduled"."""
        if self.next.due_at is not None:
            return ""
        reason = self.stopped.cancelled_reason if self.stopped is not None else ""
        if reason.startswith("dismissed by "):
            return f"follow-ups {reason}"
        return "follow-ups stopped" if self.stopped is not None else "no follow-up is scheduled"

    @property
    def stopped_detail(self) -> str:
        """Why they stopped, when not a dismissal: the cancelled reminder's reason."""
        if self.next.due_at is not None or self.stopped is None:
            return ""
        if self.stopped.status == "failed":
            return f"follow-up reminder {self.stopped.sequence} failed"
        reason = self.stopped.cancelled_reason
        if self.stopped.status == "cancelled" and not reason.startswith("dismissed by "):
            return reason or "cancelled"
        if self.stopped.status == "sent":
            return f"follow-up reminder {self.stopped.sequence} was the last"
        return ""


def standing(case: Case, submission: Submission, now: datetime) -> Standing:
    """The follow-ups of `submission`, the case's latest, still unanswered: a query or two."""
    follow_up = next_follow_up(case, now)
    last_two = list(db.session.scalars(
        select(Reminder).where(Reminder.submission_id == submission.id)
        .order_by(Reminder.sequence.desc(), Reminder.id.desc()).limit(2)))
    if follow_up.due_at is not None:
        at = reminder_at(case, follow_up)
        if at is not None and at.undelivered_at is not None:
            # The next follow-up is one whose email failed or is held: it was not done.
            return Standing(follow_up, None, undelivered=at)
    handed = [r for r in last_two if r.dispatched_at is not None]
    if follow_up.due_at is not None or not last_two or last_two[0].status == "pending":
        # A next one, or the last one handed to the mail still to be delivered.
        return Standing(follow_up, handed[0] if handed else None, None, None)
    last = last_two[0]
    event = db.session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id,
                                CaseEvent.kind.in_(("reminder_cancelled", "reminder_failed")))
        .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc()).limit(1))
    matches = event is not None and (event.data or {}).get("reminder_id") == last.id
    return Standing(follow_up, None, last, event.occurred_at if matches else None)


def came_due_since(case_ids: list[int], since: datetime) -> dict[int, Reminder]:
    """Per case, its latest reminder handed to the mail after `since` (a follow-up that fell
    due then): the digest says so, since for whoever chose the digest it is the reminder."""
    found: dict[int, Reminder] = {}
    for reminder in db.session.scalars(
            select(Reminder).where(Reminder.case_id.in_(case_ids), Reminder.dispatched_at > since,
                                   Reminder.status.in_(("pending", "sent")))
            .order_by(Reminder.sequence)):
        found[reminder.case_id] = reminder
    return found


def pending_for_case(case_id: int) -> list[Reminder]:
    return list(db.session.scalars(
        select(Reminder).where(Reminder.case_id == case_id, Reminder.status == "pending")
        .order_by(Reminder.due_at)))


def list_reminders(actor: User, status: str | None, page: int, per_page: int) -> paging.Page:
    """A page of the agency's reminders, latest due first; `status` narrows them to one."""
    stmt = select(Reminder).where(Reminder.agency_id == actor.agency_id)
    if status:
        stmt = stmt.where(Reminder.status == status)
    return paging.fetch(stmt.order_by(Reminder.due_at.desc(), Reminder.id.desc()), page, per_page)


def _own_reminder(actor: User, reminder_id: int) -> tuple[Reminder, Case]:
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.agency_id != actor.agency_id:
        raise NotFound("No such reminder.")
    return reminder, records.get_case(actor, reminder.case_id, for_update=True)


def next_for_submission(submission_id: int) -> Reminder | None:
    """The submission's next follow-up still to do (`still_to_do`: not yet handed to the
    mail, or its email failed or is held), if any: the one a snooze pushes back."""
    return db.session.scalar(
        select(Reminder).where(Reminder.submission_id == submission_id, still_to_do())
        .order_by(Reminder.due_at, Reminder.id).limit(1).with_for_update())


SNOOZE_CHOICES = (4, 24, 48)


def case_of_reminder(actor: User, reminder_id: int) -> int:
    """The id of the case a reminder of the actor's agency belongs to (NotFound otherwise)."""
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.agency_id != actor.agency_id:
        raise NotFound("No such reminder.")
    return reminder.case_id


def acted_on_from_email(reminder_id: int, person_id: int) -> tuple[User, Reminder, Case] | None:
    """The person, reminder and case a reminder email's signed action link names, or None
    when the person is gone or deactivated, or the reminder is not of their agency."""
    person = db.session.get(User, person_id)
    reminder = db.session.get(Reminder, reminder_id)
    if person is None or reminder is None or not person.active or reminder.agency_id != person.agency_id:
        return None
    return person, reminder, db.session.get(Case, reminder.case_id)


@transactional
def snooze(actor: User, reminder_id: int, hours: int, now: datetime) -> Reminder:
    """Push the submission's next follow-up back by `hours` (from now if it is already due)."""
    reminder, case = _own_reminder(actor, reminder_id)
    if hours not in SNOOZE_CHOICES:
        raise Conflict(f"Snooze for {', '.join(map(str, SNOOZE_CHOICES))} hours.")
    upcoming = next_for_submission(reminder.submission_id)
    if upcoming is None:
        raise Conflict("There is no follow-up to come for this submission; nothing to snooze.")
    upcoming.due_at = max(upcoming.due_at, now) + timedelta(hours=hours)
    timeline.record(case, "reminder_snoozed", actor,
                    f"Follow-up reminder {upcoming.sequence} snoozed for {hours} h",
                    {"reminder_id": upcoming.id, "due_at": upcoming.due_at.isoformat()})
    refresh_deadline(case)
    return upcoming


@transactional
def dismiss(actor: User, reminder_id: int) -> int:
    """Stop following up on this submission: every pending reminder of it is cancelled."""
    reminder, case = _own_reminder(actor, reminder_id)
    if not _pending([Reminder.submission_id == reminder.submission_id]):
        raise Conflict("There is no pending follow-up for this submission any more.")
    return cancel_for_submission(case, reminder.submission_id, f"dismissed by {actor.name}", actor)


def has_pending(submission_id: int) -> bool:
    return bool(_pending([Reminder.submission_id == submission_id]))


# ---- after a correction (services/appeals/corrections.py) ------------------------------------

DISMISSED = "dismissed by "  # how `dismiss` words its reason: a person chose to stop


def agency_time(case: Case, moment: datetime) -> str:
    """A moment as the case's agency reads it, for timeline entries (shared by corrections)."""
    return clocks.agency_time(clocks.agency_of(case), moment)


def was_dismissed(submission_id: int) -> bool:
    """Did a person dismiss this submission's follow-ups (its last cancelled reminder says so)?"""
    reason = db.session.scalar(
        select(Reminder.cancelled_reason).where(Reminder.submission_id == submission_id,
                                                Reminder.status == "cancelled")
        .order_by(Reminder.id.desc()).limit(1))
    return bool(reason) and reason.startswith(DISMISSED)


def reopen(case: Case, submission: Submission, now: datetime, reason: str,
           actor: User | None) -> Reminder | None:
    """Chase `submission` again (Amazon's reply to it was withdrawn, or it is the latest again).

    Nothing when it still has a pending reminder. Otherwise the follow-up it would have had:
    the first at submitted_at + the agency's hours when none went out, else the repeat after
    the last one that went out; from now when that moment has passed. A follow-up that never
    went out keeps its number.
    """
    if has_pending(submission.id):
        return None
    last = db.session.scalar(select(Reminder).where(Reminder.submission_id == submission.id)
                             .order_by(Reminder.sequence.desc(), Reminder.id.desc()).limit(1))
    went_out = db.session.scalar(
        select(func.max(Reminder.dispatched_at)).where(Reminder.submission_id == submission.id))
    if went_out is None:
        sequence, due = 1, submission.submitted_at + timedelta(hours=follow_up_hours(case))
    else:
        sequence = last.sequence if last.dispatched_at is None else last.sequence + 1
        due = went_out + timedelta(hours=repeat_hours())
    reminder = Reminder(agency_id=case.agency_id, case_id=case.id, submission_id=submission.id,
                        sequence=sequence, due_at=max(due, now))
    db.session.add(reminder)
    db.session.flush()
    timeline.record(case, "reminder_rescheduled", actor,
                    f"Follow-up reminder {sequence} scheduled again, due "
                    f"{agency_time(case, reminder.due_at)}: {reason}",
                    {"reminder_id": reminder.id, "submission_id": submission.id,
                     "due_at": reminder.due_at.isoformat()})
    refresh_deadline(case)
    return reminder


def shift_first(case: Case, submission: Submission, by: timedelta, reason: str,
                actor: User | None) -> None:
    """The submission's time was corrected by `by`: its first follow-up, not yet gone out,
    moves with it (a snooze it had is kept). Repeats count from the last sending, and stay."""
    for reminder in _pending([Reminder.submission_id == submission.id,
                              Reminder.dispatched_at.is_(None)]):
        if db.session.scalar(select(func.count(Reminder.id)).where(
                Reminder.submission_id == submission.id, Reminder.dispatched_at.is_not(None))):
            continue
        reminder.due_at = reminder.due_at + by
        timeline.record(case, "reminder_rescheduled", actor,
                        f"Follow-up reminder {reminder.sequence} now due "
                        f"{agency_time(case, reminder.due_at)}: {reason}",
                        {"reminder_id": reminder.id, "submission_id": submission.id,
                         "due_at": reminder.due_at.isoformat()})
    refresh_deadline(case)


# ==== snoozing from My day: added by the My day work ===========================================

@transactional
def snooze_deadline(actor: User, deadline_id: int, hours: int, now: datetime) -> Case:
    """Snooze a deadline's reminder from My day, and return its case. The follow-up with Amazon
    snoozes the follow-up reminder of the submission it chases (`snooze`); any other deadline
    pushes its own next reminder back (deadlines.clocks.snooze_reminder)."""
    deadline, case = clocks.get_deadline(actor, deadline_id)
    if deadline.kind != clocks.FOLLOW_UP:
        clocks.snooze_reminder(actor, deadline_id, hours, now)
        return case
    # Which reminder, unlocked: `snooze` locks the case, then the reminder, as everything does.
    reminder_id = db.session.scalar(
        select(Reminder.id).where(Reminder.submission_id == deadline.source_id, still_to_do())
        .order_by(Reminder.due_at, Reminder.id).limit(1))
    if reminder_id is None:
        raise Conflict("There is no follow-up to come for this submission; nothing to snooze.")
    snooze(actor, reminder_id, hours, now)
    return case
