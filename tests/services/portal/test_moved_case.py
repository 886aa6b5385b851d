"""A case moved to another client, and files the case holds already: the new client's portal
shows nothing that was asked of or shared with the old one, and a file the client sends that
the case already holds still answers the item it was sent for."""
from datetime import timedelta

import pytest

from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.extensions import db
from caseapp.models import Case, DocumentRequest, DocumentRequestItem, Evidence, OutboxMessage, PoaShare, PortalLink
from caseapp.services.evidence import files as evidence
from caseapp.services.cases import records
from caseapp.services.poa import start_from_starter
from caseapp.services.portal import client, links, reminders, requests, sharing
from tests.conftest import make_client
from tests.services.portal.conftest import NOW, ask, pdf, token_of


@pytest.fixture
def other(world):
    return make_client(world.consultant_a, name="Right Seller", seller_id="C1C1C1C1C1C1C1",
                       contact_email="right@example.com")


def test_a_case_with_an_open_request_is_not_moved_and_says_why(world, case, other):
    opened = ask(world, case)
    with pytest.raises(ValidationFailed) as refused:
        records.update_case(world.consultant_a, case.id, {"client_id": other.id, "title": "Renamed"})
    assert "cancel it" in refused.value.fields["client_id"]
    db.session.expire_all()
    moved = db.session.get(Case, case.id)
    assert moved.client_id == world.client_a.id and moved.title == case.title  # nothing half-saved
    assert client.page(token_of(opened), now=NOW).requests[0].request.id == opened.request.id


def test_the_new_clients_portal_shows_nothing_of_the_old_clients(world, case, other):
    opened = ask(world, case, message="For the old client only")
    token, (invoice, supplier) = token_of(opened), opened.request.items
    client.upload(token, invoice.id, [pdf()], now=NOW)
    client.answer(token, supplier.id, "Old Supplier Ltd", now=NOW)
    requests.decide_item(world.consultant_a, invoice.id, "accepted", now=NOW)
    requests.decide_item(world.consultant_a, supplier.id, "accepted", now=NOW)  # fulfilled: shown 14 days
    draft = start_from_starter(world.consultant_a, case.id)
    approved = sharing.share(world.consultant_a, draft.id, now=NOW)
    client.answer_poa(token, approved.id, "approve", "", now=NOW)
    assert db.session.get(DocumentRequest, opened.request.id).status == "fulfilled"

    later = NOW + timedelta(hours=1)
    records.update_case(world.consultant_a, case.id, {"client_id": other.id})
    mine = ask(world, case, now=later, items=[{"title": "Licence", "instructions": "From the brand", "category": "supplier_letter"}])
    new_token = token_of(mine)
    view = client.page(new_token, now=later)
    assert view.client_name == "Right Seller"
    assert [r.request.id for r in view.requests] == [mine.request.id]
    assert view.share is None and view.poa_blocks == []
    # ...and nothing of theirs can be reached or changed through the new link.
    with pytest.raises(NotFound):
        client.answer(new_token, supplier.id, "Overwritten", now=later)
    with pytest.raises(NotFound):
        client.upload(new_token, invoice.id, [pdf("x.pdf", b"x")], now=later)
    with pytest.raises(NotFound):
        client.answer_poa(new_token, approved.id, "changes", "Not mine", now=later)
    db.session.expire_all()
    assert db.session.get(DocumentRequestItem, supplier.id).answer == "Old Supplier Ltd"
    assert db.session.get(PoaShare, approved.id).status == "approved"
    # The staff still see the whole history, and the old client's link is not listed as live.
    assert {r.id for r in requests.for_case(case)} == {opened.request.id, mine.request.id}
    assert [link.client_id for link in links.links_of(db.session.get(Case, case.id))] == [other.id]


def test_a_pending_share_is_withdrawn_when_the_case_moves(world, case, other):
    draft = start_from_starter(world.consultant_a, case.id)
    pending = sharing.share(world.consultant_a, draft.id, now=NOW)
    records.update_case(world.consultant_a, case.id, {"client_id": other.id})
    assert db.session.get(PoaShare, pending.id).status == "withdrawn"
    again = sharing.share(world.consultant_a, draft.id, now=NOW + timedelta(hours=1))
    assert again.client_id == other.id


