import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from icalendar import Calendar

from caseapp.extensions import db
from caseapp.models import Reminder, Submission
from caseapp.services.accounts import people
from caseapp.services.appeals import dispatch
from caseapp.services.appeals import followup_mail
from caseapp.services.appeals import submissions
from tests.conftest import make_case

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_backdated_submission_is_read_in_the_users_time_zone(browser, world, clock):
    people.update_own_profile(world.consultant_a, "Carl Consultant", "Asia/Tokyo")
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "poa_draft_id": "", "channel": "notification_reply", "amazon_reference": "CASE-123",
        "submitted_at": "2026-11-28T14:00"}, follow_redirects=True)  # 05:00 UTC, 31 h ago
    page = response.get_data(as_text=True)
    submission = db.session.scalar(db.select(Submission))
    assert submission.submitted_at == datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)
    assert "Amazon silent for <strong>31 h</strong>" in page
    assert "follow-up due in <strong>17 h</strong>" in page
    assert "30 Nov 2026, 14:00 JST" in page  # the deadline, in the consultant's zone
    assert 'data-status="submitted"' in page and "1 submitted" in page


def test_future_or_garbled_submission_time_is_refused(browser, world, clock):
    browser.login(world.consultant_a.email)
    page = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "channel": "email", "submitted_at": "2026-12-05T10:00"}, follow_redirects=True).get_data(as_text=True)
    assert "cannot be in the future" in page
    page = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "channel": "email", "submitted_at": "yesterday"}, follow_redirects=True).get_data(as_text=True)
    assert "Give a date and time such as 2026-11-29 14:30." in page
    assert db.session.scalar(db.select(db.func.count(Submission.id))) == 0


def test_overdue_case_tops_the_awaiting_list(browser, world, clock):
    fresh = make_case(world.consultant_a, world.client_a, title="Fresh appeal")
    submissions.record_submission(world.consultant_a, fresh.id, {"submitted_at": NOW - timedelta(hours=3)})
    submissions.record_submission(world.consultant_a, world.case_a.id, {"submitted_at": NOW - timedelta(hours=50)})
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    rows = re.findall(r'data-overdue="(yes|no)">\s*<span><a href="/cases/\d+">([^<]+)</a>', page)
    assert rows == [("yes", "Account suspended"), ("no", "Fresh appeal")]
    assert "silent 50 h" in page


def test_reply_from_the_case_page_stops_reminders_and_moves_status(browser, world, clock):
    submission = submissions.record_submission(world.consultant_a, world.case_a.id, {})
    browser.login(world.consultant_a.email)
    page = browser.post(f"/submissions/{submission.id}/responses", data={
        "outcome": "rejected", "body": "Your appeal was not accepted.", "confirmed": "yes"},
        follow_redirects=True).get_data(as_text=True)
    assert 'data-status="denied"' in page and "Your appeal was not accepted." in page
    assert db.session.scalar(db.select(Reminder.status)) == "cancelled"


def test_warning_after_repeated_rejections(browser, world, clock):
    for _ in range(2):
        submission = submissions.record_submission(world.consultant_a, world.case_a.id, {})
        submissions.record_response(world.consultant_a, submission.id, {"outcome": "rejected"})
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert 'id="appeal-risk"' in page and "rejected 2 appeals" in page
    assert "2 submitted" in page


def test_snooze_and_dismiss_from_the_case_page(browser, world, clock):
    submissions.record_submission(world.consultant_a, world.case_a.id, {})
    reminder = db.session.scalar(db.select(Reminder))
    browser.login(world.consultant_a.email)
    browser.post(f"/reminders/{reminder.id}/snooze", data={"hours": "24"})
    db.session.expire_all()
    assert db.session.get(Reminder, reminder.id).due_at == NOW + timedelta(hours=72)
    page = browser.post(f"/reminders/{reminder.id}/dismiss", follow_redirects=True).get_data(as_text=True)
    assert "No more follow-up reminders" in page
    assert "snoozed for 24 h" in page and "cancelled: dismissed by Carl Consultant" in page


def test_signed_email_link_snoozes_without_sign_in(app, browser, world, clock):
    submissions.record_submission(world.consultant_a, world.case_a.id, {})
    reminder = db.session.scalar(db.select(Reminder))
    with app.test_request_context():
        token = followup_mail.action_token(reminder, world.consultant_a)
    assert browser.get(f"/reminders/act/{token}x").status_code == 404
    page = browser.get(f"/reminders/act/{token}").get_data(as_text=True)
    assert "Snooze 24 h" in page
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert browser.client.post(f"/reminders/act/{token}", data={"action": "snooze-24"}).status_code == 400
    page = browser.client.post(f"/reminders/act/{token}", data={
        "action": "snooze-24", "csrf_token": csrf}).get_data(as_text=True)
    assert "Snoozed for 24 hours." in page
    db.session.expire_all()
    assert db.session.get(Reminder, reminder.id).due_at == NOW + timedelta(hours=72)


def test_email_link_of_a_deactivated_person_is_dead(app, browser, world, clock):
    submissions.record_submission(world.consultant_a, world.case_a.id, {})
    reminder = db.session.scalar(db.select(Reminder))
    with app.test_request_context():
        token = followup_mail.action_token(reminder, world.consultant_a)
    people.set_active(world.admin_a, world.consultant_a.id, False)
    assert browser.get(f"/reminders/act/{token}").status_code == 404


