"""The consultant's side of the client portal in the pages: the case page's "Documents from
the client" card (ask, accept, send back, cancel, revoke the link) and sharing a POA version
from its page, each as a consultant would notice it."""
from __future__ import annotations

import html
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import Case, Deadline, DocumentRequest, DocumentRequestItem, Evidence, OutboxMessage, PoaShare, PortalLink
from caseapp.services.poa import drafts
from caseapp.services.portal import client, links, requests
from tests.services.poa.test_drafts import body

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)  # 13:00 in Berlin, agency A's zone
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def mailed(world):
    world.client_a.contact_email = "seller@harbor-lane.example"
    db.session.commit()
    return world


def pdf(name="invoice.pdf", extra=b""):
    return FileStorage(io.BytesIO(PDF + extra), filename=name, content_type="application/pdf")


def open_request(world, **data):
    data.setdefault("items", [{"title": "Supplier invoices", "instructions": "Last 365 days", "category": "invoice"},
                              {"title": "Where do you buy?", "instructions": "Tell us", "kind": "answer"}])
    data.setdefault("due_at", NOW + timedelta(days=5))
    return requests.open_request(world.consultant_a, world.case_a.id, data)


def token_of(opened) -> str:
    return opened.portal_url.rsplit("/", 1)[1]


def card_of(page: str) -> str:
    """The card, up to the next card of the page (it sits among the work or the rest)."""
    start = page.index('id="requests-card"')
    end = page.find('<div class="card mb-3" id=', start)
    return page[start:end if end > 0 else None]


def entry(page: str, item_id: int) -> str:
    """One item's block in the card, up to the next item."""
    start = page.index(f'id="request-item-{item_id}"')
    end = page.find('class="request-item ', start + 10)
    return page[start:end if end > 0 else None]


def case_page(browser, world) -> str:
    return browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def ask_form(**fields) -> dict:
    data = {"due_at": "2026-12-04T18:00", "message": ""}
    for n in range(3):
        data.update({f"items-{n}-title": "", f"items-{n}-instructions": "", f"items-{n}-category": "other",
                     f"items-{n}-kind": "file"})
    data.update(fields)
    return {f"docreq-{k}": v for k, v in data.items()}


def reload(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


# ---- what the card shows ---------------------------------------------------------------------

def test_the_card_shows_each_item_its_status_the_clients_files_and_answer(browser, mailed):
    world = mailed
    opened = open_request(world, message="Hello, two things please.")
    invoice, question = opened.request.items
    client.upload(token_of(opened), invoice.id, [pdf()])
    client.answer(token_of(opened), question.id, "From Acme Wholesale since 2021.")
    browser.login(world.consultant_a.email)
    page = case_page(browser, world)

    assert 'id="waiting-on-client"' in page and "Waiting on client" in page
    card = card_of(page)
    assert "1 open" in card and "Hello, two things please." in card
    assert "Due 04 Dec 2026, 13:00 CET" in card  # in the consultant's zone, Berlin
    assert "Portal link active until" in card and "Revoke link" in card
    first = entry(page, invoice.id)
    assert "Supplier invoices" in first and "Sent by the client" in first and "Invoice" in first
    evidence_id = db.session.scalar(db.select(Evidence.id).where(Evidence.request_item_id == invoice.id))
    assert f'href="/evidence/{evidence_id}">invoice.pdf</a>' in first
    assert f'href="/evidence/{evidence_id}/download"' in first
    assert ">Accept</button>" in first and "Send back" in first
    second = entry(page, question.id)
    assert "Written answer" in second and "From Acme Wholesale since 2021." in second

    # The dashboard row says so too.
    dashboard = browser.get("/cases").get_data(as_text=True)
    assert "Waiting on client" in dashboard


def test_an_item_not_sent_yet_offers_no_decision(browser, world):
    opened = open_request(world)
    browser.login(world.consultant_a.email)
    first = entry(case_page(browser, world), opened.request.items[0].id)
    assert "Requested" in first and ">Accept</button>" not in first and "Send back" not in first


def test_the_form_offers_the_checklists_for_the_cases_reason_first_and_ticks_it(browser, world):
    browser.login(world.consultant_a.email)
    card = card_of(case_page(browser, world))  # case_a's reason: customer complaints
    boxes = re.findall(r'<input class="form-check-input" type="checkbox" name="docreq-checklist"\s+'
                       r'value="(\w+)" id="[^"]+"( checked)?>', card)
    assert boxes[0] == ("customer_complaints", " checked")
    assert [checked for _, checked in boxes[1:]] == [""] * (len(boxes) - 1) and len(boxes) >= 5
    assert card.count('class="border rounded p-2 mb-2 request-item-row"') == 3
    assert 'value="2026-12-06T18:00"' in card  # a week from now, 18:00 in Berlin


# ---- asking ----------------------------------------------------------------------------------

def test_asking_with_mistakes_says_each_beside_its_field_and_keeps_what_was_typed(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/document-requests", data=ask_form(**{
        "due_at": "2026-11-28T10:00", "message": "Please hurry",
        "items-1-instructions": "The one from March", "items-1-category": "invoice",
        "items-2-title": "Bank statement", "items-2-kind": "answer"}))
    assert response.status_code == 422
    card = card_of(response.get_data(as_text=True))
    assert 'id="ask-client" open' in card
    row = card[card.index('id="docreq-items-1-title"'):]
    assert "Give the item a title the client understands." in row[:600]
    due = card[card.index('id="docreq-due_at"'):]
    assert "Give the client a due date in the future." in due[:600]
    # Nothing typed is lost, no checklist came back ticked.
    assert "The one from March</textarea>" in card and 'value="Bank statement"' in card
    assert 'value="2026-11-28T10:00"' in card and "Please hurry</textarea>" in card
    assert '<option selected value="answer">' in card[card.index('id="docreq-items-2-kind"'):][:300]
    assert " checked>" not in card
    assert db.session.scalar(db.select(db.func.count(DocumentRequest.id))) == 0


