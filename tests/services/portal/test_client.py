"""What the client can do through the link, and what it cannot: nothing beyond the link's
case; accepted items and closed requests take nothing more; what is typed is checked; a POA
approval is of exactly one version."""
from datetime import timedelta

import pytest

from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.extensions import db
from caseapp.models import CaseEvent, DocumentRequestItem, Evidence, OutboxMessage, PoaShare
from caseapp.services.poa import save_version, start_from_starter
from caseapp.services.portal import LinkClosed, client, links, requests, sharing
from tests.services.portal.conftest import NOW, ask, new_case, pdf, token_of


def poa(version_text="We checked every supplier."):
    return {"subject": "Plan of Action", "introduction": "Hello Amazon.", "root_cause": version_text,
            "corrective_actions": ["We removed the listings."], "preventive_measures": ["Weekly checks."],
            "closure": "Thank you."}


def test_an_accepted_item_and_a_closed_request_take_nothing_more(world, case):
    opened = ask(world, case)
    token, (invoice, supplier) = token_of(opened), opened.request.items
    client.upload(token, invoice.id, [pdf()], now=NOW)
    requests.decide_item(world.consultant_a, invoice.id, "accepted", now=NOW)
    with pytest.raises(Conflict):
        client.upload(token, invoice.id, [pdf("more.pdf", b"more")], now=NOW)
    with pytest.raises(Conflict):
        client.answer(token, invoice.id, "here", now=NOW)
    assert db.session.query(Evidence).filter_by(request_item_id=invoice.id).count() == 1
    requests.cancel_request(world.consultant_a, opened.request.id, now=NOW)
    with pytest.raises(Conflict):
        client.answer(token, supplier.id, "Acme", now=NOW)
    assert db.session.get(DocumentRequestItem, supplier.id).answer == ""


@pytest.mark.parametrize("text, why", [
    (None, "Write your answer first."), ("   \r\n ", "Write your answer first."),
    (["a list"], "Must be text."), (12, "Must be text."), ("x" * 5001, "At most 5,000 characters")])
def test_an_answer_is_checked_and_nothing_is_kept_of_a_bad_one(world, case, text, why):
    opened = ask(world, case)
    supplier = opened.request.items[1]
    with pytest.raises(ValidationFailed) as bad:
        client.answer(token_of(opened), supplier.id, text, now=NOW)
    assert why in bad.value.fields["answer"]
    db.session.expire_all()
    item = db.session.get(DocumentRequestItem, supplier.id)
    assert item.status == "requested" and item.answer == ""
    assert db.session.query(CaseEvent).filter_by(case_id=case.id, kind="client_answer").count() == 0


@pytest.mark.parametrize("text, why", [
    (None, "Write your message first."), ("  ", "Write your message first."),
    ({"a": 1}, "Must be text."), ("x" * 5001, "At most 5,000 characters")])
def test_a_message_is_checked(world, case, text, why):
    opened = ask(world, case)
    with pytest.raises(ValidationFailed) as bad:
        client.message(token_of(opened), text, now=NOW)
    assert why in bad.value.fields["message"]
    assert db.session.query(CaseEvent).filter_by(case_id=case.id, kind="client_message").count() == 0


def test_a_file_sent_again_after_a_send_back_is_refused_with_the_reason(world, case):
    opened = ask(world, case)
    token, invoice = token_of(opened), opened.request.items[0]
    client.upload(token, invoice.id, [pdf()], now=NOW)
    requests.decide_item(world.consultant_a, invoice.id, "rejected", "The supplier's address is missing",
                         now=NOW)
    again = client.upload(token, invoice.id, [pdf("same-bytes.pdf")], now=NOW)
    assert again.saved == []
    ((name, why),) = again.refused
    assert name == "same-bytes.pdf" and "sent it back" in why and "address is missing" in why
    assert "nothing more is needed" not in why
    assert db.session.get(DocumentRequestItem, invoice.id).status == "rejected"


