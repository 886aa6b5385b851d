"""In a real browser: Amazon's reply, with a PDF, reaches the case's own address; the consultant
opens the case, sees the mail on the timeline, the PDF as evidence and the proposal, records it
in one click (confirming Reinstated, as the reply form asks), and the follow-up stops. At a
laptop's width and a phone's, with screenshots in /tmp/shots-ui/."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.models import Case, Reminder
from caseapp.services.appeals import submissions
from caseapp.services.inbound import filing
from tests.conftest import sign_in
from tests.services.inbound.conftest import PDF, mail

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-ui")


@pytest.fixture(autouse=True)
def inbound_address(app):
    app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    yield
    app.config["INBOUND_ADDRESS"] = ""


def _fresh(model, row_id):
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, row_id)


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)], ids=["laptop", "phone"])
def test_amazons_reply_by_mail_is_recorded_in_one_click(page, world, width, height):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": width, "height": height})
    submission = submissions.record_submission(world.consultant_a, world.case_a.id, {"amazon_reference": "CASE-77"})
    assert db.session.scalar(db.select(Reminder.id).where(Reminder.submission_id == submission.id,
                                                          Reminder.status == "pending"))
    raw = mail(to=mailtags.case_address(world.case_a.id), subject="Re: Your appeal CASE-77",
               text="Hello,\n\nGood news: your selling privileges have been reinstated.\n\nSeller Performance",
               attachments=[("decision.pdf", PDF, "application/pdf")])
    message = filing.receive(raw).message
    assert message.case_id == world.case_a.id

    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    card = page.locator("#amazon-wrote")
    expect(card).to_contain_text("Amazon wrote on")
    expect(card).to_contain_text("Re: Your appeal CASE-77")
    expect(card).to_contain_text("CASE-77")
    entry = page.locator("#timeline .email-entry")
    expect(entry).to_contain_text("Email from Amazon: Re: Your appeal CASE-77")
    expect(page.locator("#evidence")).to_contain_text("decision.pdf")
    expect(page.locator("#case-address")).to_have_text(mailtags.case_address(world.case_a.id))
    expect(page.locator("#copy-case-address")).to_be_visible()
    button = card.get_by_role("button", name="Record as Amazon's reply: Reinstated")
    expect(button).to_be_visible()
    assert button.evaluate("b => b.getBoundingClientRect().right") <= width  # nothing off a phone's screen
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"case-amazon-wrote-{width}.png"))

    # The message page: its text and its PDF, which opens the evidence page.
    entry.click()
    expect(page.locator("#message-text")).to_contain_text("have been reinstated")
    expect(page.locator("#message-attachments")).to_contain_text("decision.pdf")
    page.screenshot(path=str(SHOTS / f"message-{width}.png"), full_page=True)
    page.go_back()

    # One click; Reinstated closes the case, so the browser asks first, as the reply form does.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.locator("#amazon-wrote").get_by_role("button", name="Record as Amazon's reply: Reinstated").click()
    expect(page.get_by_role("alert").first).to_contain_text("Recorded as Amazon's reply: Reinstated")
    assert asked and asked[0].startswith("Record Amazon's reply as Reinstated?")
    expect(page.locator("#amazon-wrote")).to_have_count(0)
    expect(page.locator("#next-deadline")).not_to_contain_text("Follow up with Amazon by")
    page.screenshot(path=str(SHOTS / f"case-recorded-{width}.png"), full_page=True)

    case = _fresh(Case, world.case_a.id)
    assert case.status == "reinstated" and case.amazon_wrote_at is None
    assert not db.session.scalar(db.select(Reminder.id).where(Reminder.submission_id == submission.id,
                                                              Reminder.status == "pending"))


def test_the_inbox_files_a_stray_message_on_a_case(page, world):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})
    stray = filing.receive(mail(to=mailtags.agency_address(world.agency_a.id), message_id="<stray@x.example>",
                                sender="Pat <pat@harbor-lane.example>", subject="Our invoices",
                                text="Here are the invoices you asked for.")).message
    sign_in(page, world.consultant_a.email)
    page.goto("/inbox")
    expect(page.locator("#unmatched-count")).to_contain_text("1")  # in the nav, behind the menu on a phone
    row = page.locator(f"#inbound-{stray.id}")
    expect(row).to_contain_text("Our invoices")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "inbox-390.png"), full_page=True)
    row.locator("input.case-number").fill("nope")
    row.get_by_role("button", name="File on case").click()
    expect(page.locator(f"#inbound-{stray.id} .invalid-feedback")).to_contain_text("Give the case's number")
    page.locator(f"#inbound-{stray.id} input.case-number").fill(str(world.case_a.id))
    page.locator(f"#inbound-{stray.id}").get_by_role("button", name="File on case").click()
    expect(page.get_by_role("alert").first).to_contain_text(f"Filed on case {world.case_a.id}")
    expect(page.locator("#timeline .email-entry").first).to_contain_text("Our invoices")
