"""The client answers a document request by email: the mail's files are offered for the
request's items, and attaching one does what the portal's upload does."""
from __future__ import annotations

from datetime import timedelta

import pytest

from caseapp.core import mailtags
from caseapp.core.errors import Conflict, NotFound
from caseapp.extensions import db
from caseapp.models import CaseEvent, DocumentRequestItem, Evidence, OutboxMessage
from caseapp.services.inbound import client_mail, filing
from caseapp.services.portal import requests
from tests.services.inbound.conftest import mail
from tests.services.portal.conftest import NOW, PDF, ask, new_case, pdf


@pytest.fixture
def case(world):
    world.client_a.contact_email = "seller@example.com"
    db.session.commit()
    return new_case(world)


def client_writes(case, files, message_id="<c1@example.com>", sender="Sam Seller <seller@example.com>",
                  now=NOW + timedelta(hours=1)):
    return filing.receive(mail(to=mailtags.case_address(case.id), sender=sender, subject="The invoices",
                               text="Hello, here are the invoices you asked for.", message_id=message_id,
                               attachments=files), now=now).message


def invoice_item(opened):
    return next(i for i in opened.request.items if i.title == "Invoice")


def test_the_clients_mail_offers_its_files_for_the_open_requests_items(world, case):
    opened = ask(world, case)
    message = client_writes(case, [("invoice-2026.pdf", PDF + b"a", "application/pdf"),
                                   ("letter.pdf", PDF + b"b", "application/pdf")])
    assert message.sender_role == "client" and message.case_id == case.id
    offer = client_mail.offer(world.consultant_a, message.id)
    assert offer.offered and offer.from_client
    assert [f.filename for f in offer.files] == ["invoice-2026.pdf", "letter.pdf"]
    # Only items that ask for files, not the written answer.
    assert [(r.id, i.title) for r, i in offer.items] == [(opened.request.id, "Invoice")]
    assert set(client_mail.offers_for_case(world.consultant_a, case.id)) == {message.id}
    with pytest.raises(NotFound):
        client_mail.offer(world.consultant_b, message.id)


def test_nothing_is_offered_without_an_open_request_or_without_files(world, case):
    message = client_writes(case, [("invoice.pdf", PDF, "application/pdf")])
    assert not client_mail.offer(world.consultant_a, message.id).offered
    assert client_mail.offers_for_case(world.consultant_a, case.id) == {}
    ask(world, case)
    bare = client_writes(case, [], message_id="<c2@example.com>")
    assert not client_mail.offer(world.consultant_a, bare.id).offered


def test_attaching_a_file_does_what_the_portal_upload_does(world, case):
    opened = ask(world, case)
    item = invoice_item(opened)
    reminder_before = db.session.get(type(opened.request), opened.request.id).next_client_reminder_at
    message = client_writes(case, [("invoice-2026.pdf", PDF + b"a", "application/pdf")])
    [row] = client_mail.offer(world.consultant_a, message.id).files
    assert row.category == "customer_correspondence" and row.request_item_id is None
    later = NOW + timedelta(hours=2)
    attached = client_mail.attach_to_item(world.consultant_a, row.id, item.id, now=later)
    assert attached.request_item_id == item.id and attached.category == "invoice"

    db.session.expire_all()
    item = db.session.get(DocumentRequestItem, item.id)
    assert item.status == "uploaded" and item.updated_at == later
    request = db.session.get(type(opened.request), opened.request.id)
    assert request.status == "open"  # the consultant still accepts or sends it back
    # Re-planned: the written answer is still missing, so a reminder is still planned,
    # and the files of the item are what requests.files_by_item shows on the case page.
    assert request.next_client_reminder_at is not None and reminder_before is not None
    assert [e.filename for e in requests.files_by_item([request])[item.id]] == ["invoice-2026.pdf"]
    [event] = db.session.scalars(db.select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                            CaseEvent.kind == "email_file_attached"))
    assert event.summary == "Attached from the email of seller@example.com to Invoice: invoice-2026.pdf"
    assert event.actor_id == world.consultant_a.id
    assert event.data["inbound_id"] == message.id and event.data["item_id"] == item.id

    # Then the consultant decides as after a portal upload.
    requests.decide_item(world.consultant_a, item.id, "accepted", now=later)
    assert db.session.get(DocumentRequestItem, item.id).status == "accepted"