def test_a_link_revoked_between_two_files_keeps_and_tells_the_first(world, case, monkeypatch):
    opened = ask(world, case)
    token, invoice = token_of(opened), opened.request.items[0]
    real, calls = links.resolve, []

    def resolve(token_, now=None):
        calls.append(1)
        if len(calls) == 3:  # the check before the files, the first file, then the second file
            raise LinkClosed(opened.link, "revoked")
        return real(token_, now)

    monkeypatch.setattr(links, "resolve", resolve)
    result = client.upload(token, invoice.id, [pdf("one.pdf", b"1"), pdf("two.pdf", b"2")], now=NOW)
    assert result.saved == ["one.pdf"]
    assert [name for name, _ in result.refused] == ["two.pdf"]
    (event,) = db.session.query(CaseEvent).filter_by(case_id=case.id, kind="client_upload").all()
    assert event.data["files"] == ["one.pdf"]
    assert db.session.query(OutboxMessage).filter_by(kind="portal_notice").count() == 1


def test_a_share_of_another_case_is_not_found(world, case):
    opened = ask(world, case)
    other = new_case(world, title="Other case")
    other_draft = start_from_starter(world.consultant_a, other.id)
    other_share = sharing.share(world.consultant_a, other_draft.id, now=NOW)
    with pytest.raises(NotFound):
        client.answer_poa(token_of(opened), other_share.id, "approve", "", now=NOW)
    assert db.session.get(PoaShare, other_share.id).status == "pending"
    assert client.page(token_of(opened), now=NOW).share is None


def test_a_withdrawn_share_cannot_be_answered(world, case):
    opened = ask(world, case)
    v1 = start_from_starter(world.consultant_a, case.id)
    first = sharing.share(world.consultant_a, v1.id, now=NOW)
    v2 = save_version(world.consultant_a, case.id, poa("Version two."))
    second = sharing.share(world.consultant_a, v2.id, now=NOW + timedelta(hours=1))
    with pytest.raises(Conflict) as stale:
        client.answer_poa(token_of(opened), first.id, "approve", "", now=NOW + timedelta(hours=2))
    assert "newer version" in str(stale.value)
    assert db.session.get(PoaShare, first.id).status == "withdrawn"
    assert client.page(token_of(opened), now=NOW + timedelta(hours=2)).share.id == second.id
    with pytest.raises(ValidationFailed) as bad:
        client.answer_poa(token_of(opened), second.id, "maybe", ["x"], now=NOW)
    assert set(bad.value.fields) == {"decision", "comment"}


def test_approving_version_2_then_editing_leaves_the_approval_on_version_2_only(world, case):
    opened = ask(world, case)
    start_from_starter(world.consultant_a, case.id)
    v2 = save_version(world.consultant_a, case.id, poa("Version two."))
    assert v2.version == 2
    share = sharing.share(world.consultant_a, v2.id, now=NOW)
    client.answer_poa(token_of(opened), share.id, "approve", "", now=NOW + timedelta(hours=1))
    with pytest.raises(Conflict):
        client.answer_poa(token_of(opened), share.id, "changes", "Changed my mind", now=NOW)
    v3 = save_version(world.consultant_a, case.id, poa("Version three, edited after the approval."))
    assert v3.version == 3
    from caseapp.models import Case
    the_case = db.session.get(Case, case.id)
    assert sharing.for_draft(the_case, v2).status == "approved"
    assert sharing.for_draft(the_case, v3) is None
    shared_v3 = sharing.share(world.consultant_a, v3.id, now=NOW + timedelta(hours=2))
    assert sharing.for_draft(the_case, v3).status == "pending"
    assert db.session.get(PoaShare, share.id).status == "approved"  # an answer is never withdrawn
    view = client.page(token_of(opened), now=NOW + timedelta(hours=3))
    assert view.share.id == shared_v3.id and view.share.version == 3
    assert any("Version three" in str(block) for block in view.poa_blocks)


def test_a_file_item_takes_no_answer_and_an_answer_item_no_file(world, case):
    opened = ask(world, case)
    token, (invoice, supplier) = token_of(opened), opened.request.items
    with pytest.raises(Conflict, match="asks for files"):
        client.answer(token, invoice.id, "It's in the post", now=NOW)
    with pytest.raises(Conflict, match="asks for a written answer"):
        client.upload(token, supplier.id, [pdf()], now=NOW)
    assert {i.status for i in db.session.query(DocumentRequestItem).filter_by(request_id=opened.request.id)} \
        == {"requested"}
    assert db.session.query(Evidence).filter_by(request_item_id=supplier.id).count() == 0
