"""The dispatch pass: due reminders become outbox mail, then the outbox is delivered.

The scheduler job, `flask reminders run-due` and the tests all call `run_pass(now)`.
Reminders live in the database, so a pass only asks "what is due now?": a reminder
that fell due while nothing ran goes out once, and its repeat is counted from now.

Delivery leases a batch of messages (status "sending" with a lease, committed), then
talks to the SMTP server with no database transaction open, so a slow mail server never
holds locks that web requests need; a few messages are on the wire at once (senders.py),
and each is recorded in its own transaction as soon as the server accepted it. A
dispatcher that dies leaves its leased messages to be picked up again when the lease runs
out: nothing is lost. Only what the server accepted just before the death and was not yet
recorded (at most one message per SMTP connection in use) goes out twice, with the same
Message-ID.

Secret links (a password reset, a reminder's snooze/dismiss page) are not in the stored
bodies: `deliver` asks mail_links for them while it builds each email, in the leasing
transaction, so every try of a message carries a working link and none reaches the
database. A message whose link is no longer valid (the reset was used or expired) is
cancelled instead of sent.

Each pass also empties the bodies of mail sent more than OUTBOX_BODY_RETENTION_DAYS ago.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload, selectinload

from caseapp.extensions import db
from caseapp.models import AmazonResponse, Case, OutboxMessage, Reminder, Submission, User
from caseapp.services.appeals import digests
from caseapp.core import locking
from caseapp.services.mail import links
from caseapp.services.appeals import followup_mail
from caseapp.services.appeals import followups
from caseapp.services.appeals import submissions
from caseapp.services.cases import timeline
from caseapp.services.mail.smtp import MailSettings, build_message
from caseapp.services.mail.senders import Senders
from caseapp.services.mail.sent_log import SentLog

log = logging.getLogger(__name__)

BATCH = 50
ESCALATE_FROM_SEQUENCE = 3  # from the third follow-up without a reply the admins are told too
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
CLAIM_BATCH = 20  # messages leased per commit; each is still recorded on its own
CLEAR_BATCH = 500  # sent bodies emptied per statement (one short write lock each)
CLEAR_BATCHES_PER_PASS = 20  # a backlog (after an upgrade) is worked off over several passes


@dataclass
class PassReport:
    reminders_due: int = 0
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
    report = PassReport()
    dispatch_due(now, report)
    digests.queue_due(now, report)
    deliver(now, report)
    report.bodies_cleared = clear_old_bodies(now)
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
            AmazonResponse.submission_id.in_({r.submission_id for r in batch}))))
        admins: dict[int, list[User]] = {c.agency_id: [] for c in cases.values()}
        for admin in db.session.scalars(select(User).where(
                User.agency_id.in_(admins), User.role == "admin", User.active.is_(True)).order_by(User.id)):
            admins[admin.agency_id].append(admin)
        return cls(cases, latest, answered, admins)

    def still_awaited(self, reminder: Reminder) -> bool:
        """Amazon has not answered the case's latest submission, which this reminder chases."""
        case = self.cases[reminder.case_id]
        latest = self.latest.get(case.id)
        return (case.status == "submitted" and latest is not None and latest.id == reminder.submission_id
                and reminder.submission_id not in self.answered)


def dispatch_due(now: datetime, report: PassReport) -> None:
    while True:
        # Lock the case with the reminder: a reply or resubmission (which locks the case
        # first) then either waits for this batch or makes the pass skip the reminder.
        batch = locking.claim(_due(now), BATCH, of=[Reminder, Case])
        if not batch:
            db.session.rollback()
            return
        part = PassReport()
        try:
            _prepare(batch, now, part, isolated=False)
            db.session.commit()
        except SQLAlchemyError:
            # The database refused some reminder's rows. Again, each reminder in a savepoint
            # of its own (slower), so that one is marked failed and the others go out.
            log.exception("a batch of reminders failed as a whole; preparing them one by one")
            db.session.rollback()
            ids = [r.id for r in batch]
            batch = locking.claim(_due(now).where(Reminder.id.in_(ids)), BATCH, of=[Reminder, Case])
            part = PassReport()
            _prepare(batch, now, part, isolated=True)
            db.session.commit()
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
                         None, now)
        return
    admins = facts.admins[case.agency_id]
    assignee = case.assignee if case.assignee is not None and case.assignee.active else None
    recipients = [assignee] if assignee else admins
    # Every email is written before anything changes: one that fails to render leaves
    # nothing half-queued behind it.
    queued = [_message(reminder, case, person, "reminder", now) for person in recipients
              if person.notify_each_reminder or not person.notify_daily_digest]
    escalating = assignee is not None and reminder.sequence >= ESCALATE_FROM_SEQUENCE
    if escalating:
        queued += [_message(reminder, case, admin, "escalation", now)
                   for admin in admins if admin.id != assignee.id]
    db.session.add_all(queued)
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


