"""In a real browser: a consultant types Amazon's reference into the nav's box and lands on
the case; a word of a note shows the results with the word marked. At a laptop's width and
a phone's (where the box sits in the menu)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.services.appeals import submissions
from caseapp.services.cases import records
from tests.conftest import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)], ids=["laptop", "phone"])
def test_a_case_is_found_by_its_amazon_reference_from_the_nav(page, world, width, height):
    page.set_viewport_size({"width": width, "height": height})
    submissions.record_submission(world.consultant_a, world.case_a.id, {"amazon_reference": "CASE-998877"})
    records.add_note(world.consultant_a, world.case_a.id, "Supplier invoices from Shenzhen arrive Friday.")
    db.session.commit()
    sign_in(page, world.consultant_a.email)
    if width < 992:
        page.locator(".navbar-toggler").click()
    box = page.locator("#nav-search")
    box.fill("CASE-998877")
    box.press("Enter")
    page.wait_for_url(f"**/cases/{world.case_a.id}#submissions")
    expect(page.locator("h1")).to_have_text("Account suspended")

    # One match: straight to the note on its case.
    if width < 992:
        page.locator(".navbar-toggler").click()
    page.locator("#nav-search").fill("shenzhen")
    page.locator("#nav-search").press("Enter")
    page.wait_for_url("**/cases/*#note-*")

    # The Search page lists and marks; it never jumps.
    page.goto("/search")
    page.locator("#search-q").fill("shenzhen")
    page.locator("#search-q").press("Enter")
    expect(page.locator(".search-hit mark")).to_have_text("Shenzhen")
    page.locator(".search-hit a").first.click()
    page.wait_for_url("**/cases/*#note-*")
