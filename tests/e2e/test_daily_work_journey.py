"""Issue 18's day in a real browser: a consultant brings a spreadsheet in (a bad row refused and
named, the fixed file imported), saves a view, reassigns two cases at once, moves a card on the
board and finds a case by Amazon's reference from the nav."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import Case, SavedView
from caseapp.services.appeals import submissions
from tests.conftest import sign_in

pytestmark = pytest.mark.browser
DATA = Path(__file__).resolve().parents[1] / "data" / "import"


def _import(page, kind: str, name: str) -> None:
    page.goto("/cases")
    page.get_by_role("link", name="Import a spreadsheet").click()
    page.locator(f"#kind-{kind}").check()
    page.set_input_files("#file", str(DATA / name))
    page.get_by_role("button", name="Check the file").click()


def _case(reference: str) -> Case:
    db.session.expire_all()
    return db.session.scalar(db.select(Case).where(Case.reference == reference))


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)], ids=["laptop", "phone"])
def test_spreadsheet_in_view_bulk_board_and_search(page, world, width, height):
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, world.consultant_a.email)

    _import(page, "clients", "clients.csv")
    expect(page.locator("#import-summary")).to_contain_text("Every row can be imported.")
    page.locator("#import-apply").click()
    expect(page.get_by_role("alert")).to_contain_text("Imported clients.csv")

    _import(page, "cases", "cases-one-bad-row.csv")
    expect(page.locator(".import-error")).to_contain_text(["Row 3, ASINs:"])
    expect(page.locator("#import-apply")).to_have_count(0)
    assert _case("BF-001") is None  # all or nothing

    _import(page, "cases", "cases.csv")  # the row fixed
    page.locator("#import-apply").click()
    expect(page.get_by_role("alert")).to_contain_text("Imported cases.csv")
    imported = _case("BF-001")
    assert imported is not None and imported.agency_id == world.agency_a.id

    # A view of the IP cases of the whole agency, saved by name.
    page.goto("/cases?assignee=all&reason=intellectual_property")
    page.locator("#save-view summary").click()
    page.get_by_label("Name of this view").fill("IP cases")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator("#saved-views")).to_contain_text("IP cases")
    assert db.session.scalar(db.select(SavedView.name)) == "IP cases"

    # Two cases reassigned to Ada at once.
    page.goto("/cases?assignee=all&sort=oldest")
    picks = page.locator("input.bulk-pick")
    picks.nth(0).check()
    picks.nth(1).check()
    page.select_option("#bulk-action", "reassign")
    page.select_option("#bulk-value", label="Ada Admin")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.locator("#bulk-summary")).to_contain_text("2 changed")

    # A card moved on the board by its own form.
    page.goto("/board?assignee=all")
    card = page.locator(f"#case-{imported.id}")
    card.get_by_label(re.compile("^Move to")).select_option("drafting")
    card.get_by_role("button", name="Move").click()
    expect(page.get_by_role("alert")).to_contain_text("Moved")
    assert _case("BF-001").status == "drafting"

    # Amazon's reference, typed into the nav's box, opens the case.
    submissions.record_submission(world.consultant_a, imported.id, {"amazon_reference": "CASE-4455667"})
    db.session.commit()
    page.goto("/my-day")
    if page.viewport_size["width"] < 992:
        page.locator(".navbar-toggler").click()
    page.locator("#nav-search").fill("CASE-4455667")
    page.locator("#nav-search").press("Enter")
    page.wait_for_url(f"**/cases/{imported.id}#submissions")
