"""Reminders of deadlines: due ones become outbox mail, with the follow-ups' guarantees.

A deadline's reminders go `lead_hours` before it, when it is due, then once a day while it is
overdue (clocks.alert_points); `next_alert_at` is when the next one goes. The dispatch pass
(services/appeals/dispatch.py `run_pass`) calls `dispatch_due(now)`: a batch of due deadlines is
claimed with row locks (FOR UPDATE SKIP LOCKED on PostgreSQL), its mail queued with one
idempotency key per reminder and person (`deadline:<id>:<number>:<person>`), and the deadlines
moved to their next reminder, in one unit of work. So a crash between choosing and sending
neither loses nor doubles a reminder, two schedulers never send the same one, and a reminder
that fell due while nothing ran goes out once: the latest due, not one per missed moment.

Mail goes to the case's assignee (the agency's admins when unassigned), at the end of their
quiet hours; someone who chose the digest only sees it there (services/appeals/digests.py).
An Amazon clock that is overdue is escalated: the admins are told too. A refused or failed
email leaves the deadline open, says so on the timeline and in the Outbox, where an admin
can retry it; only the newest reminder of a deadline is sent late ("overdue by 3 days", not
every day since).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import joinedload, selectinload

from caseapp.core import locking, timezones
from caseapp.core.transaction import transaction
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, Deadline, OutboxMessage, User, utcnow
from caseapp.models.types import UTCDateTime
from caseapp.services.accounts import people
from caseapp.services.cases import timeline
from caseapp.services.deadlines import clocks
from caseapp.services.mail import kinds, outbox

log = logging.getLogger(__name__)

BATCH = 100
KIND = "deadline"  # a reminder of a deadline
NOTICE = "deadline_notice"  # news of a deadline (an appeal window closed early)


def _due(now: datetime):
    # Joined with its case, whose row is locked too: a person's change locks the case first
    # (records.get_case for update), and the mail and timeline rows this pass inserts refer
    # to the case, so locking only the deadline deadlocked with them on PostgreSQL.
    return (select(Deadline).join(Case, Case.id == Deadline.case_id)
            .where(Deadline.next_alert_at.is_not(None), Deadline.next_alert_at <= now)
            .order_by(Deadline.next_alert_at, Deadline.id))


@dataclass
class Counts:
    due: int = 0
    emails: int = 0
    failed: int = 0  # reminders whose mail could not be written


def dispatch_due(now: datetime) -> Counts:
    """Queue the mail of every deadline reminder due at `now`, a batch per unit of work.
    Commits as it goes: never call it inside a unit of work."""
    counts = Counts()
    while True:
        with transaction():
            batch = locking.claim(_due(now), BATCH, of=[Deadline, Case])
            if not batch:
                return counts
            _prepare(batch, now, counts)


def _prepare(batch: list[Deadline], now: datetime, counts: Counts) -> None:
    cases = {c.id: c for c in db.session.scalars(
        select(Case).where(Case.id.in_({d.case_id for d in batch}))
        .options(joinedload(Case.client), joinedload(Case.assignee), selectinload(Case.asin_rows))).unique()}
    admins = people.active_admins({d.agency_id for d in batch})
    for deadline in batch:
        case = cases[deadline.case_id]
        if deadline.status != "open" or deadline.paused_at is not None:
            deadline.next_alert_at = None  # ended or paused meanwhile
            continue
        number = deadline.alerts_sent + 1
        owner = case.assignee if case.assignee is not None and case.assignee.active else None
        recipients = [owner] if owner else list(admins[case.agency_id])
        escalating = (owner is not None and deadline.clock == "amazon"
                      and deadline.due_at <= now)
        emails = [(person, False) for person in recipients
                  if person.notify_each_reminder or not person.notify_daily_digest]
        if escalating:
            emails += [(admin, True) for admin in admins[case.agency_id] if admin.id != owner.id]
        try:
            # Every email is written before anything is queued: one that cannot be written (a
            # bug, odd data such as a zone that no longer exists) leaves nothing half-queued,
            # and must not stop the batch, nor every later pass (and all delivery with it).
            written = [(person, render(deadline, case, person, now, escalation=escalation),
                        people.quiet_hours_end(person, now)) for person, escalation in emails]
        except Exception as exc:  # noqa: BLE001 - whatever broke, the others' mail must go out
            _could_not_prepare(deadline, case, number, exc, now, counts)
            continue
        for person, (subject, text, html), send_after in written:
            outbox.queue(KIND, person.email, subject, text, html,
                         key=f"{KIND}:{deadline.id}:{number}:{person.id}", agency_id=case.agency_id,
                         case_id=case.id, deadline_id=deadline.id, send_after=send_after)
        deadline.alerts_sent = number
        deadline.next_alert_at = clocks.alert_points(deadline, now)
        counts.due += 1
        counts.emails += len(emails)
        if not emails:
            timeline.record(case, "deadline_reminder", None,
                            f"Reminder for deadline {deadline.title} shown in the daily digest "
                            "(no email per reminder)", {"deadline_id": deadline.id})


def _could_not_prepare(deadline: Deadline, case: Case, number: int, exc: Exception, now: datetime,
                       counts: Counts) -> None:
    """A reminder whose mail could not be written: the deadline stays open, its timeline says
    so (it is still on the case page, My day and the digest), and its next reminder is
    scheduled as if this one had gone, so a lasting fault is said once per reminder, not at
    every pass."""
    log.exception("reminder %s of deadline %s could not be prepared", number, deadline.id)
    counts.failed += 1
    deadline.alerts_sent = number
    deadline.next_alert_at = clocks.alert_points(deadline, now)
    timeline.record(case, "deadline_reminder_failed", None,
                    f"Reminder {number} for deadline {deadline.title} could not be prepared: {exc}. "
                    "The deadline is still open."[:500], {"deadline_id": deadline.id})


# ---- the words -----------------------------------------------------------------------------

def stage(deadline: Deadline, now: datetime) -> str:
    """"before", "due" (fell due within the last day) or "overdue"."""
    if deadline.due_at > now:
        return "before"
    return "due" if (now - deadline.due_at) < clocks.OVERDUE_REPEAT else "overdue"


def render(deadline: Deadline, case: Case, person: User, now: datetime, *, escalation: bool = False,
           closed_early: bool = False) -> tuple[str, str, str]:
    """(subject, text, html) of a deadline email for one person, in their time zone."""
    state = clocks.clock(deadline, now)
    context = dict(
        person=person, case=case, client=case.client, asins=case.asins, deadline=deadline,
        kind_label=clocks.KIND_LABELS.get(deadline.kind, deadline.kind), relative=state.relative,
        stage=stage(deadline, now), escalation=escalation, closed_early=closed_early,
        amazon=deadline.clock == "amazon",
        due_local=timezones.format_local(deadline.due_at, person.effective_timezone),
        case_url=external_url("cases.detail", case_id=case.id),
        my_day_url=external_url("days.my_day"),
    )
    if closed_early:
        subject = f"Appeal window closed early: {case.client.name}, {case.title}"
    else:
        prefix = "Escalation: " if escalation else ""
        subject = f"{prefix}{deadline.title} {state.relative}: {case.client.name}, {case.title}"
    return (subject, render_template("email/deadline.txt", **context),
            render_template("email/deadline.html", **context))


def tell_closed_early(closed: list[Deadline], case: Case, now: datetime) -> None:
    """Mail the assignee and the admins that an appeal window closed early (a second
    rejection): the one email of that event, added to the caller's unit of work."""
    if not closed:
        return
    case = db.session.scalar(select(Case).where(Case.id == case.id).options(
        joinedload(Case.client), joinedload(Case.assignee), selectinload(Case.asin_rows)))
    admins = people.active_admins({case.agency_id})[case.agency_id]
    owner = case.assignee if case.assignee is not None and case.assignee.active else None
    recipients = ([owner] if owner else []) + [a for a in admins if owner is None or a.id != owner.id]
    for deadline in closed:
        for person in recipients:
            subject, text, html = render(deadline, case, person, now, closed_early=True)
            outbox.queue(NOTICE, person.email, subject, text, html,
                         key=f"{NOTICE}:{deadline.id}:closed-{_closing(deadline, person)}:{person.id}", agency_id=case.agency_id,
                         case_id=case.id, deadline_id=deadline.id,
                         send_after=people.quiet_hours_end(person, now))


