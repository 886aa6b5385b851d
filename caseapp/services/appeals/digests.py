"""The daily digest: at 08:00 in each person's own time zone, every case awaiting Amazon.

Each person's digest is a unit of work of its own: the day marked done and the mail queued
together, so two scheduler processes queue it once (the second one's idempotency key is
refused and its unit of work rolled back)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import render_template
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from caseapp.core import timezones
from caseapp.core.transaction import transaction
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, User
from caseapp.services.appeals import followups
from caseapp.services.cases import records
from caseapp.services.mail import outbox

DIGEST_AT = time(8, 0)


def awaiting_amazon(person: User) -> list[Case]:
    """Cases of this person (admins: also unassigned ones) waiting on Amazon, longest silence first."""
    return list(db.session.scalars(
        select(Case).where(records.looked_after_by(person), Case.awaiting_since.is_not(None))
        .options(joinedload(Case.client), selectinload(Case.asin_rows))
        .order_by(Case.awaiting_since, Case.id)))


def queue_due(now: datetime, report) -> None:
    people = db.session.scalars(select(User).where(
        User.active.is_(True), User.notify_daily_digest.is_(True))).all()
    for person in people:
        local = now.astimezone(ZoneInfo(person.effective_timezone))
        if local.time() < DIGEST_AT or person.last_digest_on == local.date():
            continue
        try:
            with transaction():
                cases = awaiting_amazon(person)
                person.last_digest_on = local.date()
                if cases:
                    _queue(person, cases, now, local)
        except IntegrityError:  # another scheduler process queued this digest first
            continue
        report.digests_queued += bool(cases)


def _queue(person: User, cases: list[Case], now: datetime, local: datetime) -> None:
    zone = person.effective_timezone
    # The follow-ups that fell due since the last digest: for whoever chose the digest over
    # an email per reminder, this digest is their reminder.
    came_due = followups.came_due_since([c.id for c in cases], now - timedelta(days=1))
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
                         url=external_url("cases.detail", case_id=c.id)))
    context = dict(person=person, rows=rows, day=local.strftime("%A %d %B %Y"))
    outbox.queue(
        "digest", person.email,
        f"{len(rows)} case{'s' if len(rows) != 1 else ''} awaiting Amazon, {context['day']}",
        render_template("email/digest.txt", **context), render_template("email/digest.html", **context),
        key=f"digest:{person.id}:{local.date().isoformat()}", agency_id=person.agency_id,
        send_after=now)
