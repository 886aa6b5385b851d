"""The case page's reply and submission forms: no default outcome, a confirmation before
Reinstated or Rejected, refused forms shown again as typed; correcting and withdrawing."""
import re
from datetime import datetime, timedelta, timezone
from io import BytesIO

import pytest
import time_machine
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import AmazonResponse, Case, Submission
from caseapp.services.appeals import submissions
from caseapp.services.evidence import files
from tests.conftest import make_user

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def submission(world, clock):
    return submissions.record_submission(world.consultant_a, world.case_a.id,
                                         {"submitted_at": NOW - timedelta(hours=5)})


def status(world) -> str:
    db.session.expire_all()
    return db.session.get(Case, world.case_a.id).status


def test_the_reply_form_has_no_outcome_until_one_is_chosen(browser, world, submission):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    select = re.search(rf'<select[^>]*id="outcome-{submission.id}"[^>]*>(.*?)</select>', page, re.S)
    assert select and 'required' in select.group(0)
    assert select.group(1).startswith('<option value="">Choose…</option>')
    assert "selected" not in select.group(1)
    assert f'<label class="form-label small" for="outcome-{submission.id}">' in page

    # The untouched form, sent: refused beside the field, the pasted reply kept.
    response = browser.post(f"/submissions/{submission.id}/responses",
                            data={"outcome": "", "body": "Dear seller, we need invoices."})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Choose Amazon&#39;s outcome" in page or "Choose Amazon's outcome" in page
    assert re.search(rf'<select autofocus class="form-select form-select-sm is-invalid" id="outcome-{submission.id}"', page)
    assert "Dear seller, we need invoices.</textarea>" in page
    assert f'id="reply-form-{submission.id}"' in page and "<details class=\"mt-1\" open>" in page
    assert status(world) == "submitted"
    assert db.session.scalar(db.select(db.func.count(AmazonResponse.id))) == 0


def test_reinstated_is_recorded_only_once_confirmed(browser, world, submission):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert 'data-confirm="Record Amazon&#39;s reply as Reinstated?' in page  # the browser asks
    # Without JavaScript the server asks, carrying what was typed.
    response = browser.post(f"/submissions/{submission.id}/responses",
                            data={"outcome": "reinstated", "body": "Your account is reinstated."})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Record Amazon&#39;s reply as Reinstated?" in page
    assert '<input type="hidden" name="body" value="Your account is reinstated.">' in page
    assert '<input type="hidden" name="confirmed" value="yes">' in page
    assert status(world) == "submitted"
    response = browser.post(f"/submissions/{submission.id}/responses", data={
        "outcome": "reinstated", "body": "Your account is reinstated.", "confirmed": "yes"})
    assert response.status_code == 302 and status(world) == "reinstated"


def test_a_refused_submission_keeps_every_value_and_lands_on_the_form(browser, world, clock):
    sent = files.upload(world.consultant_a, world.case_a.id, FileStorage(BytesIO(b"%PDF-1.4 a"), "invoice.pdf"))
    kept_back = files.upload(world.consultant_a, world.case_a.id, FileStorage(BytesIO(b"%PDF-1.4 b"), "notes.pdf"))
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "poa_draft_id": "", "channel": "notification_reply", "amazon_reference": "CASE-4711",
        "submitted_at": "2026-12-05T10:00", "evidence_ids": [str(sent.id)]})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    form = page[page.index('id="submission-form"'):]
    assert re.search(r'<input autofocus class="form-control is-invalid" id="submitted_at"[^>]*value="2026-12-05T10:00"', form)
    assert re.search(r'invalid-feedback d-block">This cannot be in the future', form)
    assert 'value="CASE-4711"' in form
    assert '<option selected value="notification_reply">' in form
    assert f'value="{sent.id}" id="send-ev-{sent.id}" checked>' in form
    assert f'value="{kept_back.id}" id="send-ev-{kept_back.id}">' in form
    assert re.search(r"<details open><summary>Record a submission", page)
    assert db.session.scalar(db.select(db.func.count(Submission.id))) == 0


