"""Deadlines in a real browser, the issue's walk: an admin sets a preset, a consultant opens a
case from Amazon's notice, the case and My day show its clocks, the dispatch pass emails the
lead reminder to the real SMTP server, and one click on My day marks it met."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import Deadline
from caseapp.services.appeals import dispatch
from tests.conftest import sign_in

pytestmark = pytest.mark.browser

PRESET = "Call the client about invoices"


def test_notice_presets_my_day_lead_reminder_email_and_met(page, world, smtp_server):
    # The admin adds a preset: every new case gets a 2-day clock, reminded 24 h before.
    sign_in(page, world.admin_a.email)
    page.goto("/admin/deadline-presets")
    expect(page.get_by_text("shipped defaults")).to_be_visible()
    blank = page.locator("tr.preset-blank").first
    blank.locator("select[name$='-kind']").select_option("custom")
    blank.locator("input[name$='-title']").fill(PRESET)
    blank.locator("input[name$='-amount']").fill("2")
    blank.locator("select[name$='-unit']").select_option("days")
    blank.locator("input[name$='-lead_hours']").fill("24")
    page.get_by_role("button", name="Save presets").click()
    expect(page.locator(".alert-success")).to_be_visible()
    page.context.clear_cookies()

    # The consultant opens a case from Amazon's notice, which asks for documents in 30 days.
    sign_in(page, world.consultant_a.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("My day")  # where people land
    page.goto("/cases/new")
    page.select_option("#client_id", str(world.client_a.id))
    page.fill("#title", "Account deactivated: inauthentic complaints")
    page.select_option("#kind", "account_suspension")
    page.select_option("#reason", "customer_complaints")
    page.fill("#amazon_notice", "Provide supplier invoices within 30 days of this notice.")
    page.get_by_role("button", name="Open case").click()
    card = page.locator("#deadlines-card")
    for title in (PRESET, "Appeal window", "Amazon's notice: provide within 30 days"):
        expect(card).to_contain_text(title)

    # My day lists the 2-day clock this week, with the case.
    page.goto("/my-day")
    row = page.locator(".day-row", has_text=PRESET)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Account deactivated: inauthentic complaints")
    expect(row).to_contain_text("due in")

    # The dispatch pass at its reminder time emails the lead reminder, once.
    deadline = db.session.scalar(db.select(Deadline).where(Deadline.title == PRESET))
    at = deadline.next_alert_at + timedelta(minutes=1)
    assert deadline.next_alert_at == deadline.due_at - timedelta(hours=24)
    report = dispatch.run_pass(at)
    assert report.deadline_reminders_due >= 1
    assert dispatch.run_pass(at + timedelta(minutes=1)).deadline_reminders_due == 0
    (mail,) = [m for m in smtp_server.mailbox.to(world.consultant_a.email) if PRESET in m["Subject"]]
    assert "due in 23 h" in mail["Subject"]
    assert f"/cases/{deadline.case_id}" in mail.get_body(("plain",)).get_content()

    # One click on My day: met, gone from the list, and on the case's timeline.
    page.reload()
    page.locator(".day-row", has_text=PRESET).get_by_role("button", name="Met").click()
    expect(page.locator(".day-row", has_text=PRESET)).to_have_count(0)
    page.goto(f"/cases/{deadline.case_id}")
    expect(page.locator("ul.timeline")).to_contain_text(f"Deadline {PRESET}: met")
