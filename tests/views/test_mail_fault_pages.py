"""What admins and consultants see when mail fails: the banner on every admin page, Retry on
the Outbox (one message or all failed ones), a bouncing address on People and Settings, and
the case that keeps its clock."""
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.extensions import db
from caseapp.models import AuditEvent, OutboxMessage, Reminder, User
from caseapp.services.appeals import dispatch, submissions
from tests.conftest import make_case, make_client

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def refused(world, smtp_server, clock):
    """A reminder 49 h after the submission, refused by the mail server (550)."""
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW - timedelta(hours=49)}, now=NOW)
    smtp_server.mailbox.fail_next(550)
    dispatch.run_pass(NOW)
    return db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.status == "failed"))


def test_admins_see_the_banner_on_every_page_until_they_retry(browser, world, refused, smtp_server):
    browser.login(world.admin_a.email)
    for url in ("/cases", f"/cases/{world.case_a.id}", "/clients/", "/settings/"):
        page = browser.get(url).get_data(as_text=True)
        assert 'id="mail-problem"' in page and "Some email was not delivered." in page, url
        assert "/admin/outbox?status=failed" in page and "550" in page
    outbox = browser.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert f'action="/admin/outbox/{refused.id}/retry' in outbox and "Retry all failed" in outbox

    response = browser.post(f"/admin/outbox/{refused.id}/retry", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "will be sent again" in page and 'id="mail-problem"' not in page
    db.session.refresh(refused)
    assert refused.status == "pending"
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.kind == "mail_retry")) is not None
    dispatch.run_pass(NOW + timedelta(minutes=1))
    reminder = db.session.scalar(db.select(Reminder).where(Reminder.sequence == 1))
    db.session.refresh(reminder)
    assert reminder.status == "sent"
    case_page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert f"Follow-up reminder 1 emailed to {world.consultant_a.email}" in case_page


def test_consultants_see_no_banner_but_their_case_keeps_its_clock(browser, world, refused):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert 'id="mail-problem"' not in page
    # Nobody was told: the follow-up that fell due an hour ago was not done, and is overdue.
    assert 'id="clock"' in page and 'data-overdue="yes"' in page
    assert "follow-up 1 <strong>overdue by 1 h</strong>: its email was not delivered" in page
    assert "The follow-up is still open" in page
    assert "Follow-up 1 due" in page and "its email was not delivered (see the timeline)" in page
    assert "every reminder email was refused" not in page


def test_retry_all_failed_and_dismiss(browser, world, smtp_server, clock):
    for title in ("One", "Two"):
        case = make_case(world.consultant_a, world.client_a, title=title)
        submissions.record_submission(world.consultant_a, case.id,
                                      {"submitted_at": NOW - timedelta(hours=49)}, now=NOW)
    smtp_server.mailbox.fail_next(550, count=2)
    dispatch.run_pass(NOW)
    browser.login(world.admin_a.email)
    assert "Dismiss" in browser.get("/admin/outbox").get_data(as_text=True)
    page = browser.post("/admin/mail-problem/dismiss", follow_redirects=True).get_data(as_text=True)
    assert 'id="mail-problem"' not in page
    assert 'data-status="failed"' in page  # the mail stays listed, and can still be retried
    page = browser.post("/admin/outbox/retry-failed", follow_redirects=True).get_data(as_text=True)
    assert "2 failed emails will be sent again" in page
    statuses = db.session.scalars(db.select(OutboxMessage.status).where(OutboxMessage.kind == "reminder"))
    assert sorted(statuses) == ["pending", "pending"]


def test_another_agencys_message_cannot_be_retried(browser, world, refused):
    browser.login(world.admin_b.email)
    assert browser.post(f"/admin/outbox/{refused.id}/retry").status_code == 404
    assert browser.post("/admin/outbox/retry-failed").status_code == 302
    db.session.refresh(refused)
    assert refused.status == "failed"
    assert 'id="mail-problem"' not in browser.get("/cases").get_data(as_text=True)
    browser.logout()
    browser.login(world.admin_a.email)  # its own agency's admin can
    assert browser.post(f"/admin/outbox/{refused.id}/retry").status_code == 302
    db.session.refresh(refused)
    assert refused.status == "pending"


def test_consultants_cannot_retry(browser, world, refused):
    browser.login(world.consultant_a.email)
    assert browser.post(f"/admin/outbox/{refused.id}/retry").status_code == 403
    db.session.refresh(refused)
    assert refused.status == "failed"


def test_a_bouncing_address_is_shown_to_its_owner_and_the_admins(browser, world, smtp_server, clock):
    smtp_server.mailbox.refuse(world.consultant_a.email)
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW - timedelta(hours=49)}, now=NOW)
    dispatch.run_pass(NOW)
    browser.login(world.consultant_a.email)
    page = browser.get("/settings/").get_data(as_text=True)
    assert "This address bounced on" in page and "mailbox unavailable" in page
    browser.logout()
    browser.login(world.admin_a.email)
    page = browser.get("/admin/users").get_data(as_text=True)
    assert page.count("This address bounced on") == 1 and "mailbox unavailable" in page
    page = browser.post(f"/admin/users/{world.consultant_a.id}/bounce/clear",
                        follow_redirects=True).get_data(as_text=True)
    assert "This address bounced on" not in page
    db.session.expire_all()
    assert db.session.get(User, world.consultant_a.id).email_bounced_at is None


def test_a_server_that_is_down_is_said_so(browser, world, app, clock):
    from tests.smtp import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW - timedelta(hours=49)}, now=NOW)
    dispatch.run_pass(NOW)
    browser.login(world.admin_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    assert "The mail server is not taking caseapp" in page
    outbox = browser.get("/admin/outbox").get_data(as_text=True)
    assert "Mail server problem" in outbox and "not an address" in outbox


def test_the_banner_costs_one_query(browser, world, refused, app):
    """Asked once per page, from an index; not once per message or per person."""
    from sqlalchemy import event

    browser.login(world.admin_a.email)
    for i in range(5):
        make_client(world.consultant_a, name=f"Client {i}", seller_id=f"A1B2C3D4E5F6G{i}")
    statements = []

    def count(conn, cursor, statement, *args):
        if "mail_problems" in statement:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        browser.get("/clients/")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
