"""One definition of a case's next follow-up and of "overdue" (services/appeals/followups.py),
shown alike by the dashboard, the case page, the digest, the calendar feed and the API."""
import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from icalendar import Calendar

from caseapp.extensions import db
from caseapp.models import Case, OutboxMessage, Reminder
from caseapp.services.accounts import tokens
from caseapp.services.appeals import dispatch, digests, followups, submissions
from tests.conftest import Browser, make_case

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)  # 13:00 in Berlin, agency A's zone
REPEAT = NOW + timedelta(hours=24)  # the repeat of a reminder sent at NOW


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def submit(world, hours_ago=50, case=None):
    return submissions.record_submission(
        world.consultant_a, (case or world.case_a).id, {"submitted_at": NOW - timedelta(hours=hours_ago)})


def first_reminder() -> Reminder:
    return db.session.scalar(db.select(Reminder).where(Reminder.sequence == 1))


def awaiting_rows(page: str) -> list[tuple[str, str]]:
    """(data-overdue, title) of each row of the dashboard's "Awaiting Amazon" card."""
    return re.findall(r'data-overdue="(yes|no)">\s*<span><a href="/cases/\d+">([^<]+)</a>', page)


def deadline_cells(page: str) -> list[tuple[str, str]]:
    """(data-overdue, text) of each "Next deadline" cell of the dashboard's case list."""
    cells = re.findall(r'class="text-nowrap small next-deadline" data-overdue="(yes|no)">(.*?)</td>',
                       page, re.S)
    return [(flag, re.sub(r"<[^>]+>", " ", text).split()) for flag, text in cells]


def api_case(app, world, case_id):
    token = tokens.create(world.consultant_a, "tests")[1]
    with app.app_context():
        return app.test_client().get(f"/api/v1/cases/{case_id}",
                                     headers={"Authorization": f"Bearer {token}"}).get_json()


def feed_starts(browser) -> list[datetime]:
    page = browser.post("/settings/calendar", follow_redirects=True).get_data(as_text=True)
    url = re.search(r'id="calendar-url"[^>]*value="http://127.0.0.1:5000([^"]+)"', page).group(1)
    return [e.decoded("dtstart") for e in Calendar.from_ical(browser.client.get(url).data).walk("VEVENT")]


def digest_text(world, now) -> str:
    person = world.consultant_a
    person.notify_daily_digest = True  # beside an email per reminder
    db.session.commit()
    digests.queue_due(now, dispatch.PassReport())
    return db.session.scalar(db.select(OutboxMessage.body_text).where(OutboxMessage.kind == "digest"))


def test_a_truly_overdue_follow_up_is_red_with_its_hours(browser, world, clock):
    submit(world)  # due 2 h ago, and no pass has sent its reminder: overdue
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    assert awaiting_rows(page) == [("yes", "Account suspended")]
    assert "follow-up overdue by 2 h" in page
    assert deadline_cells(page) == [("yes", ["29", "Nov", "2026,", "11:00", "overdue", "by", "2", "h"])]


@pytest.mark.parametrize("acted", ["sent", "snoozed", "dismissed"])
def test_a_sent_snoozed_or_dismissed_reminder_leaves_the_case_not_red(browser, world, clock, smtp_server,
                                                                      acted):
    submit(world)
    if acted == "sent":
        assert dispatch.run_pass(NOW).sent == 1
    elif acted == "snoozed":
        followups.snooze(world.consultant_a, first_reminder().id, 24, NOW)
    else:
        followups.dismiss(world.consultant_a, first_reminder().id)
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    assert awaiting_rows(page) == [("no", "Account suspended")]
    assert "follow-up overdue" not in page
    if acted == "dismissed":
        assert "no follow-up scheduled · silent 50 h" in page
        assert deadline_cells(page) == [("no", ["none"])]
    else:  # the repeat, or the snoozed reminder: due in 24 h, 30 Nov 13:00 in Berlin
        assert "follow-up due in 24 h · silent 50 h" in page
        assert deadline_cells(page) == [("no", ["30", "Nov", "2026,", "13:00", "due", "in", "24", "h"])]


