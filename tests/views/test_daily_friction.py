"""Daily friction on the pages a consultant uses all day: a client search that finds nothing
says so, "Start the POA" is one click, and a note is printed once on the case page."""
import html
import re

from caseapp.extensions import db
from caseapp.models import PoaDraft
from caseapp.services.cases import records


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_a_client_search_that_matches_nothing_says_so_and_offers_to_clear_it(browser, other_browser, world):
    browser.login(world.consultant_a.email)
    page = browser.get("/clients/?q=Nobody+Trading").get_data(as_text=True)
    assert "No clients match “Nobody Trading”." in text_of(page)
    assert "No clients yet" not in page
    assert re.search(r'<a href="/clients/">Clear the search</a>', page)
    # Without a search, an agency that has clients sees them; one that has none is told so.
    assert "Harbor Lane Home Goods" in browser.get("/clients/").get_data(as_text=True)
    other_browser.login(world.consultant_b.email)
    assert "No clients yet." in other_browser.get("/clients/").get_data(as_text=True)


def test_the_search_term_in_the_message_is_escaped(browser, world):
    browser.login(world.consultant_a.email)
    page = browser.get("/clients/?q=<b>x</b>").get_data(as_text=True)
    assert "No clients match “&lt;b&gt;x&lt;/b&gt;”." in page


def test_start_the_poa_is_one_post_from_the_case_page(browser, world):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/cases/{world.case_a.id}/poa/start"[^>]*>(.*?)</form>',
                     page, re.S)
    assert form and "Start the POA" in form.group(1) and 'name="csrf_token"' in form.group(1)
    assert "starter for customer complaints" in page  # which starter it will be, said beside it


def test_starting_twice_makes_one_draft_and_lands_on_it(browser, world):
    """A double click, or a case page left open while a colleague started the POA."""
    browser.login(world.consultant_a.email)
    first = browser.post(f"/cases/{world.case_a.id}/poa/start")
    second = browser.post(f"/cases/{world.case_a.id}/poa/start", follow_redirects=True)
    [draft] = db.session.scalars(db.select(PoaDraft).where(PoaDraft.case_id == world.case_a.id)).all()
    assert first.headers["Location"].endswith(f"/poa/{draft.id}")
    assert second.request.path == f"/poa/{draft.id}"
    assert "already has a POA" in html.unescape(second.get_data(as_text=True))


def test_a_note_is_printed_once_on_the_case_page(browser, world):
    records.add_note(world.consultant_a, world.case_a.id, "Seller promised the March invoices by Friday")
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert page.count("Seller promised the March invoices") == 1
    entry = re.search(r'<li class="kind-note_added"[^>]*>(.*?)</li>', page, re.S).group(1)
    assert "Carl Consultant" in entry  # who wrote it is still on its entry
