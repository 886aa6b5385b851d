"""Typed POA text is never lost in the browser (issue 14): leaving the editor with unsaved
edits asks first, and text typed when the session had run out is offered back after signing
in again ("Restore your unsaved text from ..."), then saved as the next version."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import PoaDraft, UserSession, utcnow
from caseapp.services.poa import drafts
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT_CAUSE = ("Our buyer ordered 40 units from a new wholesaler without asking for invoices, and no "
              "one checked the cartons against the purchase order when they arrived.")
KEPT = "caseapp.poa-unsaved."


def sign_in(page, email: str) -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def kept_keys(page) -> list[str]:
    return page.evaluate(f"Object.keys(localStorage).filter(k => k.startsWith('{KEPT}'))")


def none_kept(page) -> list[str]:
    """[] once the page's deferred script has let go of the kept text (it runs after the page
    shows, so a busy machine may read localStorage first); what is still kept after 5 s."""
    try:
        page.wait_for_function(f"() => !Object.keys(localStorage).some(k => k.startsWith('{KEPT}'))",
                               timeout=5000)
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError: say what is kept
        pass
    return kept_keys(page)


def versions(case_id: int) -> list[PoaDraft]:
    db.session.expire_all()
    return db.session.scalars(db.select(PoaDraft).where(PoaDraft.case_id == case_id)
                              .order_by(PoaDraft.version)).all()


@pytest.fixture
def editor(page, world):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    db.session.commit()
    page.goto("/login")
    sign_in(page, world.consultant_a.email)
    expect(page.get_by_role("navigation")).to_contain_text("Carl Consultant")
    page.goto(f"/poa/{draft.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("v1")
    return draft


def test_leaving_the_editor_with_unsaved_edits_asks_first(page, world, editor):
    asked = []

    def answer(dialog):
        asked.append(dialog.type)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    editor_url = page.url
    # Nothing typed: leaving does not ask.
    page.locator("main").get_by_role("link", name=world.case_a.title).click()
    expect(page).to_have_url(re.compile(rf"/cases/{world.case_a.id}$"))
    assert asked == []

    page.goto(editor_url)
    page.fill("#root_cause", ROOT_CAUSE)
    page.locator("main").get_by_role("link", name=world.case_a.title).click()
    expect(page.locator("#root_cause")).to_have_value(ROOT_CAUSE)  # stayed: the first question was dismissed
    assert asked == ["beforeunload"] and page.url == editor_url

    # Saving is not leaving: no question, and the text is the new version.
    page.get_by_role("button", name="Save as v2").click()
    expect(page.get_by_role("alert")).to_contain_text("Saved as version 2.")
    assert asked == ["beforeunload"]
    assert versions(world.case_a.id)[-1].root_cause == ROOT_CAUSE
    assert none_kept(page) == []  # what the save took is no longer kept
    page.locator("main").get_by_role("link", name=world.case_a.title).click()
    expect(page).to_have_url(re.compile(rf"/cases/{world.case_a.id}$"))
    assert asked == ["beforeunload"]


def test_text_typed_when_the_session_ran_out_is_offered_back_and_saved(page, world, editor):
    page.fill("#root_cause", ROOT_CAUSE)
    page.fill("#closure", "Thank you for your review.\n\nCarl Consultant")
    # An hour and more without a request: the server ends the session at the next one.
    db.session.execute(db.update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=3)))
    db.session.commit()

    page.get_by_role("button", name="Save as v2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Sign in"))
    expect(page.locator("main")).to_contain_text("You were signed out after a while without activity.")
    assert [d.version for d in versions(world.case_a.id)] == [1]  # the save did not go through

    sign_in(page, world.consultant_a.email)
    expect(page).to_have_url(re.compile(rf"/poa/{editor.id}$"))
    restore = page.locator("#poa-restore")
    expect(restore).to_be_visible()
    expect(restore).to_contain_text("not saved, from")
    expect(restore.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(page.locator("#root_cause")).not_to_have_value(ROOT_CAUSE)  # the page shows v1 as stored

    restore.get_by_role("button", name="Restore your unsaved text").click()
    expect(restore).to_be_hidden()
    expect(page.locator("#root_cause")).to_have_value(ROOT_CAUSE)
    expect(page.locator("#closure")).to_have_value("Thank you for your review.\n\nCarl Consultant")
    page.get_by_role("button", name="Save as v2").click()
    expect(page.get_by_role("alert")).to_contain_text("Saved as version 2.")
    v2 = versions(world.case_a.id)[-1]
    assert v2.version == 2 and v2.root_cause == ROOT_CAUSE
    assert none_kept(page) == []

    page.goto(f"/poa/{editor.id}")  # v1 again: nothing left to offer
    expect(page.get_by_role("heading", level=1)).to_contain_text("v1")
    expect(page.locator("#poa-restore")).to_be_hidden()


def test_kept_text_can_be_discarded(page, world, editor):
    page.fill("#root_cause", ROOT_CAUSE)
    page.once("dialog", lambda dialog: dialog.accept())  # leave anyway
    page.reload()
    restore = page.locator("#poa-restore")
    expect(restore).to_be_visible()
    restore.get_by_role("button", name="Discard it").click()
    expect(restore).to_be_hidden()
    assert none_kept(page) == []
    page.reload()
    expect(page.locator("#poa-restore")).to_be_hidden()
    expect(page.locator("#root_cause")).not_to_have_value(ROOT_CAUSE)


def test_marking_final_with_open_review_errors_asks_naming_them(page, world, editor):
    errors = [f for f in drafts.review(world.consultant_a, editor.id) if f.severity == "error"]
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.dismiss() if len(questions) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.get_by_role("button", name="Mark v1 final").click()
    expect(page.get_by_role("button", name="Mark v1 final")).to_be_visible()
    assert len(questions) == 1
    assert f"Version 1 has {len(errors)} open review errors" in questions[0]
    assert errors[0].message in questions[0]
    assert not versions(world.case_a.id)[0].is_final  # dismissed: nothing marked

    page.get_by_role("button", name="Mark v1 final").click()
    expect(page.get_by_role("alert")).to_contain_text("Version 1 is now the final one.")
    assert len(questions) == 2 and versions(world.case_a.id)[0].is_final
    page.goto(f"/cases/{world.case_a.id}")
    expect(page.locator("ul.timeline li[data-kind=poa_final]")).to_contain_text(
        f"POA v1 marked final with {len(errors)} open review errors")
