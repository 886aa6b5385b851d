"""The dispatch pass: due reminders become outbox mail, then the mail package delivers it.

The scheduler job, `flask reminders run-due` and the tests all call `run_pass(now)`.
Reminders live in the database, so a pass only asks "what is due now?": a reminder
that fell due while nothing ran goes out once, and its repeat is counted from now.

Each batch of due reminders is one unit of work (core.transaction): its mail queued
(mail.outbox), the reminders marked dispatched, their repeats scheduled. Delivery
(mail.delivery) then sends the outbox and tells this module what became of each reminder
email through the hooks registered here (`register_mail_kinds`): mail sits below appeals
and never imports it.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload, selectinload

from caseapp.core import locking
from caseapp.core.transaction import active, transaction
from caseapp.extensions import db
from caseapp.models import AmazonResponse, Case, CaseEvent, OutboxMessage, Reminder, Submission, User, utcnow
from caseapp.models.types import UTCDateTime
from caseapp.services.idempotency import keys as idempotency_keys
from caseapp.services.accounts import people
from caseapp.services.appeals import digests, followup_mail, followups, submissions
from caseapp.services.cases import timeline
from caseapp.services.deadlines import alerts as deadline_alerts
from caseapp.services.portal import reminders as portal_reminders
from caseapp.services.mail import delivery, kinds, outbox

log = logging.getLogger(__name__)

BATCH = 50
ESCALATE_FROM_SEQUENCE = 3  # from the third follow-up without a reply the admins are told too


@dataclass
class PassReport:
    reminders_due: int = 0
    deadline_reminders_due: int = 0
    client_reminders_due: int = 0
    emails_queued: int = 0
    digests_queued: int = 0
    sent: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0
    bodies_cleared: int = 0
    server_error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        parts = [f"{key.replace('_', ' ')}: {value}" for key, value in self.as_dict().items()
                 if key != "server_error"]
        if self.server_error:
            parts.append(f"mail server problem: {self.server_error}")
        return ", ".join(parts)


def run_pass(now: datetime) -> PassReport:
    """Queue the mail of every reminder and digest due at `now`, then deliver the outbox.
    Commits as it goes (a batch at a time): never call it inside a unit of work."""
    if active():
        raise RuntimeError("run_pass() commits a batch at a time: call it outside a unit of work")
    report = PassReport()
    dispatch_due(now, report)
    deadlines = deadline_alerts.dispatch_due(now)
    report.deadline_reminders_due, report.emails_queued = deadlines.due, report.emails_queued + deadlines.emails
    report.failed += deadlines.failed
    report.client_reminders_due = portal_reminders.dispatch_due(now)
    report.emails_queued += report.client_reminders_due
    digests.queue_due(now, report)
    delivery.deliver(now, report)
    settle_delivered()
    report.bodies_cleared = delivery.clear_old_bodies(now)
    idempotency_keys.prune(now)
    return report


# ---- due reminders -> outbox ------------------------------------------------------------

def _due(now: datetime):
    return (select(Reminder)
            .join(Case, Case.id == Reminder.case_id)
            .where(Reminder.status == "pending", Reminder.dispatched_at.is_(None),
                   Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id))


@dataclass
class _Batch:
    """What preparing a batch of reminders reads, loaded in a few queries for the whole
    batch rather than a few per reminder (at a thousand due, those round trips were most
    of the pass)."""
    cases: dict[int, Case]
    # case id -> its latest submission, the one a reminder still chases; held here, so the
    # session's identity map (weak references) keeps it for the mail, which quotes its date.
    latest: dict[int, Submission]
    answered: set[int]  # submission ids Amazon has replied to
    admins: dict[int, list[User]]  # agency id -> its active admins

    @classmethod
    def load(cls, batch: list[Reminder]) -> _Batch:
        case_ids = {r.case_id for r in batch}
        cases = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(case_ids)).options(
            joinedload(Case.client), joinedload(Case.assignee), selectinload(Case.asin_rows))).unique()}
        latest = submissions.latest_submissions(case_ids)
        answered = set(db.session.scalars(select(AmazonResponse.submission_id).where(
            AmazonResponse.submission_id.in_({r.submission_id for r in batch}),
            AmazonResponse.withdrawn_at.is_(None))))
        admins = people.active_admins({c.agency_id for c in cases.values()})
        return cls(cases, latest, answered, admins)

    def still_awaited(self, reminder: Reminder) -> bool:
        """Amazon has not answered the case's latest submission, which this reminder chases."""
        case = self.cases[reminder.case_id]
        latest = self.latest.get(case.id)
        return (case.status == "submitted" and latest is not None and latest.id == reminder.submission_id
                and reminder.submission_id not in self.answered)