def _closing(deadline: Deadline, person: User) -> int:
    """Which closing of the window this is for the person (a correction can reopen it and a
    rejection close it again): one more than the notices of it they were sent (rare: a query)."""
    db.session.flush()
    return 1 + (db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.deadline_id == deadline.id, OutboxMessage.kind == NOTICE,
        OutboxMessage.recipient == person.email)) or 0)


# ---- what delivery tells us ----------------------------------------------------------------

def _number(message: OutboxMessage) -> int | None:
    """The reminder number of a deadline reminder email, from its key; None for other mail."""
    parts = message.idempotency_key.split(":")
    return int(parts[2]) if message.kind == KIND and len(parts) == 4 and parts[2].isdigit() else None


def _withdrawn(messages: list[OutboxMessage]) -> dict[int, str]:
    """Reminder mail whose deadline ended or paused after it was queued, and mail a newer
    reminder of the same deadline superseded (held or retried mail can be days old)."""
    ids = {m.deadline_id for m in messages if m.deadline_id is not None}
    if not ids:
        return {}
    rows = {row.id: row for row in db.session.execute(
        select(Deadline.id, Deadline.status, Deadline.paused_at, Deadline.alerts_sent, Deadline.title)
        .where(Deadline.id.in_(ids))).all()}
    why = {}
    superseded = []
    for message in messages:
        row = rows.get(message.deadline_id)
        number = _number(message)
        if row is None or number is None:
            continue
        if row.status != "open":
            why[message.id] = f"its deadline is {row.status}"
        elif row.paused_at is not None:
            why[message.id] = "its deadline is paused"
        elif number < row.alerts_sent:
            why[message.id] = f"reminder {row.alerts_sent} of the same deadline superseded it"
            superseded.append((message, number, row))
    if superseded:
        # Said on the case, as for follow-ups: the reminder was not forgotten, a newer one
        # of the same deadline goes out instead of a burst of stale ones.
        cases = {c.id: c for c in db.session.scalars(
            select(Case).where(Case.id.in_({m.case_id for m, _, _ in superseded})))}
        for message, number, row in superseded:
            case = cases.get(message.case_id)
            if case is not None:
                timeline.record(case, "deadline_reminder_superseded", None,
                                f"Reminder {number} for deadline {row.title} not emailed to "
                                f"{message.recipient}: its email waited until reminder "
                                f"{row.alerts_sent} was due, so only the newest goes out"[:500],
                                {"deadline_id": row.id, "outbox_id": message.id})
    return why


