"""The daily digest: at 08:00 in each person's own time zone, every case awaiting Amazon,
and the person's deadlines that need them today.

The deadlines listed (`deadlines_for`): every open deadline of the person's cases (their own;
an admin's also the unassigned ones, as for the follow-ups) other than the follow-up (the
cases above show it) that is overdue (clocks.Clock, the one definition), due within the next
24 hours, or whose reminder came due since the last digest (for whoever chose the digest over
an email per reminder, the digest is that reminder). Paused deadlines are not listed: they
are not due while paused. One query reads the deadlines of everyone whose digest is due.

Each person's digest is a unit of work of its own: the day marked done and the mail queued
together, so two scheduler processes queue it once (the second one's idempotency key is
refused and its unit of work rolled back)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import render_template
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from caseapp.core import timezones
from caseapp.core.transaction import transaction
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, Deadline, User
from caseapp.services.appeals import followups
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks
from caseapp.services.mail import outbox

DIGEST_AT = time(8, 0)
DEADLINES_AHEAD = timedelta(hours=24)
SINCE_LAST = timedelta(days=1)  # the previous digest, as for the follow-ups that came due


def awaiting_amazon(person: User) -> list[Case]:
    """Cases of this person (admins: also unassigned ones) waiting on Amazon, longest silence first."""
    return list(db.session.scalars(
        select(Case).where(records.looked_after_by(person), Case.awaiting_since.is_not(None))
        .options(joinedload(Case.client), selectinload(Case.asin_rows))
        .order_by(Case.awaiting_since, Case.id)))


def deadlines_for(people: list[User], now: datetime) -> dict[int, list[dict]]:
    """Per person id, the deadlines their digest lists (see the module's doc), soonest
    first, as plain rows (they outlive the read's unit of work). One query for everyone."""
    if not people:
        return {}
    since = now - SINCE_LAST
    longest_lead = timedelta(hours=24 * 90)  # clocks.lead_hours reads no longer lead
    wanted = or_(Deadline.due_at <= now + DEADLINES_AHEAD,
                 and_(Deadline.alerts_sent > 0, Deadline.due_at <= now + longest_lead))
    # records.looked_after_by for all of them at once: their own cases, and the unassigned
    # cases of the agencies of admins among them.
    admin_agencies = {p.agency_id for p in people if p.is_admin}
    cases_of = or_(Case.assignee_id.in_([p.id for p in people]),
                   and_(Case.assignee_id.is_(None), Case.agency_id.in_(admin_agencies)))
    rows = db.session.execute(
        select(Deadline, Case).join(Case, Case.id == Deadline.case_id)
        .where(clocks.running_sql(), Deadline.kind != clocks.FOLLOW_UP, wanted, cases_of)
        .options(joinedload(Case.client))
        .order_by(Deadline.due_at, Deadline.id)).all()
    found: dict[int, list[dict]] = {p.id: [] for p in people}
    # Who reads a case's rows, looked up once per row (not once per person per row).
    readers: dict[tuple[int, int | None], list[int]] = {}
    for person in people:
        readers.setdefault((person.agency_id, person.id), []).append(person.id)
        if person.is_admin:
            readers.setdefault((person.agency_id, None), []).append(person.id)
    for deadline, case in rows:
        state = clocks.Clock(deadline, now)
        point = clocks.last_alert_point(deadline, now)
        came_due = deadline.alerts_sent > 0 and point is not None and point > since
        if not (state.overdue or deadline.due_at <= now + DEADLINES_AHEAD or came_due):
            continue
        row = dict(id=deadline.id, title=deadline.title, due_at=deadline.due_at,
                   kind_label=clocks.KIND_LABELS.get(deadline.kind, deadline.kind),
                   amazon=deadline.clock == "amazon", overdue=state.overdue,
                   relative=state.relative, came_due=came_due, case_title=case.title,
                   client_name=case.client.name,
                   url=external_url("cases.detail", case_id=case.id))
        for person_id in readers.get((case.agency_id, case.assignee_id), ()):
            found[person_id].append(row)
    return found


def queue_due(now: datetime, report) -> None:
    candidates = db.session.scalars(select(User).where(
        User.active.is_(True), User.notify_daily_digest.is_(True))).all()
    due = []
    for person in candidates:
        local = now.astimezone(ZoneInfo(person.effective_timezone))
        if local.time() < DIGEST_AT or person.last_digest_on == local.date():
            continue
        due.append((person, local))
    deadlines = deadlines_for([p for p, _ in due], now)
    for person, local in due:
        mine = deadlines.get(person.id, [])
        try:
            with transaction():
                cases = awaiting_amazon(person)
                person.last_digest_on = local.date()
                if cases or mine:
                    _queue(person, cases, mine, now, local)
        except IntegrityError:  # another scheduler process queued this digest first
            continue
        report.digests_queued += bool(cases or mine)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _queue(person: User, cases: list[Case], deadlines: list[dict], now: datetime,
           local: datetime) -> None:
    zone = person.effective_timezone
    # The follow-ups that fell due since the last digest: for whoever chose the digest over
    # an email per reminder, this digest is their reminder.
    came_due = followups.came_due_since([c.id for c in cases], now - SINCE_LAST) if cases else {}
    rows = []
    for c in cases:
        follow_up = followups.next_follow_up(c, now)  # the dashboard's and the case page's
        due = came_due.get(c.id)
        rows.append(dict(case=c, client=c.client, asins=c.asins,
                         silent_hours=int((now - c.awaiting_since).total_seconds() // 3600),
                         overdue=follow_up.overdue, follow_up=follow_up, came_due=due,
                         came_due_local=timezones.format_local(due.due_at, zone) if due else "",
                         next_due_local=timezones.format_local(follow_up.due_at, zone),
                         submitted_local=timezones.format_local(c.awaiting_since, zone),
                         amazon_wrote_local=timezones.format_local(c.amazon_wrote_at, zone),
                         url=external_url("cases.detail", case_id=c.id)))
    deadline_rows = [dict(d, due_local=timezones.format_local(d["due_at"], zone)) for d in deadlines]
    context = dict(person=person, rows=rows, deadlines=deadline_rows, day=local.strftime("%A %d %B %Y"),
                   overdue_count=sum(d["overdue"] for d in deadlines))
    parts = []
    if rows or not deadline_rows:
        parts.append(f"{_plural(len(rows), 'case')} awaiting Amazon")
    if deadline_rows:
        overdue = context["overdue_count"]
        parts.append(_plural(len(deadline_rows), "deadline") + (f" ({overdue} overdue)" if overdue else ""))
    outbox.queue(
        "digest", person.email, f"{', '.join(parts)}, {context['day']}",
        render_template("email/digest.txt", **context), render_template("email/digest.html", **context),
        key=f"digest:{person.id}:{local.date().isoformat()}", agency_id=person.agency_id,
        send_after=now)