def test_the_same_follow_up_on_every_surface(app, browser, world, clock, smtp_server):
    other = make_case(world.consultant_a, world.client_a, title="Fresh appeal", asins="")
    submit(world, case=other, hours_ago=1)
    submit(world)
    assert dispatch.run_pass(NOW).sent == 1  # reminder 1 of "Account suspended"; its repeat at REPEAT
    clock.move_to(NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=1)
    browser.login(world.consultant_a.email)

    dashboard = browser.get("/cases?sort=follow_up").get_data(as_text=True)
    assert awaiting_rows(dashboard) == [("no", "Account suspended"), ("no", "Fresh appeal")]
    assert deadline_cells(dashboard) == [("no", ["30", "Nov", "2026,", "13:00", "due", "in", "23", "h"]),
                                         ("no", ["01", "Dec", "2026,", "12:00", "due", "in", "46", "h"])]

    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert re.search(r"Amazon silent for <strong>51 h</strong>, reminder 1 sent 29 Nov 2026, 13:00 CET;\s*"
                     r"next follow-up due in <strong>23 h</strong>\.", page)
    assert "Follow up with Amazon by 30 Nov 2026, 13:00 CET" in page

    body = api_case(app, world, world.case_a.id)
    assert body["follow_up_due_at"] == REPEAT.isoformat() and body["follow_up_overdue"] is False
    assert REPEAT in feed_starts(browser)

    text = digest_text(world, later)
    assert "FOLLOW-UP OVERDUE" not in text
    assert "Next follow-up 30 Nov 2026, 13:00 CET (due in 23 h)" in text

    # The scheduler stops; an hour after the repeat fell due, every surface says overdue.
    clock.move_to(REPEAT + timedelta(hours=1))
    db.session.execute(db.delete(OutboxMessage).where(OutboxMessage.kind == "digest"))
    world.consultant_a.last_digest_on = None
    db.session.commit()
    browser = Browser(app)  # the idle session ended meanwhile: sign in afresh
    browser.login(world.consultant_a.email)
    dashboard = browser.get("/cases").get_data(as_text=True)
    assert ("yes", "Account suspended") in awaiting_rows(dashboard)
    assert "follow-up overdue by 1 h" in dashboard
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert 'data-overdue="yes"' in page and "next follow-up <strong>overdue by 1 h</strong>" in page
    body = api_case(app, world, world.case_a.id)
    assert body["follow_up_due_at"] == REPEAT.isoformat() and body["follow_up_overdue"] is True
    assert "[FOLLOW-UP OVERDUE]" in digest_text(world, REPEAT + timedelta(hours=1))


def test_a_refused_reminder_is_overdue_on_every_surface_until_delivered(app, browser, world, clock,
                                                                         smtp_server):
    from caseapp.services.accounts import mail_health

    submit(world)  # reminder 1 fell due 2 h ago (11:00 in Berlin); its email is refused
    smtp_server.mailbox.fail_next(550)
    dispatch.run_pass(NOW)
    due = NOW - timedelta(hours=2)
    browser.login(world.consultant_a.email)
    dashboard = browser.get("/cases").get_data(as_text=True)
    assert awaiting_rows(dashboard) == [("yes", "Account suspended")]
    assert deadline_cells(dashboard) == [("yes", ["29", "Nov", "2026,", "11:00", "overdue", "by", "2", "h"])]
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Follow up with Amazon by 29 Nov 2026, 11:00 CET" in page and "overdue by 2 h" in page
    body = api_case(app, world, world.case_a.id)
    assert body["follow_up_due_at"] == due.isoformat() and body["follow_up_overdue"] is True
    assert due in feed_starts(browser)
    assert "[FOLLOW-UP OVERDUE]" in digest_text(world, NOW)

    mail_health.retry(world.admin_a, NOW)
    assert dispatch.run_pass(NOW).sent >= 1  # delivered: the repeat is next, not red
    page = browser.get("/cases").get_data(as_text=True)
    assert awaiting_rows(page) == [("no", "Account suspended")]
    body = api_case(app, world, world.case_a.id)
    assert body["follow_up_due_at"] == REPEAT.isoformat() and body["follow_up_overdue"] is False


