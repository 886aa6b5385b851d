"""The search page and the nav's quick-jump box: find a case by what you remember of it."""
from __future__ import annotations

import html

from caseapp.extensions import db
from caseapp.services.appeals import submissions
from caseapp.services.cases import records
from tests.conftest import make_case


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_results_show_the_match_marked_and_link_to_it(browser, world):
    records.add_note(world.consultant_a, world.case_a.id, "The <b>supplier</b> invoices from Shenzhen arrive Friday.")
    db.session.commit()
    browser.login(world.consultant_a.email)
    page = browser.get("/search?q=shenzhen").get_data(as_text=True)
    assert "<mark>Shenzhen</mark>" in page and "<b>supplier" not in page and "supplier" in page  # marked, no markup
    # (SQLite's snippet keeps the typed tags, escaped; PostgreSQL's ts_headline drops them.)
    assert f'href="/cases/{world.case_a.id}#note-' in page and "Note · Account suspended" in html.unescape(page)
    assert 'id="quick-jump"' in page  # the nav's box on every page
    assert "Nothing matches “no-such-words”" in _text(browser.get("/search?q=no-such-words"))


def test_the_quick_jump_opens_the_one_case_a_code_names(browser, world):
    submissions.record_submission(world.consultant_a, world.case_a.id, {"amazon_reference": "CASE-998877"})
    other = make_case(world.consultant_a, world.client_a, title="Second listing", asins=["B0SECOND01"])
    db.session.commit()
    browser.login(world.consultant_a.email)
    jump = browser.get("/search?jump=1&q=CASE-998877")
    assert jump.status_code == 302 and jump.headers["Location"].endswith(f"/cases/{world.case_a.id}#submissions")
    assert browser.get("/search?jump=1&q=b0second01").headers["Location"].endswith(f"/cases/{other.id}")
    assert browser.get(f"/search?jump=1&q=%23{other.id}").headers["Location"].endswith(f"/cases/{other.id}")
    assert browser.get("/search?jump=1&q=harbor").headers["Location"].endswith(f"/clients/{world.client_a.id}")
    # Several matches: the results page, not a guess.
    make_case(world.consultant_a, world.client_a, title="Account review")
    db.session.commit()
    several = browser.get("/search?jump=1&q=account")
    assert several.status_code == 200 and _text(several).count('class="card mb-2 search-hit"') == 2


def test_another_agencys_case_number_is_not_jumped_to(browser, world):
    browser.login(world.admin_b.email)
    response = browser.get(f"/search?jump=1&q=%23{world.case_a.id}")
    assert response.status_code == 200 and "Nothing matches" in _text(response)
