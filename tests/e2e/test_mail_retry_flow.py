"""The fault path in a browser: a reminder email refused by the server leaves the case's
clock open and tells the admin on every page; Retry from the Outbox sends it once when the
server accepts mail again, and the case's timeline says it was emailed."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from caseapp.models import utcnow
from caseapp.services.appeals import dispatch, submissions
from tests.conftest import sign_in

pytestmark = pytest.mark.browser


def test_a_refused_reminder_is_retried_from_the_outbox_and_delivered_once(page, world, smtp_server):
    now = utcnow()
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": now - timedelta(hours=50), "channel": "email"}, now=now)
    smtp_server.mailbox.refuse_all(550)
    assert dispatch.run_pass(now).failed >= 1

    sign_in(page, world.admin_a.email)
    expect(page.locator("#mail-problem")).to_contain_text("not delivered")  # on every page
    page.goto(f"/cases/{world.case_a.id}")
    expect(page.locator("#mail-problem")).to_be_visible()
    expect(page.locator("#clock")).to_contain_text("Amazon silent for 50 h")
    expect(page.locator("#timeline")).to_contain_text("not delivered")

    smtp_server.mailbox.accept_all()
    page.locator("#mail-problem").get_by_role("link", name="Open the Outbox").click()
    page.get_by_role("button", name="Retry all failed").click()
    expect(page.get_by_role("alert").filter(has_text="sent again")).to_be_visible()
    dispatch.run_pass(utcnow())
    dispatch.run_pass(utcnow() + timedelta(minutes=1))

    page.goto(f"/cases/{world.case_a.id}")
    expect(page.locator("#timeline")).to_contain_text(f"Follow-up reminder 1 emailed to {world.consultant_a.email}")
    expect(page.locator("#mail-problem")).to_have_count(0)
    reminders = [m for m in smtp_server.mailbox.messages if m["X-Caseapp-Key"].startswith("reminder:")]
    assert [m["To"] for m in reminders] == [world.consultant_a.email]
