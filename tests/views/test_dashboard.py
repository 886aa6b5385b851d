import html
import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.services.appeals import submissions, workflow
from caseapp.services.deadlines import clocks
from tests.conftest import make_case, make_client


@pytest.fixture
def many(world):
    """Agency A with cases of both consultants, several clients, statuses and reasons."""
    me, colleague = world.consultant_a, world.admin_a
    kiefer = make_client(me, name="Kiefer Outdoor GmbH", seller_id="A3KIEFER0UTD00", marketplace="DE")
    made = {
        "tent": make_case(me, kiefer, title="Trademark claim on tent", kind="listing_deactivation",
                          reason="intellectual_property", asins="B0C1TENT01", priority="urgent"),
        "late": make_case(me, world.client_a, title="Late shipment rate", reason="performance_metrics",
                          asins=""),
        "theirs": make_case(colleague, world.client_a, title="Colleague's case", asins="B08N5WRWNW",
                            assignee_id=colleague.id),
        "nobody": make_case(colleague, kiefer, title="Nobody's case", asins="", assignee_id=None),
    }
    workflow.change_status(me, made["tent"].id, "drafting")
    return made


def titles(page_html: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<a href="/cases/\d+">([^<]+)</a>', page_html)]


def test_my_cases_by_default(browser, world, many):
    browser.login(world.consultant_a.email)
    shown = titles(browser.get("/cases").get_data(as_text=True))
    assert set(shown) == {"Account suspended", "Trademark claim on tent", "Late shipment rate"}


@pytest.mark.parametrize("query,expected", [
    ("assignee=all", {"Account suspended", "Trademark claim on tent", "Late shipment rate",
                      "Colleague's case", "Nobody's case"}),
    ("assignee=none", {"Nobody's case"}),
    ("assignee=all&status=drafting", {"Trademark claim on tent"}),
    ("assignee=all&reason=performance_metrics", {"Late shipment rate"}),
    ("assignee=all&q=kiefer", {"Trademark claim on tent", "Nobody's case"}),
    ("assignee=all&q=A3KIEFER", {"Trademark claim on tent", "Nobody's case"}),
    ("assignee=all&q=b08n5wrwnw", {"Colleague's case"}),
    ("assignee=all&q=SHIPMENT", {"Late shipment rate"}),
    ("assignee=all&q=nothing-matches", set()),
])
def test_filters_and_search(browser, world, many, query, expected):
    browser.login(world.consultant_a.email)
    assert set(titles(browser.get(f"/cases?{query}").get_data(as_text=True))) == expected


def test_filter_by_client_and_assignee_id(browser, world, many):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases?assignee={world.admin_a.id}&client_id={world.client_a.id}")
    assert set(titles(page.get_data(as_text=True))) == {"Colleague's case"}


def test_counts_per_status_follow_the_other_filters(browser, world, many):
    browser.login(world.consultant_a.email)
    page = browser.get("/cases?assignee=all&status=open").get_data(as_text=True)
    assert re.search(r'data-count-status="open"[^>]*>Open 4<', page)
    assert re.search(r'data-count-status="drafting"[^>]*>Drafting POA 1<', page)
    page = browser.get("/cases?assignee=me").get_data(as_text=True)
    assert re.search(r'data-count-status="open"[^>]*>Open 2<', page)


def test_sort_by_priority_puts_urgent_first(browser, world, many):
    browser.login(world.consultant_a.email)
    shown = titles(browser.get("/cases?assignee=all&sort=priority").get_data(as_text=True))
    assert shown[0] == "Trademark claim on tent"
    shown = titles(browser.get("/cases?assignee=all&sort=client").get_data(as_text=True))
    # Harbor Lane's cases before Kiefer's, newest first within a client
    assert shown[:3] == ["Colleague's case", "Late shipment rate", "Account suspended"]
    assert shown[3:] == ["Nobody's case", "Trademark claim on tent"]


def test_pagination(browser, world, app):
    for i in range(30):
        make_case(world.consultant_a, world.client_a, title=f"Case number {i:02d}", asins="")
    browser.login(world.consultant_a.email)
    first = titles(browser.get("/cases?sort=oldest").get_data(as_text=True))
    second_html = browser.get("/cases?sort=oldest&page=2").get_data(as_text=True)
    second = titles(second_html)
    assert len(first) == app.config["CASES_PER_PAGE"] == 25
    assert len(second) == 31 - 25
    assert not set(first) & set(second)
    assert 'data-count-status="open"' in second_html and ">Open 31<" in second_html
    assert "Page 2" in second_html and 'class="page-item disabled"' in second_html  # no next page
    # a page past the end is empty, not an error
    assert browser.get("/cases?page=99").status_code == 200


def test_the_page_size_is_the_deployment_setting(browser, world, app):
    for i in range(5):
        make_case(world.consultant_a, world.client_a, title=f"Case number {i:02d}", asins="")
    app.config["CASES_PER_PAGE"] = 2
    browser.login(world.consultant_a.email)
    assert len(titles(browser.get("/cases?sort=oldest").get_data(as_text=True))) == 2


def next_link(page_html: str) -> str:
    return html.unescape(re.search(r'<a class="page-link" href="([^"]+)">Next</a>', page_html).group(1))


def test_next_and_previous_links_page_by_cursor(browser, world):
    for i in range(30):
        make_case(world.consultant_a, world.client_a, title=f"Case number {i:02d}", asins="")
    browser.login(world.consultant_a.email)
    first_html = browser.get("/cases?status=open").get_data(as_text=True)
    link = next_link(first_html)
    assert "after=" in link and "status=open" in link and "page=2" in link
    second_html = browser.get(link).get_data(as_text=True)
    assert "Page 2" in second_html
    assert len(titles(second_html)) == 31 - 25
    assert not set(titles(first_html)) & set(titles(second_html))
    previous = html.unescape(re.search(r'href="([^"]+)">Previous</a>', second_html).group(1))
    assert "before=" not in previous  # back to page 1 is simply page 1
    assert titles(browser.get(previous).get_data(as_text=True)) == titles(first_html)


def test_a_mangled_page_link_shows_the_first_page_with_a_note(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.get("/cases?after=garbage&page=7")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "no longer fits this list" in page and "Account suspended" in page


def test_nonsense_filters_are_ignored_not_errors(browser, world, many):
    browser.login(world.consultant_a.email)
    response = browser.get("/cases?status=won&sort=drop+table&page=-3&client_id=abc&assignee=x")
    assert response.status_code == 200
    assert "Account suspended" in response.get_data(as_text=True)


def test_client_page_lists_that_clients_cases(browser, world, many):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/clients/{world.client_a.id}").get_data(as_text=True)
    assert set(titles(page)) == {"Account suspended", "Late shipment rate", "Colleague's case"}


def test_counts_are_capped_instead_of_counting_everything(browser, world, monkeypatch):
    from caseapp.services.cases import records as case_service
    from caseapp.views import helpers

    monkeypatch.setattr(case_service, "COUNT_CAP", 3)
    monkeypatch.setattr(helpers, "COUNT_CAP", 3)
    for i in range(5):
        make_case(world.consultant_a, world.client_a, title=f"Capped {i}", asins="")
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    assert re.search(r'data-count-status="open"[^>]*>Open 3\+<', page)
    assert re.search(r'data-count-status="drafting"[^>]*>Drafting POA 0<', page)


def test_long_client_lists_leave_the_dashboard(browser, world, monkeypatch):
    from caseapp.views import dashboard

    monkeypatch.setattr(dashboard, "CLIENT_LIST_LIMIT", 1)
    make_client(world.consultant_a, name="Second Client")
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    assert "Second Client" not in page
    page = browser.get(f"/cases?client_id={world.client_a.id}").get_data(as_text=True)
    assert f'<option value="{world.client_a.id}" selected>Harbor Lane Home Goods</option>' in page


def test_next_deadline_column_and_sort_show_any_clock_soonest_first(browser, world, many):
    now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    me = world.consultant_a
    with time_machine.travel(now, tick=False):
        clocks.add(me, many["tent"].id, {"title": "Answer the rights owner",
                                         "due_at": now + timedelta(days=3)}, now)
        clocks.add(me, many["late"].id, {"title": "Late already", "due_at": now - timedelta(hours=5)}, now)
        # The follow-up with Amazon is a deadline too: 48 h after the submission, 46 h from now.
        submissions.record_submission(me, world.case_a.id, {"submitted_at": now - timedelta(hours=2)})
        browser.login(me.email)
        whole = browser.get("/cases?assignee=all&sort=deadline").get_data(as_text=True)
    page = whole.split('class="table table-hover align-middle cases-table"', 1)[1]  # not the cards above
    assert titles(page)[:3] == ["Late shipment rate", "Account suspended", "Trademark claim on tent"]
    assert set(titles(page)[3:]) == {"Colleague's case", "Nobody's case"}  # no clock: last
    cells = [(flag, re.sub(r"<[^>]+>", " ", text).split()) for flag, text in re.findall(
        r'class="text-nowrap small next-deadline" data-overdue="(yes|no)">(.*?)</td>', page, re.S)]
    assert cells[:3] == [("yes", ["29", "Nov", "2026,", "08:00", "overdue", "by", "5", "h"]),
                         ("no", ["01", "Dec", "2026,", "11:00", "due", "in", "46", "h"]),
                         ("no", ["02", "Dec", "2026,", "13:00", "due", "in", "3", "days"])]
    assert cells[3:] == [("no", ["none"]), ("no", ["none"])]
    assert 'aria-sort="ascending"><a class="text-reset" href="/cases?assignee=all&amp;sort=deadline' in page
    assert '<option value="deadline" selected>Next deadline, soonest first</option>' in whole
