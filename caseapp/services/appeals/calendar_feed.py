"""The personal iCalendar feed: every follow-up due time of a person's cases, overdue included."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from caseapp.core.errors import NotFound
from caseapp.core.transaction import transactional
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, Reminder, User
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


def render(user: User) -> bytes:
    rows = db.session.execute(
        select(Reminder, Case).join(Case, Case.id == Reminder.case_id)
        .where(Reminder.status == "pending", records.looked_after_by(user))
        .options(joinedload(Case.client)).order_by(Reminder.due_at))
    calendar = Calendar()
    calendar.add("prodid", "-//caseapp//follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "caseapp follow-ups")
    for reminder, case in rows:
        case_url = external_url("cases.detail", case_id=case.id)
        event = Event()
        event.add("uid", f"reminder-{reminder.id}@caseapp")
        event.add("summary", f"Follow up with Amazon: {case.client.name}, {case.title}")
        event.add("dtstart", reminder.due_at)
        event.add("dtend", reminder.due_at + timedelta(minutes=15))
        event.add("dtstamp", reminder.created_at)
        event.add("url", case_url)
        event.add("description", f"Follow-up {reminder.sequence} for {case.title}. {case_url}")
        calendar.add_component(event)
    return calendar.to_ical()
