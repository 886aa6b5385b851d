"""In a real browser: a double click saves once, a form sent again is done once, a refused form
lands on its first mistake, and an upload over the limit is stopped before it is sent."""
import re

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.models import Client, Evidence, Note
from tests.conftest import sign_in

pytestmark = pytest.mark.browser

MB = 1024 * 1024


def count(model) -> int:
    db.session.rollback()  # see what the server committed
    return db.session.scalar(db.select(db.func.count(model.id)))


def test_a_double_click_on_add_note_saves_one_note(page, world):
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    page.fill("textarea[name=body]", "Called the seller about the invoices.")
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" and r.url.endswith("/notes") else None)
    page.locator("form", has=page.locator("textarea[name=body]")).get_by_role("button").dblclick()
    expect(page.get_by_role("alert").first).to_contain_text("Note added.")
    assert count(Note) == 1

    # The same form sent again (a reload of the POST, a click through a slow page): done once.
    first = posts[0]
    again = page.request.post(first.url, headers={"Content-Type": first.headers["content-type"]},
                              data=first.post_data_buffer)
    assert again.ok and "sent twice; it was done once" in again.text()
    assert count(Note) == 1


def test_a_refused_client_form_lands_on_its_first_mistake_with_every_value_kept(page, world):
    sign_in(page, world.consultant_a.email)
    page.goto("/clients/new")
    page.fill("#seller_id", "not valid!")
    page.fill("#contact_email", "priya-at-nowhere")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".invalid-feedback")).to_have_count(3)  # name, seller ID and email at once
    expect(page.locator("#name")).to_be_focused()
    expect(page.locator("#seller_id")).to_have_value("not valid!")
    expect(page.locator("#contact_email")).to_have_value("priya-at-nowhere")
    assert count(Client) == 1


def test_an_upload_over_the_limit_is_stopped_before_it_is_sent(page, world, app):
    app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=MB)
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    page.fill("#evidence-description", "Acme's recall letter")
    page.set_input_files("#evidence-files", files=[
        {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * (2 * MB)}])
    page.get_by_role("button", name="Upload").click()
    message = page.locator("#evidence-too-large")
    expect(message).to_be_visible()
    expect(message).to_contain_text("more than the 1.0 MB an upload may have")
    expect(page.locator("#evidence-files")).to_be_focused()
    expect(page.locator("#evidence-description")).to_have_value("Acme's recall letter")
    expect(page.get_by_role("button", name="Upload")).to_be_enabled()  # try again with fewer files
    assert sent == [] and re.search(rf"/cases/{world.case_a.id}$", page.url)
    assert count(Evidence) == 0