def _message(reminder: Reminder, case: Case, person: User, kind: str, now: datetime) -> OutboxMessage:
    subject, text, html = followup_mail.render(reminder, case, person, kind, now)
    return OutboxMessage(
        idempotency_key=f"{kind}:{reminder.id}:{person.id}", agency_id=case.agency_id,
        case_id=case.id, reminder_id=reminder.id, kind=kind, recipient=person.email,
        subject=subject[:300], body_text=text, body_html=html, send_after=quiet_hours_end(person, now),
        link_ref=followup_mail.action_link_ref(reminder, person),
    )


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
            .where(or_(
                (OutboxMessage.status == "pending") & (OutboxMessage.send_after <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.lease_until < now)))
            .order_by(OutboxMessage.send_after, OutboxMessage.id))


def deliver(now: datetime, report: PassReport) -> None:
    """Lease a batch of messages (one commit), then send them and record each (one commit each)."""
    settings = MailSettings.from_config(current_app.config)
    if not settings.server:
        _hold_all(now, report)
        return
    started = monotonic()

    def clock() -> datetime:
        # The pass's own time, moving on: a long pass must not hand out leases that have
        # already run out, nor take others' leases for expired while they still hold.
        return now + timedelta(seconds=monotonic() - started)

    senders = Senders(settings)
    sent_log = SentLog()
    try:
        while True:
            claimed = locking.claim(_deliverable(clock()), CLAIM_BATCH)
            if not claimed:
                db.session.rollback()
                return
            lease = clock() + LEASE
            batch = []
            for message in _still_wanted(claimed, now):
                bodies = _bodies(message, clock(), report)
                if bodies is None:
                    continue
                batch.append((message.id, build_message(
                    settings.sender, message.recipient, message.subject, *bodies,
                    message.idempotency_key)))
                message.status, message.lease_until = "sending", lease
                message.attempts += 1
            db.session.commit()
            if not _send_batch(senders, sent_log, batch, lease, now, report):
                return
    finally:
        senders.close()
        sent_log.close()


def _hold_all(now: datetime, report: PassReport) -> None:
    while claimed := locking.claim(_deliverable(now), CLAIM_BATCH):
        for message in claimed:
            _resolve(message, "held", now, "kept in the outbox: no mail server is configured")
            report.held += 1
        db.session.commit()
    db.session.rollback()


def _send_batch(senders: Senders, sent_log: SentLog, batch: list, lease: datetime, now: datetime,
                report: PassReport) -> bool:
    """Send leased messages, `senders.count` at a time, and record each outcome in order,
    with no transaction open while a message is on the wire. False: the server is unusable;
    messages not yet tried are given back and the pass stops."""
    waiting = deque(batch)
    in_flight: deque = deque()
    server_down = False
    try:
        while in_flight or (waiting and not server_down):
            while waiting and not server_down and len(in_flight) < senders.count:
                message_id, email = waiting.popleft()
                in_flight.append((message_id, senders.submit(email)))
            message_id, future = in_flight[0]
            outcome, error = future.result()
            server_down = server_down or outcome == "server"
            _record_outcome(sent_log, message_id, outcome, error, lease, now, report)
            in_flight.popleft()
    except BaseException:
        _settle_after_error(sent_log, in_flight, waiting, lease, now, report)
        raise
    _release([message_id for message_id, _ in waiting], lease)
    return not server_down


