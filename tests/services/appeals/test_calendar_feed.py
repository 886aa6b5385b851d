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