def dispatch_due(now: datetime, report: PassReport) -> None:
    """Queue the mail of every reminder due at `now`, a batch per unit of work."""
    while True:
        claimed: list[int] = []
        part = PassReport()
        try:
            with transaction():
                # Lock the case with the reminder: a reply or resubmission (which locks the
                # case first) then either waits for this batch or makes the pass skip the reminder.
                batch = locking.claim(_due(now), BATCH, of=[Reminder, Case])
                claimed = [r.id for r in batch]
                if batch:
                    _prepare(batch, now, part, isolated=False)
        except SQLAlchemyError:
            if not claimed:
                raise  # the database refused the claim itself: nothing to redo
            # The database refused some reminder's rows. Again, each reminder in a savepoint
            # of its own (slower), so that one is marked failed and the others go out.
            log.exception("a batch of reminders failed as a whole; preparing them one by one")
            part = PassReport()
            with transaction():
                batch = locking.claim(_due(now).where(Reminder.id.in_(claimed)), BATCH,
                                      of=[Reminder, Case])
                _prepare(batch, now, part, isolated=True)
        if not claimed:
            return
        report.reminders_due += part.reminders_due
        report.emails_queued += part.emails_queued
        report.failed += part.failed


def _prepare(batch: list[Reminder], now: datetime, report: PassReport, isolated: bool) -> None:
    """Queue the mail of each reminder of the batch. One whose mail cannot be written (a bug,
    odd data) is marked failed on its case's timeline and does not stop the others.

    Not `isolated`, the batch's rows reach the database in one flush at the commit; the
    database refusing them raises. `isolated`, each reminder has a savepoint, which costs
    a flush and two statements per reminder.
    """
    facts = _Batch.load(batch)
    for reminder in batch:
        counted = (report.reminders_due, report.emails_queued)
        try:
            if isolated:
                with db.session.begin_nested():
                    _dispatch_one(reminder, facts, now, report)
            else:
                _dispatch_one(reminder, facts, now, report)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the others' mail must go out
            if isinstance(exc, SQLAlchemyError) and not isolated:
                raise  # the batch is redone reminder by reminder
            report.reminders_due, report.emails_queued = counted
            _fail(reminder, exc, now, report)
    followups.refresh_deadlines(list(facts.cases.values()))


def _fail(reminder: Reminder, exc: Exception, now: datetime, report: PassReport) -> None:
    """Mark the reminder failed, saying why on the case's timeline."""
    log.exception("reminder %s could not be prepared", reminder.id)
    report.failed += 1
    reminder = db.session.get(Reminder, reminder.id)
    case = db.session.get(Case, reminder.case_id)
    reminder.status = "failed"
    reminder.dispatched_at = now
    timeline.record(case, "reminder_failed", None,
                    f"Follow-up reminder {reminder.sequence} could not be prepared: {exc}"[:500],
                    {"reminder_id": reminder.id})


