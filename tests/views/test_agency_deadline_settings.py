"""The agency page's calendar and reminder settings, and the deadline presets page: what an
admin saves there is what the next case gets."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from caseapp.extensions import db
from caseapp.models import Agency, AuditEvent, Case, Deadline
from caseapp.services.deadlines import presets

AFTER_CHRISTMAS = datetime(2027, 1, 11, 9, 0, tzinfo=timezone.utc)
BLANK = {"kind": "", "title": "", "amount": "", "unit": "days", "clock": "", "case_kind": "", "reason": "",
         "lead_hours": "", "active": "y"}
CALENDAR = {"country": "", "subdivision": "", "working_days": ["1", "2", "3", "4", "5"],
            "deadline_lead_hours": "72, 24"}


def rows_form(*rows: dict) -> dict:
    """The presets page as a browser sends it: each row's fields as presets-<i>-<name>; an
    unticked checkbox is not sent at all."""
    data = {}
    for index, row in enumerate(rows):
        for name, value in {**BLANK, **row}.items():
            if name in ("active", "remove") and not value:
                continue
            data[f"presets-{index}-{name}"] = value
    return data


def new_case(browser, world, title, opened_at="", kind="account_suspension", reason="customer_complaints"):
    response = browser.post("/cases/new", data={
        "client_id": world.client_a.id, "title": title, "kind": kind, "reason": reason, "priority": "normal",
        "assignee_id": world.consultant_a.id, "asins": "", "opened_at": opened_at, "amazon_notice": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return db.session.scalar(db.select(Case).where(Case.title == title))


def deadlines_of(case) -> dict[str, Deadline]:
    found = db.session.scalars(db.select(Deadline).where(Deadline.case_id == case.id)).all()
    return {d.title: d for d in found if d.kind != "amazon_follow_up"}


def field_error(page: str, field_id: str) -> str:
    """The messages shown right under the field with this id (inside its own block)."""
    match = re.search(rf'data-field="{re.escape(field_id)}">(.*?)(?=data-field=|</tr>)', page, re.S)
    assert match, f"no field {field_id}"
    messages = re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', match.group(1), re.S)
    return " ".join(messages)


@pytest.mark.parametrize("method, url", [("GET", "/admin/deadline-presets"), ("POST", "/admin/deadline-presets"),
                                         ("POST", "/admin/deadline-presets/restore"),
                                         ("POST", "/admin/agency/calendar")])
def test_consultants_are_refused(browser, world, method, url):
    browser.login(world.consultant_a.email)
    response = browser.get(url) if method == "GET" else browser.post(
        url, data={**rows_form({"kind": "custom", "amount": "3"}), **CALENDAR, "confirmed": "yes"})
    assert response.status_code == 403
    assert presets.uses_defaults(world.agency_a.id)
    assert db.session.get(Agency, world.agency_a.id).working_days == "12345"


def test_the_page_shows_the_shipped_defaults_until_saved(browser, world):
    browser.login(world.admin_a.email)
    page = browser.get("/admin/deadline-presets").get_data(as_text=True)
    assert "These are caseapp&#39;s shipped defaults" in page or "These are caseapp's shipped defaults" in page
    assert "A new case gets these deadlines, counted from its notice date" in page
    for preset in presets.DEFAULTS:
        assert f'value="{preset.title}"' in page
    assert "Restore shipped defaults" not in page  # nothing to restore yet
    agency_page = browser.get("/admin/agency").get_data(as_text=True)
    assert "Appeal window (17 days from the notice)" in agency_page and "/admin/deadline-presets" in agency_page


def test_saved_presets_are_exactly_what_a_new_case_gets(browser, other_browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/deadline-presets", data=rows_form(
        {"kind": "appeal_window", "title": "Appeal window", "amount": "17", "unit": "days",
         "case_kind": "account_suspension"},
        {"kind": "agency_sla", "title": "First draft to the client", "amount": "36", "unit": "hours",
         "clock": "agency", "lead_hours": "12"},
        {"kind": "funds_release", "title": "Funds (off)", "amount": "60", "active": ""},
        {"kind": "inventory_removal", "title": "Listing cases only", "amount": "30",
         "case_kind": "listing_deactivation"},
        {"kind": "custom", "title": "Removed row", "amount": "5", "remove": "y"},
        {}, {}))  # the two blank rows are ignored
    assert response.status_code == 302
    assert not presets.uses_defaults(world.agency_a.id)
    page = browser.get("/admin/deadline-presets").get_data(as_text=True)
    assert "shipped defaults." not in page and 'value="First draft to the client"' in page
    assert "Removed row" not in page

    other_browser.login(world.consultant_a.email)
    case = new_case(other_browser, world, "Suspended after complaints")
    got = deadlines_of(case)
    assert set(got) == {"Appeal window", "First draft to the client"}
    opened = case.opened_at.replace(tzinfo=timezone.utc) if case.opened_at.tzinfo is None else case.opened_at
    due = got["First draft to the client"].due_at
    due = due.replace(tzinfo=timezone.utc) if due.tzinfo is None else due
    assert (due - opened).total_seconds() == 36 * 3600
    assert got["First draft to the client"].lead_hours == "12"
    assert got["Appeal window"].clock == "amazon"  # the kind's usual clock when none was chosen
    case_page = other_browser.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "First draft to the client" in case_page and "Funds (off)" not in case_page
    audit = db.session.scalars(db.select(AuditEvent).where(AuditEvent.kind == "settings_change")).all()
    assert any("4 deadline presets saved" in e.detail for e in audit)


def test_bad_rows_are_named_beside_their_fields_and_everything_typed_is_kept(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/deadline-presets", data=rows_form(
        {"kind": "appeal_window", "title": "Kept appeal title", "amount": "17"},
        {"kind": "custom", "title": "Removed with a mistake", "amount": "zero", "remove": "y"},
        {"kind": "appeal_window", "title": "Amazon in business days", "amount": "5",
         "unit": "business_days", "clock": "amazon"},
        {}, {"title": "Only a title", "amount": "0", "lead_hours": "soon"}))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    # Row 3 on the page (index 2) and row 5 (index 4): the removed row between shifts nothing.
    assert "Amazon&#39;s clocks count calendar time" in field_error(page, "presets-2-unit")
    assert "Choose a kind of deadline" in field_error(page, "presets-4-kind")
    assert "A whole number from 1 to 365" in field_error(page, "presets-4-amount")
    assert "separated by commas" in field_error(page, "presets-4-lead_hours")
    assert field_error(page, "presets-0-amount") == "" and field_error(page, "presets-1-amount") == ""
    for typed in ('value="Kept appeal title"', 'value="Removed with a mistake"', 'value="zero"',
                  'value="Only a title"', 'value="soon"', 'value="Amazon in business days"'):
        assert typed in page
    assert re.search(r'id="presets-1-remove"[^>]*checked|checked[^>]*id="presets-1-remove"', page)
    assert presets.uses_defaults(world.agency_a.id)  # nothing saved


def test_removing_every_row_is_refused_rather_than_bringing_back_the_defaults(browser, world):
    browser.login(world.admin_a.email)
    browser.post("/admin/deadline-presets", data=rows_form({"kind": "custom", "title": "Ours", "amount": "3"}))
    response = browser.post("/admin/deadline-presets", data=rows_form(
        {"kind": "custom", "title": "Ours", "amount": "3", "remove": "y"}, {}, {}))
    assert "untick Active on each" in response.get_data(as_text=True)
    assert [p.title for p in presets.for_agency(world.agency_a.id)] == ["Ours"]


def test_restore_shipped_defaults_asks_then_restores(browser, other_browser, world):
    browser.login(world.admin_a.email)
    browser.post("/admin/deadline-presets", data=rows_form({"kind": "custom", "title": "Ours", "amount": "3"}))
    page = browser.get("/admin/deadline-presets").get_data(as_text=True)
    assert "Restore shipped defaults" in page
    asked = browser.post("/admin/deadline-presets/restore", data={"confirmed": ""})
    assert "Replace your agency" in asked.get_data(as_text=True)
    assert not presets.uses_defaults(world.agency_a.id)  # only asked
    response = browser.post("/admin/deadline-presets/restore", data={"confirmed": "yes"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "shipped deadline presets are restored" in page
    assert presets.uses_defaults(world.agency_a.id)
    other_browser.login(world.consultant_a.email)
    assert "Appeal window (17 days from the notice)" in deadlines_of(new_case(other_browser, world, "After restore"))


def test_business_day_preset_counts_over_german_holidays_and_the_weekend(browser, other_browser, world):
    with time_machine.travel(AFTER_CHRISTMAS, tick=False):
        browser.login(world.admin_a.email)
        other_browser.login(world.consultant_a.email)
        browser.post("/admin/deadline-presets", data=rows_form(
            {"kind": "agency_sla", "title": "POA to the client", "amount": "5", "unit": "business_days",
             "clock": "agency"}))
        plain = deadlines_of(new_case(other_browser, world, "No holidays", "2026-12-23"))["POA to the client"]
        response = browser.post("/admin/agency/calendar", data={**CALENDAR, "country": "DE"},
                                follow_redirects=True)
        page = response.get_data(as_text=True)
        assert "Calendar and reminder settings saved" in page
        assert re.search(r"Next 5 public holidays:.*Easter Monday", page, re.S)
        german = deadlines_of(new_case(other_browser, world, "German calendar", "2026-12-23"))["POA to the client"]

    def berlin(moment):
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(ZoneInfo("Europe/Berlin"))

    # Notice Wed 23 Dec, 00:00 Berlin. Without holidays the five days are 23, 24, 25, 28 and 29
    # Dec; in Germany Fri 25 Dec is Christmas Day (Sat 26 Dec is the weekend anyway), so the
    # fifth working day is Wed 30 Dec and the clock ends as the 31st begins.
    assert berlin(plain.due_at) == datetime(2026, 12, 30, 0, 0, tzinfo=berlin(plain.due_at).tzinfo)
    assert berlin(german.due_at) == datetime(2026, 12, 31, 0, 0, tzinfo=berlin(german.due_at).tzinfo)


def test_working_days_count_too(browser, other_browser, world):
    with time_machine.travel(datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc), tick=False):
        browser.login(world.admin_a.email)
        other_browser.login(world.consultant_a.email)
        browser.post("/admin/deadline-presets", data=rows_form(
            {"kind": "agency_sla", "title": "POA to the client", "amount": "2", "unit": "business_days"}))
        browser.post("/admin/agency/calendar", data={**CALENDAR, "working_days": ["1", "2", "3", "4", "5", "6"]})
        # Friday 20 Nov and Saturday 21 Nov: due at the start of Sunday, not of Tuesday.
        due = deadlines_of(new_case(other_browser, world, "Saturday works", "2026-11-20"))["POA to the client"].due_at
    due = due if due.tzinfo else due.replace(tzinfo=timezone.utc)
    assert due == datetime(2026, 11, 21, 23, 0, tzinfo=timezone.utc)  # 00:00 Sunday in Berlin


def test_calendar_mistakes_are_all_named_and_nothing_is_saved(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/agency/calendar", data={
        "country": "DE", "subdivision": "XX", "deadline_lead_hours": "72, 24, 12, 6, 3, 1", "working_days": []})
    page = response.get_data(as_text=True)
    assert "is not a subdivision of DE" in page and "BY" in page
    assert "Tick at least one working day" in page
    assert "At most 5 reminders" in page
    assert 'value="XX"' in page and 'value="72, 24, 12, 6, 3, 1"' in page
    agency = db.session.get(Agency, world.agency_a.id)
    assert (agency.country, agency.subdivision, agency.working_days) == ("", "", "12345")
    page = browser.post("/admin/agency/calendar", data={**CALENDAR, "subdivision": "BY"}).get_data(as_text=True)
    assert "A subdivision needs a country" in page
    page = browser.post("/admin/agency/calendar", data={**CALENDAR, "deadline_lead_hours": "9000"}).get_data(as_text=True)
    assert "from 1 to 2160" in page


def test_a_region_and_lead_hours_are_saved_and_used(browser, other_browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/agency/calendar", data={
        **CALENDAR, "country": "DE", "subdivision": "by", "deadline_lead_hours": "48,4"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    db.session.expire_all()
    agency = db.session.get(Agency, world.agency_a.id)
    assert (agency.country, agency.subdivision, agency.deadline_lead_hours) == ("DE", "BY", "48,4")
    assert 'value="48, 4"' in page and "(DE-BY)" in page
    other_browser.login(world.consultant_a.email)
    got = deadlines_of(new_case(other_browser, world, "Reminders"))
    assert got["POA to the client"].lead_hours == "48,4"


def test_a_row_number_that_is_not_ascii_digits_is_ignored_not_a_500(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/deadline-presets", data={"presets-\u00b2-kind": "custom",
                                                             "presets-\u00b2-title": "x"})
    assert response.status_code < 500