def test_asking_for_nothing_says_so(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/document-requests", data=ask_form())
    assert response.status_code == 422
    assert "Ask for at least one document or answer." in card_of(response.get_data(as_text=True))


def test_asking_flashes_the_portal_link_once_and_mails_the_client(browser, mailed):
    world = mailed
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/document-requests", data=ask_form(**{
        "checklist": "identity", "items-0-title": "Your last bank statement", "message": "Thanks!"}))
    assert response.status_code == 303 and response.location.endswith("#requests-card")
    page = browser.get(response.location).get_data(as_text=True)
    shown = re.search(r'<code class="portal-url user-select-all">(http[^<]+/portal/([^<]+))</code>', page)
    assert shown and "Copy it now; it is not shown again." in page
    assert "An email with the link is on its way to seller@harbor-lane.example." in page
    request = db.session.scalar(db.select(DocumentRequest))
    assert [i.title for i in request.items] == ["Government-issued ID", "Utility bill", "Bank statement",
                                                "Your last bank statement"]
    mail = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "portal"))
    assert mail.recipient == "seller@harbor-lane.example"
    assert browser.get(f"/portal/{shown.group(2)}").status_code == 200  # the link works
    again = case_page(browser, world)
    assert shown.group(2) not in again and "portal-url" not in again  # shown once
    assert "Your last bank statement" in card_of(again)


def test_asking_a_client_without_email_says_to_send_the_link_yourself(browser, world):
    browser.login(world.consultant_a.email)
    card = card_of(case_page(browser, world))
    assert "The client has no contact email" in card
    response = browser.post(f"/cases/{world.case_a.id}/document-requests",
                            data=ask_form(checklist="question"), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "The client has no contact email: send them this link yourself." in page
    assert 'class="portal-url' in page
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id)).where(OutboxMessage.kind == "portal")) == 0


# ---- deciding ----------------------------------------------------------------------------------