def _record_outcome(sent_log: SentLog, message_id: int, outcome: str, error: str, lease: datetime,
                    now: datetime, report: PassReport) -> None:
    if outcome == "sent":
        sent_log.record(message_id, now)
        report.sent += 1
    else:
        _record_failure(message_id, outcome, error, lease, now, report)


def _settle_after_error(sent_log: SentLog, in_flight: deque, waiting: deque, lease: datetime,
                        now: datetime, report: PassReport) -> None:
    """Recording an outcome failed (the database went away, a lock timed out...). The message
    it was about keeps its lease, to be tried again when it runs out; the others still on
    the wire finish and are recorded if the database lets us; those not tried are given back."""
    db.session.rollback()
    in_flight.popleft()  # the one whose recording failed
    for message_id, future in in_flight:
        try:
            _record_outcome(sent_log, message_id, *future.result(), lease, now, report)
        except Exception:  # noqa: BLE001 - already failing; its lease brings it back
            db.session.rollback()
            log.exception("outcome of message %s could not be recorded", message_id)
    try:
        _release([message_id for message_id, _ in waiting], lease)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("leased messages could not be given back; their lease brings them back")


def _still_wanted(claimed: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
    """Drop mail whose reminder was cancelled after it was queued (Amazon replied, the case
    closed...): a message retried after a dead dispatcher's lease must not go out then."""
    reminder_ids = {m.reminder_id for m in claimed if m.reminder_id is not None}
    # By id alone, status read here: with the status in the WHERE, SQLite walked the status
    # index through every cancelled reminder ever (36,000 at 100,000 cases) for each batch.
    statuses = db.session.execute(select(Reminder.id, Reminder.status).where(
        Reminder.id.in_(reminder_ids))).all() if reminder_ids else []
    cancelled = {rid for rid, status in statuses if status == "cancelled"}
    wanted = []
    for message in claimed:
        if message.reminder_id in cancelled:
            # "sending" here means a dispatcher's lease ran out: it may have died after the
            # server accepted the message. Say so rather than claim it never went out.
            message.last_error = (
                "its reminder was cancelled; an earlier try by a dispatcher that stopped "
                "mid-send may already have delivered it" if message.status == "sending"
                else "its reminder was cancelled before it could be sent")
            message.status, message.lease_until = "cancelled", None
        else:
            wanted.append(message)
    return wanted


def _bodies(message: OutboxMessage, now: datetime, report: PassReport) -> tuple[str, str] | None:
    """The text and HTML to send, secret links put in (mail_links). None: the message is not
    sent; it is cancelled (its link is no longer valid) or failed (no link can be made: the
    placeholder never goes out in place of a link)."""
    try:
        bodies = links.fill(message.kind, message.link_ref, message.body_text,
                                 message.body_html, now)
    except SQLAlchemyError:
        raise  # the database, not the message: nothing leased yet, the pass stops
    except Exception as exc:  # noqa: BLE001 - a bug in one kind must not stop the others
        log.exception("the link of message %s could not be made", message.id)
        message.lease_until, message.last_error = None, f"its link could not be made: {exc}"[:1000]
        _resolve(message, "failed", now, message.last_error)
        report.failed += 1
        return None
    if bodies is None:
        message.last_error = (
            "not sent: its link was used or has expired; an earlier try by a dispatcher that "
            "stopped mid-send may have delivered it" if message.status == "sending"
            else "not sent: its link was used or had expired by the time it could go out")
        message.status, message.lease_until = "cancelled", None
    return bodies


def bodies_to_clear(now: datetime, limit: int):
    """Ids of sent messages whose bodies have been kept their retention period. The status
    and the NULL test are literal SQL, as the partial index ix_outbox_messages_bodies_to_clear
    says them: a bound parameter would hide from the planner that the index applies."""
    days = int(current_app.config.get("OUTBOX_BODY_RETENTION_DAYS") or 0)
    return (select(OutboxMessage.id)
            .where(text("outbox_messages.status = 'sent' AND outbox_messages.body_cleared_at IS NULL"),
                   OutboxMessage.sent_at < now - timedelta(days=days))
            .order_by(OutboxMessage.sent_at).limit(limit))


def clear_old_bodies(now: datetime) -> int:
    """Empty the bodies of mail sent more than OUTBOX_BODY_RETENTION_DAYS ago (0: keep them);
    the row stays, so the Outbox still lists who was mailed what and when. Returns how many."""
    if int(current_app.config.get("OUTBOX_BODY_RETENTION_DAYS") or 0) <= 0:
        return 0
    cleared = 0
    for _ in range(CLEAR_BATCHES_PER_PASS):
        ids = bodies_to_clear(now, CLEAR_BATCH).scalar_subquery()
        result = db.session.execute(
            # Re-tested on the row itself: a second scheduler clearing the same rows waits
            # for the first, then finds them cleared and leaves them.
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.body_cleared_at.is_(None))
            .values(body_text="", body_html="", body_cleared_at=now)
            .execution_options(synchronize_session=False))
        db.session.commit()
        cleared += result.rowcount
        if result.rowcount < CLEAR_BATCH:
            break
    return cleared


