"""Saved views of the case list: name the filters, share them, open the list with one; page
sizes; and the list says how long it is."""
from __future__ import annotations

import html
import re

from caseapp.extensions import db
from caseapp.models import SavedView, User
from tests.conftest import make_case, make_client


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _titles(page: str) -> list[str]:
    return re.findall(r'class="case-title[^"]*"[^>]*>([^<]+)<', page)


def test_a_saved_view_reopens_its_filters_and_can_be_the_default(browser, world):
    actor = world.consultant_a
    for n in range(3):
        make_case(actor, world.client_a, title=f"IP case {n}", reason="intellectual_property")
    db.session.commit()
    browser.login(actor.email)
    saved = browser.post("/cases/views", data={"name": "My IP cases", "reason": "intellectual_property",
                                              "assignee": "me", "sort": "oldest", "make_default": "y"})
    assert saved.status_code == 302
    view = db.session.scalar(db.select(SavedView))
    assert view.args == {"reason": "intellectual_property", "assignee": "me", "sort": "oldest"}
    assert saved.headers["Location"].endswith(f"/cases?view={view.id}")

    page = _text(browser.get("/cases"))  # a bare /cases opens with the default view
    assert 'aria-current="page">My IP cases' in page and "Account suspended" not in page
    assert "IP case 0" in page and "★" in page
    assert "Account suspended" in _text(browser.get("/cases?assignee=me"))  # "My cases" still there

    assert browser.post("/cases/views/default/clear").status_code == 302
    assert "Account suspended" in _text(browser.get("/cases"))


def test_a_shared_view_is_the_agencys_and_a_private_one_only_its_owners(browser, other_browser, world):
    browser.login(world.consultant_a.email)
    browser.post("/cases/views", data={"name": "Waiting on Amazon", "status": "submitted", "assignee": "all",
                                       "shared": "y"})
    browser.post("/cases/views", data={"name": "Mine only", "status": "open"})
    shared, private = db.session.scalars(db.select(SavedView).order_by(SavedView.id)).all()
    other_browser.login(world.admin_a.email)
    page = _text(other_browser.get("/cases?assignee=all"))
    assert "Waiting on Amazon" in page and "Mine only" not in page
    assert other_browser.get(f"/cases?view={private.id}").status_code == 404
    assert other_browser.get(f"/cases?view={shared.id}").status_code == 200
    b = browser.__class__(browser.client.application)
    b.login(world.admin_b.email)
    assert b.get(f"/cases?view={shared.id}").status_code == 404  # another agency's
    # An admin may delete a colleague's shared view.
    assert other_browser.post(f"/cases/views/{shared.id}/delete").status_code == 302
    assert db.session.scalar(db.select(SavedView.id).where(SavedView.id == shared.id)) is None


def test_a_view_without_a_name_is_refused_beside_the_field_and_keeps_the_filters(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/cases/views", data={"name": "  ", "reason": "other", "assignee": "all"})
    page = _text(response)
    assert response.status_code == 422 and "Give the view a name." in page
    assert '<option value="other" selected>' in page  # the list as it was filtered
    assert db.session.scalar(db.select(SavedView.id)) is None


def test_the_same_name_updates_the_view(browser, world):
    browser.login(world.consultant_a.email)
    browser.post("/cases/views", data={"name": "Urgent", "status": "open"})
    browser.post("/cases/views", data={"name": "urgent", "status": "drafting"})
    [view] = db.session.scalars(db.select(SavedView)).all()
    assert view.args["status"] == "drafting"


def test_page_size_and_the_lists_length(browser, world, app):
    for n in range(30):
        make_case(world.consultant_a, world.client_a, title=f"Case number {n:02}")
    db.session.commit()
    browser.login(world.consultant_a.email)
    page = _text(browser.get("/cases?per_page=25"))
    assert "1–25 of 31 cases" in page
    page = _text(browser.get("/cases?per_page=50"))
    assert "1–31 of 31 cases" in page and '<option value="50" selected>' in page
    assert "1–25 of 31 cases" in _text(browser.get("/cases?per_page=7"))  # not a choice: the default
    app.config["CASES_PER_PAGE"] = 10
    first = _text(browser.get("/cases"))
    nxt = re.search(r'<a class="page-link" href="([^"]+)">Next</a>', first).group(1)
    assert "11–20 of 31 cases" in _text(browser.get(nxt))


def test_a_deleted_default_view_falls_back_to_my_cases(browser, world):
    browser.login(world.consultant_a.email)
    browser.post("/cases/views", data={"name": "Gone soon", "status": "closed", "make_default": "y"})
    view = db.session.scalar(db.select(SavedView))
    assert browser.post(f"/cases/views/{view.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, world.consultant_a.id).default_view_id is None
    assert "Account suspended" in _text(browser.get("/cases"))


def test_the_case_lists_title_is_words_only(browser, world):
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    assert "<title>Cases · caseapp</title>" in page
    assert page.count("/static/bulk.js") == 1


def test_a_default_view_of_a_deleted_client_still_opens_the_list(browser, world):
    from caseapp.services.cases import clients

    gone = make_client(world.admin_a, name="Gone Seller")
    db.session.commit()
    browser.login(world.consultant_a.email)
    browser.post("/cases/views", data={"name": "Gone's cases", "client_id": str(gone.id), "make_default": "y"})
    clients.delete_client(world.admin_a, gone.id)
    db.session.commit()
    response = browser.get("/cases")
    assert response.status_code == 200 and "no longer exists; showing every client" in _text(response)
    assert browser.get(f"/cases?client_id={gone.id}").status_code == 404  # a typed address stays a 404
