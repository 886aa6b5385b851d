"""Document requests end to end in the services: the consultant asks, the client sends through
the portal link, the consultant sends one back and accepts, the request is fulfilled; the
clocks, the mail and the timeline follow."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.datastructures import FileStorage

from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.extensions import db
from caseapp.models import AuditEvent, Case, CaseEvent, Deadline, Evidence, OutboxMessage
from caseapp.services.deadlines import presets
from caseapp.services.mail import links as mail_links
from caseapp.services.portal import LinkClosed, client, links, requests

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(name="invoice.pdf", extra=b""):
    return FileStorage(io.BytesIO(PDF + extra), filename=name, content_type="application/pdf")


@pytest.fixture
def case(world):
    world.client_a.contact_email = "seller@example.com"
    db.session.commit()
    data = {"client_id": world.client_a.id, "title": "Counterfeit complaint", "kind": "account_suspension",
            "reason": "policy_violation", "asins": ["B07XJ8C8F5"], "opened_at": NOW,
            "assignee_id": world.consultant_a.id}
    return presets.open_case(world.consultant_a, data, now=NOW)


def open_request(world, case, **data):
    data.setdefault("checklist", "authenticity")
    data.setdefault("due_at", (NOW + timedelta(days=5)).isoformat())
    return requests.open_request(world.consultant_a, case.id, data, now=NOW)


def token_of(opened):
    return opened.portal_url.rsplit("/", 1)[1]


def test_a_request_waits_on_the_client_pauses_agency_clocks_and_mails_the_link(world, case):
    opened = open_request(world, case, message="Hi, we need these.")
    case = db.session.get(Case, case.id)
    assert case.waiting_on_client_since == NOW
    kinds = {d.kind: d for d in db.session.query(Deadline).filter_by(case_id=case.id)}
    assert kinds["document_request"].due_at == NOW + timedelta(days=5)
    assert kinds["agency_sla"].paused_at == NOW
    assert [i.title for i in opened.request.items][:1] == ["Supplier invoices"]
    mail = db.session.query(OutboxMessage).filter_by(kind="portal").one()
    assert mail.recipient == "seller@example.com"
    assert mail_links.PLACEHOLDER in mail.body_text and token_of(opened) not in mail.body_text
    assert links.build_for_mail(mail.link_ref, NOW) == opened.portal_url


def test_the_client_sends_the_consultant_rejects_then_accepts_and_the_request_is_fulfilled(world, case):
    opened = open_request(world, case, checklist=None,
                          items=[{"title": "Invoice", "instructions": "From 2026", "category": "invoice"}])
    token, item = token_of(opened), opened.request.items[0]
    result = client.upload(token, item.id, [pdf()], now=NOW)
    assert result.saved == ["invoice.pdf"] and not result.refused
    row = db.session.query(Evidence).filter_by(request_item_id=item.id).one()
    assert row.source == "client" and row.category == "invoice" and row.uploaded_by_id is None
    notice = db.session.query(OutboxMessage).filter_by(kind="portal_notice").one()
    assert notice.recipient == world.consultant_a.email
    with pytest.raises(ValidationFailed) as no_reason:
        requests.decide_item(world.consultant_a, item.id, "rejected", "", now=NOW)
    assert "reason" in no_reason.value.fields
    requests.decide_item(world.consultant_a, item.id, "rejected", "This is cropped.", now=NOW)
    assert db.session.query(OutboxMessage).filter_by(kind="portal").count() == 2
    assert client.upload(token, item.id, [pdf("again.pdf", b"2")], now=NOW).saved == ["again.pdf"]
    requests.decide_item(world.consultant_a, item.id, "accepted", now=NOW)
    request = db.session.get(type(opened.request), opened.request.id)
    assert request.status == "fulfilled"
    case = db.session.get(Case, case.id)
    assert case.waiting_on_client_since is None
    kinds = {d.kind: d for d in db.session.query(Deadline).filter_by(case_id=case.id)}
    assert kinds["document_request"].status == "met" and kinds["agency_sla"].paused_at is None
    portal_audit = db.session.query(AuditEvent).filter_by(kind="portal").all()
    assert any(f"portal link {opened.link.id}" in a.target for a in portal_audit)
    with pytest.raises(Conflict):
        client.upload(token, item.id, [pdf("late.pdf", b"3")], now=NOW)


def test_a_link_reaches_nothing_of_another_case(world, case):
    opened = open_request(world, case)
    other = presets.open_case(world.consultant_a, {"client_id": world.client_a.id, "title": "Other",
                                                   "kind": "other", "reason": "other", "opened_at": NOW},
                              now=NOW)
    second = open_request(world, other)
    with pytest.raises(NotFound):
        client.upload(token_of(opened), second.request.items[0].id, [pdf()], now=NOW)
    with pytest.raises(NotFound):
        client.page("not-a-token")


def test_a_revoked_link_is_closed_and_its_queued_mail_is_cancelled(world, case):
    opened = open_request(world, case)
    links.revoke(world.consultant_a, case.id, now=NOW)
    with pytest.raises(LinkClosed) as closed:
        client.page(token_of(opened), now=NOW)
    assert closed.value.state == "revoked"
    mail = db.session.query(OutboxMessage).filter_by(kind="portal").one()
    assert links.build_for_mail(mail.link_ref, NOW) is None


def test_the_client_is_reminded_before_the_due_date_and_daily_when_overdue_not_in_quiet_hours(world, case):
    from caseapp.services.portal import reminders
    opened = open_request(world, case)
    request = opened.request
    assert request.next_client_reminder_at == request.due_at - timedelta(hours=48)
    assert reminders.dispatch_due(request.due_at - timedelta(hours=49)) == 0
    assert reminders.dispatch_due(request.due_at - timedelta(hours=47)) == 1
    assert reminders.dispatch_due(request.due_at - timedelta(hours=46)) == 0  # once
    assert reminders.dispatch_due(request.due_at + timedelta(minutes=1)) == 1
    assert reminders.dispatch_due(request.due_at + timedelta(hours=2)) == 0  # at most one a day
    assert reminders.dispatch_due(request.due_at + timedelta(days=1, minutes=2)) == 1
    sent = db.session.query(OutboxMessage).filter(OutboxMessage.idempotency_key.like("portal:reminder:%")).all()
    assert len(sent) == 3
    # 15:00 in Berlin, outside the agency's client quiet hours: each goes when it was queued
    assert sorted(m.send_after for m in sent) == [request.due_at - timedelta(hours=47),
                                                   request.due_at + timedelta(minutes=1),
                                                   request.due_at + timedelta(days=1, minutes=2)]


def test_the_client_approves_the_shared_poa_version_only(world, case):
    from caseapp.services.poa import start_from_starter
    from caseapp.services.portal import sharing
    opened = open_request(world, case)
    draft = start_from_starter(world.consultant_a, case.id)
    share = sharing.share(world.consultant_a, draft.id, now=NOW)
    view = client.page(token_of(opened), now=NOW)
    assert view.share.id == share.id and view.poa_blocks
    with pytest.raises(ValidationFailed):
        client.answer_poa(token_of(opened), share.id, "changes", "", now=NOW)
    client.answer_poa(token_of(opened), share.id, "approve", "", now=NOW)
    assert db.session.get(type(share), share.id).status == "approved"
    assert db.session.query(CaseEvent).filter_by(case_id=case.id, kind="poa_approved").count() == 1