def _release(message_ids: list[int], lease: datetime) -> None:
    """Give back leased messages that were not tried: their place and their tries unchanged.
    Only under this pass's lease: one that ran out may be another pass's by now."""
    if message_ids:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "sending",
                   OutboxMessage.lease_until == lease)
            .values(status="pending", lease_until=None, attempts=OutboxMessage.attempts - 1)
            .execution_options(synchronize_session=False))
        db.session.commit()


def _record_failure(message_id: int, outcome: str, error: str, lease: datetime, now: datetime,
                    report: PassReport) -> None:
    locking.write_lock()
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id)
                                .with_for_update().execution_options(populate_existing=True))
    if message.status != "sending" or message.lease_until != lease:
        # Our lease ran out and another pass took the message over (and maybe sent it):
        # its outcome is that pass's to record.
        db.session.rollback()
        return
    message.lease_until = None
    message.last_error = error[:1000]
    if outcome == "server":
        # The server, not the message: keep its place and its tries, stop for this minute.
        message.status, message.attempts = "pending", message.attempts - 1
        report.server_error = error[:300]
        log.warning("mail server unusable, delivery paused: %s", error)
    elif outcome == "retry" and message.attempts < MAX_ATTEMPTS:
        message.status = "pending"
        message.send_after = now + timedelta(minutes=2 ** (message.attempts - 1))
        report.retried += 1
    else:
        why = (f"failed after {message.attempts} tries: {error}" if outcome == "retry"
               else f"refused by the mail server: {error}")
        _resolve(message, "failed", now, why)
        report.failed += 1
    db.session.commit()


def _resolve(message: OutboxMessage, status: str, now: datetime, how: str) -> None:
    message.status = status
    if status in ("sent", "held"):
        message.sent_at = now
    if message.reminder_id is None:
        return
    reminder = db.session.scalar(select(Reminder).where(Reminder.id == message.reminder_id)
                                 .with_for_update().execution_options(populate_existing=True))
    case = db.session.get(Case, message.case_id)
    label = "Escalation" if message.kind == "escalation" else "Follow-up reminder"
    if status == "failed":
        timeline.record(case, "reminder_failed", None,
                        f"{label} {reminder.sequence} to {message.recipient} {how}"[:500],
                        {"reminder_id": reminder.id, "outbox_id": message.id})
    if message.kind != "reminder" or reminder.status != "pending":
        return
    if status in ("sent", "held"):
        _mark_sent(reminder, case, now, how)
        return
    copies = db.session.scalars(select(OutboxMessage.status).where(
        OutboxMessage.reminder_id == reminder.id, OutboxMessage.kind == "reminder")).all()
    if all(s in ("failed", "cancelled") for s in copies):
        # Nobody can be reached: say so once and stop repeating into the void.
        reminder.status = "failed"
        followups.cancel_for_submission(case, reminder.submission_id,
                                        "every reminder email was refused; check the address",
                                        None, now)
