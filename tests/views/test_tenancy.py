"""Every route that takes an object id answers 404 to another agency, generated from the URL map.

A route added later with an id argument is covered without anyone remembering; a route
with an argument this test does not know fails until the argument is added below.
"""
import io
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage

from caseapp.core.transaction import transaction
from caseapp.extensions import db
from caseapp.models import (AmazonResponse, ApiToken, Case, Client, Deadline, Evidence, Invitation, Note, OutboxMessage,
                            PoaDraft, Reminder, Submission, User, utcnow)
from caseapp.services.mail import outbox
from caseapp.services.accounts import tokens
from caseapp.services.cases import records
from caseapp.services.evidence import files
from caseapp.services.accounts import invitations
from caseapp.services.poa import drafts as poa
from caseapp.services.appeals import submissions
from caseapp.services.deadlines import clocks
from tests.conftest import make_case


def _note(w):
    existing = db.session.scalar(db.select(Note.id).where(Note.case_id == w.case_a.id))
    return existing or records.add_note(w.consultant_a, w.case_a.id, "Agency A's note").id


def _draft(w):
    existing = db.session.scalar(db.select(PoaDraft.id).where(PoaDraft.case_id == w.case_a.id))
    return existing or poa.start_from_starter(w.consultant_a, w.case_a.id).id


def _submission(w):
    existing = db.session.scalar(db.select(Submission.id).where(Submission.case_id == w.case_a.id))
    return existing or submissions.record_submission(w.consultant_a, w.case_a.id, {}).id


def _response(w):
    existing = db.session.scalar(db.select(AmazonResponse.id))
    if existing:
        return existing
    other = make_case(w.consultant_a, w.client_a, title="Another case of agency A")  # case_a keeps its follow-up
    submission = submissions.record_submission(w.consultant_a, other.id, {})
    return submissions.record_response(w.consultant_a, submission.id, {"outcome": "other"}).id


def _reminder(w):
    return db.session.scalar(db.select(Reminder.id).where(Reminder.submission_id == _submission(w)))


def _evidence(w):
    existing = db.session.scalar(db.select(Evidence.id).where(Evidence.case_id == w.case_a.id))
    upload = FileStorage(io.BytesIO(b"%PDF-1.4 invoice of agency A"), "invoice.pdf")
    return existing or files.upload(w.consultant_a, w.case_a.id, upload, "invoice").id


def _token(w):
    existing = db.session.scalar(db.select(ApiToken.id).where(ApiToken.user_id == w.consultant_a.id))
    return existing or tokens.create(w.consultant_a, "agency A's script")[0].id


def _invitation(w):
    existing = db.session.scalar(db.select(Invitation.id).where(Invitation.agency_id == w.agency_a.id))
    return existing or invitations.invite(w.admin_a, "invited@agency-a.example", "Invited", "consultant").id


def _outbox_message(w):
    existing = db.session.scalar(db.select(OutboxMessage.id).where(OutboxMessage.agency_id == w.agency_a.id))
    if existing:
        return existing
    with transaction():
        message = outbox.queue("digest", w.consultant_a.email, "Agency A's digest", "text", "<p>html</p>",
                               key="digest:tenancy", agency_id=w.agency_a.id, send_after=utcnow())
    return message.id


def _deadline(w):
    existing = db.session.scalar(db.select(Deadline.id).where(Deadline.agency_id == w.agency_a.id,
                                                              Deadline.kind == "custom"))
    return existing or clocks.add(w.consultant_a, w.case_a.id,
                                  {"title": "Agency A's deadline", "due_at": utcnow() + timedelta(days=3)}).id


# Which object of agency A each URL argument names.
ID_ARGUMENTS = {
    "case_id": lambda w: w.case_a.id,
    "client_id": lambda w: w.client_a.id,
    "note_id": _note,
    "user_id": lambda w: w.consultant_a.id,
    "draft_id": _draft,
    "submission_id": _submission,
    "reminder_id": _reminder,
    "response_id": _response,
    "evidence_id": _evidence,
    "token_id": _token,
    "invitation_id": _invitation,
    "message_id": _outbox_message,
    "deadline_id": _deadline,
}


# ---- document requests (issue 16, the case page's card): agency A's request and its item
def _document_request(w):
    from caseapp.models import DocumentRequest
    from caseapp.services.portal import requests as document_requests

    existing = db.session.scalar(db.select(DocumentRequest.id).where(DocumentRequest.agency_id == w.agency_a.id))
    return existing or document_requests.open_request(w.consultant_a, w.case_a.id, {"checklist": "identity"}).request.id


def _request_item(w):
    from caseapp.models import DocumentRequestItem

    return db.session.scalar(db.select(DocumentRequestItem.id).where(
        DocumentRequestItem.request_id == _document_request(w)).limit(1))


ID_ARGUMENTS.update({"request_id": _document_request, "item_id": _request_item})


# ---- email in (issue 17): Amazon's mail on case A, with its proposal
def _inbound(w):
    from flask import current_app

    from caseapp.core import mailtags
    from caseapp.models import InboundMessage
    from caseapp.services.inbound import filing
    from tests.services.inbound.conftest import mail

    existing = db.session.scalar(db.select(InboundMessage.id).where(InboundMessage.agency_id == w.agency_a.id))
    if existing:
        return existing
    current_app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    try:
        raw = mail(to=mailtags.case_address(w.case_a.id), message_id="<tenancy@amazon.com>",
                   text="Your account has been reinstated.")
        return filing.receive(raw).message.id
    finally:
        current_app.config["INBOUND_ADDRESS"] = ""