def _dispatch_one(reminder: Reminder, facts: _Batch, now: datetime, report: PassReport) -> None:
    case = facts.cases[reminder.case_id]
    if not facts.still_awaited(reminder):
        followups.cancel([reminder], case, "the case is no longer waiting on this submission",
                         None)
        return
    admins = facts.admins[case.agency_id]
    assignee = case.assignee if case.assignee is not None and case.assignee.active else None
    recipients = [assignee] if assignee else admins
    # Every email is written before anything changes: one that fails to render leaves
    # nothing half-queued behind it.
    emails = [(person, "reminder", followup_mail.render(reminder, case, person, "reminder", now))
              for person in recipients
              if person.notify_each_reminder or not person.notify_daily_digest]
    escalating = assignee is not None and reminder.sequence >= ESCALATE_FROM_SEQUENCE
    if escalating:
        emails += [(admin, "escalation", followup_mail.render(reminder, case, admin, "escalation", now))
                   for admin in admins if admin.id != assignee.id]
    queued = [_queue(reminder, case, person, kind, rendered, now) for person, kind, rendered in emails]
    report.reminders_due += 1
    report.emails_queued += len(queued)
    reminder.dispatched_at = now
    reminder.recipient = ", ".join(p.email for p in recipients)[:1000]
    if escalating and reminder.sequence == ESCALATE_FROM_SEQUENCE:
        timeline.record(case, "reminder_escalated", None,
                        f"Follow-up {reminder.sequence} with no reply: from now on the "
                        "agency's admins are told too", {"reminder_id": reminder.id})
    if not any(m.kind == "reminder" for m in queued):
        # Everyone chose the daily digest over an email per reminder.
        _mark_sent(reminder, case, now, "shown in the daily digest (no email per reminder)")
    db.session.add(Reminder(agency_id=reminder.agency_id, case_id=reminder.case_id,
                            submission_id=reminder.submission_id, sequence=reminder.sequence + 1,
                            due_at=now + timedelta(hours=followups.repeat_hours())))


def _queue(reminder: Reminder, case: Case, person: User, kind: str, rendered: tuple[str, str, str],
           now: datetime) -> OutboxMessage:
    subject, text, html = rendered
    return outbox.queue(
        kind, person.email, subject, text, html, key=f"{kind}:{reminder.id}:{person.id}",
        agency_id=case.agency_id, case_id=case.id, reminder_id=reminder.id,
        send_after=quiet_hours_end(person, now),
        link_ref=followup_mail.action_link_ref(reminder, person))


# Shared with the deadline reminders (services/deadlines/alerts.py).
quiet_hours_end = people.quiet_hours_end


def _mark_sent(reminder: Reminder, case: Case, now: datetime, how: str) -> None:
    reminder.status = "sent"
    reminder.sent_at = now
    timeline.record(case, "reminder_sent", None,
                    f"Follow-up reminder {reminder.sequence} {how}",
                    {"reminder_id": reminder.id, "submission_id": reminder.submission_id})




# ---- what delivery tells us (hooks registered with the mail kinds) ---------------------------

def _withdrawn(messages: list[OutboxMessage]) -> dict[int, str]:
    """Mail whose reminder was cancelled after it was queued (Amazon replied, the case
    closed...): a message retried after a dead dispatcher's lease must not go out then.

    Also mail a later reminder of the same submission superseded: mail held while no server
    was configured, or failed and retried, can be days old, and its repeats were handed to
    the mail since; only the newest goes out ("silent 97 h", not 49, 73 and 97 h at once).
    The superseded reminder is cancelled here, with a timeline entry, so it no longer waits.
    """
    reminder_ids = {m.reminder_id for m in messages if m.reminder_id is not None}
    if not reminder_ids:
        return {}
    # By id alone, status read here: with the status in the WHERE, SQLite walked the status
    # index through every cancelled reminder ever (36,000 at 100,000 cases) for each batch.
    rows = db.session.execute(select(Reminder.id, Reminder.status, Reminder.submission_id,
                                     Reminder.sequence).where(Reminder.id.in_(reminder_ids))).all()
    cancelled = {row.id for row in rows if row.status == "cancelled"}
    newest = dict(db.session.execute(
        select(Reminder.submission_id, func.max(Reminder.sequence))
        .where(Reminder.submission_id.in_({row.submission_id for row in rows}),
               Reminder.dispatched_at.is_not(None)).group_by(Reminder.submission_id)).all())
    superseded = {row.id: newest[row.submission_id] for row in rows
                  if row.id not in cancelled and row.sequence < newest.get(row.submission_id, 0)}
    for reminder_id, later in superseded.items():
        _supersede(reminder_id, later)
    return {**{m.id: "its reminder was cancelled" for m in messages if m.reminder_id in cancelled},
            **{m.id: f"follow-up reminder {superseded[m.reminder_id]} superseded it"
               for m in messages if m.reminder_id in superseded}}


