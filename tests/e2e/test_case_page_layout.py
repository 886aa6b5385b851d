"""The case page is laid out for the daily job: what the case needs next at the top, the
submission form folded until it is the next step, and on a phone the timeline right after
the work (not under the upload form, the details and the status controls)."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from caseapp.models import utcnow
from caseapp.services.appeals import submissions
from caseapp.services.poa import drafts
from tests.conftest import sign_in

pytestmark = pytest.mark.browser


def top_of(page, selector) -> float:
    return page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().top + window.scrollY")


def test_a_new_case_says_write_the_poa_and_folds_the_submission_form(page, world):
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    expect(page.locator("#next-step")).to_contain_text("Next: write the POA")
    expect(page.locator("#submission-form")).to_be_hidden()
    # The POA comes before the submissions while nothing has gone to Amazon.
    assert top_of(page, "#poa-card") < top_of(page, "#submissions")


def test_a_final_poa_makes_submitting_the_next_step_with_the_form_open(page, world):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    drafts.mark_final(world.consultant_a, draft.id, accept_errors=True)
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    expect(page.locator("#next-step")).to_contain_text("submit the final POA")
    expect(page.locator("#submission-form")).to_be_visible()


def test_on_a_phone_the_clock_comes_first_and_the_timeline_before_the_rest(page, world):
    now = utcnow()
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": now - timedelta(hours=50)}, now=now)
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    expect(page.locator("#next-step")).to_contain_text("follow up with Amazon now")
    expect(page.locator("#clock")).to_be_in_viewport()
    timeline, evidence, status = top_of(page, "#timeline"), top_of(page, "#evidence"), top_of(page, "#status-card")
    assert timeline < evidence < status
    assert timeline < 1600, f"the timeline starts {timeline:.0f} px down a phone"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Side by side on a desktop: the timeline beside the work, at the top.
    page.set_viewport_size({"width": 1366, "height": 900})
    assert abs(top_of(page, "#timeline") - top_of(page, ".case-work")) < 40
    # The work starts with the case's deadlines, then the submissions.
    assert top_of(page, "#deadlines-card") < top_of(page, "#submissions")


def test_a_case_with_evidence_and_a_document_request_fits_a_phone(page, world):
    import io

    from werkzeug.datastructures import FileStorage

    from caseapp.services.evidence import upload
    from caseapp.services.portal import requests as portal_requests

    upload(world.consultant_a, world.case_a.id,
           FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="supplier-invoice-march-2026.pdf"), "invoice")
    portal_requests.open_request(world.consultant_a, world.case_a.id, {"checklist": "authenticity"})
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    expect(page.locator("#evidence-bundle")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
