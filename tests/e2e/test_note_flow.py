"""In a real browser: the author edits a note from the case page, then deletes it; the
browser asks first (a script from /static, as the Content-Security-Policy requires), and
saying no keeps the note."""
import re

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import Note
from caseapp.services.cases import records
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_author_edits_then_deletes_a_note_after_confirming(page, world):
    note_id = records.add_note(world.consultant_a, world.case_a.id, "Asked for **invoices**").id
    page.goto("/login")
    page.fill("#email", world.consultant_a.email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/cases/{world.case_a.id}")
    entry = page.locator(f"#note-{note_id}")
    expect(entry.locator(".note-body strong")).to_have_text("invoices")

    # Edit: the form holds the text as typed; an empty save is refused beside the field.
    entry.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit note")
    expect(page.locator("#body")).to_have_value("Asked for **invoices**")
    page.fill("#body", "   ")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".invalid-feedback")).to_have_text("A note cannot be empty.")
    page.fill("#body", "Asked for *invoices* and the **LOA**")
    page.get_by_role("button", name="Save note").click()
    expect(page.get_by_role("alert")).to_contain_text("Note saved.")
    assert re.search(rf"/cases/{world.case_a.id}#note-{note_id}$", page.url), page.url
    expect(entry.locator(".note-body")).to_have_text("Asked for invoices and the LOA")
    expect(entry.locator(".note-edited")).to_contain_text("edited")
    expect(page.locator("ul.timeline li[data-kind=note_edited]")).to_contain_text(
        "Note edited by Carl Consultant")

    # Delete: saying no in the browser's dialog keeps the note.
    messages = []

    def answer(accept):
        def handler(dialog):
            messages.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return handler

    page.once("dialog", answer(False))
    entry.get_by_role("button", name="Delete").click()
    expect(entry).to_be_visible()
    assert messages == ["Delete this note? The timeline keeps a record that it was deleted."]
    db.session.rollback()
    assert db.session.get(Note, note_id) is not None

    page.once("dialog", answer(True))
    entry.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_contain_text("Note deleted.")
    expect(page.locator(f"#note-{note_id}")).to_have_count(0)
    expect(page.locator("ul.timeline li[data-kind=note_deleted]")).to_contain_text(
        "Note deleted by Carl Consultant")
    expect(page.locator("#timeline")).not_to_contain_text("invoices")
    db.session.rollback()
    assert db.session.get(Note, note_id) is None
