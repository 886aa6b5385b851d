"""The board (views/board.py): the case list as one column per status, and moving a card."""
import html
import re

import pytest

from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, STATUSES
from caseapp.services.appeals import submissions, workflow
from caseapp.views import board
from tests.conftest import make_case, make_client
from tests.cost import statements


@pytest.fixture
def cases(world):
    """Agency A: the consultant's cases in open, drafting and submitted; a colleague's and an
    unassigned case; agency B's case, which no board of agency A ever shows."""
    me, colleague = world.consultant_a, world.admin_a
    kiefer = make_client(me, name="Kiefer Outdoor GmbH", seller_id="A3KIEFER0UTD00", marketplace="DE")
    made = {
        "open": world.case_a,
        "tent": make_case(me, kiefer, title="Trademark claim on tent", reason="intellectual_property",
                          priority="urgent"),
        "late": make_case(me, world.client_a, title="Late shipment rate", reason="performance_metrics"),
        "theirs": make_case(colleague, world.client_a, title="Colleague's case", assignee_id=colleague.id),
        "nobody": make_case(colleague, kiefer, title="Nobody's case", assignee_id=None),
    }
    workflow.change_status(me, made["tent"].id, "drafting")
    submissions.record_submission(me, made["late"].id, {})
    other = make_client(world.consultant_b, name="Other agency's client", seller_id="B0THER0AGENCY1")
    made["agency_b"] = make_case(world.consultant_b, other, title="Agency B's secret case")
    return made


def column(page: str, status: str) -> str:
    match = re.search(rf'<section class="board-column" id="column-{status}".*?</section>', page, re.S)
    assert match, f"no column {status}"
    return match.group(0)


