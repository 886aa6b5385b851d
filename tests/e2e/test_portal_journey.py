"""The client portal in real browsers, the issue's "done when" walk: a consultant asks the client
for documents on the case page; the client opens the link from their email on a phone, sends a
file; the consultant sends it back with a reason; the client reads why and sends again; the
consultant accepts it (request fulfilled, its deadline met); the consultant shares a POA
version, the client approves it, and the POA page says so."""
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import Deadline, DocumentRequest, OutboxMessage, utcnow
from caseapp.services.portal import links
from tests.conftest import sign_in

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PHONE = {"width": 390, "height": 844}
REASON = "The invoice is cut off at the bottom: please send the whole page."


def portal_path_from_the_outbox(email: str) -> str:
    """The link of the newest portal mail to `email`, as the delivery pass fills it in when it
    sends it (the stored mail holds a placeholder, never the link)."""
    db.session.expire_all()
    mail = db.session.scalar(db.select(OutboxMessage).where(
        OutboxMessage.kind == "portal", OutboxMessage.recipient == email).order_by(OutboxMessage.id.desc()))
    assert mail is not None, "no portal mail to the client"
    url = links.build_for_mail(mail.link_ref, utcnow())
    assert url, "the mail's link does not work"
    return urlsplit(url).path


def send_file(phone, item, name: str):
    item.locator("input[name=files]").set_input_files({"name": name, "mimeType": "application/pdf", "buffer": PDF + name.encode()})
    item.get_by_role("button", name="Send files").click()
    expect(phone.get_by_text("Thank you: your files are with us.")).to_be_visible()


def test_documents_and_poa_approval_between_consultant_and_client(page, world, _chromium, live_server):
    world.client_a.contact_email = "seller@harbor-lane.example"
    db.session.commit()
    case_url = f"/cases/{world.case_a.id}"

    # The consultant asks for one document from the case page.
    sign_in(page, world.consultant_a.email)
    page.goto(case_url)
    card = page.locator("#requests-card")
    card.get_by_text("Ask the client for documents").click()
    card.locator("input[name=docreq-checklist]:checked").uncheck()
    card.locator("#docreq-items-0-title").fill("Supplier invoices")
    card.locator("#docreq-items-0-category").select_option("invoice")
    card.locator("#docreq-items-0-instructions").fill("From the last 365 days, as the supplier sent them.")
    card.get_by_role("button", name="Send the request").click()
    expect(page.locator(".alert-success")).to_contain_text("Copy it now; it is not shown again.")
    expect(page.locator(".alert-success")).to_contain_text("on its way to seller@harbor-lane.example")
    expect(page.locator("#waiting-on-client")).to_be_visible()
    request = db.session.scalar(db.select(DocumentRequest))
    item_id = request.items[0].id

    # The client opens the link from the email on a phone and sends a file.
    phone_context = _chromium.new_context(base_url=live_server, viewport=PHONE)
    phone = phone_context.new_page()
    try:
        portal = portal_path_from_the_outbox("seller@harbor-lane.example")
        phone.goto(portal)
        item = phone.locator(f"#item-{item_id}")
        expect(item).to_contain_text("Supplier invoices")
        send_file(phone, item, "invoice.pdf")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing off screen

        # The consultant sends it back, first forgetting the reason.
        page.reload()
        entry = page.locator(f"#request-item-{item_id}")
        expect(entry).to_contain_text("Sent by the client")
        expect(entry.get_by_role("link", name="invoice.pdf")).to_be_visible()
        entry.get_by_role("button", name="Send back").click()
        entry = page.locator(f"#request-item-{item_id}")
        expect(entry.locator(".invalid-feedback")).to_contain_text("Tell the client what is wrong")
        entry.locator(f"#reason-{item_id}").fill(REASON)
        entry.get_by_role("button", name="Send back").click()
        expect(page.locator(".alert-success")).to_contain_text("Sent back to the client: Supplier invoices")
        expect(page.locator(f"#request-item-{item_id}")).to_contain_text(REASON)

        # The client reads why and sends again.
        phone.goto(portal)
        item = phone.locator(f"#item-{item_id}")
        expect(item).to_contain_text(REASON)
        send_file(phone, item, "invoice-whole-page.pdf")

        # The consultant accepts: the request is fulfilled, its deadline met, the wait over.
        page.reload()
        entry = page.locator(f"#request-item-{item_id}")
        expect(entry.get_by_role("link", name="invoice-whole-page.pdf")).to_be_visible()
        entry.get_by_role("button", name="Accept").click()
        expect(page.locator(".alert-success")).to_contain_text("Accepted: Supplier invoices.")
        expect(page.locator("#waiting-on-client")).to_have_count(0)
        expect(page.locator("#request-count")).to_have_text("0 open")
        expect(page.locator(f"#request-{request.id}")).to_have_attribute("data-request-status", "fulfilled")
        expect(page.locator(f"#deadline-{request.deadline_id}")).to_have_attribute("data-deadline-status", "met")
        db.session.expire_all()
        assert db.session.get(Deadline, request.deadline_id).status == "met"

        # The consultant shares the POA's first version; the client approves it.
        page.get_by_role("button", name="Start the POA").click()
        page.get_by_role("button", name="Share with the client").click()
        expect(page.locator("#share-status")).to_contain_text("Waiting for the client")
        phone.goto(portal)
        phone.get_by_role("button", name="Approve version 1").click()
        expect(phone.get_by_text("Thank you: you approved the plan.")).to_be_visible()
        page.reload()
        expect(page.locator("#share-status")).to_contain_text("Approved")
        expect(page.locator("#share-status")).to_contain_text("Approved by the client on")
    finally:
        phone_context.close()
