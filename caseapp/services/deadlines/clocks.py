"""Deadlines: adding, editing, meeting, cancelling, pausing and resuming a case's clocks.

The rules (DESIGN.md, "Deadlines"):
- Amazon clocks count calendar time and never pause. Agency clocks may count business days
  of the agency's calendar (core/workdays.py) and pause while the case waits on the client,
  resuming with what was left when they paused.
- A deadline is overdue when it is open, running (not paused) and its due time has passed:
  `Clock.overdue`, `overdue_sql` and `open_sql` are that one rule for every page, mail, feed
  and the API. `case.next_deadline_at` is the case's soonest such due time (`refresh_next`).
- The kind amazon_follow_up is the follow-up of services/appeals/followups.py: it is made,
  moved and ended there (`follow_up_changed`), never by hand.
- Each change is on the case's timeline.

The helpers add to the caller's unit of work; the functions a person calls are units of work
of their own (@transactional).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from caseapp.core import timezones, workdays
from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.parsing import parse_moment
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import (DEADLINE_KINDS, Agency, AmazonResponse, Case, Deadline, Reminder, User,
                            utcnow)
from caseapp.services.cases import records, timeline
from caseapp.services.mail import outbox

FOLLOW_UP = "amazon_follow_up"
KIND_LABELS = {
    "amazon_follow_up": "Follow up with Amazon",
    "amazon_reply_due": "Answer Amazon",
    "appeal_window": "Appeal window",
    "account_health_warning": "Account Health warning",
    "document_request": "Documents from the client",
    "funds_release": "Funds release request",
    "inventory_removal": "FBA inventory removal",
    "agency_sla": "Agency promise to the client",
    "custom": "Other deadline",
}
# The clock each kind runs on unless told otherwise: Amazon's deadlines, or the agency's own.
AMAZON_KINDS = frozenset({"amazon_follow_up", "amazon_reply_due", "appeal_window",
                          "account_health_warning", "funds_release", "inventory_removal"})
# Kinds a person may add by hand (the follow-up comes from submissions).
ADDABLE_KINDS = tuple(k for k in DEADLINE_KINDS if k != FOLLOW_UP)
MAX_YEARS_AHEAD = 5
TITLE_LIMIT = 200
NOTE_LIMIT = 2000
IN_BATCH = 500  # case ids per IN (...): well under SQLite's and PostgreSQL's parameter limits


def calendar_of(agency: Agency) -> workdays.Calendar:
    return workdays.Calendar(timezone=agency.timezone, country=agency.country or "",
                             subdivision=agency.subdivision or "",
                             working_days=agency.working_days or "12345")


def agency_of(case: Case) -> Agency:
    return db.session.get(Agency, case.agency_id)


def due_after(agency: Agency, start: datetime, amount: int | float, unit: str) -> datetime:
    """`amount` hours, days or business days (the agency's calendar) after `start`."""
    if unit == "hours":
        return start + timedelta(hours=amount)
    if unit == "days":
        return start + timedelta(days=amount)
    if unit == "business_days":
        return workdays.add_business_time(calendar_of(agency), start, amount * 86400)
    raise ValueError(f"unknown unit {unit!r}")


# ---- the one definition of due, overdue and next ---------------------------------------------

@dataclass(frozen=True)
class Clock:
    """Where a deadline stands at `now`, for any page, mail or feed: read from the row alone."""

    deadline: Deadline
    now: datetime

    @property
    def running(self) -> bool:
        return self.deadline.status == "open" and self.deadline.paused_at is None

    @property
    def overdue(self) -> bool:
        return self.running and self.deadline.due_at <= self.now

    @property
    def seconds(self) -> float:
        return abs((self.deadline.due_at - self.now).total_seconds())

    @property
    def amount(self) -> str:
        """"5 h", "less than 1 h", "3 days": hours under two days, whole days above."""
        hours = int(self.seconds // 3600)
        if hours >= 48:
            return f"{hours // 24} days"
        return f"{hours} h" if hours else "less than 1 h"

    @property
    def relative(self) -> str:
        """"due in 5 h", "overdue by 3 days", "paused", "met", "cancelled", "missed"."""
        if self.deadline.status != "open":
            return self.deadline.status
        if self.deadline.paused_at is not None:
            return "paused"
        return f"overdue by {self.amount}" if self.overdue else f"due in {self.amount}"


def clock(deadline: Deadline, now: datetime) -> Clock:
    return Clock(deadline, now)


def running_sql() -> ColumnElement[bool]:
    """`Clock.running`, as a condition on Deadline."""
    return and_(Deadline.status == "open", Deadline.paused_at.is_(None))


def overdue_sql(now: datetime) -> ColumnElement[bool]:
    """`Clock.overdue`, as a condition on Deadline."""
    return and_(running_sql(), Deadline.due_at <= now)


# ---- when its reminders go ---------------------------------------------------------------------

OVERDUE_REPEAT = timedelta(hours=24)


def lead_hours(text: str) -> list[int]:
    """"72,24" -> [72, 24]; what cannot be read is left out (the settings check it when saved)."""
    return sorted({int(part) for part in (text or "").replace(" ", "").split(",") if part.isdigit()
                   and 0 < int(part) <= 24 * 90}, reverse=True)


def alert_points(deadline: Deadline, after: datetime) -> datetime | None:
    """The first moment after `after` at which the deadline's reminder goes: `lead_hours`
    before it, when it is due, then once a day while it is overdue."""
    due = deadline.due_at
    for point in [due - timedelta(hours=h) for h in lead_hours(deadline.lead_hours)] + [due]:
        if point > after:
            return point
    days = int((after - due) / OVERDUE_REPEAT) + 1
    return due + days * OVERDUE_REPEAT


def last_alert_point(deadline: Deadline, now: datetime) -> datetime | None:
    """The latest moment at or before `now` at which a reminder of the deadline fell due (the
    schedule of `alert_points`, read backwards); None before the first."""
    due = deadline.due_at
    if due <= now:
        return due + int((now - due) / OVERDUE_REPEAT) * OVERDUE_REPEAT
    passed = [due - timedelta(hours=h) for h in lead_hours(deadline.lead_hours)
              if due - timedelta(hours=h) <= now]
    return max(passed) if passed else None


def schedule(deadline: Deadline, now: datetime) -> None:
    """Set when the deadline's next reminder goes (None: it sends none, being a follow-up,
    paused or closed). Reminders already past are not sent late: the next is after `now`."""
    if deadline.kind == FOLLOW_UP or deadline.status != "open" or deadline.paused_at is not None:
        deadline.next_alert_at = None
    else:
        deadline.next_alert_at = alert_points(deadline, now)


def refresh_next(cases: list[Case]) -> None:
    """Keep `case.next_deadline_at` equal to the soonest due time of the case's running
    deadlines (follow-up included), for lists and sorting."""
    if not cases:
        return
    db.session.flush()
    soonest = {}
    for i in range(0, len(cases), IN_BATCH):
        soonest.update(db.session.execute(
            select(Deadline.case_id, func.min(Deadline.due_at))
            .where(Deadline.case_id.in_([c.id for c in cases[i:i + IN_BATCH]]), running_sql())
            .group_by(Deadline.case_id)).all())
    for case in cases:
        case.next_deadline_at = soonest.get(case.id)


def for_case(case: Case, include_closed: bool = True) -> list[Deadline]:
    """The case's deadlines: open ones soonest first, then closed ones latest first."""
    rows = list(db.session.scalars(select(Deadline).where(Deadline.case_id == case.id)
                                   .order_by(Deadline.due_at, Deadline.id)))
    open_rows = [d for d in rows if d.status == "open"]
    closed = sorted((d for d in rows if d.status != "open"),
                    key=lambda d: d.closed_at or d.updated_at, reverse=True)
    return open_rows + (closed if include_closed else [])


def get_deadline(actor: User, deadline_id: int, for_update: bool = False) -> tuple[Deadline, Case]:
    """A deadline of the actor's agency and its case; NotFound otherwise."""
    deadline = db.session.get(Deadline, deadline_id)
    if deadline is None or deadline.agency_id != actor.agency_id:
        raise NotFound("No such deadline.")
    case = records.get_case(actor, deadline.case_id, for_update=for_update)
    if for_update:
        db.session.refresh(deadline, with_for_update=True)
    return deadline, case


# ---- reading what a person typed -------------------------------------------------------------

def parse_due(value: Any, errors: dict[str, str], now: datetime) -> datetime | None:
    """A due time typed or sent: aware, within MAX_YEARS_AHEAD; errors["due_at"] says what is wrong."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        moment = parse_moment(value.strip())
        if moment is None:
            errors["due_at"] = "Give the due time as a date and time with its zone, e.g. 2026-12-24T17:00:00+01:00."
            return None
    else:
        errors["due_at"] = "When is it due?"
        return None
    if moment.tzinfo is None:
        errors["due_at"] = "Give the due time with its time zone."
        return None
    moment = moment.astimezone(timezone.utc)
    if moment > now + timedelta(days=366 * MAX_YEARS_AHEAD):
        errors["due_at"] = f"A deadline more than {MAX_YEARS_AHEAD} years ahead is surely a typo."
        return None
    if moment.year < 2000:
        errors["due_at"] = "That date is too far in the past."
        return None
    return moment


def _clean_text(data: dict[str, Any], key: str, limit: int, errors: dict[str, str],
                required: bool = False) -> str | None:
    if key not in data:
        return None
    value = data[key]
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[key] = "Must be text."
        return None
    value = value.strip()
    if required and not value:
        errors[key] = "Give it a title."
    elif len(value) > limit:
        errors[key] = f"At most {limit} characters."
    return value


# ---- changes ---------------------------------------------------------------------------------

def start(case: Case, *, kind: str, title: str, due_at: datetime, source: str,
          source_id: int | None = None, actor: User | None = None, note: str = "",
          clock_name: str | None = None, business_days: bool = False, preset_id: int | None = None,
          lead_hours: str | None = None, now: datetime | None = None, say: str = "",
          refresh: bool = True) -> Deadline:
    """Add a deadline to the case (no checks: callers have checked), and its reminders. A
    caller starting several at once passes refresh=False and calls refresh_next once."""
    now = now or utcnow()
    deadline = start_all([(case, dict(
        kind=kind, title=title, due_at=due_at, source=source, source_id=source_id, note=note,
        clock_name=clock_name, business_days=business_days, preset_id=preset_id,
        lead_hours=lead_hours, say=say))], actor, now)[0]
    if refresh:
        refresh_next([case])
    return deadline


def start_all(starts: list[tuple[Case, dict[str, Any]]], actor: User | None, now: datetime) -> list[Deadline]:
    """`start` for many deadlines at once (an import's cases and their presets), written in
    one flush; each (case, fields) takes the keywords `start` takes but actor, now and
    refresh. The caller calls refresh_next for the cases."""
    made = []
    for case, fields in starts:
        agency = agency_of(case)  # the session's copy after the first
        kind = fields["kind"]
        made.append((case, fields, Deadline(
            agency_id=case.agency_id, case_id=case.id, owner_id=case.assignee_id, kind=kind,
            title=fields["title"][:TITLE_LIMIT], note=fields.get("note", ""),
            clock=fields.get("clock_name") or ("amazon" if kind in AMAZON_KINDS else "agency"),
            business_days=fields.get("business_days", False), due_at=fields["due_at"], status="open",
            source=fields["source"], source_id=fields.get("source_id"), preset_id=fields.get("preset_id"),
            lead_hours="" if kind == FOLLOW_UP else (fields.get("lead_hours") or agency.deadline_lead_hours),
            created_by_id=actor.id if actor else None, created_at=now, updated_at=now)))
    for _, _, deadline in made:
        schedule(deadline, now)  # before the INSERT: one statement a deadline, not two
    db.session.add_all([deadline for _, _, deadline in made])
    db.session.flush()
    for case, fields, deadline in made:
        if deadline.kind == "agency_sla" and deadline.clock == "agency" and case.waiting_on_client_since is not None:
            pause(deadline, case, "the case waits on the client", None, now, paused_for="client")
        if deadline.kind != FOLLOW_UP:
            timeline.record(case, "deadline_added", actor,
                            fields.get("say") or f"Deadline added: {deadline.title}, due "
                                                 f"{agency_time(agency_of(case), deadline.due_at)}",
                            {"deadline_id": deadline.id, "kind": deadline.kind,
                             "due_at": deadline.due_at.isoformat()})
    return [deadline for _, _, deadline in made]


def agency_time(agency: Agency, moment: datetime) -> str:
    return timezones.format_local(moment, agency.timezone)


@transactional
def add(actor: User, case_id: int, data: dict[str, Any], now: datetime | None = None) -> Deadline:
    """A person adds a deadline to a case: `kind`, `title` (default: the kind's name),
    `due_at`, `note`; agency clocks may count `business_days`."""
    now = now or utcnow()
    case = records.get_case(actor, case_id, for_update=True)
    errors: dict[str, str] = {}
    kind = data.get("kind") or "custom"
    if kind == FOLLOW_UP:
        errors["kind"] = "Follow-ups with Amazon start by themselves when you record a submission."
    elif kind not in ADDABLE_KINDS:
        errors["kind"] = "Choose one of the kinds listed."
    title = _clean_text(data, "title", TITLE_LIMIT, errors) or KIND_LABELS.get(kind, "Deadline")
    note = _clean_text(data, "note", NOTE_LIMIT, errors) or ""
    due_at = parse_due(data.get("due_at"), errors, now)
    if errors:
        raise ValidationFailed(errors)
    return start(case, kind=kind, title=title, due_at=due_at, source="person", actor=actor,
                 note=note, now=now)


@transactional
def update(actor: User, deadline_id: int, data: dict[str, Any], now: datetime | None = None) -> Deadline:
    """Change a deadline's `title`, `note`, `due_at` or `status` (met, cancelled, or open
    again). Every change is one timeline entry."""
    now = now or utcnow()
    deadline, case = get_deadline(actor, deadline_id, for_update=True)
    errors: dict[str, str] = {}
    status = data.get("status")
    if status is not None and status not in ("open", "met", "cancelled"):
        errors["status"] = "Mark it met, cancel it, or open it again."
    if deadline.kind == FOLLOW_UP and any(k in data for k in ("due_at", "status", "title")):
        raise Conflict("The follow-up with Amazon follows the submissions: record Amazon's reply, "
                       "or snooze or dismiss the follow-up on the case.")
    if deadline.source == "document_request" and any(k in data for k in ("due_at", "status")):
        raise Conflict("This deadline follows its document request: accept what the client sent, "
                       "or cancel the request, on the case's Documents from the client card.")
    title = _clean_text(data, "title", TITLE_LIMIT, errors, required=True)
    note = _clean_text(data, "note", NOTE_LIMIT, errors)
    due_at = parse_due(data["due_at"], errors, now) if "due_at" in data else None
    if due_at is not None and deadline.paused_at is not None:
        errors["due_at"] = "Resume the clock before moving its due time."
    if errors:
        raise ValidationFailed(errors)
    agency = agency_of(case)
    said = []
    renamed = moved = False
    if title is not None and title != deadline.title:
        said.append(f"renamed from \u201c{deadline.title}\u201d")
        deadline.title = title
        renamed = True
    if note is not None and note != deadline.note:
        deadline.note = note
        said.append("note changed")
    if due_at is not None and due_at != deadline.due_at:
        said.append(f"now due {agency_time(agency, due_at)} (was {agency_time(agency, deadline.due_at)})")
        deadline.due_at = due_at
        moved = True
    if status is not None and status != deadline.status:
        said.append(_set_status(deadline, status, actor, now))
        moved = True
    if not said:
        return deadline
    deadline.updated_at = now
    if renamed or moved:
        # Reminder mail still waiting (quiet hours, no mail server) names the old title or
        # due time: it is withdrawn, and the next reminder says what is true.
        outbox.cancel_for_deadline(deadline.id, "the deadline was changed after this reminder was queued")
    if moved:
        # Only a new due time or status plans the reminders again: a renamed deadline keeps
        # a reminder already due, and a snooze.
        _after_change(deadline, case, now)
    timeline.record(case, "deadline_changed", actor, f"Deadline {deadline.title}: {'; '.join(said)}",
                    {"deadline_id": deadline.id, "status": deadline.status,
                     "due_at": deadline.due_at.isoformat()})
    return deadline


def _set_status(deadline: Deadline, status: str, actor: User | None, now: datetime, reason: str = "") -> str:
    """Move a deadline to `status`; what happened, in words."""
    was = deadline.status
    deadline.status = status
    if status == "open":
        deadline.met_at = deadline.closed_at = deadline.closed_by_id = None
        deadline.closed_reason = ""
        return f"open again (was {was})"
    deadline.closed_at = now
    deadline.closed_by_id = actor.id if actor else None
    deadline.closed_reason = reason[:300]
    deadline.paused_at, deadline.remaining_seconds, deadline.paused_for = None, None, ""
    if status == "met":
        deadline.met_at = now
        return "met"
    return f"{status}: {reason}" if reason else status


def _after_change(deadline: Deadline, case: Case, now: datetime) -> None:
    schedule(deadline, now)
    refresh_next([case])


def close(deadline: Deadline, case: Case, status: str, reason: str, actor: User | None,
          now: datetime, *, say: str | None = None) -> None:
    """End an open deadline (met, missed or cancelled) for a reason, with a timeline entry."""
    if deadline.status != "open":
        return
    _set_status(deadline, status, actor, now, reason)
    deadline.updated_at = now
    _after_change(deadline, case, now)
    if deadline.kind != FOLLOW_UP or say:
        timeline.record(case, "deadline_changed", actor,
                        say or f"Deadline {deadline.title}: {status}" + (f" ({reason})" if reason else ""),
                        {"deadline_id": deadline.id, "status": status})


# ---- pausing agency clocks -------------------------------------------------------------------

def _remaining(deadline: Deadline, agency: Agency, now: datetime) -> float:
    """What is left of the clock at `now`, in business or calendar seconds as it counts; an
    overdue clock's is negative: how long it has been overdue, in calendar seconds."""
    if deadline.due_at <= now:
        return (deadline.due_at - now).total_seconds()
    if deadline.business_days:
        return workdays.business_seconds_between(calendar_of(agency), now, deadline.due_at)
    return (deadline.due_at - now).total_seconds()


def pause(deadline: Deadline, case: Case, why: str, actor: User | None, now: datetime,
          paused_for: str = "person") -> bool:
    """Stop an agency clock, keeping what is left of it. Amazon clocks never pause.
    `paused_for`: "person" (by hand) or "client" (the case waits on the client)."""
    if deadline.clock != "agency" or deadline.status != "open" or deadline.paused_at is not None:
        return False
    deadline.remaining_seconds = _remaining(deadline, agency_of(case), now)
    deadline.paused_at, deadline.paused_for = now, paused_for
    deadline.updated_at = now
    _after_change(deadline, case, now)
    timeline.record(case, "deadline_paused", actor, f"Deadline {deadline.title} paused: {why}",
                    {"deadline_id": deadline.id, "remaining_seconds": deadline.remaining_seconds})
    return True


def resume(deadline: Deadline, case: Case, why: str, actor: User | None, now: datetime) -> bool:
    """Run a paused clock again: what was left when it paused counts from now."""
    if deadline.paused_at is None or deadline.status != "open":
        return False
    agency = agency_of(case)
    left = deadline.remaining_seconds or 0.0
    if deadline.business_days and left > 0:
        deadline.due_at = workdays.add_business_time(calendar_of(agency), now, left)
    else:
        deadline.due_at = now + timedelta(seconds=left)
    deadline.paused_at, deadline.remaining_seconds, deadline.paused_for = None, None, ""
    deadline.updated_at = now
    _after_change(deadline, case, now)
    timeline.record(case, "deadline_resumed", actor,
                    f"Deadline {deadline.title} running again, now due {agency_time(agency, deadline.due_at)}: {why}",
                    {"deadline_id": deadline.id, "due_at": deadline.due_at.isoformat()})
    return True


@transactional
def pause_by_person(actor: User, deadline_id: int, now: datetime | None = None) -> Deadline:
    now = now or utcnow()
    deadline, case = get_deadline(actor, deadline_id, for_update=True)
    if deadline.clock != "agency":
        raise Conflict("Amazon's clocks never pause: only the agency's own deadlines can wait.")
    if deadline.status != "open":
        raise Conflict(f"This deadline is {deadline.status}; only an open one can pause.")
    if not pause(deadline, case, f"paused by {actor.name}", actor, now):
        raise Conflict("This deadline is already paused.")
    return deadline


@transactional
def resume_by_person(actor: User, deadline_id: int, now: datetime | None = None) -> Deadline:
    now = now or utcnow()
    deadline, case = get_deadline(actor, deadline_id, for_update=True)
    if not resume(deadline, case, f"resumed by {actor.name}", actor, now):
        raise Conflict("This deadline is not paused.")
    return deadline


def pause_agency_clocks(case: Case, why: str, now: datetime) -> int:
    """The case waits on the client (a document request opened): every running agency clock
    that pauses while the client is asked (agency_sla) stops. Returns how many paused."""
    rows = db.session.scalars(select(Deadline).where(
        Deadline.case_id == case.id, running_sql(), Deadline.kind == "agency_sla"))
    return sum(pause(d, case, why, None, now, paused_for="client") for d in rows)


def resume_agency_clocks(case: Case, why: str, now: datetime) -> int:
    """The wait on the client is over: the clocks it paused run again; one a person paused by
    hand stays paused until a person resumes it."""
    rows = db.session.scalars(select(Deadline).where(
        Deadline.case_id == case.id, Deadline.status == "open", Deadline.paused_at.is_not(None),
        Deadline.kind == "agency_sla", Deadline.paused_for == "client"))
    return sum(resume(d, case, why, None, now) for d in rows)


# ---- what other features tell the deadlines ---------------------------------------------------

def follow_up_changed(cases: list[Case], chased: dict[int, tuple[int, datetime]], now: datetime) -> None:
    """The follow-ups of these cases were recomputed (followups.refresh_deadlines): `chased`
    maps a case id to (the submission its next follow-up chases, the follow-up's due time)
    for those with one. Each case keeps one open amazon_follow_up deadline exactly while it has
    a follow-up; one that ends is met when Amazon answered its submission, else cancelled."""
    ids = [c.id for c in cases]
    current = {d.case_id: d for d in db.session.scalars(
        select(Deadline).where(Deadline.case_id.in_(ids), Deadline.kind == FOLLOW_UP,
                               Deadline.status == "open"))}
    for case in cases:
        wanted = chased.get(case.id) if case.status == "submitted" else None
        deadline = current.get(case.id)
        if deadline is not None and (wanted is None or wanted[0] != deadline.source_id):
            _end_follow_up(deadline, superseded=wanted is not None, now=now)
            deadline = None
        if wanted is None:
            continue
        if deadline is None:
            start(case, kind=FOLLOW_UP, title=KIND_LABELS[FOLLOW_UP], due_at=wanted[1],
                  source="submission", source_id=wanted[0], now=now)
        elif deadline.due_at != wanted[1]:
            deadline.due_at = wanted[1]
            deadline.updated_at = now
    refresh_next(cases)


def _end_follow_up(deadline: Deadline, superseded: bool, now: datetime) -> None:
    reply = db.session.scalar(select(AmazonResponse).where(
        AmazonResponse.submission_id == deadline.source_id, AmazonResponse.withdrawn_at.is_(None))
        .order_by(AmazonResponse.received_at).limit(1))
    deadline.updated_at = deadline.closed_at = now
    if reply is not None:
        deadline.status, deadline.met_at = "met", reply.received_at
        deadline.closed_reason = "Amazon replied"
    else:
        deadline.status = "cancelled"
        # Why its last reminder was cancelled says why it ended: "superseded by a new
        # submission", "dismissed by Sam", "status moved to Closed"...
        why = None if superseded else db.session.scalar(
            select(Reminder.cancelled_reason).where(Reminder.submission_id == deadline.source_id,
                                                    Reminder.status == "cancelled")
            .order_by(Reminder.id.desc()).limit(1))
        deadline.closed_reason = ("superseded by a new submission" if superseded
                                  else why or "the follow-up ended without a reply")[:300]


def case_ended(case: Case, status: str, actor: User | None, now: datetime) -> int:
    """The case reached an end status: its open deadlines end with it. Reinstated meets the
    clocks whose aim it was (the appeal window, Amazon's requests, a health warning); any
    other open one is cancelled, or missed when it was already overdue. Returns how many."""
    aims = {"appeal_window", "amazon_reply_due", "account_health_warning"}
    count = 0
    for deadline in db.session.scalars(select(Deadline).where(
            Deadline.case_id == case.id, Deadline.status == "open", Deadline.kind != FOLLOW_UP)).all():
        if status == "reinstated" and deadline.kind in aims:
            close(deadline, case, "met", "the case was reinstated", actor, now)
        elif Clock(deadline, now).overdue:
            close(deadline, case, "missed", f"overdue when the case was {status}", actor, now)
        else:
            close(deadline, case, "cancelled", f"the case was {status}", actor, now)
        count += 1
    return count


REJECTIONS_CLOSING_THE_WINDOW = 2
CASE_ENDED = ("reinstated", "closed")  # the statuses that end a case (appeals/workflow.py ENDED) and its clocks
CLOSED_EARLY = "closed early: Amazon rejected {n} appeals"


def rejections_counted(case: Case) -> int:
    """Amazon's unsuccessful answers to the case's appeals that still count (not withdrawn)."""
    return db.session.scalar(select(func.count(AmazonResponse.id)).where(
        AmazonResponse.case_id == case.id, AmazonResponse.outcome == "rejected",
        AmazonResponse.withdrawn_at.is_(None))) or 0


def close_appeal_window_if_spent(case: Case, actor: User | None, now: datetime) -> list[Deadline]:
    """Amazon makes a deactivation permanent within 17 days or after two unsuccessful
    appeals, whichever comes first: at the second rejection the open appeal window closes,
    and the timeline says so. Returns the windows closed (the caller's mail tells people)."""
    count = rejections_counted(case)
    if count < REJECTIONS_CLOSING_THE_WINDOW:
        return []
    closed = []
    for deadline in db.session.scalars(select(Deadline).where(
            Deadline.case_id == case.id, Deadline.kind == "appeal_window", Deadline.status == "open")).all():
        close(deadline, case, "cancelled", CLOSED_EARLY.format(n=count), actor, now,
              say=f"Appeal window closed early: Amazon rejected {count} appeals, so the deactivation "
                  "may now be permanent. Further appeals are unlikely to be read the same way; "
                  "consider an escalation.")
        closed.append(deadline)
    return closed


def reopen_appeal_window_if_unspent(case: Case, actor: User | None, now: datetime) -> list[Deadline]:
    """After a correction (a rejection withdrawn or its outcome changed): an appeal window that
    closed early while fewer than two rejections now count is open again."""
    if rejections_counted(case) >= REJECTIONS_CLOSING_THE_WINDOW or case.status in CASE_ENDED:
        return []  # still two rejections, or the case ended (reinstated, closed): it stays shut
    reopened = []
    for deadline in db.session.scalars(select(Deadline).where(
            Deadline.case_id == case.id, Deadline.kind == "appeal_window",
            Deadline.status == "cancelled", Deadline.closed_reason.like("closed early: %"))).all():
        _set_status(deadline, "open", actor, now)
        deadline.updated_at = now
        _after_change(deadline, case, now)
        timeline.record(case, "deadline_changed", actor,
                        f"Appeal window open again: fewer than {REJECTIONS_CLOSING_THE_WINDOW} rejections "
                        "count after the correction", {"deadline_id": deadline.id, "status": "open"})
        reopened.append(deadline)
    return reopened


# ---- the API's edit of a deadline (views/api: PATCH /deadlines/{id}) ---------------------------

@transactional
def change(actor: User, deadline_id: int, data: dict[str, Any], now: datetime | None = None) -> Deadline:
    """`update` and, when `data["paused"]` is given, pause or resume by a person, as one unit
    of work: a refusal of either saves nothing. paused=False resumes before the other changes
    (so a new due time may be set at once), paused=True pauses after them; asking for the
    state the deadline is already in changes nothing (but an Amazon clock never pauses: 409)."""
    now = now or utcnow()
    data = dict(data)
    paused = data.pop("paused", None)
    deadline, _case = get_deadline(actor, deadline_id)
    if paused is False and deadline.paused_at is not None:
        resume_by_person(actor, deadline_id, now)
    deadline = update(actor, deadline_id, data, now)
    if paused is True and deadline.paused_at is None:
        deadline = pause_by_person(actor, deadline_id, now)
    return deadline


# ==== My day (services/deadlines/days.py) and the dashboard's column: added by the My day work ====

SNOOZE_HOURS = (4, 24, 48)


def next_for_case(case: Case, now: datetime) -> Clock | None:
    """The case's soonest running deadline as a Clock (due time, overdue, the same words as
    every deadline), read from `case.next_deadline_at` alone: no query, for lists of any length.
    None when no clock runs."""
    if case.next_deadline_at is None:
        return None
    return Clock(Deadline(status="open", paused_at=None, due_at=case.next_deadline_at), now)


@transactional
def snooze_reminder(actor: User, deadline_id: int, hours: int, now: datetime | None = None) -> Deadline:
    """Push the deadline's next reminder back by `hours` (from now when it is already due);
    the due time stays. The follow-up with Amazon snoozes its own reminders
    (appeals.followups.snooze_deadline)."""
    now = now or utcnow()
    deadline, case = get_deadline(actor, deadline_id, for_update=True)
    if hours not in SNOOZE_HOURS:
        raise Conflict(f"Snooze for {', '.join(map(str, SNOOZE_HOURS))} hours.")
    if deadline.kind == FOLLOW_UP:
        raise Conflict("Snooze the follow-up with Amazon on the case's submissions.")
    if deadline.status != "open" or deadline.paused_at is not None:
        raise Conflict("Only a running deadline has reminders to snooze.")
    deadline.next_alert_at = max(deadline.next_alert_at or now, now) + timedelta(hours=hours)
    deadline.updated_at = now
    timeline.record(case, "deadline_snoozed", actor,
                    f"Reminder for {deadline.title} snoozed for {hours} h, next "
                    f"{agency_time(agency_of(case), deadline.next_alert_at)}",
                    {"deadline_id": deadline.id, "next_alert_at": deadline.next_alert_at.isoformat()})
    return deadline
