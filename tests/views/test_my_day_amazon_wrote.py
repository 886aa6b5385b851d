"""My day lists first the cases where Amazon wrote and nobody has recorded the reply yet,
labelled "Amazon wrote on …"; their follow-up rows say so too; the page costs the same
statements with one such case or many."""
import html
import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.services.appeals import submissions
from caseapp.services.deadlines import clocks
from caseapp.services.inbound import amazon, filing
from tests.conftest import make_case, make_client
from tests.services.inbound.conftest import mail
from tests.views.test_my_day import Statements, sections

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
WROTE = datetime(2026, 11, 28, 8, 15, tzinfo=timezone.utc)  # 09:15 in Berlin


@pytest.fixture(autouse=True)
def setting(app):
    app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    with time_machine.travel(NOW, tick=False):
        yield
    app.config["INBOUND_ADDRESS"] = ""


def submitted_case(actor, title, hours_ago=30):
    client = make_client(actor, name=f"Client of {title}")
    case = make_case(actor, client, title=title)
    submissions.record_submission(actor, case.id, {"submitted_at": NOW - timedelta(hours=hours_ago)}, now=NOW)
    return case


def amazon_writes(case, when=WROTE):
    return filing.receive(mail(to=mailtags.case_address(case.id), message_id=f"<d{case.id}@amazon.com>",
                               text="We have reviewed your appeal.", date=when), now=NOW).message


def wrote_rows(page: str) -> list[tuple[str, str]]:
    """(case link text, label) of the "Amazon wrote" list, in the order shown."""
    block = re.search(r'id="amazon-wrote".*?</section>', page, re.S)
    if not block:
        return []
    return [(html.unescape(re.sub(r"\s+", " ", a)), html.unescape(re.sub(r"\s+", " ", label).strip())) for a, label in re.findall(
        r'class="fw-semibold"[^>]*>([^<]*)</a>\s*<div class="amazon-wrote-label">([^<]*)</div>', block.group(0))]


def test_cases_where_amazon_wrote_come_first_with_the_day_it_wrote(browser, world):
    early = submitted_case(world.consultant_a, "Early letter")
    later = submitted_case(world.consultant_a, "Later letter")
    quiet = submitted_case(world.consultant_a, "Still quiet")
    amazon_writes(later, WROTE + timedelta(hours=3))
    amazon_writes(early, WROTE)
    browser.login(world.consultant_a.email)
    page = browser.get("/my-day").get_data(as_text=True)
    assert wrote_rows(page) == [
        ("Client of Early letter: Early letter",
         "Amazon wrote on 28 Nov 2026, 09:15 CET; the reply waits to be recorded."),
        ("Client of Later letter: Later letter",
         "Amazon wrote on 28 Nov 2026, 12:15 CET; the reply waits to be recorded.")]
    assert page.index('id="amazon-wrote"') < page.index('day-section')
    assert "Still quiet" not in page.split('data-bucket=')[0]
    # The follow-up rows of those cases say it too, and Amazon is not called silent anywhere.
    row_of = {title: block for title, block in re.findall(
        r'data-deadline-id="\d+".*?fw-semibold"[^>]*>[^:<]*: ([^<]*)</a>(.*?)</li>', page, re.S)}
    assert "Amazon wrote on 28 Nov 2026, 09:15 CET" in row_of["Early letter"]
    assert "Amazon wrote" not in row_of[quiet.title]
    assert "silent" not in page.lower()


def test_recording_or_dismissing_the_mail_takes_the_case_off_the_list(browser, world):
    case = submitted_case(world.consultant_a, "Answered")
    other = submitted_case(world.consultant_a, "Newsletter")
    row = amazon_writes(case)
    news = amazon_writes(other)
    browser.login(world.consultant_a.email)
    assert len(wrote_rows(browser.get("/my-day").get_data(as_text=True))) == 2
    amazon.confirm(world.consultant_a, row.id, now=NOW)
    amazon.dismiss(world.consultant_a, news.id, now=NOW)
    page = browser.get("/my-day").get_data(as_text=True)
    assert wrote_rows(page) == [] and 'id="amazon-wrote"' not in page


def test_whose_cases_follows_the_person_filter_and_the_agency(browser, other_browser, world):
    mine = submitted_case(world.consultant_a, "Carl's")
    theirs = submitted_case(world.admin_a, "Ada's")
    amazon_writes(mine)
    amazon_writes(theirs)
    client_b = make_client(world.consultant_b, name="Agency B client")
    case_b = make_case(world.consultant_b, client_b, title="Other agency")
    submissions.record_submission(world.consultant_b, case_b.id, {"submitted_at": NOW - timedelta(hours=5)}, now=NOW)
    case_b.amazon_wrote_at = WROTE
    db.session.commit()

    browser.login(world.consultant_a.email)
    assert [r[0] for r in wrote_rows(browser.get("/my-day").get_data(as_text=True))] == ["Client of Carl's: Carl's"]
    browser = other_browser
    browser.login(world.admin_a.email)
    everyone = browser.get("/my-day?person=all").get_data(as_text=True)
    assert sorted(r[0] for r in wrote_rows(everyone)) == ["Client of Ada's: Ada's", "Client of Carl's: Carl's"]
    assert "Other agency" not in everyone
    assert [r[0] for r in wrote_rows(browser.get("/my-day?person=me").get_data(as_text=True))] == [
        "Client of Ada's: Ada's"]


def test_the_list_shows_on_the_first_page_only(browser, world):
    case = submitted_case(world.consultant_a, "Wrote")
    amazon_writes(case)
    for n in range(55):
        clocks.add(world.consultant_a, world.case_a.id,
                   {"kind": "custom", "title": f"D{n:02}", "due_at": NOW + timedelta(minutes=n + 1)}, NOW)
    browser.login(world.consultant_a.email)
    page = browser.get("/my-day").get_data(as_text=True)
    assert len(wrote_rows(page)) == 1
    link = re.search(r'href="(/my-day\?[^"]*after=[^"]+)"', page).group(1).replace("&amp;", "&")
    second = browser.get(link).get_data(as_text=True)
    assert wrote_rows(second) == [] and sections(second)


def test_the_page_costs_the_same_statements_with_one_or_many_cases_where_amazon_wrote(app, browser, world):
    browser.login(world.admin_a.email)
    counts = []
    for size in (1, 12):
        while len(wrote_rows(browser.get("/my-day?person=all").get_data(as_text=True))) < size:
            n = db.session.scalar(db.select(db.func.count()).select_from(db.metadata.tables["cases"]))
            actor = world.consultant_a if n % 2 else world.admin_a
            amazon_writes(submitted_case(actor, f"Case {n}"))
        with Statements(app) as seen:
            page = browser.get("/my-day?person=all").get_data(as_text=True)
        assert len(wrote_rows(page)) == size
        assert page.count('class="list-group-item day-row"') == size  # each case's follow-up
        counts.append(len(seen))
    assert counts[0] == counts[1]


def test_the_dashboards_awaiting_list_says_amazon_wrote_not_silent(browser, world):
    wrote = submitted_case(world.consultant_a, "Wrote")
    submitted_case(world.consultant_a, "Quiet", hours_ago=20)
    amazon_writes(wrote)
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    items = dict(re.findall(r'awaiting-case.*?cases/\d+">([^<]*)</a>.*?awaiting-clock">(.*?)</span>\s*</li>', page, re.S))
    assert "Amazon wrote on 28 Nov 2026, 09:15 CET</strong>: the reply waits to be recorded" in items["Wrote"]
    assert "silent" not in items["Wrote"] and "silent 20 h" in items["Quiet"]