def card_titles(page: str, status: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<a href="/cases/\d+">([^<]+)</a>', column(page, status))]


def count_of(page: str, status: str) -> str:
    return re.search(rf'data-count="{status}">([^<]+)<', page).group(1)


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<div class="alert alert-\w+" role="alert">(.*?)</div>', page, re.S)]


def test_a_column_per_status_with_its_count_and_cards(browser, world, cases):
    browser.login(world.consultant_a.email)
    page = browser.get("/board").get_data(as_text=True)
    assert re.findall(r'<section class="board-column" id="column-(\w+)"', page) == list(STATUSES)
    assert card_titles(page, "open") == ["Account suspended"]
    assert card_titles(page, "drafting") == ["Trademark claim on tent"]
    assert card_titles(page, "submitted") == ["Late shipment rate"]
    assert [count_of(page, s) for s in STATUSES] == ["1", "1", "1", "0", "0", "0", "0"]
    tent = column(page, "drafting")
    for fact in ("Kiefer Outdoor GmbH", "Carl Consultant", "Urgent", "Next deadline"):
        assert fact in tent
    assert "No cases." in column(page, "closed")


def test_the_board_takes_the_lists_filters_my_cases_by_default(browser, world, cases):
    browser.login(world.consultant_a.email)
    mine = html.unescape(browser.get("/board").get_data(as_text=True))
    assert "Colleague's case" not in mine and "Nobody's case" not in mine
    everyone = browser.get("/board?assignee=all").get_data(as_text=True)
    assert "Agency B's secret case" not in html.unescape(everyone)
    assert card_titles(everyone, "open") == ["Nobody's case", "Colleague's case", "Account suspended"]
    assert count_of(everyone, "open") == "3"
    assert card_titles(browser.get("/board?assignee=none").get_data(as_text=True), "open") == ["Nobody's case"]
    by_client = browser.get(f"/board?assignee=all&client_id={cases['tent'].client_id}").get_data(as_text=True)
    assert card_titles(by_client, "open") == ["Nobody's case"] and count_of(by_client, "submitted") == "0"
    searched = browser.get("/board?assignee=all&q=tent").get_data(as_text=True)
    assert [count_of(searched, s) for s in STATUSES] == ["0", "1", "0", "0", "0", "0", "0"]
    reason = browser.get("/board?assignee=all&reason=performance_metrics").get_data(as_text=True)
    assert card_titles(reason, "submitted") == ["Late shipment rate"] and card_titles(reason, "open") == []
    one_column = browser.get("/board?status=drafting").get_data(as_text=True)
    assert re.findall(r'id="column-(\w+)"', one_column) == ["drafting"]
    assert "Show every column" in one_column
    assert "Agency B's secret case" not in mine and "Other agency's client" not in mine


def test_a_legal_move_moves_the_case_and_comes_back_with_the_filters(browser, world, cases):
    browser.login(world.consultant_a.email)
    case = cases["open"]
    response = browser.post(f"/board/cases/{case.id}/move?assignee=all&reason=customer_complaints",
                            data={"status": "drafting"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/board?assignee=all&reason=customer_complaints&sort=updated#case-{case.id}"
    page = browser.get("/board?assignee=all&reason=customer_complaints").get_data(as_text=True)
    assert "Moved “Account suspended” from Open to Drafting POA." in flashes(page)
    assert "Account suspended" in card_titles(page, "drafting")
    assert "Account suspended" not in card_titles(page, "open")
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "drafting"
    event = db.session.scalars(db.select(CaseEvent).where(CaseEvent.case_id == case.id)
                               .order_by(CaseEvent.id.desc())).first()
    assert event.kind == "status_changed" and event.summary == "Status: Open → Drafting POA"
    assert event.actor_id == world.consultant_a.id


def _events(case_id: int) -> int:
    return db.session.scalar(db.select(db.func.count()).where(CaseEvent.case_id == case_id))


@pytest.mark.parametrize("confirmed", ["", "yes"])
def test_a_refused_move_says_why_and_changes_nothing(browser, world, cases, confirmed):
    browser.login(world.consultant_a.email)
    case = cases["open"]
    before = _events(case.id)
    response = browser.post(f"/board/cases/{case.id}/move", data={"status": "reinstated", "confirmed": confirmed})
    assert response.status_code == 302, "an illegal move is refused at once, not asked about"
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert ("“Account suspended” was not moved. A case cannot move from Open to Reinstated: Amazon "
            "can only reinstate a case that was submitted.") in flashes(page)
    assert card_titles(page, "open") == ["Account suspended"] and card_titles(page, "reinstated") == []
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "open" and _events(case.id) == before


def test_a_move_to_no_status_at_all_is_refused(browser, world, cases):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/board/cases/{cases['open'].id}/move", data={"status": "won"})
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert any(f.startswith("“Account suspended” was not moved. Choose one of: open, drafting")
               for f in flashes(page))
    db.session.expire_all()
    assert db.session.get(Case, cases["open"].id).status == "open"


def test_a_move_that_ends_the_case_asks_first_without_javascript(browser, world, cases):
    browser.login(world.consultant_a.email)
    case = cases["late"]  # submitted: Reinstated is a person's move from there
    url = f"/board/cases/{case.id}/move?assignee=all"
    asked = browser.post(url, data={"status": "reinstated"})
    assert asked.status_code == 200
    text = html.unescape(asked.get_data(as_text=True))
    assert "Mark “Late shipment rate” as Reinstated? The case is closed as won and its follow-ups stop." in text
    assert f'action="{url}"' in text and 'name="confirmed" value="yes"' in text
    assert f'href="/board?assignee=all&amp;sort=updated#case-{case.id}"' in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "submitted"
    done = browser.post(url, data={"status": "reinstated", "confirmed": "yes"})
    assert done.status_code == 302
    db.session.expire_all()
    moved = db.session.get(Case, case.id)
    assert moved.status == "reinstated" and moved.closed_at is not None


def test_the_board_offers_only_the_workflows_moves_with_the_browsers_question(browser, world, cases):
    browser.login(world.consultant_a.email)
    page = browser.get("/board").get_data(as_text=True)
    card = re.search(rf'<li class="board-card card" id="case-{cases["late"].id}".*?</li>', page, re.S).group(0)
    options = re.findall(r'<option value="(\w+)"', card)
    assert options == list(workflow.allowed_moves("submitted"))
    assert 'data-confirm="Mark “Late shipment rate” as Reinstated?' in card
    assert 'name="csrf_token"' in card and f'data-moves="{" ".join(options)}"' in card
    assert '<script src="/static/board.js" defer></script>' in page


def test_another_agencys_case_is_not_found(browser, world, cases):
    browser.login(world.admin_b.email)
    response = browser.post(f"/board/cases/{cases['open'].id}/move", data={"status": "drafting"})
    assert response.status_code == 404
    assert "Account suspended" not in response.get_data(as_text=True)
    page = html.unescape(browser.get("/board?assignee=all").get_data(as_text=True))
    assert "Agency B's secret case" in page and "Account suspended" not in page
    db.session.expire_all()
    assert db.session.get(Case, cases["open"].id).status == "open"


def test_a_full_column_shows_its_first_cards_and_links_to_the_list(browser, world, monkeypatch):
    monkeypatch.setattr(board, "CARDS_PER_COLUMN", 3)
    for n in range(5):
        make_case(world.consultant_a, world.client_a, title=f"Extra case {n}")
    browser.login(world.consultant_a.email)
    page = browser.get("/board?reason=customer_complaints").get_data(as_text=True)
    assert len(card_titles(page, "open")) == 3 and count_of(page, "open") == "6"
    more = re.search(r'<a class="board-more small" href="([^"]+)">([^<]+)</a>', column(page, "open"))
    assert more.group(2) == "and 3 more: see the list"
    assert html.unescape(more.group(1)) == "/cases?status=open&assignee=me&reason=customer_complaints&sort=updated&page=1"
    assert "board-more" not in column(page, "drafting")


def test_statements_do_not_grow_with_the_number_of_cases(browser, world):
    """A column costs its statements (its cards, their ASINs) whether it shows 2 cards or 20."""
    browser.login(world.consultant_a.email)

    def add(n: int) -> None:
        for i in range(n):
            make_case(world.consultant_a, world.client_a, title=f"Open {i}", asins=[f"B000000{i:03d}"])
            case = make_case(world.consultant_a, world.client_a, title=f"Drafting {i}")
            workflow.change_status(world.consultant_a, case.id, "drafting")

    def cost() -> int:
        with statements() as seen:
            assert browser.get("/board?assignee=all").status_code == 200
        return len(seen)

    add(1)
    cost()  # warm: the first request loads what every later one has
    few = cost()
    add(20)
    assert cost() == few


def test_hostile_titles_and_names_come_back_escaped_on_cards_and_in_questions(browser, world):
    from html.parser import HTMLParser

    payload = '"><script>window.__xss=1</script><img src=x onerror=alert(1)>'
    client = make_client(world.consultant_a, name="Client " + payload, seller_id="A9H0STILE00001")
    case = make_case(world.consultant_a, client, title="Case " + payload)
    submissions.record_submission(world.consultant_a, case.id, {})  # its moves ask questions
    browser.login(world.consultant_a.email)
    page = browser.get("/board").get_data(as_text=True)
    asked = browser.post(f"/board/cases/{case.id}/move", data={"status": "denied"}).get_data(as_text=True)

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found = []

        def handle_starttag(self, tag, attrs):
            self.found += [(tag, dict(attrs))]

    for text in (page, asked):
        tags = Tags()
        tags.feed(text)
        assert not [t for t, a in tags.found if t == "img" or (t == "script" and "src" not in a)]
        assert not [a for t, a in tags.found if any(name.startswith("on") for name in a)]
    tags = Tags()
    tags.feed(page)
    questions = [a["data-confirm"] for t, a in tags.found if "data-confirm" in a]
    assert f"Mark “Case {payload}” as Denied? Its follow-ups stop." in questions
    assert html.unescape(re.search(r'<h1 class="h3 mb-3" id="confirm-question">(.*?)</h1>', asked).group(1)) \
        == f"Mark “Case {payload}” as Denied? Its follow-ups stop."
    assert f"Client {payload}" in html.unescape(page)


def test_a_card_sent_twice_moves_once(browser, world, cases):
    """A double click (or a drop and a click): the card's one-time key makes the second POST
    a repeat of the first, not a refusal "already in Drafting POA"."""
    browser.login(world.consultant_a.email)
    page = browser.get("/board").get_data(as_text=True)
    card = re.search(rf'<li class="board-card card" id="case-{cases["open"].id}".*?</li>', page, re.S).group(0)
    key = re.search(r'name="form_key" value="([^"]+)"', card).group(1)
    assert key not in page.replace(card, ""), "each card has a key of its own"
    url = f"/board/cases/{cases['open'].id}/move"
    first = browser.post(url, data={"status": "drafting", "form_key": key})
    events = _events(cases["open"].id)
    second = browser.post(url, data={"status": "drafting", "form_key": key})
    assert second.headers["Location"] == first.headers["Location"]
    shown = flashes(browser.get(second.headers["Location"]).get_data(as_text=True))
    assert any("sent twice" in f for f in shown) and not any("already" in f for f in shown)
    assert _events(cases["open"].id) == events
