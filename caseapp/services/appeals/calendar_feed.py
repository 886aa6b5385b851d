"""The personal iCalendar feed: every open deadline of a person's cases, overdue included.

The person's cases are records.looked_after_by (their own; an admin's also the unassigned
ones). One event per open deadline (services/deadlines), its UID the deadline's id, so an
event moves when its deadline does and leaves the feed when it is met or cancelled:
- the follow-up with Amazon is its case's amazon_follow_up deadline, at the case's next
  follow-up (followups.next_follow_up, the time the dashboard, the case page, the digest and
  the API show): a snooze moves it, a reminder that went out moves it to its repeat, a
  reply or a dismissal removes it. Shown once, as one deadline among the others.
- every other kind at its due time, with an alarm at its last reminder (lead hours).
- Paused deadlines are left out: a paused clock has no due time (what is left of it counts
  again only when it resumes); the event comes back, same UID, at its new due time then.
Summaries read "<title> — <client>: <case>"; the overdue ones say so in their description,
as Clock.relative words it everywhere. One query for the whole feed."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from caseapp.core.errors import NotFound
from caseapp.core.transaction import transactional
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, Deadline, User, utcnow
from caseapp.services.appeals import followups
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks


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
    rows = db.session.execute(
        select(Deadline, Case).join(Case, Case.id == Deadline.case_id)
        .where(records.looked_after_by(user), clocks.running_sql())
        .options(joinedload(Case.client)).order_by(Deadline.due_at, Deadline.id))
    calendar = Calendar()
    calendar.add("prodid", "-//caseapp//deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "caseapp deadlines")
    for deadline, case in rows:
        if deadline.kind == clocks.FOLLOW_UP:
            due_at = followups.next_follow_up(case, now).due_at
            if due_at is None:  # the case no longer waits on Amazon
                continue
        else:
            due_at = deadline.due_at
        calendar.add_component(_event(deadline, case, due_at, now))
    return calendar.to_ical()


def _event(deadline: Deadline, case: Case, due_at: datetime, now: datetime) -> Event:
    case_url = external_url("cases.detail", case_id=case.id)
    state = clocks.Clock(deadline, now)
    label = clocks.KIND_LABELS.get(deadline.kind, deadline.kind)
    whose = "Amazon's clock" if deadline.clock == "amazon" else "the agency's clock"
    event = Event()
    event.add("uid", f"deadline-{deadline.id}@caseapp")
    event.add("summary", f"{deadline.title} \u2014 {case.client.name}: {case.title}")
    event.add("dtstart", due_at)
    event.add("dtend", due_at + timedelta(minutes=15))
    event.add("dtstamp", now)
    event.add("url", case_url)
    event.add("categories", [label])
    event.add("description", f"{label} ({whose}) for {case.title}, {state.relative}. {case_url}")
    leads = clocks.lead_hours(deadline.lead_hours)
    if leads and deadline.kind != clocks.FOLLOW_UP:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{deadline.title} \u2014 {case.client.name}: {case.title}")
        alarm.add("trigger", timedelta(hours=-leads[-1]))
        event.add_component(alarm)
    return event
