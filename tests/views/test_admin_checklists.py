"""The admin's checklists page (/admin/checklists): what a consultant may ask a client for.
What an admin saves there is what the next document request is made of."""
from __future__ import annotations

import html
import re

import pytest

from caseapp.extensions import db
from caseapp.models import AuditEvent, DocumentChecklist
from caseapp.services.portal import checklists, requests


def page_form(*lists: dict) -> dict:
    """The checklists page as a browser sends it: checklists-<i>-<field> and
    checklists-<i>-items-<n>-<field>; an unticked checkbox is not sent at all."""
    data = {}
    for index, checklist in enumerate(lists):
        prefix = f"checklists-{index}-"
        for name in ("name", "key", "reason"):
            data[prefix + name] = checklist.get(name, "")
        if checklist.get("remove"):
            data[prefix + "remove"] = "y"
        for n, item in enumerate(checklist.get("items", [])):
            item_prefix = f"{prefix}items-{n}-"
            for name, default in (("title", ""), ("instructions", ""), ("category", "other"), ("kind", "file")):
                data[item_prefix + name] = item.get(name, default)
            if item.get("remove"):
                data[item_prefix + "remove"] = "y"
    return data


def field_error(page: str, field_id: str) -> str:
    """The messages shown right under the field with this id (inside its own block)."""
    match = re.search(rf'data-field="{re.escape(field_id)}">(.*?)(?=data-field=|</li>|</section>)', page, re.S)
    assert match, f"no field {field_id}"
    return " ".join(re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', match.group(1), re.S))


def text(page: str) -> str:
    return html.unescape(page)


@pytest.mark.parametrize("method, url", [("GET", "/admin/checklists"), ("POST", "/admin/checklists"),
                                         ("POST", "/admin/checklists/restore")])
def test_consultants_are_refused(browser, world, method, url):
    browser.login(world.consultant_a.email)
    data = {**page_form({"name": "Mine", "items": [{"title": "A thing"}]}), "confirmed": "yes"}
    response = browser.get(url) if method == "GET" else browser.post(url, data=data)
    assert response.status_code == 403
    assert checklists.uses_defaults(world.agency_a.id)


def test_the_page_lists_the_shipped_checklists_until_saved(browser, world):
    browser.login(world.admin_a.email)
    page = text(browser.get("/admin/checklists").get_data(as_text=True))
    assert "These are caseapp's shipped checklists" in page
    for checklist in checklists.DEFAULTS:
        assert f'value="{checklist.name}"' in page and f'value="{checklist.key}"' in page
        for item in checklist.items:
            assert f'value="{item.title}"' in page
    assert checklists.INVOICES.instructions in page  # the instructions the client reads, to edit
    assert "Add a checklist" in page and "Add an item" in page
    assert "Restore the defaults" not in page  # nothing to restore yet
    agency_page = text(browser.get("/admin/agency").get_data(as_text=True))
    assert "/admin/checklists" in agency_page and "Proof of authenticity: 3 items" in agency_page


def test_saving_replaces_the_checklists_and_the_next_request_uses_them(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/checklists", data=page_form(
        {"name": "Invoices only", "key": "invoices", "reason": "policy_violation", "items": [
            {"title": "Two invoices", "instructions": "From the last 365 days.", "category": "invoice"},
            {"title": "Dropped item", "instructions": "gone", "remove": True},
            {}]},  # an empty row is ignored
        {"name": "Removed checklist", "items": [{"title": "x"}], "remove": True},
        {"name": "Tell us more", "items": [{"title": "Your story", "kind": "answer"}, {}]},
        {"name": "", "items": [{}, {}]}))  # the empty checklist to add is ignored
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/checklists")
    saved = checklists.for_agency(world.agency_a.id)
    assert [(c.key, c.name, c.reason) for c in saved] == [
        ("invoices", "Invoices only", "policy_violation"), ("tell_us_more", "Tell us more", None)]
    assert [(i.title, i.category, i.kind) for i in saved[0].items] == [("Two invoices", "invoice", "file")]
    assert saved[1].items[0].kind == "answer"
    assert checklists.uses_defaults(world.agency_b.id)  # another agency keeps the shipped ones
    page = text(browser.get("/admin/checklists").get_data(as_text=True))
    assert "shipped checklists" not in page and 'value="Invoices only"' in page
    assert "Dropped item" not in page and "Removed checklist" not in page
    assert "Restore the defaults" in page
    audit = db.session.scalars(db.select(AuditEvent).where(AuditEvent.kind == "settings_change")).all()
    assert any(e.target == "document checklists" and "2 checklists saved" in e.detail for e in audit)

    opened = requests.open_request(world.consultant_a, world.case_a.id, {"checklist": "invoices"})
    assert [i.title for i in opened.request.items] == ["Two invoices"]