ID_ARGUMENTS["inbound_id"] = _inbound


# ---- saved views (issue 18): agency A's shared view, which is still none of agency B's
def _saved_view(w):
    from caseapp.models import SavedView
    from caseapp.services.cases import saved_views

    existing = db.session.scalar(db.select(SavedView.id).where(SavedView.agency_id == w.agency_a.id))
    return existing or saved_views.save(w.consultant_a, "Agency A's open cases", {"status": "open"}, shared=True).id


ID_ARGUMENTS["view_id"] = _saved_view


# ---- bulk actions (issue 18): a bulk action of agency A's consultant (it changed nothing:
# case A already was theirs), whose result page and undo agency B must not reach
def _bulk(w):
    from caseapp.models import BulkAction
    from caseapp.services.sheets import bulk

    existing = db.session.scalar(db.select(BulkAction.id).where(BulkAction.agency_id == w.agency_a.id))
    return existing or bulk.apply(w.consultant_a, "reassign", str(w.consultant_a.id), case_ids=[w.case_a.id]).bulk.id


ID_ARGUMENTS["bulk_id"] = _bulk
# Arguments that are not object ids, with a value that makes the route do its work.
OTHER_ARGUMENTS = {"active": 0, "fmt": "txt", "token": "forged-token"}
NO_OBJECT_ENDPOINTS = {"static", "bootstrap.static"}
# A body that would change agency A's data if a route forgot the tenancy check.
HARMFUL_FORM = {"status": "drafting", "root_cause": "planted", "outcome": "reinstated", "hours": "24",
                "channel": "email", "name": "Taken over", "title": "Taken over",
                "body": "planted note", "assignee_id": "", "role": "admin", "timezone": "UTC",
                "kind": "other", "reason": "other", "client_id": "1", "marketplace": "US"}


def _routes_with_ids(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NO_OBJECT_ENDPOINTS or not rule.arguments:
            continue
        if rule.endpoint.startswith("portal."):
            continue  # opened by a client's link, not a sign-in: its matrix is in test_portal.py
        unknown = rule.arguments - set(ID_ARGUMENTS) - set(OTHER_ARGUMENTS)
        assert not unknown, f"{rule.rule}: add {unknown} to ID_ARGUMENTS or OTHER_ARGUMENTS"
        if rule.arguments & set(ID_ARGUMENTS):
            yield rule


def test_the_map_has_id_routes_to_check(app):
    assert len(list(_routes_with_ids(app))) >= 10


def test_another_agency_gets_404_on_every_id_route(app, browser, world):
    browser.login(world.admin_b.email)  # an admin: a 404 here is tenancy, not a role refusal
    api_token = tokens.create(world.admin_b, "agency B's script")[1]
    invited_hash = db.session.get(Invitation, _invitation(world)).token_hash  # a resend changes it
    checked = []
    for rule in _routes_with_ids(app):
        values = {arg: ID_ARGUMENTS[arg](world) if arg in ID_ARGUMENTS else OTHER_ARGUMENTS[arg]
                  for arg in rule.arguments}
        url = rule.build(values)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if url.startswith("/api/"):  # the API, with agency B's token
                response = browser.client.open(
                    url, method=method, headers={"Authorization": f"Bearer {api_token}"},
                    json=None if method in ("GET", "DELETE") else HARMFUL_FORM)
            elif method == "GET":
                response = browser.get(url)
            else:
                response = browser.post(url, data=HARMFUL_FORM)
            assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
            assert world.case_a.title not in response.get_data(as_text=True)
            checked.append(f"{method} {url}")
    assert len(checked) >= 12
    db.session.expire_all()
    case = db.session.get(Case, world.case_a.id)
    assert case.status == "submitted" and case.title == "Account suspended"
    assert case.assignee_id == world.consultant_a.id
    assert db.session.get(Client, world.client_a.id).name == "Harbor Lane Home Goods"
    consultant = db.session.get(User, world.consultant_a.id)
    assert consultant.active and consultant.role == "consultant"
    drafts = db.session.scalars(db.select(PoaDraft).where(PoaDraft.case_id == case.id)).all()
    assert [(d.version, d.final_at) for d in drafts] == [(1, None)]
    reminder = db.session.get(Reminder, _reminder(world))
    assert reminder.status == "pending" and reminder.due_at == case.follow_up_due_at
    assert db.session.scalar(db.select(db.func.count()).select_from(
        db.select(Submission.id).where(Submission.case_id == case.id).subquery())) == 1
    assert db.session.get(ApiToken, _token(world)).revoked_at is None
    invitation = db.session.get(Invitation, _invitation(world))
    assert invitation.revoked_at is None and invitation.token_hash == invited_hash
    assert [n.body for n in db.session.scalars(db.select(Note))] == ["Agency A's note"]


@pytest.mark.parametrize("url", ["/cases?assignee=all", "/clients/", "/admin/users",
                                 "/cases?assignee=all&q=Harbor", "/cases?assignee=all&q=B07XJ8C8F5"])
def test_lists_show_nothing_of_another_agency(browser, world, url):
    browser.login(world.admin_b.email)
    page = browser.get(url).get_data(as_text=True)
    for secret in (world.case_a.title, world.client_a.name, world.consultant_a.email):
        assert secret not in page


def test_same_agency_routes_work(browser, world):
    """The control: the routes above answer agency A's own admin."""
    browser.login(world.admin_a.email)
    assert browser.get(f"/cases/{world.case_a.id}").status_code == 200
    assert browser.get(f"/clients/{world.client_a.id}").status_code == 200
    assert browser.get(f"/admin/users/{world.consultant_a.id}").status_code == 200
