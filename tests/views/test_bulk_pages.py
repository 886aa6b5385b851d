"""The case list's bulk bar: tick cases (or take all matching), apply, read what moved and
what was refused, undo; without JavaScript, with CSRF."""
from __future__ import annotations

import html
import re

from caseapp.extensions import db
from caseapp.models import BulkAction, Case
from caseapp.services.appeals import workflow
from tests.conftest import make_case, make_client


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_list_has_a_checkbox_per_row_and_a_bulk_form_carrying_the_filters(browser, world):
    make_case(world.consultant_a, world.client_a, title="IP complaint", reason="intellectual_property")
    db.session.commit()
    browser.login(world.consultant_a.email)
    page = _text(browser.get("/cases?reason=intellectual_property&assignee=all&q=IP"))
    bulk_form = re.search(r'<form method="post" action="/cases/bulk" id="bulk-form".*?</form>', page, re.S).group(0)
    for name, value in (("reason", "intellectual_property"), ("assignee", "all"), ("q", "IP")):
        assert f'<input type="hidden" name="{name}" value="{value}">' in bulk_form
    boxes = re.findall(r'<input class="form-check-input bulk-pick" type="checkbox" name="case_id" value="(\d+)" form="bulk-form">', page)
    assert len(boxes) == 1
    assert "Apply to all 1 matching the filter" in bulk_form
    assert 'src="/static/bulk.js"' in page
    # The filter form is still a GET of its own, untouched by the checkboxes.
    assert re.search(r'<form class="row g-2 align-items-end mb-3" method="get" role="search">', page)


def test_apply_to_selected_then_the_result_page_then_undo(browser, world):
    other = make_case(world.consultant_a, world.client_a, title="Second case")
    closed = make_case(world.consultant_a, world.client_a, title="Closed case")
    workflow.change_status(world.consultant_a, closed.id, "closed")
    db.session.commit()
    browser.login(world.consultant_a.email)
    response = browser.post("/cases/bulk", data={
        "action": "status", "value": "status:drafting", "scope": "selected",
        "case_id": [str(world.case_a.id), str(other.id), str(closed.id)]})
    assert response.status_code == 302
    result_url = response.headers["Location"]
    assert re.fullmatch(r"/cases/bulk/\d+", result_url)
    page = _text(browser.get(result_url))
    assert "Bulk action: Move status to Drafting POA" in page
    assert "2</strong> changed · <strong>1</strong> refused" in page
    refused = re.search(r'<ul class="list-group mb-3" id="refused">.*?</ul>', page, re.S).group(0)
    assert "Closed case" in refused and "a closed or reinstated case must be reopened" in refused
    changed = re.search(r'<table class="table table-sm align-middle" id="changed">.*?</table>', page, re.S).group(0)
    assert "Second case" in changed and "Open</td><td>Drafting POA" in changed
    assert 'id="undo"' in page

    undo = browser.post(result_url + "/undo")
    assert undo.status_code == 302 and undo.headers["Location"] == result_url
    page = _text(browser.get(result_url))
    assert "Undone: 2 cases put back." in page and 'id="bulk-undone"' in page and 'id="undo"' not in page
    db.session.expire_all()
    assert db.session.get(Case, other.id).status == "open"

    again = browser.post(result_url + "/undo")
    assert "This bulk action was already undone." in _text(browser.get(again.headers["Location"]))


def test_all_matching_uses_the_hidden_filters_and_a_bad_choice_returns_to_the_list(browser, world):
    ip = make_case(world.consultant_a, world.client_a, title="IP complaint", reason="intellectual_property")
    db.session.commit()
    browser.login(world.consultant_a.email)
    response = browser.post("/cases/bulk", data={
        "action": "priority", "value": "priority:urgent", "scope": "matching",
        "assignee": "all", "reason": "intellectual_property"})
    assert re.fullmatch(r"/cases/bulk/\d+", response.headers["Location"])
    db.session.expire_all()
    assert db.session.get(Case, ip.id).priority == "urgent"
    assert db.session.get(Case, world.case_a.id).priority == "normal"

    # A value from another action's list (no JavaScript narrowed it) is refused, nothing changes.
    response = browser.post("/cases/bulk", data={
        "action": "priority", "value": "status:closed", "scope": "selected", "case_id": str(ip.id),
        "reason": "intellectual_property"})
    assert response.headers["Location"] == "/cases?assignee=me&reason=intellectual_property&sort=updated"
    assert "Choose a priority for the cases." in _text(browser.get(response.headers["Location"]))
    response = browser.post("/cases/bulk", data={"action": "close", "scope": "selected"})
    assert "Select at least one case" in _text(browser.get(response.headers["Location"]))


def test_another_agencys_cases_and_bulk_actions_stay_out_of_reach(browser, other_browser, world):
    mine = make_client(world.admin_b, name="B's seller")
    b_case = make_case(world.admin_b, mine, title="Agency B's case")
    db.session.commit()
    browser.login(world.consultant_a.email)
    url = browser.post("/cases/bulk", data={"action": "close", "scope": "selected",
                                            "case_id": [str(world.case_a.id)]}).headers["Location"]
    other_browser.login(world.admin_b.email)
    assert other_browser.get(url).status_code == 404
    assert other_browser.post(url + "/undo").status_code == 404
    response = other_browser.post("/cases/bulk", data={"action": "close", "scope": "selected",
                                                       "case_id": [str(world.case_a.id), str(b_case.id)]})
    page = _text(other_browser.get(response.headers["Location"]))
    assert "Case #%d" % world.case_a.id in page and "No such case." in page
    assert "Account suspended" not in page
    db.session.expire_all()
    assert db.session.get(Case, world.case_a.id).status == "closed"  # by A's own action only
    assert db.session.get(Case, b_case.id).status == "closed"
    assert db.session.scalar(db.select(db.func.count(BulkAction.id))) == 2


def test_a_post_without_the_csrf_token_is_refused(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.client.post("/cases/bulk", data={"action": "close", "scope": "selected",
                                                        "case_id": str(world.case_a.id)})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Case, world.case_a.id).status == "open"
    assert db.session.scalar(db.select(BulkAction.id)) is None