def test_no_reminder_goes_to_a_client_who_was_not_asked(world, case, other):
    """A request of the old client still open (made before requests remembered their client)
    is not chased through the new client: no mail, no link for them."""
    opened = ask(world, case)
    db.session.get(DocumentRequest, opened.request.id).client_id = other.id  # as if asked of another
    db.session.commit()
    mails = db.session.query(OutboxMessage).count()
    links_before = db.session.query(PortalLink).count()
    assert reminders.dispatch_due(opened.request.due_at + timedelta(minutes=1)) == 0
    assert db.session.query(OutboxMessage).count() == mails
    assert db.session.query(PortalLink).count() == links_before
    assert db.session.get(DocumentRequest, opened.request.id).next_client_reminder_at is None


def test_a_file_the_case_holds_already_answers_the_item(world, case):
    """The consultant's own copy stays theirs (its name never reaches the portal); the
    client's copy of the same bytes answers the item."""
    staff = evidence.upload(world.consultant_a, case.id, pdf("INTERNAL-dossier.pdf"), "invoice", "")
    opened = ask(world, case)
    invoice = opened.request.items[0]
    sent = client.upload(token_of(opened), invoice.id, [pdf("my-invoice.pdf")], now=NOW)
    assert sent.saved == ["my-invoice.pdf"] and sent.refused == []
    assert db.session.get(DocumentRequestItem, invoice.id).status == "uploaded"
    [theirs] = requests.files_by_item([opened.request])[invoice.id]
    assert theirs.id != staff.id and theirs.source == "client" and theirs.sha256 == staff.sha256
    assert db.session.get(Evidence, staff.id).request_item_id is None
    page = client.page(token_of(opened), now=NOW)
    assert [f.filename for f in page.requests[0].items[0].files] == ["my-invoice.pdf"]
    requests.decide_item(world.consultant_a, invoice.id, "accepted", now=NOW)
    assert db.session.get(DocumentRequestItem, invoice.id).status == "accepted"


def test_a_file_mailed_by_the_client_answers_the_item_it_is_sent_for(world, case):
    from caseapp.services.evidence import files

    from caseapp.core.transaction import transaction

    with transaction():
        mailed = files.store(case, pdf("from-mail.pdf"), "invoice", "", None, source="email")
    opened = ask(world, case)
    invoice = opened.request.items[0]
    assert client.upload(token_of(opened), invoice.id, [pdf("again.pdf")], now=NOW).saved == ["from-mail.pdf"]
    assert [f.id for f in requests.files_by_item([opened.request])[invoice.id]] == [mailed.id]


def test_one_file_can_answer_two_items_and_not_the_same_item_twice(world, case):
    opened = ask(world, case, items=[{"title": "Invoice", "instructions": "From 2026", "category": "invoice"},
                                     {"title": "Licence", "instructions": "From the brand", "category": "supplier_letter"}])
    token, (invoice, licence) = token_of(opened), opened.request.items
    assert client.upload(token, invoice.id, [pdf("both.pdf")], now=NOW).saved == ["both.pdf"]
    assert client.upload(token, licence.id, [pdf("both.pdf")], now=NOW).saved == ["both.pdf"]
    again = client.upload(token, licence.id, [pdf("both-again.pdf")], now=NOW)
    assert again.saved == [] and "already" in again.refused[0][1]
    files = requests.files_by_item([opened.request])
    assert len(files[invoice.id]) == len(files[licence.id]) == 1
    assert files[invoice.id][0].sha256 == files[licence.id][0].sha256
    assert {db.session.get(DocumentRequestItem, i.id).status for i in (invoice, licence)} == {"uploaded"}


def test_deleting_the_clients_only_file_asks_for_the_item_again(world, case):
    opened = ask(world, case)
    token, invoice = token_of(opened), opened.request.items[0]
    client.upload(token, invoice.id, [pdf("a.pdf", b"a"), pdf("b.pdf", b"b")], now=NOW)
    first, second = requests.files_by_item([opened.request])[invoice.id]
    evidence.delete(world.admin_a, first.id)
    assert db.session.get(DocumentRequestItem, invoice.id).status == "uploaded"  # one file is left
    request = db.session.get(DocumentRequest, opened.request.id)
    request.next_client_reminder_at = None  # as when every item was in: nothing chased
    db.session.commit()
    evidence.delete(world.admin_a, second.id)
    assert db.session.get(DocumentRequestItem, invoice.id).status == "requested"
    # ...and the client is told again at the next reminder pass.
    assert db.session.get(DocumentRequest, opened.request.id).next_client_reminder_at is not None
    with pytest.raises(Conflict):
        requests.decide_item(world.consultant_a, invoice.id, "accepted", now=NOW)
    assert [i.item.status for i in client.page(token, now=NOW).requests[0].items][0] == "requested"