def _supersede(reminder_id: int, later: int) -> None:
    reminder = db.session.get(Reminder, reminder_id)
    if reminder.status != "pending":
        return
    reminder.status, reminder.cancelled_reason = "cancelled", f"superseded by reminder {later}"
    case = db.session.get(Case, reminder.case_id)
    timeline.record(case, "reminder_cancelled", None,
                    f"Follow-up reminder {reminder.sequence} not emailed: its email waited until "
                    f"reminder {later} was due, so only reminder {later} goes out",
                    {"reminder_id": reminder.id, "submission_id": reminder.submission_id})
    followups.refresh_deadline(case)


def _on_outcome(message: OutboxMessage, status: str, now: datetime, how: str) -> None:
    """A reminder or escalation email was held, failed or sent: its reminder and case say so.

    A held or failed email leaves its reminder pending (handed to the mail, not yet
    delivered): the follow-up stays open and its repeat stays scheduled. A reminder email
    (not an escalation) held or failed for good marks the reminder undelivered: nobody was
    told, so it is the case's next follow-up again, overdue (followups.refresh_deadlines),
    until it is delivered or the follow-up ends. The email itself goes out later, once:
    held mail with the first pass that has a mail server, failed mail when an admin retries
    it from the Outbox; the reminder is marked sent then (sent_log, below) and the pass's
    `settle_delivered` gives the case its repeat as its next follow-up again.
    """
    if message.reminder_id is None:
        return
    # The case first, then its reminder, as a reply or resubmission locks them: its deadline
    # may change here (`_undelivered`).
    case = db.session.scalar(select(Case).where(Case.id == message.case_id).with_for_update()
                             .execution_options(populate_existing=True))
    reminder = db.session.scalar(select(Reminder).where(Reminder.id == message.reminder_id)
                                 .with_for_update().execution_options(populate_existing=True))
    label = "Escalation" if message.kind == "escalation" else "Follow-up reminder"
    data = {"reminder_id": reminder.id, "outbox_id": message.id}
    if status == "failed":
        still_open = (" The follow-up is still open; an admin can retry the email from the Outbox."
                      if reminder.status == "pending" else "")
        timeline.record(case, "reminder_failed", None,
                        f"{label} {reminder.sequence} to {message.recipient} not delivered: "
                        f"{how}.{still_open}"[:500], data)
        _undelivered(message, reminder, case, now)
        return
    if status == "held":
        if reminder.status == "pending":
            timeline.record(case, "reminder_held", None,
                            f"{label} {reminder.sequence} not emailed to {message.recipient}: no "
                            "mail server is configured; it will be sent once one is"[:500], data)
        _undelivered(message, reminder, case, now)
        return
    if status == "sent" and message.kind == "reminder" and reminder.status == "pending":
        _mark_sent(reminder, case, now, f"emailed to {message.recipient}")
        if reminder.undelivered_at is not None:
            reminder.undelivered_at = None
            followups.refresh_deadline(case)


def _undelivered(message: OutboxMessage, reminder: Reminder, case: Case, now: datetime) -> None:
    """A reminder email failed for good or is held: the pending reminder counts as not done."""
    if message.kind != "reminder" or reminder.status != "pending" or reminder.undelivered_at is not None:
        return
    reminder.undelivered_at = now
    followups.refresh_deadline(case)


# The reminders marked undelivered that are no longer pending: their email was sent since
# (sent_log's fast write, below, marks them sent without touching the case), or the
# follow-up ended. Few at a time, through the partial index on undelivered_at.
_SETTLE_BATCH = 500