def test_mistakes_are_named_beside_their_fields_and_everything_typed_is_kept(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/checklists", data=page_form(
        {"name": "Kept name", "key": "Not A Key!", "items": [
            {"title": "", "instructions": "Instructions typed without a title", "category": "invoice"},
            {"title": "Fine item", "instructions": "Kept instructions"}]},
        {"name": "", "items": [{"title": "An item of a nameless list"}]},
        {"name": "No items here", "items": [{}, {}]}))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Give the item a title the client understands." in field_error(page, "checklists-0-items-0-title")
    assert "Lower-case letters, digits and _ only." in field_error(page, "checklists-0-key")
    assert "Give the checklist a name." in field_error(page, "checklists-1-name")
    assert field_error(page, "checklists-0-name") == ""
    assert re.search(r'data-field="checklists-2-items">\s*Add at least one item\.', page)
    shown = text(page)
    for typed in ('value="Kept name"', 'value="Not A Key!"', "Instructions typed without a title</textarea>",
                  'value="Fine item"', "Kept instructions</textarea>", 'value="An item of a nameless list"',
                  'value="No items here"'):
        assert typed in shown, typed
    assert re.search(r'<option selected value="invoice">|<option value="invoice" selected>', page)
    assert checklists.uses_defaults(world.agency_a.id)  # nothing was saved
    assert db.session.scalar(db.select(db.func.count(DocumentChecklist.id))) == 0


def test_removing_every_checklist_is_refused_with_the_way_back(browser, world):
    browser.login(world.admin_a.email)
    sent = [{"name": c.name, "key": c.key, "remove": True, "items": [{"title": "x"}]} for c in checklists.DEFAULTS]
    page = text(browser.post("/admin/checklists", data=page_form(*sent)).get_data(as_text=True))
    assert "Keep at least one checklist, or restore the defaults." in page
    assert checklists.uses_defaults(world.agency_a.id)


def test_restore_asks_first_then_brings_back_the_shipped_checklists(browser, world):
    browser.login(world.admin_a.email)
    assert browser.post("/admin/checklists", data=page_form(
        {"name": "Ours", "items": [{"title": "Our item"}]})).status_code == 302
    page = browser.post("/admin/checklists/restore", data={"confirmed": ""}).get_data(as_text=True)
    assert "Replace your agency&#39;s document checklists" in page or \
        "Replace your agency's document checklists" in page
    assert not checklists.uses_defaults(world.agency_a.id)  # only asked

    response = browser.post("/admin/checklists/restore", data={"confirmed": "yes"})
    assert response.status_code == 302
    assert checklists.uses_defaults(world.agency_a.id)
    assert [c.key for c in checklists.for_agency(world.agency_a.id)] == [c.key for c in checklists.DEFAULTS]
    assert "shipped checklists" in text(browser.get("/admin/checklists").get_data(as_text=True))
    audit = db.session.scalars(db.select(AuditEvent).where(AuditEvent.target == "document checklists")).all()
    assert [e.detail for e in sorted(audit, key=lambda e: e.id)] == ["1 checklists saved", "defaults restored"]


def test_row_numbers_that_are_no_ascii_numbers_are_ignored_not_a_crash(browser, world):
    browser.login(world.admin_a.email)
    data = {**page_form({"name": "Kept", "items": [{"title": "Kept item"}]}),
            "checklists-²-name": "superscript row", "checklists-0-items-٣-title": "arabic-indic row"}
    response = browser.post("/admin/checklists", data=data)
    assert response.status_code == 302
    (saved,) = checklists.for_agency(world.agency_a.id)
    assert (saved.name, [i.title for i in saved.items]) == ("Kept", ["Kept item"])