def test_an_error_of_the_whole_form_is_where_the_page_lands(browser, world, clock):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/submissions", data={
        "channel": "email", "amazon_reference": "CASE-1", "evidence_ids": ["999999"]})
    assert response.status_code == 422
    form = response.get_data(as_text=True).split('id="submission-form"', 1)[1]
    assert ('<div class="alert alert-danger py-1 small mb-2" tabindex="-1" autofocus>'
            'Choose evidence files of this case.</div>') in form
    assert 'value="CASE-1"' in form


def test_the_author_withdraws_a_reply_and_the_case_is_waiting_again(browser, world, submission):
    reply = submissions.record_response(world.consultant_a, submission.id, {"outcome": "reinstated"})
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert f'/responses/{reply.id}/withdraw' in page and f'/responses/{reply.id}/edit' in page
    asked = browser.post(f"/responses/{reply.id}/withdraw").get_data(as_text=True)
    assert "Withdraw Amazon&#39;s reply?" in asked and status(world) == "reinstated"
    page = browser.post(f"/responses/{reply.id}/withdraw", data={"confirmed": "yes"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Amazon&#39;s reply withdrawn." in page and "it is now Submitted to Amazon" in page
    assert status(world) == "submitted"
    assert "withdrawn by Carl Consultant: recorded by mistake" in page
    assert '<span class="badge text-bg-secondary ms-1">withdrawn</span>' in page  # the original entry
    assert f'id="reply-form-{submission.id}"' in page  # the reply can be recorded again


def test_correcting_a_reply_on_its_own_page(browser, world, submission):
    reply = submissions.record_response(world.consultant_a, submission.id,
                                        {"outcome": "rejected", "body": "Not accepted"})
    browser.login(world.consultant_a.email)
    page = browser.get(f"/responses/{reply.id}/edit").get_data(as_text=True)
    assert re.search(r'<option data-confirm="[^"]*" selected value="rejected">', page)
    assert "Not accepted</textarea>" in page
    refused = browser.post(f"/responses/{reply.id}/edit", data={
        "outcome": "more_info_requested", "received_at": "2026-12-24T10:00", "body": "Send invoices"})
    assert refused.status_code == 422 and "Send invoices</textarea>" in refused.get_data(as_text=True)
    page = browser.post(f"/responses/{reply.id}/edit", data={
        "outcome": "more_info_requested", "received_at": "2026-11-29T12:30", "body": "Send invoices"},
        follow_redirects=True).get_data(as_text=True)
    assert "Correction saved." in page and status(world) == "more_info_requested"
    assert "outcome Rejected → More information requested" in page


def test_others_get_no_buttons_and_a_403(browser, world, submission):
    colleague = make_user(world.agency_a, "colleague@agency-a.example")
    browser.login(colleague.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert f"/submissions/{submission.id}/withdraw" not in page
    assert browser.post(f"/submissions/{submission.id}/withdraw", data={"confirmed": "yes"}).status_code == 403
    assert browser.get(f"/submissions/{submission.id}/edit").status_code == 403
    assert status(world) == "submitted"


def test_correcting_a_submission_time_on_its_page(browser, world, submission):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/submissions/{submission.id}/edit").get_data(as_text=True)
    assert 'value="2026-11-29T08:00"' in page  # 07:00 UTC in Europe/Berlin
    page = browser.post(f"/submissions/{submission.id}/edit", data={
        "submitted_at": "2026-11-28T08:00", "channel": "email", "amazon_reference": "R-1"},
        follow_redirects=True).get_data(as_text=True)
    assert "Correction saved." in page
    db.session.expire_all()
    row = db.session.get(Submission, submission.id)
    assert row.submitted_at == datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc)
    assert db.session.get(Case, world.case_a.id).follow_up_due_at == datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)