def _on_outcome(message: OutboxMessage, status: str, now: datetime, how: str) -> None:
    """A deadline email was held, failed or sent: the case's timeline says so. The deadline
    stays open whatever became of its mail."""
    deadline = db.session.get(Deadline, message.deadline_id) if message.deadline_id else None
    case = db.session.get(Case, message.case_id) if message.case_id else None
    if deadline is None or case is None:
        return
    data = {"deadline_id": deadline.id, "outbox_id": message.id}
    what = (f"Reminder for deadline {deadline.title}" if message.kind == KIND
            else f"News of deadline {deadline.title}")
    if status == "sent":
        timeline.record(case, "deadline_reminder", None,
                        f"{what} emailed to {message.recipient}", data)
    elif status == "failed":
        still = (" The deadline is still open; an admin can retry the email from the Outbox."
                 if deadline.status == "open" else "")
        timeline.record(case, "deadline_reminder_failed", None,
                        f"{what} to {message.recipient} not delivered: "
                        f"{how}.{still}"[:500], data)
    elif status == "held" and deadline.status == "open":
        timeline.record(case, "deadline_reminder_held", None,
                        f"{what} not emailed to {message.recipient}: "
                        "no mail server is configured; it will be sent once one is", data)


# Recording a sent reminder beside the message (mail/sent_log.py, once per email): "Reminder
# for deadline X emailed to ..." on the case's timeline, as `_on_outcome(..., "sent")` writes it.
SENT_SUMMARY = "Reminder for deadline {title} emailed to {recipient}"
_events = CaseEvent.__table__
_RECORD_SENT_EVENT = insert(_events).values(
    kind="deadline_reminder", actor_id=None, case_id=bindparam("case_id"),
    occurred_at=bindparam("occurred_at", type_=UTCDateTime()), summary=bindparam("summary"),
    data=bindparam("data", type_=_events.c.data.type))
_SENT_POSTGRESQL = """
INSERT INTO case_events (case_id, kind, occurred_at, actor_id, summary, data)
SELECT message.case_id, 'deadline_reminder', :occurred_at, NULL,
       left('Reminder for deadline ' || deadlines.title || ' emailed to ' || message.recipient, :limit),
       json_build_object('deadline_id', deadlines.id, 'outbox_id', message.id)
FROM message JOIN deadlines ON deadlines.id = message.deadline_id
"""


def _sent_sqlite(connection, sent, _now: datetime) -> None:
    if sent.deadline_id is None:
        return
    title = connection.execute(select(Deadline.title).where(Deadline.id == sent.deadline_id)).scalar()
    if title is not None:
        connection.execute(_RECORD_SENT_EVENT, {
            "case_id": sent.case_id, "occurred_at": utcnow(),
            "summary": SENT_SUMMARY.format(title=title, recipient=sent.recipient)[:500],
            "data": {"deadline_id": sent.deadline_id, "outbox_id": sent.id}})


def register_mail_kinds() -> None:
    """Tell the mail package about deadline mail (create_app calls this)."""
    kinds.register(KIND, withdrawn=_withdrawn, on_outcome=_on_outcome,
                   after_sent=kinds.AfterSent(_SENT_POSTGRESQL, _sent_sqlite))
    kinds.register(NOTICE, on_outcome=_on_outcome)
