"""Email in, as a person sees it: the triage inbox (file, discard), a message's page, the case
page's own address and its "Amazon wrote" card, the agency's Amazon domains."""
from __future__ import annotations

import html

import pytest

from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.models import Agency, AuditEvent, Case, Evidence, InboundMessage, Reminder
from caseapp.services.inbound import filing
from tests.services.inbound.conftest import PDF, mail


@pytest.fixture(autouse=True)
def inbound_address(app):
    app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    yield
    app.config["INBOUND_ADDRESS"] = ""


def _stray(world, n=1, **kwargs):
    """Mail to agency A's own address that names no case: it waits in the triage inbox."""
    raw = mail(to=mailtags.agency_address(world.agency_a.id), message_id=f"<stray{n}@example.com>",
               sender="Pat Seller <pat@harbor-lane.example>", subject=kwargs.pop("subject", f"Question {n}"),
               text=kwargs.pop("text", "Hello, any news about our account? Regards, Pat"), **kwargs)
    return filing.receive(raw).message


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_inbox_lists_unmatched_mail_with_why_and_a_preview(browser, world):
    _stray(world, 1)
    second = _stray(world, 2, subject="Invoices attached")
    browser.login(world.consultant_a.email)
    page = _text(browser.get("/inbox"))
    assert page.index("Invoices attached") < page.index("Question 1")  # newest first
    assert "pat@harbor-lane.example" in page and "any news about our account" in page
    assert all(flag in page for flag in second.flags)  # why it found no case
    assert 'id="unmatched-count">2' in page  # the nav's figure
    assert f'action="/inbound/{second.id}/file"' in page and f'action="/inbound/{second.id}/discard"' in page


