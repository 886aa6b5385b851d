"""The dispatch pass: due reminders become outbox mail, then the outbox is delivered.

The scheduler job, `flask reminders run-due` and the tests all call `run_pass(now)`.
Reminders live in the database, so a pass only asks "what is due now?": a reminder
that fell due while nothing ran goes out once, and its repeat is counted from now.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from caseapp.extensions import db
from caseapp.models import Case, OutboxMessage, Reminder, User
from caseapp.services import digests, locking, reminder_mail, reminders, timeline
from caseapp.services.mailer import (
    MailSettings,
    PermanentMailError,
    SmtpConnection,
    TransientMailError,
    build_message,
)

log = logging.getLogger(__name__)

BATCH = 50
ESCALATE_FROM_SEQUENCE = 3  # the third follow-up without a reply also goes to the admins
MAX_ATTEMPTS = 8


@dataclass
class PassReport:
    reminders_due: int = 0
    emails_queued: int = 0
    digests_queued: int = 0
    sent: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in self.as_dict().items())


def run_pass(now: datetime) -> PassReport:
    report = PassReport()
    dispatch_due(now, report)
    digests.queue_due(now, report)
    deliver(now, report)
    return report


# ---- due reminders -> outbox ------------------------------------------------------------

def _due(now: datetime):
    return (select(Reminder)
            .where(Reminder.status == "pending", Reminder.dispatched_at.is_(None),
                   Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id))


def dispatch_due(now: datetime, report: PassReport) -> None:
    while True:
        batch = locking.claim(_due(now), BATCH)
        if not batch:
            db.session.rollback()
            return
        for reminder in batch:
            _dispatch_one(reminder, now, report)
        db.session.commit()


def _admins(agency_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(
        User.agency_id == agency_id, User.role == "admin", User.active.is_(True)).order_by(User.id)))


def _dispatch_one(reminder: Reminder, now: datetime, report: PassReport) -> None:
    case = db.session.scalar(select(Case).where(Case.id == reminder.case_id).options(
        joinedload(Case.client), joinedload(Case.assignee), selectinload(Case.asin_rows)))
    assignee = case.assignee if case.assignee is not None and case.assignee.active else None
    recipients = [assignee] if assignee else _admins(case.agency_id)
    escalate = reminder.sequence >= ESCALATE_FROM_SEQUENCE and assignee is not None
    report.reminders_due += 1
    reminder.dispatched_at = now
    queued = []
    for person in recipients:
        if person.notify_each_reminder:
            queued.append(_queue(reminder, case, person, "reminder", now))
    if escalate:
        for admin in _admins(case.agency_id):
            if admin.id != assignee.id:
                queued.append(_queue(reminder, case, admin, "escalation", now))
        timeline.record(case, "reminder_escalated", None,
                        f"Follow-up {reminder.sequence} with no reply: the agency's admins are told too",
                        {"reminder_id": reminder.id})
    report.emails_queued += len(queued)
    reminder.recipient = ", ".join(p.email for p in recipients)
    if not any(m.kind == "reminder" for m in queued):
        # Nobody wants an email per reminder: it is delivered through the daily digest.
        _mark_sent(reminder, case, now, "shown in the daily digest (no email per reminder)")
    repeat = Reminder(agency_id=reminder.agency_id, case_id=reminder.case_id,
                      submission_id=reminder.submission_id, sequence=reminder.sequence + 1,
                      due_at=now + timedelta(hours=reminders.repeat_hours()))
    db.session.add(repeat)
    reminders.refresh_deadline(case, now)


def _queue(reminder: Reminder, case: Case, person: User, kind: str, now: datetime) -> OutboxMessage:
    subject, text, html = reminder_mail.render(reminder, case, person, kind, now)
    message = OutboxMessage(
        idempotency_key=f"{kind}:{reminder.id}:{person.id}", agency_id=case.agency_id,
        case_id=case.id, reminder_id=reminder.id, kind=kind, recipient=person.email,
        subject=subject, body_text=text, body_html=html, send_after=quiet_hours_end(person, now),
    )
    db.session.add(message)
    return message


def quiet_hours_end(person: User, now: datetime) -> datetime:
    """`now`, or the end of the person's quiet hours when `now` falls inside them."""
    if not person.quiet_hours_enabled:
        return now
    zone = ZoneInfo(person.effective_timezone)
    local = now.astimezone(zone)
    start, end = (time.fromisoformat(person.quiet_start), time.fromisoformat(person.quiet_end))
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return now
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, zone).astimezone(now.tzinfo)


def _mark_sent(reminder: Reminder, case: Case, now: datetime, how: str) -> None:
    reminder.status = "sent"
    reminder.sent_at = now
    timeline.record(case, "reminder_sent", None,
                    f"Follow-up reminder {reminder.sequence} {how}",
                    {"reminder_id": reminder.id, "submission_id": reminder.submission_id})


# ---- outbox -> SMTP ------------------------------------------------------------------------

def _deliverable(now: datetime):
    return (select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.send_after <= now)
            .order_by(OutboxMessage.send_after, OutboxMessage.id))


def deliver(now: datetime, report: PassReport) -> None:
    """Send pending mail one message per transaction, so a crash never doubles nor loses one."""
    settings = MailSettings.from_config(current_app.config)
    connection = SmtpConnection(settings) if settings.server else None
    try:
        while True:
            claimed = locking.claim(_deliverable(now), 1)
            if not claimed:
                db.session.rollback()
                return
            message = claimed[0]
            if connection is None:
                _resolve(message, "held", now, "kept in the outbox: no mail server is configured")
                report.held += 1
            else:
                _send(connection, settings, message, now, report)
            db.session.commit()
    finally:
        if connection is not None:
            connection.close()


def _send(connection: SmtpConnection, settings: MailSettings, message: OutboxMessage,
          now: datetime, report: PassReport) -> None:
    email = build_message(settings.sender, message.recipient, message.subject, message.body_text,
                          message.body_html, message.idempotency_key)
    message.attempts += 1
    try:
        connection.send(email)
    except TransientMailError as exc:
        message.last_error = str(exc)[:1000]
        if message.attempts >= MAX_ATTEMPTS:
            _resolve(message, "failed", now, f"failed after {message.attempts} tries: {exc}")
            report.failed += 1
        else:
            message.send_after = now + timedelta(minutes=2 ** (message.attempts - 1))
            report.retried += 1
        log.warning("mail to %s deferred: %s", message.recipient, exc)
    except PermanentMailError as exc:
        message.last_error = str(exc)[:1000]
        _resolve(message, "failed", now, f"refused by the mail server: {exc}")
        report.failed += 1
    else:
        _resolve(message, "sent", now, f"emailed to {message.recipient}")
        report.sent += 1


def _resolve(message: OutboxMessage, status: str, now: datetime, how: str) -> None:
    message.status = status
    if status in ("sent", "held"):
        message.sent_at = now
    if message.reminder_id is None or message.kind != "reminder":
        return
    reminder = db.session.get(Reminder, message.reminder_id)
    case = db.session.get(Case, message.case_id)
    if status == "failed":
        reminder.status = "failed"
        timeline.record(case, "reminder_failed", None,
                        f"Follow-up reminder {reminder.sequence} to {message.recipient} {how}",
                        {"reminder_id": reminder.id, "outbox_id": message.id})
    elif reminder.status == "pending":
        _mark_sent(reminder, case, now, how)


