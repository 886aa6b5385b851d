"""Editing and deleting a note from the case page: who may, what the page then shows."""
import html
import re

import pytest

from caseapp.extensions import db
from caseapp.models import Note
from caseapp.services.cases import records
from tests.conftest import make_user
from tests.views.test_case_page import timeline_summaries


@pytest.fixture
def note(world) -> Note:
    return records.add_note(world.consultant_a, world.case_a.id, "Asked for **invoices**\nfrom Acme")


def note_block(page: str, note_id: int) -> str:
    match = re.search(rf'<div class="note" id="note-{note_id}">(.*?)</li>', page, re.S)
    return match.group(1) if match else ""


def note_controls(page: str, note_id: int) -> tuple[bool, bool]:
    block = note_block(page, note_id)
    return f"/cases/notes/{note_id}/edit" in block, f"/cases/notes/{note_id}/delete" in block


def test_the_author_and_admins_see_edit_and_delete_others_do_not(browser, world, note, app):
    colleague = make_user(world.agency_a, "colleague@agency-a.example", "consultant", "Cora Colleague")
    for email, expected in [(world.consultant_a.email, (True, True)),
                            (world.admin_a.email, (True, True)),
                            (colleague.email, (False, False))]:
        client = type(browser)(app)
        client.login(email)
        page = client.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
        assert "<strong>invoices</strong>" in note_block(page, note.id), email
        assert note_controls(page, note.id) == expected, email


def test_the_delete_button_asks_first_with_the_script_from_a_file(browser, world, note):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    form = re.search(r'<form[^>]*action="/cases/notes/\d+/delete"[^>]*>', note_block(page, note.id)).group(0)
    assert 'data-confirm="Delete this note?' in form
    assert '<script src="/static/confirm-submit.js" defer></script>' in page
    assert "onclick" not in page and "onsubmit" not in page


def test_editing_a_note_shows_the_new_text_and_the_edit_on_the_timeline(browser, world, note):
    browser.login(world.consultant_a.email)
    form = browser.get(f"/cases/notes/{note.id}/edit").get_data(as_text=True)
    assert "Asked for **invoices**\nfrom Acme" in html.unescape(form)  # the text to change, as typed
    response = browser.post(f"/cases/notes/{note.id}/edit", data={"body": "Asked for *invoices* twice"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{world.case_a.id}#note-{note.id}")
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    block = note_block(page, note.id)
    assert "<em>invoices</em> twice" in block and "**invoices**" not in page
    assert "edited " in block
    summaries = timeline_summaries(page)
    assert summaries[:2] == ["Note edited by Carl Consultant", "Note"]
    assert page.count("twice") == 1  # the note, once: its entry does not repeat its first line


def test_a_refused_edit_keeps_the_typed_text_and_says_why_under_the_field(browser, world, note):
    browser.login(world.consultant_a.email)
    typed = "Detailed call notes. " * 1000
    response = browser.post(f"/cases/notes/{note.id}/edit", data={"body": typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'is-invalid[^>]*>[^<]*Detailed call notes\. Detailed', page)  # kept in the box
    assert re.search(r'invalid-feedback[^>]*>A note can be at most 20,000 characters\.', page)
    response = browser.post(f"/cases/notes/{note.id}/edit", data={"body": "  "})
    assert response.status_code == 422
    assert re.search(r'invalid-feedback[^>]*>A note cannot be empty\.', response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Note, note.id).body == "Asked for **invoices**\nfrom Acme"


def test_deleting_asks_on_a_page_without_javascript_then_leaves_a_trace(browser, world, note):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/notes/{note.id}/delete")  # what the button sends without script
    assert response.status_code == 200
    assert "Delete this note?" in response.get_data(as_text=True)
    assert db.session.get(Note, note.id) is not None
    response = browser.post(f"/cases/notes/{note.id}/delete", data={"confirmed": "yes"})
    assert response.status_code == 302
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert timeline_summaries(page)[:2] == ["Note deleted by Carl Consultant", "Note (deleted)"]
    assert "<strong>invoices</strong>" not in page and "from Acme" not in page and f'id="note-{note.id}"' not in page


def test_a_colleague_gets_a_403_that_says_who_may(browser, world, note, app):
    colleague = make_user(world.agency_a, "colleague@agency-a.example", "consultant", "Cora Colleague")
    browser.login(colleague.email)
    for method, url, data in [("get", f"/cases/notes/{note.id}/edit", None),
                              ("post", f"/cases/notes/{note.id}/edit", {"body": "Mine"}),
                              ("post", f"/cases/notes/{note.id}/delete", None),
                              ("post", f"/cases/notes/{note.id}/delete", {"confirmed": "yes"})]:
        response = getattr(browser, method)(url, data=data) if data else getattr(browser, method)(url)
        assert response.status_code == 403, (method, url)
        assert "author or an agency admin" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Note, note.id).body == "Asked for **invoices**\nfrom Acme"


def test_another_agency_gets_a_404(browser, world, note):
    browser.login(world.admin_b.email)
    assert browser.get(f"/cases/notes/{note.id}/edit").status_code == 404
    assert browser.post(f"/cases/notes/{note.id}/edit", data={"body": "x"}).status_code == 404
    assert browser.post(f"/cases/notes/{note.id}/delete", data={"confirmed": "yes"}).status_code == 404
    assert browser.post(f"/cases/notes/{note.id}/delete").status_code == 404
    db.session.expire_all()
    assert db.session.get(Note, note.id) is not None


def test_the_case_page_shows_the_html_kept_at_save_without_rendering_again(browser, world, note,
                                                                            monkeypatch):
    """A hostile note costs its rendering once, when saved, not on every view of the case."""
    from caseapp.core import markdown

    def must_not_render(text):
        raise AssertionError("a note was rendered on a page view")

    monkeypatch.setattr(markdown, "_html", must_not_render)
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "<strong>invoices</strong>" in note_block(page, note.id)


def test_a_note_kept_by_an_older_renderer_is_rendered_afresh(browser, world, note, monkeypatch):
    from caseapp.core import markdown

    db.session.execute(db.update(Note).where(Note.id == note.id).values(body_html="<p>stale</p>"))
    db.session.commit()
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "stale" in note_block(page, note.id)  # the same renderer: what was kept is shown
    monkeypatch.setattr(markdown, "RENDERER", markdown.RENDERER + 1)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "stale" not in note_block(page, note.id)
    assert "<strong>invoices</strong>" in note_block(page, note.id)


def test_an_edit_keeps_the_new_html(browser, world, note):
    records.edit_note(world.consultant_a, note.id, "Now *emphasised*")
    db.session.expire_all()
    kept = db.session.get(Note, note.id)
    assert kept.body_html == "<p>Now <em>emphasised</em></p>\n"