def test_filing_from_the_inbox_puts_the_mail_on_the_case(browser, world):
    row = _stray(world, attachments=[("invoice.pdf", PDF, "application/pdf")])
    browser.login(world.consultant_a.email)
    browser.get("/inbox")
    response = browser.post(f"/inbound/{row.id}/file", data={f"file-{row.id}-case_number": f"#{world.case_a.id}"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{world.case_a.id}#timeline")
    db.session.expire_all()
    filed = db.session.get(InboundMessage, row.id)
    assert (filed.status, filed.case_id, filed.matched_by) == ("matched", world.case_a.id, "person")
    page = _text(browser.get(f"/cases/{world.case_a.id}"))
    assert f'href="/inbound/{row.id}"' in page  # the timeline entry opens the message
    assert db.session.scalar(db.select(Evidence.filename).where(Evidence.inbound_message_id == row.id)) == "invoice.pdf"
    assert "unmatched-count" not in _text(browser.get("/inbox"))


def test_a_wrong_case_number_is_said_beside_the_field_and_kept(browser, world):
    other_agency_case = db.session.scalar(db.select(Case.id).where(Case.agency_id == world.agency_a.id)) + 1000
    row = _stray(world)
    browser.login(world.consultant_a.email)
    response = browser.post(f"/inbound/{row.id}/file", data={f"file-{row.id}-case_number": str(other_agency_case)})
    assert response.status_code == 422
    page = _text(response)
    assert f"Your agency has no case {other_agency_case}." in page and f'value="{other_agency_case}"' in page
    response = browser.post(f"/inbound/{row.id}/file", data={f"file-{row.id}-case_number": "the blue one"})
    assert response.status_code == 422 and "Give the case's number" in _text(response)
    assert db.session.get(InboundMessage, row.id).status == "unmatched"


def test_discarding_moves_the_mail_to_the_discarded_tab(browser, world):
    row = _stray(world)
    browser.login(world.consultant_a.email)
    response = browser.post(f"/inbound/{row.id}/discard")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(InboundMessage, row.id).status == "discarded"
    assert "Question 1" not in _text(browser.get("/inbox"))
    assert "Question 1" in _text(browser.get("/inbox?status=discarded"))


def test_another_agencys_message_is_a_404_everywhere(browser, world):
    row = _stray(world)
    browser.login(world.consultant_b.email)
    assert browser.get(f"/inbound/{row.id}").status_code == 404
    assert browser.post(f"/inbound/{row.id}/discard").status_code == 404
    assert browser.post(f"/inbound/{row.id}/file", data={f"file-{row.id}-case_number": "1"}).status_code == 404
    assert "Question 1" not in _text(browser.get("/inbox"))
    db.session.expire_all()
    assert db.session.get(InboundMessage, row.id).status == "unmatched"


def test_the_message_page_shows_text_never_the_html(browser, world):
    row = _stray(world, text="New words.\n\nOn Monday someone wrote:\n> old words",
                 html='<p>New words.</p><img src="https://tracker.example/p.gif"><script>alert(1)</script>')
    browser.login(world.consultant_a.email)
    page = browser.get(f"/inbound/{row.id}").get_data(as_text=True)
    assert "New words." in page and "tracker.example" not in page and "alert(1)" not in page
    assert '<details class="mb-3" id="message-full">' in page and "old words" in page


def test_the_case_page_shows_its_address_with_a_copy_button(browser, world, app):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert mailtags.case_address(world.case_a.id) in page
    assert 'data-copy="case-address"' in page and "/static/copy-text.js" in page
    app.config["INBOUND_ADDRESS"] = ""
    assert 'id="case-address"' not in browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


@pytest.fixture
def amazon_wrote(world):
    from caseapp.services.appeals import submissions

    submission = submissions.record_submission(world.consultant_a, world.case_a.id, {"amazon_reference": "CASE-42"})
    raw = mail(to=mailtags.case_address(world.case_a.id), message_id="<decision@amazon.com>",
               subject="Your appeal", text="We need additional information. Please provide invoices.")
    return filing.receive(raw).message, submission


def test_the_amazon_wrote_card_records_the_reply_in_one_click(browser, world, amazon_wrote):
    message, submission = amazon_wrote
    browser.login(world.consultant_a.email)
    page = _text(browser.get(f"/cases/{world.case_a.id}"))
    assert 'id="amazon-wrote"' in page and "Amazon wrote on" in page
    assert "Record as Amazon's reply: More information requested" in page
    assert "CASE-42" in page
    # The follow-up clock says Amazon wrote, never that Amazon is silent.
    assert "the reply waits to be recorded" in page and "Amazon silent" not in page
    response = browser.post(f"/inbound/{message.id}/confirm")
    assert response.status_code == 303
    db.session.expire_all()
    case = db.session.get(Case, world.case_a.id)
    assert case.amazon_wrote_at is None and case.status == "more_info_requested"
    assert db.session.get(InboundMessage, message.id).proposal == "confirmed"
    assert not db.session.scalar(db.select(Reminder.id).where(Reminder.submission_id == submission.id,
                                                              Reminder.status == "pending"))
    assert 'id="amazon-wrote"' not in browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_a_closing_outcome_asks_first_without_javascript(browser, world, amazon_wrote):
    message, _submission = amazon_wrote
    browser.login(world.consultant_a.email)
    data = {f"fix-{message.id}-outcome": "reinstated", f"fix-{message.id}-submission_id": str(_submission.id)}
    response = browser.post(f"/inbound/{message.id}/confirm", data=data)
    assert response.status_code == 200 and "Record Amazon's reply as Reinstated?" in _text(response)
    assert db.session.get(InboundMessage, message.id).proposal == "proposed"
    response = browser.post(f"/inbound/{message.id}/confirm", data={**data, "confirmed": "yes"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, world.case_a.id).status == "reinstated"


def test_not_amazons_reply_clears_the_card(browser, world, amazon_wrote):
    message, _submission = amazon_wrote
    browser.login(world.consultant_a.email)
    assert browser.post(f"/inbound/{message.id}/dismiss").status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, world.case_a.id).amazon_wrote_at is None
    assert 'id="amazon-wrote"' not in browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_admins_edit_amazons_domains_audited(browser, other_browser, world):
    browser.login(world.admin_a.email)
    page = _text(browser.get("/admin/agency"))
    assert "US: amazon.com" in page and "caseapp's shipped list" in page
    response = browser.post("/admin/agency/amazon-domains",
                            data={"amazon_domains": "US: amazon.com, amazon-mail.example\nde: amazon.de"})
    assert response.status_code == 302
    db.session.expire_all()
    agency = db.session.get(Agency, world.agency_a.id)
    assert agency.amazon_domains == {"US": ["amazon.com", "amazon-mail.example"], "DE": ["amazon.de"]}
    assert db.session.scalar(db.select(AuditEvent.id).where(AuditEvent.kind == "settings_change",
                                                            AuditEvent.target == "Amazon's sender domains"))
    response = browser.post("/admin/agency/amazon-domains", data={"amazon_domains": "XX: amazon.com\nUS amazon.com"})
    assert response.status_code == 422
    page = _text(response)
    assert "line 1: XX is no marketplace" in page and "line 2: write it as" in page and "XX: amazon.com" in page
    other_browser.login(world.consultant_a.email)
    assert other_browser.post("/admin/agency/amazon-domains", data={"amazon_domains": ""}).status_code == 403


def test_a_file_the_client_mails_is_attached_to_the_requested_item(browser, world):
    from caseapp.models import DocumentRequestItem
    from caseapp.services.portal import requests

    world.client_a.contact_email = "owner@harbor-lane.example"
    db.session.commit()
    opened = requests.open_request(world.consultant_a, world.case_a.id, {"items": [
        {"title": "Supplier invoices", "instructions": "Last 365 days", "category": "invoice"}]})
    row = filing.receive(mail(to=mailtags.case_address(world.case_a.id), sender="owner@harbor-lane.example",
                              message_id="<inv@harbor-lane.example>", subject="Invoices",
                              attachments=[("march.pdf", PDF, "application/pdf")])).message
    assert row.sender_role == "client"
    browser.login(world.consultant_a.email)
    page = _text(browser.get(f"/inbound/{row.id}"))
    assert "Attach to the requested item" in page and "Supplier invoices" in page
    [evidence] = db.session.scalars(db.select(Evidence).where(Evidence.inbound_message_id == row.id)).all()
    item = opened.request.items[0]
    response = browser.post(f"/inbound/{row.id}/attach", data={"evidence_id": evidence.id, "item_id": item.id})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(DocumentRequestItem, item.id).status == "uploaded"
    assert 'answers “Supplier invoices”' in _text(browser.get(f"/inbound/{row.id}"))
    assert browser.post(f"/inbound/{row.id}/attach", data={"evidence_id": evidence.id,
                                                           "item_id": item.id + 999}).status_code == 404


def test_an_overdue_follow_up_gives_way_to_recording_amazons_mail(browser, world):
    from datetime import timedelta

    from caseapp.models import utcnow
    from caseapp.services.appeals import submissions

    submissions.record_submission(world.consultant_a, world.case_a.id, {
        "amazon_reference": "CASE-43", "submitted_at": utcnow() - timedelta(days=4)})
    db.session.commit()
    browser.login(world.consultant_a.email)
    before = _text(browser.get(f"/cases/{world.case_a.id}"))
    assert "follow up with Amazon now" in before
    filing.receive(mail(to=mailtags.case_address(world.case_a.id), message_id="<late@amazon.com>",
                        text="We need additional information. Please provide invoices."))
    page = _text(browser.get(f"/cases/{world.case_a.id}"))
    box = page.split('id="next-deadline"', 1)[1].split('id="amazon-wrote"', 1)[0]
    assert "Amazon wrote on" in box and "record the reply" in box and "Go to Amazon's mail" in box
    assert "follow up with Amazon now" not in box and "Follow up with Amazon by" not in box


def _many_waiting(world, n):
    """n messages waiting in agency A's inbox, written straight to the table (receiving a
    thousand through filing would only slow the test)."""
    db.session.execute(db.insert(InboundMessage), [dict(
        message_id=f"<bulk{i}@example.com>", dedup_key=f"bulk-{i}", agency_id=world.agency_a.id,
        status="unmatched", source="pipe", subject=f"Waiting {i}", raw_sha256="0" * 64) for i in range(n)])
    db.session.commit()


def test_the_inbox_says_how_long_it_is_and_where_a_page_sits(browser, world):
    _stray(world, 1)
    _stray(world, 2)
    browser.login(world.consultant_a.email)
    assert 'id="list-length">1–2 of 2 messages<' in _text(browser.get("/inbox"))
    assert 'id="list-length"' not in _text(browser.get("/inbox?status=discarded"))  # "No messages here." says it
    _many_waiting(world, 1_000)
    page = _text(browser.get("/inbox"))
    assert 'id="list-length">1–50 of 1,000+ messages<' in page  # counting stops at the cap
    older = page.split('id="older" href="')[1].split('"')[0]
    assert 'id="list-length">51–100 of 1,000+ messages<' in _text(browser.get(older))


def test_the_inbox_beyond_the_count_says_what_it_shows(browser, world):
    _many_waiting(world, 1_060)
    lowest = db.session.scalar(db.select(db.func.min(InboundMessage.id)))
    browser.login(world.consultant_a.email)
    page = _text(browser.get(f"/inbox?before={lowest + 51}"))  # more than 1,000 newer than this page
    assert 'id="list-length">50 shown of 1,000+ messages<' in page
    assert 'id="list-length"' in _text(browser.get("/inbox")) and "Waiting 0<" not in page
