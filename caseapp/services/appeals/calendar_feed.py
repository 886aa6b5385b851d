"""The personal iCalendar feed: the next follow-up of each of a person's cases, overdue included.

One event per case at its next follow-up (followups.next_follow_up, the time the dashboard,
the case page, the digest and the API show): a snooze moves it, a reminder that went out is
replaced by its repeat, a reply or a dismissal removes it."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload

from caseapp.core.errors import NotFound
from caseapp.core.transaction import transactional
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, Reminder, User, utcnow
from caseapp.services.appeals import followups
from caseapp.services.cases import records


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transactional
def enable(user: User) -> str:
    """Give the user a new secret feed URL token and return it: only its hash is stored, so
    it can be shown this once. Any older URL stops working."""
    token = secrets.token_urlsafe(32)
    user.calendar_token_hash = _hash(token)
    return token


def is_enabled(user: User) -> bool:
    return user.calendar_token_hash is not None


@transactional
def revoke(user: User) -> None:
    user.calendar_token_hash = None


def feed_url(token: str) -> str:
    return external_url("submissions.calendar", token=token)


def owner_of(token: str) -> User:
    user = None
    if token and len(token) <= 200:
        user = db.session.scalar(select(User).where(User.calendar_token_hash == _hash(token)))
    if user is None or not user.active:
        raise NotFound("No such calendar.")
    return user


def render(user: User, now: datetime | None = None) -> bytes:
    now = now or utcnow()
    # The reminder at the case's next follow-up names the event (its id: the event's UID, so
    # a snooze moves the same event) and its number; one query for the whole feed.
    chased = and_(Reminder.case_id == Case.id, followups.still_to_do(),
                  Reminder.due_at == Case.follow_up_due_at)
    rows = db.session.execute(
        select(Case, Reminder).outerjoin(Reminder, chased)
        .where(records.looked_after_by(user), followups.open_sql())
        .options(joinedload(Case.client)).order_by(Case.follow_up_due_at, Case.id, Reminder.id))
    calendar = Calendar()
    calendar.add("prodid", "-//caseapp//follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "caseapp follow-ups")
    seen: set[int] = set()
    for case, reminder in rows:
        if case.id in seen:
            continue
        seen.add(case.id)
        due_at = followups.next_follow_up(case, now).due_at
        case_url = external_url("cases.detail", case_id=case.id)
        event = Event()
        uid = f"reminder-{reminder.id}" if reminder else f"case-{case.id}-follow-up"
        event.add("uid", f"{uid}@caseapp")
        event.add("summary", f"Follow up with Amazon: {case.client.name}, {case.title}")
        event.add("dtstart", due_at)
        event.add("dtend", due_at + timedelta(minutes=15))
        event.add("dtstamp", now)
        event.add("url", case_url)
        number = f" {reminder.sequence}" if reminder else ""
        event.add("description", f"Follow-up{number} for {case.title}. {case_url}")
        calendar.add_component(event)
    return calendar.to_ical()