def settle_delivered() -> int:
    """Give the cases of reminders since delivered (or ended) their next follow-up again: the
    repeat, no longer the reminder that was not delivered. Run by `run_pass` after delivery,
    so the per-email write stays one statement. Returns how many cases it settled.

    The case is locked first, as everywhere (a reply, a resubmission); a case busy meanwhile
    is settled by the next pass."""
    settled = _reminders.c.undelivered_at.is_not(None), _reminders.c.status != "pending"
    count = 0
    while True:
        with transaction():
            cases = locking.claim(
                select(Case).where(Case.id.in_(select(_reminders.c.case_id).where(*settled)))
                .order_by(Case.id), _SETTLE_BATCH, of=[Case])
            if not cases:
                return count
            db.session.execute(update(_reminders).where(
                _reminders.c.case_id.in_([c.id for c in cases]), *settled).values(undelivered_at=None))
            followups.refresh_deadlines(cases)
            count += len(cases)


# Recording a sent reminder email beside the message (mail/sent_log.py runs these once per
# email, right after the server's 250): the reminder marked sent and "Follow-up reminder N
# emailed to ..." on the case's timeline. The same outcome as `_on_outcome(..., "sent")`. A
# reminder no longer pending (a reply cancelled it meanwhile) is left alone and gets no entry.
SENT_SUMMARY = "Follow-up reminder {sequence} emailed to {recipient}"

_reminders, _events = Reminder.__table__, CaseEvent.__table__
_MARK_REMINDER_SENT = (
    update(_reminders)
    .where(_reminders.c.id == bindparam("reminder_id"), _reminders.c.status == "pending")
    .values(status="sent", sent_at=bindparam("now", type_=UTCDateTime()))
    .returning(_reminders.c.sequence, _reminders.c.submission_id))
_RECORD_SENT_EVENT = insert(_events).values(
    kind="reminder_sent", actor_id=None, case_id=bindparam("case_id"),
    occurred_at=bindparam("occurred_at", type_=UTCDateTime()), summary=bindparam("summary"),
    data=bindparam("data", type_=_events.c.data.type))
_REMINDER_SENT_POSTGRESQL = """, reminder AS (
    UPDATE reminders
    SET status = 'sent', sent_at = :now
    FROM message
    WHERE reminders.id = message.reminder_id AND reminders.status = 'pending'
    RETURNING reminders.id, reminders.sequence, reminders.submission_id,
              message.case_id, message.recipient
)
INSERT INTO case_events (case_id, kind, occurred_at, actor_id, summary, data)
SELECT case_id, 'reminder_sent', :occurred_at, NULL,
       left('Follow-up reminder ' || sequence || ' emailed to ' || recipient, :limit),
       json_build_object('reminder_id', id, 'submission_id', submission_id)
FROM reminder
"""


def _reminder_sent_sqlite(connection, sent, now: datetime) -> None:
    if sent.reminder_id is None:
        return
    reminder = connection.execute(
        _MARK_REMINDER_SENT, {"reminder_id": sent.reminder_id, "now": now}).one_or_none()
    if reminder is not None:
        connection.execute(_RECORD_SENT_EVENT, {
            "case_id": sent.case_id, "occurred_at": utcnow(),
            "summary": SENT_SUMMARY.format(sequence=reminder.sequence,
                                           recipient=sent.recipient)[:500],
            "data": {"reminder_id": sent.reminder_id, "submission_id": reminder.submission_id}})


def register_mail_kinds() -> None:
    """Tell the mail package about the mail of follow-ups (create_app calls this)."""
    kinds.register("reminder", link=followup_mail.action_link, withdrawn=_withdrawn,
                   on_outcome=_on_outcome,
                   after_sent=kinds.AfterSent(_REMINDER_SENT_POSTGRESQL, _reminder_sent_sqlite))
    kinds.register("escalation", link=followup_mail.action_link, withdrawn=_withdrawn,
                   on_outcome=_on_outcome)
    kinds.register("digest")