def test_calendar_feed_lists_follow_ups_and_can_be_revoked(browser, world, clock):
    late = make_case(world.consultant_a, world.client_a, title="Late case")
    submissions.record_submission(world.consultant_a, late.id, {"submitted_at": NOW - timedelta(hours=60)})
    submissions.record_submission(world.consultant_a, world.case_a.id, {})
    browser.login(world.consultant_a.email)
    page = browser.post("/settings/calendar", follow_redirects=True).get_data(as_text=True)
    url = re.search(r'id="calendar-url"[^>]*value="http://127.0.0.1:5000([^"]+)"', page).group(1)
    response = browser.client.get(url)  # a calendar app: no session
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    events = [c for c in Calendar.from_ical(response.data).walk("VEVENT")]
    starts = sorted(e.decoded("dtstart") for e in events)
    assert starts == [NOW - timedelta(hours=12), NOW + timedelta(hours=48)]  # overdue one included
    assert any("Late case" in str(e["summary"]) for e in events)
    browser.post("/settings/calendar/revoke")
    assert browser.client.get(url).status_code == 404


def test_reminder_settings_are_validated(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/settings/notifications", data={
        "notify_daily_digest": "y", "quiet_hours_enabled": "y", "quiet_start": "25:00", "quiet_end": "07:00"})
    assert response.status_code == 422
    assert "24-hour time" in response.get_data(as_text=True)
    browser.post("/settings/notifications", data={
        "notify_daily_digest": "y", "quiet_hours_enabled": "y", "quiet_start": "21:30", "quiet_end": "07:00"})
    db.session.expire_all()
    person = db.session.get(type(world.consultant_a), world.consultant_a.id)
    assert (person.notify_each_reminder, person.notify_daily_digest, person.quiet_hours_enabled,
            person.quiet_start) == (False, True, True, "21:30")


def test_admin_sees_held_and_failed_mail_in_the_outbox(app, browser, world, clock):
    app.config["MAIL_SERVER"] = None
    submissions.record_submission(world.consultant_a, world.case_a.id, {"submitted_at": NOW - timedelta(hours=49)})
    dispatch.run_pass(NOW)
    browser.login(world.consultant_a.email)
    assert browser.get("/admin/outbox").status_code == 403
    browser.logout()
    browser.login(world.admin_a.email)
    page = browser.get("/admin/outbox?status=held").get_data(as_text=True)
    assert 'data-status="held"' in page and "Follow up with Amazon: Harbor Lane Home Goods" in page
    assert world.consultant_a.email in page


def test_run_due_command_prints_what_it_did(app, world, smtp_server):
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW - timedelta(hours=49)}, now=NOW)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "run-due", "--now", "2026-11-29T12:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "reminders due: 1" in result.output and "sent: 1" in result.output
    assert len(smtp_server.mailbox.messages) == 1
    result = runner.invoke(args=["reminders", "run-due", "--now", "2026-11-29T12:00:00"])
    assert result.exit_code != 0 and "time zone offset" in result.output
    result = runner.invoke(args=["reminders", "run-due", "--now", "tomorrow"])
    assert result.exit_code != 0 and "not an ISO 8601" in result.output
    result = runner.invoke(args=["reminders", "run-due", "--now", "9999-12-31T23:59:59-12:00"])
    assert result.exit_code == 2 and "not an ISO 8601" in result.output  # was an OverflowError


def test_a_time_the_clocks_skip_is_refused(browser, world):
    with time_machine.travel(datetime(2026, 4, 2, 12, 0, tzinfo=timezone.utc), tick=False):
        browser.login(world.consultant_a.email)  # Europe/Berlin: 29 March 02:30 does not exist
        page = browser.post(f"/cases/{world.case_a.id}/submissions", data={
            "channel": "email", "submitted_at": "2026-03-29T02:30"}, follow_redirects=True).get_data(as_text=True)
    assert "does not exist in Europe/Berlin" in page
    assert db.session.scalar(db.select(db.func.count(Submission.id))) == 0


def test_email_link_still_snoozes_after_the_reminder_was_sent(app, browser, world, clock, smtp_server):
    submissions.record_submission(world.consultant_a, world.case_a.id, {"submitted_at": NOW - timedelta(hours=49)})
    dispatch.run_pass(NOW)
    sent = db.session.scalar(db.select(Reminder).where(Reminder.sequence == 1))
    with app.test_request_context():
        token = followup_mail.action_token(sent, world.consultant_a)
    page = browser.get(f"/reminders/act/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    page = browser.client.post(f"/reminders/act/{token}", data={
        "action": "dismiss", "csrf_token": csrf}).get_data(as_text=True)
    assert "No more follow-up reminders" in page
    assert db.session.scalar(db.select(db.func.count(Reminder.id)).where(Reminder.status == "pending")) == 0


def test_submission_records_the_evidence_sent_with_it(browser, world, clock):
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    from caseapp.services.evidence import files

    sent = files.upload(world.consultant_a, world.case_a.id, FileStorage(BytesIO(b"%PDF-1.4 a"), "invoice.pdf"))
    files.upload(world.consultant_a, world.case_a.id, FileStorage(BytesIO(b"%PDF-1.4 b"), "draft-notes.pdf"))
    other_case = make_case(world.consultant_a, world.client_a, title="Other case")
    foreign = files.upload(world.consultant_a, other_case.id, FileStorage(BytesIO(b"%PDF-1.4 c"), "x.pdf"))
    browser.login(world.consultant_a.email)
    page = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "channel": "email", "evidence_ids": [str(foreign.id)]}, follow_redirects=True).get_data(as_text=True)
    assert "Choose evidence files of this case" in page
    page = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "channel": "email", "evidence_ids": [str(sent.id)]}, follow_redirects=True).get_data(as_text=True)
    assert "Sent with: invoice.pdf</div>" in page
    assert "and 1 evidence file; submission 1" in page