def test_sending_back_without_a_reason_says_so_beside_the_field(browser, world):
    opened = open_request(world)
    item = opened.request.items[0]
    client.upload(token_of(opened), item.id, [pdf()])
    browser.login(world.consultant_a.email)
    response = browser.post(f"/document-request-items/{item.id}/decide", data={"status": "rejected", "reason": "  "})
    assert response.status_code == 422
    block = entry(response.get_data(as_text=True), item.id)
    field = block[block.index(f'id="reason-{item.id}"'):]
    assert "autofocus" in field[:300]
    assert "is-invalid" in block and "Tell the client what is wrong" in field[:500]
    assert reload(DocumentRequestItem, item.id).status == "uploaded"

    too_long = "Cropped. " * 120
    response = browser.post(f"/document-request-items/{item.id}/decide", data={"status": "rejected", "reason": too_long})
    block = entry(response.get_data(as_text=True), item.id)
    assert "At most 1,000 characters." in block and html.escape(too_long.strip()) in block  # kept as typed


def test_send_back_with_a_reason_then_accept_fulfils_the_request(browser, world):
    opened = open_request(world, items=[{"title": "Supplier invoices", "instructions": "", "category": "invoice"}])
    item = opened.request.items[0]
    client.upload(token_of(opened), item.id, [pdf()])
    browser.login(world.consultant_a.email)
    response = browser.post(f"/document-request-items/{item.id}/decide",
                            data={"status": "rejected", "reason": "The invoice is cropped: send the whole page."})
    assert response.status_code == 303
    page = browser.get(response.location).get_data(as_text=True)
    assert "Sent back to the client: Supplier invoices. They were told why." in page
    block = entry(page, item.id)
    assert "Sent back: The invoice is cropped: send the whole page." in block
    assert ">Accept</button>" in block  # a consultant may change their mind

    client.upload(token_of(opened), item.id, [pdf("whole.pdf", b"2")])
    response = browser.post(f"/document-request-items/{item.id}/decide", data={"status": "accepted"},
                            follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Accepted: Supplier invoices." in page
    assert reload(DocumentRequest, opened.request.id).status == "fulfilled"
    assert "Waiting on client" not in page
    card = card_of(page)
    assert "0 open" in card and 'id="closed-requests"' in card and "Fulfilled" in card
    assert "whole.pdf" in card and "invoice.pdf" in card
    assert db.session.get(Deadline, opened.request.deadline_id).status == "met"


def test_deciding_what_was_not_sent_is_refused_in_a_flash(browser, world):
    opened = open_request(world)
    browser.login(world.consultant_a.email)
    response = browser.post(f"/document-request-items/{opened.request.items[0].id}/decide",
                            data={"status": "accepted"}, follow_redirects=True)
    assert "The client has not sent anything for this item yet." in response.get_data(as_text=True)


# ---- cancelling and the link --------------------------------------------------------------------

def test_cancelling_a_request_stops_the_wait(browser, world):
    opened = open_request(world)
    browser.login(world.consultant_a.email)
    response = browser.post(f"/document-requests/{opened.request.id}/cancel", data={}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Request cancelled" in page and "Waiting on client" not in page
    card = card_of(page)
    assert "Cancelled" in card[card.index('id="closed-requests"'):] and "Cancel request" not in card
    assert reload(Case, world.case_a.id).waiting_on_client_since is None
    again = browser.post(f"/document-requests/{opened.request.id}/cancel", data={}, follow_redirects=True)
    assert "This request is cancelled already." in again.get_data(as_text=True)


def test_revoking_the_link_closes_the_clients_page(browser, world):
    opened = open_request(world)
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/portal-link/revoke", data={}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Portal link revoked" in page
    assert 'data-state="revoked"' in card_of(page) and "Revoke link" not in card_of(page)
    assert browser.get(f"/portal/{token_of(opened)}").status_code == 410
    again = browser.post(f"/cases/{world.case_a.id}/portal-link/revoke", data={}, follow_redirects=True)
    assert "there is nothing to revoke" in again.get_data(as_text=True)


# ---- sharing a POA version ------------------------------------------------------------------------

def test_sharing_a_version_shows_its_status_and_an_approval_is_of_that_version_only(browser, mailed):
    world = mailed
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    browser.login(world.consultant_a.email)
    page = browser.get(f"/poa/{draft.id}").get_data(as_text=True)
    assert "Not shared with the client yet." in page and "Share with the client</button>" in page

    response = browser.post(f"/poa/{draft.id}/share", data={}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"Version {draft.version} shared: an email asking the client to approve it is on its way" in page
    assert "Waiting for the client" in page and "Share with the client</button>" not in page
    share = db.session.scalar(db.select(PoaShare))
    link_ref = db.session.scalar(db.select(OutboxMessage.link_ref).where(OutboxMessage.kind == "portal"))
    assert link_ref  # the client's mail carries the link
    link = db.session.get(PortalLink, int(link_ref))
    client.answer_poa(links.token_for(link), share.id, "approve", "")
    page = browser.get(f"/poa/{draft.id}").get_data(as_text=True)
    assert "Approved by the client on 29 Nov 2026, 13:00 CET" in page
    assert "client approved" in page[page.index('id="versions"'):]

    later = drafts.save_version(world.consultant_a, world.case_a.id, body())
    page = browser.get(f"/poa/{later.id}").get_data(as_text=True)
    card = page[page.index('id="share-card"'):page.index('id="versions"')]
    assert "Not shared with the client yet." in card and "Approved" not in card


def test_sharing_with_a_client_without_email_gives_the_link_once(browser, world):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    browser.login(world.consultant_a.email)
    page = browser.post(f"/poa/{draft.id}/share", data={}, follow_redirects=True).get_data(as_text=True)
    assert "the client has no contact email" in page and 'class="portal-url' in page
    assert "Copy it now" in page
    again = browser.post(f"/poa/{draft.id}/share", data={}, follow_redirects=True).get_data(as_text=True)
    assert f"Version {draft.version} is with the client already." in again


# ---- another agency --------------------------------------------------------------------------------

def test_another_agency_gets_404_and_changes_nothing(browser, world):
    opened = open_request(world)
    item = opened.request.items[0]
    client.upload(token_of(opened), item.id, [pdf()])
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    browser.login(world.consultant_b.email)
    for url, data in [(f"/cases/{world.case_a.id}/document-requests", ask_form(checklist="identity")),
                      (f"/document-request-items/{item.id}/decide", {"status": "accepted"}),
                      (f"/document-requests/{opened.request.id}/cancel", {}),
                      (f"/cases/{world.case_a.id}/portal-link/revoke", {}),
                      (f"/poa/{draft.id}/share", {})]:
        response = browser.post(url, data=data)
        assert response.status_code == 404, url
        assert world.case_a.title not in response.get_data(as_text=True)
    assert reload(DocumentRequestItem, item.id).status == "uploaded"
    assert reload(DocumentRequest, opened.request.id).status == "open"
    assert db.session.scalar(db.select(db.func.count(DocumentRequest.id))) == 1
    assert db.session.scalar(db.select(db.func.count(PoaShare.id))) == 0
    assert browser.get(f"/portal/{token_of(opened)}").status_code == 200  # the link still works


def test_the_card_sits_with_the_work_while_the_case_waits_on_the_client(browser, world):
    browser.login(world.consultant_a.email)
    page = case_page(browser, world)
    assert page.index('id="timeline"') < page.index('id="requests-card"') < page.index('id="evidence"')
    open_request(world)
    page = case_page(browser, world)
    assert page.index('id="deadlines-card"') < page.index('id="requests-card"') < page.index('id="timeline"')


def test_moving_a_case_with_an_open_request_says_why_beside_the_client(browser, mailed):
    from zoneinfo import ZoneInfo

    from tests.conftest import make_client

    world = mailed
    open_request(world)
    other = make_client(world.consultant_a, name="Right Seller", seller_id="C1C1C1C1C1C1C1")
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/edit", data={
        "client_id": other.id, "title": "Typed and kept", "kind": "account_suspension",
        "reason": "customer_complaints", "priority": "normal", "assignee_id": "",
        "asins": "B07XJ8C8F5", "amazon_notice": "",
        "opened_at": world.case_a.opened_at.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()})
    assert response.status_code == 200  # the form again, not the saved case
    page = response.get_data(as_text=True)
    beside = page[page.index('id="client_id"'):][:1500]
    assert "cancel it on the case page before moving the case to another client" in beside
    assert 'value="Typed and kept"' in page
    assert db.session.get(Case, world.case_a.id).client_id == world.client_a.id
