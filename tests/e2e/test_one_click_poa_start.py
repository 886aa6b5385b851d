"""From the case page, "Start the POA" is one click: it lands in the editor on v1, filled
from the starter for the case's reason, without a page in between."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_start_the_poa_lands_in_the_editor_in_one_click(page, live_server, world):
    page.goto("/login")
    page.fill("#email", world.consultant_a.email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/cases/{world.case_a.id}")
    card = page.locator("#poa-card")
    expect(card).to_contain_text("starter for customer complaints")

    card.get_by_role("button", name="Start the POA").click()

    expect(page).to_have_url(re.compile(re.escape(live_server) + r"/poa/\d+$"))
    expect(page.get_by_role("alert")).to_contain_text("Version 1 started from the starter")
    expect(page.locator("#subject")).to_have_value(re.compile("Harbor Lane Home Goods"))
    # Back on the case, the card now opens that draft.
    page.goto(f"/cases/{world.case_a.id}")
    expect(card.get_by_role("link", name="Open the POA")).to_be_visible()
    expect(card.get_by_role("button", name="Start the POA")).to_have_count(0)