def test_the_last_missing_file_stops_the_clients_reminders(world, case):
    opened = ask(world, case, items=[{"title": "Invoice", "instructions": "2026", "category": "invoice"}])
    message = client_writes(case, [("invoice.pdf", PDF, "application/pdf")])
    [row] = client_mail.offer(world.consultant_a, message.id).files
    client_mail.attach_to_item(world.consultant_a, row.id, invoice_item(opened).id, now=NOW + timedelta(hours=2))
    db.session.expire_all()
    assert db.session.get(type(opened.request), opened.request.id).next_client_reminder_at is None


def test_another_cases_or_agencys_item_is_not_found(world, case):
    ask(world, case)
    message = client_writes(case, [("invoice.pdf", PDF, "application/pdf")])
    [row] = client_mail.offer(world.consultant_a, message.id).files
    other_case = new_case(world, title="Second case")
    other = ask(world, other_case)
    with pytest.raises(NotFound):
        client_mail.attach_to_item(world.consultant_a, row.id, invoice_item(other).id)
    with pytest.raises(NotFound):
        client_mail.attach_to_item(world.consultant_a, row.id, 999_999)
    with pytest.raises(NotFound):  # another agency's person sees no such file
        client_mail.attach_to_item(world.consultant_b, row.id, invoice_item(other).id)
    assert db.session.get(Evidence, row.id).request_item_id is None


def test_a_closed_request_an_accepted_item_or_a_file_attached_already_is_a_conflict(world, case):
    opened = ask(world, case)
    item = invoice_item(opened)
    message = client_writes(case, [("a.pdf", PDF + b"a", "application/pdf"), ("b.pdf", PDF + b"b", "application/pdf"),
                                   ("c.pdf", PDF + b"c", "application/pdf")])
    first, second, third = client_mail.offer(world.consultant_a, message.id).files
    client_mail.attach_to_item(world.consultant_a, first.id, item.id)
    with pytest.raises(Conflict, match="attached to Invoice already"):
        client_mail.attach_to_item(world.consultant_a, first.id, item.id)
    answer = next(i for i in opened.request.items if i.kind == "answer")
    with pytest.raises(Conflict, match="written answer"):
        client_mail.attach_to_item(world.consultant_a, second.id, answer.id)
    requests.decide_item(world.consultant_a, item.id, "accepted")
    with pytest.raises(Conflict, match="accepted already"):
        client_mail.attach_to_item(world.consultant_a, second.id, item.id)
    requests.cancel_request(world.consultant_a, opened.request.id)
    with pytest.raises(Conflict, match="cancelled"):
        client_mail.attach_to_item(world.consultant_a, third.id, item.id)
    assert db.session.get(Evidence, third.id).request_item_id is None


def test_a_file_that_did_not_come_by_email_is_not_attached_here(world, case):
    opened = ask(world, case)
    from caseapp.services.evidence import files as evidence_files
    row = evidence_files.upload(world.consultant_a, case.id, pdf("mine.pdf"), "invoice")
    with pytest.raises(Conflict, match="did not come by email"):
        client_mail.attach_to_item(world.consultant_a, row.id, invoice_item(opened).id)


def test_a_colleagues_forward_of_the_clients_files_may_be_attached_too(world, case):
    opened = ask(world, case)
    message = client_writes(case, [("invoice.pdf", PDF, "application/pdf")], message_id="<fw@x>",
                            sender=f"Carl <{world.consultant_a.email}>")
    offer = client_mail.offer(world.consultant_a, message.id)
    assert offer.offered and not offer.from_client and message.sender_role == "staff"
    client_mail.attach_to_item(world.consultant_a, offer.files[0].id, invoice_item(opened).id)


def test_attaching_sends_the_client_nothing(world, case):
    opened = ask(world, case)
    sent_before = db.session.scalar(db.select(db.func.count(OutboxMessage.id)))
    message = client_writes(case, [("invoice.pdf", PDF, "application/pdf")])
    [row] = client_mail.offer(world.consultant_a, message.id).files
    client_mail.attach_to_item(world.consultant_a, row.id, invoice_item(opened).id)
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) == sent_before
