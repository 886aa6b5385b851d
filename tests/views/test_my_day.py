"""My day: overdue, due today and due this week across a person's cases, in their own zone,
with one-click Met and Snooze; the nav's overdue count; the same page cost at any size."""
import html
import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import event

from caseapp.extensions import db
from caseapp.models import CaseEvent, Deadline, Reminder
from caseapp.services.appeals import submissions
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks, days
from tests.conftest import Browser, make_case, make_client

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)  # a Sunday; 13:00 in Berlin, 04:00 in LA


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def add(actor, case, title, due_at, kind="custom"):
    return clocks.add(actor, case.id, {"kind": kind, "title": title, "due_at": due_at}, NOW)


def sections(page: str) -> dict[str, list[str]]:
    """Deadline titles per section of My day, in the order shown."""
    found = {}
    for bucket, body in re.findall(r'data-bucket="([^"]+)">(.*?)</section>', page, re.S):
        found[bucket] = [html.unescape(re.sub(r"\s+", " ", t).strip()) for t in
                         re.findall(r'<a class="fw-semibold"[^>]*>[^<]*</a>\s*<div>([^<]*)', body)]
    return found


def day(browser, query: str = "") -> dict[str, list[str]]:
    response = browser.get("/my-day" + query)
    assert response.status_code == 200
    return sections(response.get_data(as_text=True))


def set_zone(person, zone):
    person.timezone = zone
    db.session.commit()


def test_buckets_follow_the_viewers_own_zone(browser, world, clock):
    case = world.case_a
    add(world.consultant_a, case, "Late", NOW - timedelta(hours=3))
    # 30 Nov 03:00 UTC: still Sunday 29 Nov (19:00) in Los Angeles, Monday 04:00 in Berlin.
    add(world.consultant_a, case, "Tonight in LA", datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc))
    add(world.consultant_a, case, "Sunday afternoon", NOW + timedelta(hours=2))
    # The seventh day after Sunday 29 Nov is Sunday 6 Dec; it ends at 7 Dec 00:00 local time.
    add(world.consultant_a, case, "Last day in LA", datetime(2026, 12, 7, 7, 0, tzinfo=timezone.utc))
    add(world.consultant_a, case, "Beyond the week", datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc))
    paused = add(world.consultant_a, case, "Paused promise", NOW + timedelta(hours=5), kind="agency_sla")
    clocks.pause_by_person(world.consultant_a, paused.id, NOW)
    met = add(world.consultant_a, case, "Already met", NOW + timedelta(hours=1))
    clocks.update(world.consultant_a, met.id, {"status": "met"}, NOW)

    set_zone(world.consultant_a, "America/Los_Angeles")
    browser.login(world.consultant_a.email)
    assert day(browser) == {"Overdue": ["Late"], "Due today": ["Sunday afternoon", "Tonight in LA"],
                            "This week": ["Last day in LA"]}
    page = browser.get("/my-day").get_data(as_text=True)
    assert "overdue by 3 h" in page and "due in 2 h" in page
    assert "Due 29 Nov 2026, 19:00 PST" in page  # the due time in the viewer's zone

    set_zone(world.consultant_a, "Europe/Berlin")  # 7 Dec 07:00 UTC is 08:00 on Monday there
    assert day(browser) == {"Overdue": ["Late"], "Due today": ["Sunday afternoon"],
                            "This week": ["Tonight in LA"]}


def test_another_agencys_deadlines_never_show_and_cannot_be_touched(browser, world, clock):
    client_b = make_client(world.consultant_b, name="Other Agency Client")
    case_b = make_case(world.consultant_b, client_b, title="Their case")
    theirs = add(world.consultant_b, case_b, "Their deadline", NOW - timedelta(hours=1))
    add(world.consultant_a, world.case_a, "Ours", NOW + timedelta(hours=1))
    browser.login(world.admin_a.email)
    assert day(browser, "?person=all") == {"Due today": ["Ours"]}
    assert day(browser, f"?person={world.consultant_b.id}") == {}
    assert browser.post(f"/my-day/deadlines/{theirs.id}/met").status_code == 404
    assert browser.post(f"/my-day/deadlines/{theirs.id}/snooze", data={"hours": "24"}).status_code == 404
    assert db.session.get(Deadline, theirs.id).status == "open"


