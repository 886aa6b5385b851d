"""A document request and the case's clocks: agency_sla clocks pause while any request is
open and resume when the last one closes; the request's own deadline is met when fulfilled;
a case that ends takes its open requests (and the client's reminders) with it."""
from datetime import timedelta

import pytest

from caseapp.core.errors import Conflict
from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, Deadline, DocumentRequest
from caseapp.services.appeals import workflow
from caseapp.services.cases import records
from caseapp.services.portal import client, requests
from tests.services.portal.conftest import NOW, ask, pdf, token_of


def sla(case):
    db.session.expire_all()
    return db.session.query(Deadline).filter_by(case_id=case.id, kind="agency_sla").one()


def fulfil(world, opened, now):
    token = token_of(opened)
    for item in opened.request.items:
        if item.kind == "answer":
            client.answer(token, item.id, "Acme Ltd, since 2019", now=now)
        else:
            client.upload(token, item.id, [pdf(extra=str(item.id).encode())], now=now)
        requests.decide_item(world.consultant_a, item.id, "accepted", now=now)


def test_two_open_requests_fulfilling_one_keeps_the_clock_paused_cancelling_the_last_resumes(world, case):
    due_before = sla(case).due_at
    first = ask(world, case)
    second = ask(world, case, now=NOW + timedelta(hours=1))
    assert sla(case).paused_at == NOW
    fulfil(world, first, NOW + timedelta(hours=2))
    assert db.session.get(DocumentRequest, first.request.id).status == "fulfilled"
    assert sla(case).paused_at == NOW, "a second request is still open: the clock must stay paused"
    assert db.session.get(Case, case.id).waiting_on_client_since == NOW
    requests.cancel_request(world.consultant_a, second.request.id, now=NOW + timedelta(hours=3))
    clock = sla(case)
    assert clock.paused_at is None and clock.status == "open"
    # it ran again with what was left when it paused: three hours later than before
    assert clock.due_at - due_before == timedelta(hours=3)
    assert db.session.get(Case, case.id).waiting_on_client_since is None
    with pytest.raises(Conflict):
        requests.cancel_request(world.consultant_a, second.request.id, now=NOW + timedelta(hours=4))


def test_the_request_deadline_is_met_when_every_item_is_accepted(world, case):
    opened = ask(world, case)
    fulfil(world, opened, NOW + timedelta(hours=2))
    deadline = db.session.get(Deadline, opened.request.deadline_id)
    assert deadline.kind == "document_request" and deadline.status == "met"
    assert deadline.met_at == NOW + timedelta(hours=2)
    kinds = [e.kind for e in db.session.query(CaseEvent).filter_by(case_id=case.id)]
    assert "document_request_fulfilled" in kinds


@pytest.mark.parametrize("end", ["closed", "reinstated"])
def test_a_case_that_ends_cancels_its_open_requests_and_their_reminders(world, case, end):
    opened = ask(world, case)
    other = ask(world, case)
    assert opened.request.next_client_reminder_at is not None
    locked = records.get_case(world.consultant_a, case.id, for_update=True)
    by = workflow.AMAZON if end == "reinstated" else workflow.PERSON
    workflow.set_status(world.consultant_a, locked, end, by=by, now=NOW + timedelta(hours=1))
    db.session.commit()
    db.session.expire_all()
    for request_id in (opened.request.id, other.request.id):
        request = db.session.get(DocumentRequest, request_id)
        assert request.status == "cancelled" and request.next_client_reminder_at is None
        assert db.session.get(Deadline, request.deadline_id).status == "cancelled"
    assert db.session.get(Case, case.id).waiting_on_client_since is None
    from caseapp.services.portal import reminders
    assert reminders.dispatch_due(opened.request.due_at + timedelta(days=2)) == 0
    with pytest.raises(Conflict):
        client.upload(token_of(opened), opened.request.items[0].id, [pdf()], now=NOW + timedelta(hours=2))
    with pytest.raises(Conflict):
        ask(world, case, now=NOW + timedelta(hours=2))
