"""The dashboard's "Next deadline" at phone width: each case a card, its deadline in view."""
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from caseapp.services.appeals import submissions
from tests.conftest import PASSWORD, make_case

pytestmark = pytest.mark.browser


def test_next_deadline_fits_a_phone(page, world):
    now = datetime.now(timezone.utc)
    late = make_case(world.consultant_a, world.client_a,
                     title="A rather long case title about a suspended account",
                     asins=["B07XJ8C8F5", "B08N5WRWNW", "B0C1TENT01"])
    submissions.record_submission(world.consultant_a, late.id, {"submitted_at": now - timedelta(hours=51)})
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": now - timedelta(hours=2)})
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/login")
    page.fill("#email", world.consultant_a.email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/cases")

    overdue = page.locator("td.next-deadline[data-overdue=yes]")
    expect(overdue).to_have_count(1)
    expect(overdue).to_contain_text("overdue by 3 h")
    # Labelled, as the table's head is hidden at this width.
    assert overdue.evaluate("el => getComputedStyle(el, '::before').content") == '"Next deadline: "'
    expect(page.locator(".cases-table thead")).to_be_hidden()
    expect(page.locator("td.next-deadline[data-overdue=no]")).to_have_count(1)
    for cell in page.locator("td.next-deadline").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    table = page.locator(".table-responsive").first
    assert table.evaluate("el => el.scrollWidth <= el.clientWidth")  # nothing scrolled sideways