def test_admins_see_everyone_and_filter_by_person_consultants_their_own(app, browser, world, clock):
    add(world.consultant_a, world.case_a, "Carl's", NOW + timedelta(hours=1))
    mine = make_case(world.admin_a, world.client_a, title="Admin's case")
    add(world.admin_a, mine, "Ada's", NOW + timedelta(hours=2))
    loose = make_case(world.admin_a, world.client_a, title="Nobody's case", assignee_id=None)
    add(world.admin_a, loose, "Nobody's", NOW + timedelta(hours=3))

    browser.login(world.admin_a.email)
    assert day(browser) == {"Due today": ["Carl's", "Ada's", "Nobody's"]}  # everyone's by default
    assert day(browser, "?person=me") == {"Due today": ["Ada's"]}
    assert day(browser, "?person=none") == {"Due today": ["Nobody's"]}
    assert day(browser, f"?person={world.consultant_a.id}") == {"Due today": ["Carl's"]}
    assert day(browser, "?person=nonsense") == {"Due today": ["Carl's", "Ada's", "Nobody's"]}
    page = browser.get("/my-day").get_data(as_text=True)
    assert '<label class="form-label small mb-0" for="person">Whose deadlines</label>' in page

    browser = Browser(app)
    browser.login(world.consultant_a.email)
    for query in ("", "?person=all", "?person=none", f"?person={world.admin_a.id}"):
        assert day(browser, query) == {"Due today": ["Carl's"]}
    assert 'id="person-filter"' not in browser.get("/my-day").get_data(as_text=True)

    # Reassigning a case moves its deadlines to the new assignee's day.
    records.update_case(world.admin_a, world.case_a.id, {"assignee_id": world.admin_a.id})
    assert day(browser) == {}
    assert "Nothing overdue or due this week." in browser.get("/my-day").get_data(as_text=True)


