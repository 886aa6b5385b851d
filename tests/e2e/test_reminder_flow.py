"""The follow-up promise in a real browser: a submission recorded 49 hours back, one
dispatch pass, the reminder on the case timeline, and the same email at the SMTP server."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from caseapp.services.appeals import dispatch
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_backdated_submission_reminds_by_email_and_on_the_timeline(page, world, smtp_server):
    page.goto("/login")
    page.fill("#email", world.consultant_a.email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/cases/{world.case_a.id}")

    # Record the submission, backdated 49 hours, typed in the consultant's zone (Berlin).
    local = datetime.now(ZoneInfo("Europe/Berlin")) - timedelta(hours=49)
    # The form is folded while the case's next step is its POA; one click opens it.
    page.get_by_text("Record a submission").click()
    form = page.locator("#submission-form")
    form.locator("#channel").select_option("account_health_appeal")
    form.locator("#submitted_at").fill(local.strftime("%Y-%m-%dT%H:%M"))
    form.locator("#amazon_reference").fill("APPEAL-7781")
    form.get_by_role("button", name="Record submission").click()
    expect(page.locator(".alert-success")).to_contain_text("Submission recorded")
    expect(page.locator("[data-status=submitted]").first).to_be_visible()
    expect(page.locator("#clock")).to_contain_text("Amazon silent for 49 h")
    expect(page.locator("#clock")).to_contain_text("overdue by 1 h")

    # One dispatch pass, as the scheduler would run it.
    report = dispatch.run_pass(datetime.now(timezone.utc))
    assert report.sent == 1

    page.reload()
    sent = page.locator("ul.timeline > li[data-kind=reminder_sent]")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text(f"Follow-up reminder 1 emailed to {world.consultant_a.email}")

    (mail,) = smtp_server.mailbox.to(world.consultant_a.email)
    assert mail["Subject"].startswith("Follow up with Amazon: Harbor Lane Home Goods")
    text = mail.get_body(("plain",)).get_content()
    assert "Silent for: 49 hours" in text
    assert local.strftime("%d %b %Y, %H:%M") in text
    assert f"/cases/{world.case_a.id}" in text
