"""The board in a real browser (Debian's chromium): a card moved by keyboard with its own
form, cards dragged onto columns (static/board.js sends the same form), a refused move's
reason, and the question before a move that ends a case."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import Case
from caseapp.services.appeals import submissions
from tests.conftest import make_case, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def board_cases(world):
    me = world.consultant_a
    made = {
        "keyboard": world.case_a,  # "Account suspended", open
        "drag": make_case(me, world.client_a, title="Listing deactivated"),
        "refused": make_case(me, world.client_a, title="Late shipment rate"),
        "won": make_case(me, world.client_a, title="Restricted product"),
    }
    submissions.record_submission(me, made["won"].id, {})
    db.session.commit()
    return {name: case.id for name, case in made.items()}


def card(page, case_id: int):
    return page.locator(f"#case-{case_id}")


def drag(page, case_id: int, status: str) -> None:
    """Drag the card by its edge (its middle may be the "Move to" list, which a press opens)
    onto the column, once static/board.js has made the card draggable (a page just loaded
    may not have run its deferred scripts yet)."""
    expect(card(page, case_id)).to_have_attribute("draggable", "true")
    card(page, case_id).drag_to(page.locator(f"#column-{status}"), source_position={"x": 6, "y": 6})


def status_of(case_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Case, case_id).status


def test_move_a_card_by_keyboard_and_by_drag_and_drop(page, world, board_cases):
    sign_in(page, world.consultant_a.email)
    page.goto("/board")
    expect(page.locator("#column-open .board-card")).to_have_count(3)
    expect(page.get_by_text("or drag it onto another column")).to_be_visible()

    # Keyboard: the card's "Move to" list, Tab to its button, Enter. No drag needed.
    select = page.get_by_label("Move to: Account suspended")
    select.focus()
    select.select_option("drafting")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Move Account suspended")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Moved “Account suspended” from Open to Drafting POA.")
    expect(page.locator("#column-drafting").get_by_role("link", name="Account suspended")).to_be_visible()
    assert status_of(board_cases["keyboard"]) == "drafting"

    # Drag and drop onto a column the workflow allows.
    with page.expect_navigation():
        drag(page, board_cases["drag"], "drafting")
    expect(page.get_by_role("alert")).to_have_text("Moved “Listing deactivated” from Open to Drafting POA.")
    expect(page.locator("#column-drafting .board-card")).to_have_count(2)
    expect(page.locator("[data-count=drafting]")).to_contain_text("2")
    assert status_of(board_cases["drag"]) == "drafting"


def test_a_refused_drop_says_why_and_a_final_move_asks_first(page, world, board_cases):
    sign_in(page, world.consultant_a.email)
    page.goto("/board")

    # Dropped on a column the workflow does not allow: the server refuses and says why.
    with page.expect_navigation():
        drag(page, board_cases["refused"], "reinstated")
    assert "#" not in page.url  # the top of the board, where the reason shows
    expect(page.get_by_role("alert")).to_have_text(
        "“Late shipment rate” was not moved. A case cannot move from Open to Reinstated: "
        "Amazon can only reinstate a case that was submitted.")
    expect(page.locator("#column-open").get_by_role("link", name="Late shipment rate")).to_be_visible()
    expect(page.locator("#column-reinstated .board-card")).to_have_count(0)
    assert status_of(board_cases["refused"]) == "open"

    # A move that ends the case: the browser asks; "Cancel" sends nothing.
    questions = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    drag(page, board_cases["won"], "reinstated")
    for _ in range(50):
        if questions:
            break
        page.wait_for_timeout(100)
    expect(page.locator("#column-submitted").get_by_role("link", name="Restricted product")).to_be_visible()
    assert questions == ["Mark “Restricted product” as Reinstated? The case is closed as won and its "
                         "follow-ups stop."]
    assert status_of(board_cases["won"]) == "submitted"
    expect(page.get_by_label("Move to: Restricted product")).to_have_value(re.compile("^(?!reinstated$)"))

    # "OK" moves it.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        drag(page, board_cases["won"], "reinstated")
    expect(page.get_by_role("alert")).to_have_text("Moved “Restricted product” from Submitted to Amazon to Reinstated.")
    expect(page.locator("#column-reinstated").get_by_role("link", name="Restricted product")).to_be_visible()
    assert status_of(board_cases["won"]) == "reinstated"


def test_without_javascript_the_buttons_move_and_ask_on_a_page(_chromium, live_server, world, board_cases):
    context = _chromium.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, world.consultant_a.email)
        page.goto("/board")
        expect(card(page, board_cases["won"])).not_to_have_attribute("draggable", "true")
        expect(page.get_by_text("or drag it onto another column")).to_be_hidden()
        page.get_by_label("Move to: Restricted product").select_option("denied")
        page.get_by_role("button", name="Move Restricted product").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Mark “Restricted product” as Denied? Its follow-ups stop.")
        assert status_of(board_cases["won"]) == "submitted"
        page.get_by_role("button", name="Yes, move it to Denied").click()
        expect(page.get_by_role("alert")).to_have_text("Moved “Restricted product” from Submitted to Amazon to Denied.")
        expect(page.locator("#column-denied").get_by_role("link", name="Restricted product")).to_be_visible()
        assert status_of(board_cases["won"]) == "denied"
    finally:
        context.close()