def test_met_and_snooze_are_one_click_and_on_the_timeline(browser, world, clock):
    late = add(world.consultant_a, world.case_a, "Send the POA", NOW - timedelta(hours=1))
    soon = add(world.consultant_a, world.case_a, "Call the seller", NOW + timedelta(hours=30))
    browser.login(world.consultant_a.email)

    response = browser.post(f"/my-day/deadlines/{late.id}/met", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Marked met: Send the POA." in page
    assert sections(page) == {"This week": ["Call the seller"]}
    db.session.expire_all()
    assert db.session.get(Deadline, late.id).status == "met"

    before = db.session.get(Deadline, soon.id).next_alert_at
    page = browser.post(f"/my-day/deadlines/{soon.id}/snooze", data={"hours": "24"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Reminder snoozed for 24 hours." in page
    db.session.expire_all()
    row = db.session.get(Deadline, soon.id)
    assert row.next_alert_at == max(before, NOW) + timedelta(hours=24)
    assert row.due_at == NOW + timedelta(hours=30)  # the reminder moved, not the deadline
    page = browser.post(f"/my-day/deadlines/{soon.id}/snooze", data={"hours": "5"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Snooze for 4, 24, 48 hours." in page

    said = db.session.scalars(db.select(CaseEvent.summary).where(CaseEvent.case_id == world.case_a.id)).all()
    assert "Deadline Send the POA: met" in said
    assert any(s.startswith("Reminder for Call the seller snoozed for 24 h, next ") for s in said)


def test_the_follow_up_with_amazon_snoozes_its_reminder_and_cannot_be_marked_met(browser, world, clock):
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW - timedelta(hours=50)})  # 2 h overdue
    follow_up = db.session.scalar(db.select(Deadline).where(Deadline.kind == clocks.FOLLOW_UP))
    browser.login(world.consultant_a.email)
    page = browser.get("/my-day").get_data(as_text=True)
    assert sections(page) == {"Overdue": ["Follow up with Amazon"]}
    assert f"/my-day/deadlines/{follow_up.id}/met" not in page  # Amazon's reply meets it

    page = browser.post(f"/my-day/deadlines/{follow_up.id}/snooze", data={"hours": "4"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Reminder snoozed for 4 hours." in page
    db.session.expire_all()
    reminder = db.session.scalar(db.select(Reminder).where(Reminder.sequence == 1))
    assert reminder.due_at == NOW + timedelta(hours=4)
    assert sections(page) == {"Due today": ["Follow up with Amazon"]}  # 17:00 in Berlin
    response = browser.post(f"/my-day/deadlines/{follow_up.id}/met", follow_redirects=True)
    assert "record Amazon&#39;s reply" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Deadline, follow_up.id).status == "open"


def badge(browser) -> str | None:
    found = re.search(r'id="overdue-count">(\d+\+?)<', browser.get("/cases").get_data(as_text=True))
    return found.group(1) if found else None


def test_the_nav_counts_overdue_deadlines(app, browser, world, clock, monkeypatch):
    browser.login(world.consultant_a.email)
    assert badge(browser) is None
    add(world.consultant_a, world.case_a, "Late 1", NOW - timedelta(hours=1))
    add(world.consultant_a, world.case_a, "Late 2", NOW - timedelta(days=3))
    add(world.consultant_a, world.case_a, "Not yet", NOW + timedelta(hours=1))
    loose = make_case(world.admin_a, world.client_a, title="Nobody's case", assignee_id=None)
    add(world.admin_a, loose, "Nobody's late", NOW - timedelta(hours=1))
    assert badge(browser) == "2"
    admin = Browser(app)
    admin.login(world.admin_a.email)
    assert badge(admin) == "1"  # an admin answers for the unassigned cases
    monkeypatch.setattr(days, "OVERDUE_CAP", 1)
    assert badge(browser) == "1+"


class Statements:
    def __init__(self, app):
        self.seen: list[str] = []
        with app.app_context():
            self.engine = db.engine

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.note)
        return self.seen

    def note(self, conn, cursor, statement, *args):
        self.seen.append(statement)

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self.note)


def test_the_page_costs_the_same_statements_at_any_size(app, browser, world, clock):
    browser.login(world.admin_a.email)
    counts = []
    for size in (2, 20):
        while db.session.scalar(db.select(db.func.count(Deadline.id))) < size:
            n = db.session.scalar(db.select(db.func.count(Deadline.id)))
            other = make_client(world.consultant_a, name=f"Client {n}")
            case = make_case(world.consultant_a if n % 2 else world.admin_a, other, title=f"Case {n}")
            add(world.consultant_a, case, f"Deadline {n}", NOW + timedelta(hours=n - 5))
        with Statements(app) as seen:
            page = browser.get("/my-day").get_data(as_text=True)
        assert page.count('class="list-group-item day-row"') == size
        counts.append(len(seen))
    assert counts[0] == counts[1]
    with Statements(app) as seen:
        browser.get("/my-day")
    assert sum("deadlines" in s and "count(" in s.lower() for s in seen) == 1  # the nav's count


def test_pages_of_fifty_by_cursor(browser, world, clock):
    for n in range(55):
        add(world.consultant_a, world.case_a, f"D{n:02}", NOW + timedelta(minutes=n + 1))
    browser.login(world.consultant_a.email)
    page = browser.get("/my-day").get_data(as_text=True)
    first = sections(page)["Due today"]
    assert first == [f"D{n:02}" for n in range(50)]
    link = re.search(r'href="(/my-day\?[^"]*after=[^"]+)"', page).group(1).replace("&amp;", "&")
    assert sections(browser.get(link).get_data(as_text=True)) == {"Due today": [f"D{n:02}" for n in range(50, 55)]}
    response = browser.get("/my-day?after=garbage", follow_redirects=True)
    assert "here is its first page" in response.get_data(as_text=True)
