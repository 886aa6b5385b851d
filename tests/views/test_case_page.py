import html
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import time_machine

from caseapp.extensions import db
from caseapp.models import Case
from caseapp.services.accounts import people
from caseapp.services.cases import records
from tests.conftest import make_case


def timeline_summaries(page: str) -> list[str]:
    return [html.unescape(s) for s in re.findall(r'<li class="kind-[a-z_]+" data-kind="[a-z_]+">\s*<div><strong>([^<]+)</strong>', page)]


def test_case_page_shows_timeline_newest_first_with_who(browser, world):
    browser.login(world.consultant_a.email)
    browser.post(f"/cases/{world.case_a.id}/status", data={"status": "drafting"})
    browser.post(f"/cases/{world.case_a.id}/notes", data={"body": "Asked for invoices"})
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert timeline_summaries(page) == [
        "Note", "Status: Open → Drafting POA",
        "Assigned to Carl Consultant", "Case opened: Account suspended"]
    assert "Carl Consultant" in page
    assert 'data-status="drafting"' in page


def test_refused_status_change_says_why(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/status", data={"status": "reinstated"},
                            follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "cannot move from Open to Reinstated" in page
    assert "only reinstate a case that was submitted" in page
    assert 'data-status="open"' in page


def test_times_are_shown_in_the_viewers_time_zone(browser, world, app):
    with time_machine.travel(datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc), tick=False):
        case = make_case(world.consultant_a, world.client_a, title="Clock case")
    people.update_own_profile(world.consultant_a, "Carl Consultant", "Asia/Tokyo")
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "11 Mar 2026, 00:30 JST" in page  # 15:30 UTC is past midnight in Tokyo

    other = type(browser)(app)
    other.login(world.admin_a.email)  # no own zone: the agency's, Europe/Berlin
    page = other.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "10 Mar 2026, 16:30 CET" in page
    assert "times in Europe/Berlin" in page


def test_notice_date_is_read_in_the_consultants_zone(browser, world):
    people.update_own_profile(world.consultant_a, "Carl Consultant", "America/Los_Angeles")
    browser.login(world.consultant_a.email)
    response = browser.post("/cases/new", data={
        "client_id": world.client_a.id, "title": "Dated case", "kind": "other", "reason": "other",
        "priority": "normal", "assignee_id": world.consultant_a.id, "asins": "",
        "opened_at": "2026-11-02", "amazon_notice": ""})
    assert response.status_code == 302
    case = db.session.scalar(db.select(Case).where(Case.title == "Dated case"))
    assert case.opened_at == datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)  # 00:00 PST


def test_notes_are_markdown_and_scripts_never_survive(browser, world):
    browser.login(world.consultant_a.email)
    body = ("**Invoices** requested <script>alert('x')</script> "
            "[click](javascript:alert(1)) <img src=x onerror=alert(2)>")
    browser.post(f"/cases/{world.case_a.id}/notes", data={"body": body})
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "<strong>Invoices</strong>" in page
    assert "<script>alert" not in page and "requested" in page  # typed HTML is left out
    assert 'href="javascript' not in page
    assert "<img" not in page


def test_empty_note_is_refused_and_a_too_long_one_is_kept_for_editing(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/notes", data={"body": "   "})
    assert response.status_code == 422
    assert "cannot be empty" in response.get_data(as_text=True)
    long_text = "Detailed call notes. " * 1000
    response = browser.post(f"/cases/{world.case_a.id}/notes", data={"body": long_text})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "at most 20,000 characters" in page
    assert "Detailed call notes. Detailed call notes." in page  # the text is still in the box


def test_case_form_shows_each_error_beside_its_field_and_keeps_input(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/cases/new", data={
        "client_id": world.client_a.id, "title": "Kept title", "kind": "other", "reason": "other",
        "priority": "normal", "assignee_id": "", "asins": "B07XJ8C8F5, TOOSHORT",
        "amazon_notice": "Notice text kept"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "these are not: TOOSHORT" in page
    assert 'value="Kept title"' in page and "Notice text kept" in page
    assert db.session.scalar(db.select(Case).where(Case.title == "Kept title")) is None


def test_edit_case_and_reassign_from_the_page(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/edit", data={
        "client_id": world.client_a.id, "title": "Renamed case", "kind": "account_suspension",
        "reason": "policy_violation", "priority": "high", "assignee_id": world.consultant_a.id,
        "asins": "B07XJ8C8F5", "amazon_notice": "",
        # the date the form shows, unchanged: not an edit of the notice date
        "opened_at": world.case_a.opened_at.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()})
    assert response.status_code == 302
    browser.post(f"/cases/{world.case_a.id}/assignee", data={"assignee_id": world.admin_a.id})
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    summaries = timeline_summaries(page)
    assert summaries[0] == "Assigned to Ada Admin"
    assert summaries[1] == "Edited title, reason, priority"
    assert "Renamed case" in page


def test_long_timelines_show_the_newest_hundred_then_all_on_request(browser, world):
    for i in range(105):
        records.add_note(world.consultant_a, world.case_a.id, f"Call log entry {i:03d}")
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert len(timeline_summaries(page)) == 100
    assert timeline_summaries(page)[0] == "Note" and 'id="older-events"' in page
    assert "Call log entry 104" in page and "Call log entry 005" in page and "Call log entry 004" not in page
    page = browser.get(f"/cases/{world.case_a.id}?timeline=all").get_data(as_text=True)
    assert len(timeline_summaries(page)) == 107 and 'id="older-events"' not in page
