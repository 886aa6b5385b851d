"""Calendar feed addresses are stored hashed, like API tokens: the settings page shows the
address once, when it is made, and the feed answers at it."""
from __future__ import annotations

import hashlib
import re

from icalendar import Calendar
from sqlalchemy import text

from caseapp.extensions import db
from caseapp.services.appeals import submissions

URL_RE = re.compile(r'id="calendar-url"[^>]*value="http://127.0.0.1:5000(/calendar/([A-Za-z0-9_\-]+)\.ics)"')


def stored_token(user_id: int) -> str | None:
    db.session.expire_all()
    return db.session.execute(text("SELECT calendar_token FROM users WHERE id = :id"),
                              {"id": user_id}).scalar()


def test_calendar_address_is_stored_hashed_and_shown_once(browser, world):
    submissions.record_submission(world.consultant_a, world.case_a.id, {})
    browser.login(world.consultant_a.email)
    response = browser.post("/settings/calendar")
    assert response.status_code == 200  # shown in this answer, not after a redirect
    page = response.get_data(as_text=True)
    path, token = URL_RE.search(page).groups()
    assert "will not be shown again" in page

    assert stored_token(world.consultant_a.id) == hashlib.sha256(token.encode()).hexdigest()
    feed = browser.client.get(path)  # a calendar app: no session
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert len(list(Calendar.from_ical(feed.data).walk("VEVENT"))) == 1

    later = browser.get("/settings/").get_data(as_text=True)
    assert token not in later
    assert "shown only once" in later  # and says how to get a new one

    browser.post("/settings/calendar")  # replaced: the old address stops working
    assert browser.client.get(path).status_code == 404


# ---- every open deadline, once ---------------------------------------------------------

from datetime import datetime, timedelta, timezone  # noqa: E402

from caseapp.services.appeals import calendar_feed, dispatch  # noqa: E402
from caseapp.services.deadlines import clocks  # noqa: E402
from tests.conftest import make_case, make_user  # noqa: E402

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def feed(person, now=NOW) -> dict[str, object]:
    """The person's feed as {summary: event}."""
    events = Calendar.from_ical(calendar_feed.render(person, now)).walk("VEVENT")
    found = {str(e["summary"]): e for e in events}
    assert len(found) == len(events), "two events with one summary"
    return found


def add(person, case, title, due_at, kind="custom"):
    return clocks.add(person, case.id, {"title": title, "due_at": due_at, "kind": kind}, now=NOW)


def test_the_feed_carries_every_open_deadline_once_with_a_stable_uid(world, smtp_server):
    person = world.consultant_a
    submissions.record_submission(person, world.case_a.id,
                                  {"submitted_at": NOW - timedelta(hours=10)}, now=NOW)
    window = add(person, world.case_a, "Appeal window", NOW + timedelta(days=17), kind="appeal_window")
    promise = add(person, world.case_a, "POA to the client", NOW - timedelta(hours=3), kind="agency_sla")
    met = add(person, world.case_a, "Done already", NOW + timedelta(days=2))
    clocks.update(person, met.id, {"status": "met"}, now=NOW)
    someone = make_user(world.agency_a, "dora@agency-a.example")
    theirs = make_case(someone, world.client_a, title="Dora's case", assignee_id=someone.id)
    add(someone, theirs, "Not mine", NOW + timedelta(days=1))

    events = feed(person)

    client = "Harbor Lane Home Goods"
    assert sorted(events) == sorted([
        f"Follow up with Amazon \u2014 {client}: Account suspended",  # the follow-up, once
        f"Appeal window \u2014 {client}: Account suspended",
        f"POA to the client \u2014 {client}: Account suspended",
    ])
    follow_up = events[f"Follow up with Amazon \u2014 {client}: Account suspended"]
    assert follow_up.decoded("dtstart") == NOW + timedelta(hours=38)  # 48 h after the submission
    appeal = events[f"Appeal window \u2014 {client}: Account suspended"]
    assert appeal.decoded("dtstart") == window.due_at
    assert str(appeal["uid"]) == f"deadline-{window.id}@caseapp"
    (alarm,) = appeal.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(hours=24)  # at its last reminder
    overdue = events[f"POA to the client \u2014 {client}: Account suspended"]
    assert "overdue by 3 h" in str(overdue["description"])  # overdue ones stay, and say so
    assert str(overdue["uid"]) == f"deadline-{promise.id}@caseapp"

    # Moved: the same event (same UID) at the new time; a reminder going out changes nothing.
    later = NOW + timedelta(days=20)
    clocks.update(person, window.id, {"due_at": later}, now=NOW)
    dispatch.run_pass(NOW + timedelta(minutes=1))
    appeal = feed(person)[f"Appeal window \u2014 {client}: Account suspended"]
    assert (str(appeal["uid"]), appeal.decoded("dtstart")) == (f"deadline-{window.id}@caseapp", later)


def test_paused_deadlines_leave_the_feed_and_come_back_at_their_new_time(world):
    person = world.consultant_a
    promise = add(person, world.case_a, "POA to the client", NOW + timedelta(days=3), kind="agency_sla")
    title = "POA to the client \u2014 Harbor Lane Home Goods: Account suspended"
    assert title in feed(person)
    clocks.pause_by_person(person, promise.id, now=NOW)
    assert title not in feed(person, NOW + timedelta(days=1))
    clocks.resume_by_person(person, promise.id, now=NOW + timedelta(days=1))
    event = feed(person, NOW + timedelta(days=1))[title]
    assert event.decoded("dtstart") == NOW + timedelta(days=4)  # what was left, from the resume
    assert str(event["uid"]) == f"deadline-{promise.id}@caseapp"


def test_an_admins_feed_has_the_unassigned_cases_deadlines(world):
    from caseapp.services.cases import records

    records.update_case(world.consultant_a, world.case_a.id, {"assignee_id": None})
    add(world.admin_a, world.case_a, "Unassigned clock", NOW + timedelta(days=1))
    assert any(s.startswith("Unassigned clock \u2014") for s in feed(world.admin_a))
    assert not any(s.startswith("Unassigned clock") for s in feed(world.consultant_a))
    assert feed(world.admin_b) == {}  # another agency's
