"""In a real browser: a consultant ticks two cases on the list, reassigns them to a colleague
in one go, reads the result, and undoes it; "select all" and the narrowed value list come from
/static/bulk.js (the Content-Security-Policy allows no inline script)."""
import re

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import Case
from tests.conftest import PASSWORD, make_case
from tests.e2e.test_accessibility import axe_violations

pytestmark = pytest.mark.browser


def test_select_two_cases_reassign_them_and_undo(page, world):
    actor = world.consultant_a
    second = make_case(actor, world.client_a, title="Listing deactivated: trademark claim")
    third = make_case(actor, world.client_a, title="Order defect rate warning")
    db.session.commit()
    page.goto("/login")
    page.fill("#email", actor.email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/cases")

    # Select all, then untick one: the count follows.
    page.get_by_label("Select all on this page").check()
    expect(page.locator("#bulk-count")).to_have_text("3 selected")
    page.get_by_label("Select Order defect rate warning").uncheck()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    expect(page.locator("#bulk-all")).not_to_be_checked()

    assert axe_violations(page) == []
    page.select_option("#bulk-action", "priority")
    expect(page.locator("#bulk-value optgroup[data-action=reassign]")).to_be_hidden()
    page.select_option("#bulk-action", "close")
    expect(page.locator("#bulk-value")).to_be_hidden()
    page.select_option("#bulk-action", "reassign")
    page.select_option("#bulk-value", label="Ada Admin")
    page.get_by_role("button", name="Apply to selected").click()

    assert re.search(r"/cases/bulk/\d+$", page.url), page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk action: Reassign to Ada Admin")
    expect(page.locator("#bulk-summary")).to_contain_text("2 changed · 0 refused")
    expect(page.locator("#changed tbody tr")).to_have_count(2)
    assert axe_violations(page) == []
    db.session.expire_all()
    assert {db.session.get(Case, c.id).assignee_id for c in (world.case_a, second)} == {world.admin_a.id}
    assert db.session.get(Case, third.id).assignee_id == actor.id

    page.get_by_role("button", name="Undo this bulk action").click()
    expect(page.get_by_role("alert")).to_contain_text("Undone: 2 cases put back.")
    expect(page.get_by_role("button", name="Undo this bulk action")).to_have_count(0)
    db.session.expire_all()
    assert {db.session.get(Case, c.id).assignee_id for c in (world.case_a, second, third)} == {actor.id}

    # Back on the list, the case's timeline says the bulk change and its undo, one entry each.
    page.goto(f"/cases/{second.id}")
    expect(page.locator("ul.timeline")).to_contain_text("Assigned to Ada Admin (bulk change)")
    expect(page.locator("ul.timeline")).to_contain_text("Assigned to Carl Consultant (bulk change undone)")