def test_a_case_closed_by_hand_has_no_follow_up_anywhere(app, browser, world, clock):
    from caseapp.services.appeals import workflow

    submit(world)
    workflow.change_status(world.consultant_a, world.case_a.id, "closed")
    browser.login(world.consultant_a.email)
    assert deadline_cells(browser.get("/cases?status=closed").get_data(as_text=True)) == [("no", ["none"])]
    body = api_case(app, world, world.case_a.id)
    assert body["follow_up_due_at"] is None and body["follow_up_overdue"] is False
    assert followups.next_follow_up(db.session.get(Case, world.case_a.id), NOW).due_at is None


def test_the_sql_condition_agrees_with_the_function(world, clock):
    for hours_ago in (50, 10):
        submit(world, case=make_case(world.consultant_a, world.client_a, title=f"{hours_ago} h"),
               hours_ago=hours_ago)
    cases = db.session.scalars(db.select(Case)).all()
    for now in (NOW, NOW + timedelta(hours=40)):
        overdue = set(db.session.scalars(db.select(Case.id).where(followups.overdue_sql(now))))
        assert overdue == {c.id for c in cases if followups.next_follow_up(c, now).overdue}
        assert overdue  # at NOW the 50 h one, 40 h later both


# ---- the case page says what is true while a submission waits ------------------------------

NOTHING_WAITS = "None: no submission is waiting on Amazon"


def test_dismissed_follow_ups_are_said_so_not_none(browser, world, clock):
    submit(world)
    followups.dismiss(world.consultant_a, first_reminder().id)
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert NOTHING_WAITS not in page
    said = "follow-ups dismissed by Carl Consultant on 29 Nov 2026, 13:00 CET"
    assert f"Amazon silent for <strong>50 h</strong>; {said}." in page  # the clock
    assert f"No follow-up scheduled. Amazon silent 50 h; {said}." in page  # the "Next deadline" card
    # Once Amazon replies, nothing waits, and the card says so.
    submissions.record_response(world.consultant_a, submissions.latest_submission(world.case_a.id).id,
                                {"outcome": "rejected"})
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert NOTHING_WAITS in page and 'id="clock"' not in page


def test_refused_reminder_mail_is_said_so_not_none(browser, world, clock, smtp_server):
    submit(world)
    smtp_server.mailbox.fail_next(550)
    dispatch.run_pass(NOW)
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert NOTHING_WAITS not in page
    assert "Amazon silent for <strong>50 h</strong>" in page
    # The refusal stops nothing, and the follow-up that fell due was not done: it is overdue.
    assert "follow-up 1 <strong>overdue by 2 h</strong>: its email was not delivered" in page


# ---- a submission older than the latest is history, and says so ----------------------------

HISTORY = ("Recorded as history: it is older than the submission of {}, so it starts no follow-up.")


def test_a_back_dated_submission_says_it_is_history_on_the_page(browser, world, clock):
    submit(world, hours_ago=2)
    browser.login(world.consultant_a.email)
    page = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "poa_draft_id": "", "channel": "email", "amazon_reference": "",
        "submitted_at": "2026-11-22T10:00"}, follow_redirects=True).get_data(as_text=True)
    assert HISTORY.format("29 Nov 2026, 11:00 CET") in page
    assert "Follow-up due never" not in page
    assert [r.submission_id for r in followups.pending_for_case(world.case_a.id)] == [
        submissions.latest_submission(world.case_a.id).id]


def test_a_back_dated_submission_says_it_is_history_in_the_api(app, world, clock):
    latest = submit(world, hours_ago=2)
    token = tokens.create(world.consultant_a, "tests")[1]
    headers = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        older = app.test_client().post(f"/api/v1/cases/{world.case_a.id}/submissions", headers=headers,
                                       json={"submitted_at": (NOW - timedelta(days=7)).isoformat()})
    assert older.status_code == 201
    body = older.get_json()
    assert body["follow_up_due_at"] is None
    assert body["note"] == HISTORY.format(latest.submitted_at.isoformat())
    with app.app_context():
        newest = app.test_client().post(f"/api/v1/cases/{world.case_a.id}/submissions", headers=headers,
                                        json={}).get_json()
    assert newest["note"] is None and newest["follow_up_due_at"] == (NOW + timedelta(hours=48)).isoformat()
    with app.app_context():
        schema = app.test_client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "note" in schema["Submission"]["properties"] and "note" in schema["Submission"]["required"]
    assert schema["Case"]["properties"]["follow_up_overdue"]["type"] == "boolean"
