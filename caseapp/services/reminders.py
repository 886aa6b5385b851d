"""Follow-up reminders: scheduling, cancelling, snoozing, dismissing, and the case deadline.

These functions add to the caller's transaction; the caller commits.
The rules (DESIGN.md, "Follow-up reminders"):
- a submission schedules a follow-up at submitted_at + the agency's follow-up hours;
- it repeats every FOLLOW_UP_REPEAT_HOURS until a reply, the case closing, or a dismissal;
- a reply cancels the submission's pending reminders, a new submission supersedes them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from caseapp.extensions import db
from caseapp.models import Case, OutboxMessage, Reminder, Submission, User
from caseapp.services import timeline
from caseapp.services.errors import Conflict, NotFound


def follow_up_hours(case: Case) -> int:
    from caseapp.models import Agency

    agency = db.session.get(Agency, case.agency_id)
    return agency.follow_up_hours or current_app.config["FOLLOW_UP_HOURS"]


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
    return list(db.session.scalars(select(Reminder).where(Reminder.status == "pending", *where)))


def cancel(reminders: list[Reminder], case: Case, reason: str, actor: User | None,
           now: datetime) -> int:
    """Cancel reminders and any of their mail not yet sent; one timeline entry per reminder."""
    for reminder in reminders:
        reminder.status = "cancelled"
        reminder.cancelled_reason = reason
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.reminder_id == reminder.id, OutboxMessage.status == "pending")
            .values(status="cancelled", last_error=reason))
        timeline.record(case, "reminder_cancelled", actor,
                        f"Follow-up reminder {reminder.sequence} cancelled: {reason}",
                        {"reminder_id": reminder.id, "submission_id": reminder.submission_id})
    refresh_deadline(case, now)
    return len(reminders)


def cancel_for_submission(case: Case, submission_id: int, reason: str, actor: User | None,
                          now: datetime) -> int:
    return cancel(_pending([Reminder.submission_id == submission_id]), case, reason, actor, now)


def cancel_for_case(case: Case, reason: str, actor: User | None, now: datetime) -> int:
    return cancel(_pending([Reminder.case_id == case.id]), case, reason, actor, now)


def refresh_deadline(case: Case, now: datetime | None = None) -> None:
    """Keep `case.follow_up_due_at` equal to the case's next follow-up, for lists and sorting."""
    db.session.flush()
    case.follow_up_due_at = db.session.scalar(
        select(func.min(Reminder.due_at)).where(
            Reminder.case_id == case.id, Reminder.status == "pending"))


def pending_for_case(case_id: int) -> list[Reminder]:
    return list(db.session.scalars(
        select(Reminder).where(Reminder.case_id == case_id, Reminder.status == "pending")
        .order_by(Reminder.due_at)))


def history_for_case(case_id: int) -> list[Reminder]:
    return list(db.session.scalars(
        select(Reminder).where(Reminder.case_id == case_id).order_by(Reminder.due_at.desc())))


def _own_reminder(actor: User, reminder_id: int) -> tuple[Reminder, Case]:
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.agency_id != actor.agency_id:
        raise NotFound("No such reminder.")
    return reminder, db.session.get(Case, reminder.case_id)


SNOOZE_CHOICES = (4, 24, 48)


def snooze(actor: User, reminder_id: int, hours: int, now: datetime) -> Reminder:
    reminder, case = _own_reminder(actor, reminder_id)
    if hours not in SNOOZE_CHOICES:
        raise Conflict(f"Snooze for {', '.join(map(str, SNOOZE_CHOICES))} hours.")
    if reminder.status != "pending" or reminder.dispatched_at is not None:
        raise Conflict("This reminder has already gone out or was cancelled; nothing to snooze.")
    reminder.due_at = max(reminder.due_at, now) + timedelta(hours=hours)
    timeline.record(case, "reminder_snoozed", actor,
                    f"Follow-up reminder {reminder.sequence} snoozed for {hours} h",
                    {"reminder_id": reminder.id, "due_at": reminder.due_at.isoformat()})
    refresh_deadline(case, now)
    db.session.commit()
    return reminder


def dismiss(actor: User, reminder_id: int, now: datetime) -> int:
    """Stop following up on this submission: every pending reminder of it is cancelled."""
    reminder, case = _own_reminder(actor, reminder_id)
    if reminder.status != "pending" and not _pending([Reminder.submission_id == reminder.submission_id]):
        raise Conflict("There is no pending follow-up for this submission any more.")
    count = cancel_for_submission(case, reminder.submission_id, f"dismissed by {actor.name}", actor, now)
    db.session.commit()
    return count
