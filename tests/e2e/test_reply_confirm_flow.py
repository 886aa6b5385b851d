"""In a real browser: the reply form has no default outcome and asks before Reinstated; a
reply recorded by mistake is withdrawn; a refused submission comes back as typed, with the
page on the form and the bad field focused."""
from datetime import datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import AmazonResponse, Case, Submission
from caseapp.services.appeals import submissions
from caseapp.services.evidence import files
from tests.conftest import sign_in

pytestmark = pytest.mark.browser


def status(world) -> str:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Case, world.case_a.id).status


def test_reinstated_is_asked_for_and_a_mistaken_reply_is_withdrawn(page, world):
    submission = submissions.record_submission(world.consultant_a, world.case_a.id, {})
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    form = page.locator(f"#reply-form-{submission.id}")
    page.get_by_text("Record Amazon's reply", exact=True).click()

    # Untouched: the browser refuses to send it (no outcome chosen), and nothing is recorded.
    outcome = page.locator(f"#outcome-{submission.id}")
    expect(outcome).to_have_value("")
    form.get_by_role("button", name="Save reply").click()
    assert outcome.evaluate("select => select.validity.valueMissing")
    assert status(world) == "submitted"

    # Reinstated asks first; saying no records nothing and keeps the pasted reply.
    page.fill(f"#reply-{submission.id}", "Your account has been reinstated.")
    outcome.select_option("reinstated")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    form.get_by_role("button", name="Save reply").click()
    expect(page.locator(f"#reply-{submission.id}")).to_have_value("Your account has been reinstated.")
    assert asked and asked[0].startswith("Record Amazon's reply as Reinstated?")
    assert status(world) == "submitted"

    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Save reply").click()
    expect(page.get_by_role("alert")).to_contain_text("Amazon's reply recorded")
    expect(page.locator("[data-status=reinstated]").first).to_be_visible()

    # Recorded by mistake: withdrawn (after confirming), the case waits on Amazon again.
    reply = page.locator(".reply").first
    page.once("dialog", lambda dialog: dialog.accept())
    reply.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("alert")).to_contain_text("it is now Submitted to Amazon")
    expect(page.locator("[data-status=submitted]").first).to_be_visible()
    expect(page.locator("#next-deadline")).to_contain_text("Follow up with Amazon by")
    expect(page.locator(".reply-withdrawn")).to_contain_text("withdrawn")
    db.session.rollback()
    assert db.session.scalar(db.select(AmazonResponse.withdrawn_at)) is not None


def test_a_refused_submission_keeps_what_was_typed_and_lands_on_the_form(page, world):
    sent = files.upload(world.consultant_a, world.case_a.id, FileStorage(BytesIO(b"%PDF-1.4 a"), "invoice.pdf"))
    kept_back = files.upload(world.consultant_a, world.case_a.id, FileStorage(BytesIO(b"%PDF-1.4 b"), "notes.pdf"))
    # Enough to scroll: the form sits below the fold of a phone.
    page.set_viewport_size({"width": 390, "height": 700})
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    future = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=6)).strftime("%Y-%m-%dT10:00")
    page.get_by_text("Record a submission").click()
    page.fill("#submitted_at", future)
    page.select_option("#channel", "notification_reply")
    page.fill("#amazon_reference", "CASE-4711")
    page.uncheck(f"#send-ev-{kept_back.id}")
    page.get_by_role("button", name="Record submission").click()

    expect(page.locator("#submitted_at")).to_be_focused()
    expect(page.locator("#submitted_at")).to_have_class("form-control is-invalid")
    expect(page.locator("#submission-form .invalid-feedback")).to_have_text("This cannot be in the future.")
    expect(page.locator("#submission-form .invalid-feedback")).to_be_in_viewport()
    expect(page.locator("#submitted_at")).to_have_value(future)
    expect(page.locator("#channel")).to_have_value("notification_reply")
    expect(page.locator("#amazon_reference")).to_have_value("CASE-4711")
    expect(page.locator(f"#send-ev-{sent.id}")).to_be_checked()
    expect(page.locator(f"#send-ev-{kept_back.id}")).not_to_be_checked()
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Submission.id))) == 0

    # Corrected, it goes through with the same choices.
    page.fill("#submitted_at", "")
    page.get_by_role("button", name="Record submission").click()
    expect(page.get_by_role("alert")).to_contain_text("Submission recorded.")
    expect(page.locator(".submission").first).to_contain_text("Sent with: invoice.pdf")
