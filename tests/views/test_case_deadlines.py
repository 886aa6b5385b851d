"""The case page's Deadlines card: every clock of the case, and a person managing them
(add, edit, mark met, cancel, reopen, pause, resume), each change on the timeline."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.extensions import db
from caseapp.models import Deadline
from caseapp.services.accounts import people
from caseapp.services.appeals import submissions, workflow
from caseapp.services.deadlines import clocks
from tests.views.test_case_page import timeline_summaries
from tests.views.test_stored_xss import LINE, TEXT, assert_safe

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)  # 13:00 in Berlin, agency A's zone
NOTHING_WAITS = "None: no submission is waiting on Amazon"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def page_of(browser, world) -> str:
    return browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def card(page: str) -> str:
    start = page.index('id="deadlines-card"')
    return page[start:page.index('id="submissions"', start)]


def item(page: str, deadline_id: int) -> str:
    """The card's entry of one deadline, from its <li> to the next."""
    start = page.index(f'id="deadline-{deadline_id}"')
    end = page.find("</li>", start)
    return page[start:end]


def add_form(**fields) -> dict:
    data = {"kind": "custom", "title": "", "due_at": "", "note": ""}
    data.update(fields)
    return {f"deadline-{k}": v for k, v in data.items()}


def add(world, kind="custom", title="Send the client the POA", days=3, **extra) -> Deadline:
    return clocks.add(world.consultant_a, world.case_a.id,
                      {"kind": kind, "title": title, "due_at": NOW + timedelta(days=days), **extra})


def reload(deadline: Deadline) -> Deadline:
    db.session.expire_all()
    return db.session.get(Deadline, deadline.id)


# ---- adding ----------------------------------------------------------------------------------

def test_adding_with_mistakes_says_each_beside_its_field_and_keeps_what_was_typed(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/deadlines", data=add_form(
        kind="agency_sla", title="T" * 201, due_at="2026-13-45T10:00", note="Promised on the call"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    form = page[page.index('id="add-deadline" open'):]
    form = form[:form.index("</form>")]
    # Both mistakes at once, each under its own field.
    due = form[form.index('id="deadline-due_at"'):]
    assert "Give a date and time such as 2026-11-29 14:30." in due[:600]
    title = form[form.index('id="deadline-title"'):]
    assert "At most 200 characters." in title[:700]
    # Nothing typed is lost.
    assert 'value="2026-13-45T10:00"' in form and 'value="' + "T" * 201 + '"' in form
    assert "Promised on the call</textarea>" in form
    assert '<option selected value="agency_sla">' in form
    assert db.session.scalar(db.select(db.func.count(Deadline.id))) == 0


def test_adding_without_a_due_time_asks_for_one_beside_the_field(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/deadlines",
                            data=add_form(title="Funds", note="keep me"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    due = page[page.index('id="deadline-due_at"'):]
    assert "When is it due?" in due[:600]
    assert 'value="Funds"' in page and "keep me</textarea>" in page
    assert db.session.scalar(db.select(db.func.count(Deadline.id))) == 0


def test_a_deadline_typed_in_the_viewers_zone_is_stored_in_utc_and_shown_back(browser, world):
    people.update_own_profile(world.consultant_a, "Carl Consultant", "Asia/Tokyo")
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/deadlines",
                            data=add_form(kind="amazon_reply_due", due_at="2026-12-10T09:00"))
    assert response.status_code == 302 and response.headers["Location"].endswith("#deadlines-card")
    deadline = db.session.scalar(db.select(Deadline))
    assert deadline.due_at == datetime(2026, 12, 10, 0, 0, tzinfo=timezone.utc)  # 09:00 JST
    assert deadline.title == "Answer Amazon"  # no title: the kind's name
    assert (deadline.clock, deadline.source, deadline.created_by_id) == (
        "amazon", "person", world.consultant_a.id)
    page = page_of(browser, world)
    entry = item(page, deadline.id)
    assert "10 Dec 2026, 09:00 JST" in entry and "due in 10 days" in entry
    assert "Amazon's clock, calendar time" in entry and "Added by Carl Consultant" in entry
    assert "running" in entry
    assert timeline_summaries(page)[0].startswith("Deadline added: Answer Amazon, due 10 Dec 2026")


def test_a_time_the_clocks_skip_is_refused(browser, world):
    browser.login(world.consultant_a.email)  # Europe/Berlin: 29 Mar 2026 02:30 does not exist
    response = browser.post(f"/cases/{world.case_a.id}/deadlines", data=add_form(due_at="2027-03-28T02:30"))
    assert response.status_code == 422
    assert "does not exist in Europe/Berlin" in response.get_data(as_text=True)


# ---- what the card shows -----------------------------------------------------------------------

def test_an_overdue_deadline_says_so_in_words_and_red(browser, world, clock):
    deadline = add(world, kind="document_request", title="Invoices from the client", days=1)
    clock.move_to(NOW + timedelta(days=4))
    browser.login(world.consultant_a.email)
    page = page_of(browser, world)
    entry = item(page, deadline.id)
    assert 'data-deadline-overdue="yes"' in entry
    assert "Overdue</span>" in entry and "overdue by 3 days" in entry and "text-danger" in entry
    assert "Documents from the client" in entry
    # The header's next deadline is this one, overdue, and never "nothing waits".
    head = page[page.index('id="next-deadline"'):page.index('id="next-step"')]
    assert "Invoices from the client" in head and "overdue by 3 days" in head
    assert NOTHING_WAITS not in page


def test_the_follow_up_shows_with_its_own_actions_and_no_edit(browser, world):
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW - timedelta(hours=2)})
    follow_up = db.session.scalar(db.select(Deadline).where(Deadline.kind == clocks.FOLLOW_UP))
    browser.login(world.consultant_a.email)
    page = page_of(browser, world)
    entry = item(page, follow_up.id)
    assert "Follow up with Amazon" in entry and "From the submission of 29 Nov 2026, 11:00 CET" in entry
    assert 'href="#deadlines">Snooze or dismiss</a>' in entry  # the follow-up's own buttons
    assert page.count("Snooze 24 h") == 1  # once on the page: under Submissions
    for absent in ("Mark met", "Cancel", "Edit", "Pause", "deadlines/"):
        assert absent not in entry, absent
    # Sent anyway, the service refuses and the page says why.
    response = browser.post(f"/deadlines/{follow_up.id}/status", data={"status": "met"},
                            follow_redirects=True)
    assert "The follow-up with Amazon follows the submissions" in response.get_data(as_text=True)
    assert reload(follow_up).status == "open"


def test_the_page_never_says_nothing_waits_while_a_deadline_is_open(browser, world):
    browser.login(world.consultant_a.email)
    assert NOTHING_WAITS in page_of(browser, world)  # the control: no deadline, nothing waits
    deadline = add(world, kind="agency_sla", title="POA to the client")
    page = page_of(browser, world)
    assert NOTHING_WAITS not in page and "POA to the client</a> by 02 Dec 2026, 13:00 CET" in page
    clocks.pause_by_person(world.consultant_a, deadline.id)
    page = page_of(browser, world)
    assert NOTHING_WAITS not in page and "None running: 1 paused" in page
    # An ended case with a deadline opened again: not "nothing to do".
    clocks.resume_by_person(world.consultant_a, deadline.id)
    workflow.change_status(world.consultant_a, world.case_a.id, "closed")
    assert reload(deadline).status == "cancelled"
    clocks.update(world.consultant_a, deadline.id, {"status": "open"})
    page = page_of(browser, world)
    assert 'data-step="deadline"' in page and "Nothing to do" not in page
    assert "Next: POA to the client, due in 3 days." in page


# ---- acting on a deadline ------------------------------------------------------------------

def test_mark_met_then_reopen_then_cancel_each_on_the_timeline(browser, world, clock):
    deadline = add(world)
    browser.login(world.consultant_a.email)
    clock.move_to(NOW + timedelta(hours=1))
    response = browser.post(f"/deadlines/{deadline.id}/status", data={"status": "met"})
    assert response.headers["Location"].endswith(f"/cases/{world.case_a.id}#deadlines-card")
    assert reload(deadline).status == "met"
    page = page_of(browser, world)
    closed = page[page.index('id="closed-deadlines"'):]
    closed = closed[:closed.index("</details>")]
    assert "Met</span>" in closed and "Met 29 Nov 2026, 14:00 CET by Carl Consultant" in closed
    assert "Reopen" in closed and 'id="open-deadlines"' not in page
    assert timeline_summaries(page)[0] == "Deadline Send the client the POA: met"

    browser.post(f"/deadlines/{deadline.id}/status", data={"status": "open"})
    assert reload(deadline).status == "open"
    assert timeline_summaries(page_of(browser, world))[0] == "Deadline Send the client the POA: open again (was met)"

    browser.post(f"/deadlines/{deadline.id}/status", data={"status": "cancelled"})
    row = reload(deadline)
    assert row.status == "cancelled" and row.closed_by_id == world.consultant_a.id
    page = page_of(browser, world)
    assert "Cancelled 29 Nov 2026, 14:00 CET by Carl Consultant" in page
    assert timeline_summaries(page)[0] == "Deadline Send the client the POA: cancelled"


def test_a_closing_reason_is_shown_with_the_closed_deadline(browser, world):
    deadline = add(world, kind="appeal_window", title="Appeal window")
    workflow.change_status(world.consultant_a, world.case_a.id, "closed")
    browser.login(world.consultant_a.email)
    page = page_of(browser, world)
    entry = item(page, deadline.id)
    assert "Cancelled</span>" in entry and ": the case was closed" in entry


def test_pause_and_resume_an_agency_clock(browser, world, clock, app):
    deadline = add(world, kind="agency_sla", title="POA to the client", days=2)
    clock.move_to(NOW + timedelta(hours=12))
    browser.login(world.consultant_a.email)
    response = browser.post(f"/deadlines/{deadline.id}/pause", follow_redirects=True)
    assert "Clock paused" in response.get_data(as_text=True)
    assert reload(deadline).paused
    page = page_of(browser, world)
    entry = item(page, deadline.id)
    assert "Paused</span>" in entry and "36 h left" in entry and "Resume" in entry
    assert 'data-paused="yes"' in entry and "Resume the clock to move its due time." in entry
    assert "Deadline POA to the client paused: paused by Carl Consultant" in timeline_summaries(page)

    clock.move_to(NOW + timedelta(days=5))  # paused time does not count
    browser = type(browser)(app)  # days later: a new sign-in
    browser.login(world.consultant_a.email)
    browser.post(f"/deadlines/{deadline.id}/resume")
    row = reload(deadline)
    assert not row.paused and row.due_at == NOW + timedelta(days=5, hours=36)
    page = page_of(browser, world)
    entry = item(page, deadline.id)
    assert "due in 36 h" in entry and "Pause" in entry and "running" in entry
    assert timeline_summaries(page)[0] == ("Deadline POA to the client running again, now due "
                                           "06 Dec 2026, 01:00 CET: resumed by Carl Consultant")


def test_a_clock_paused_when_overdue_says_so(browser, world, clock):
    deadline = add(world, kind="agency_sla", title="POA to the client", days=1)
    clock.move_to(NOW + timedelta(days=2))
    clocks.pause_by_person(world.consultant_a, deadline.id)
    browser.login(world.consultant_a.email)
    entry = item(page_of(browser, world), deadline.id)
    assert "Paused</span>" in entry and "it was already overdue" in entry and " left" not in entry


def test_amazons_clocks_never_pause(browser, world):
    deadline = add(world, kind="appeal_window", title="Appeal window")
    browser.login(world.consultant_a.email)
    entry = item(page_of(browser, world), deadline.id)
    assert "Amazon's clocks never pause." in entry and f"/deadlines/{deadline.id}/pause" not in entry
    response = browser.post(f"/deadlines/{deadline.id}/pause", follow_redirects=True)
    assert "Amazon&#39;s clocks never pause: only the agency&#39;s own deadlines can wait." in \
        response.get_data(as_text=True)
    assert not reload(deadline).paused


def test_editing_title_due_and_note_in_the_viewers_zone(browser, world):
    deadline = add(world, title="Old title")
    browser.login(world.consultant_a.email)
    entry = item(page_of(browser, world), deadline.id)
    assert 'value="2026-12-02T13:00"' in entry  # the due time as typed in Berlin
    prefix = f"deadline-{deadline.id}-"
    response = browser.post(f"/deadlines/{deadline.id}/edit", data={
        prefix + "title": "New title", prefix + "due_at": "2026-12-04T09:30", prefix + "note": "Client asked"})
    assert response.status_code == 302
    row = reload(deadline)
    assert (row.title, row.note) == ("New title", "Client asked")
    assert row.due_at == datetime(2026, 12, 4, 8, 30, tzinfo=timezone.utc)
    page = page_of(browser, world)
    assert timeline_summaries(page)[0] == (
        "Deadline New title: renamed from \u201cOld title\u201d; note changed; "
        "now due 04 Dec 2026, 09:30 CET (was 02 Dec 2026, 13:00 CET)")
    assert "Client asked" in item(page, deadline.id)


def test_saving_the_edit_form_unchanged_moves_nothing(browser, world):
    deadline = clocks.add(world.consultant_a, world.case_a.id,
                          {"title": "Seconds", "due_at": NOW + timedelta(days=1, seconds=42)})
    browser.login(world.consultant_a.email)
    prefix = f"deadline-{deadline.id}-"
    browser.post(f"/deadlines/{deadline.id}/edit", data={
        prefix + "title": "Seconds", prefix + "due_at": "2026-11-30T13:00", prefix + "note": ""})
    assert reload(deadline).due_at == NOW + timedelta(days=1, seconds=42)
    assert not timeline_summaries(page_of(browser, world))[0].startswith("Deadline Seconds")


def test_an_edit_with_mistakes_shows_them_beside_the_fields_of_that_deadline(browser, world):
    deadline = add(world, title="Keep")
    browser.login(world.consultant_a.email)
    prefix = f"deadline-{deadline.id}-"
    response = browser.post(f"/deadlines/{deadline.id}/edit", data={
        prefix + "title": "", prefix + "due_at": "someday", prefix + "note": "typed"})
    assert response.status_code == 422
    entry = item(response.get_data(as_text=True), deadline.id)
    assert "<details class=\"mt-1 deadline-edit\" open>" in entry
    assert "Give it a title." in entry and "Give a date and time such as" in entry
    assert 'value="someday"' in entry and "typed</textarea>" in entry
    assert reload(deadline).title == "Keep"


def test_titles_and_notes_are_shown_escaped(browser, world):
    browser.login(world.consultant_a.email)
    browser.post(f"/cases/{world.case_a.id}/deadlines",
                 data=add_form(title="Due " + LINE, note=TEXT, due_at="2026-12-01T10:00"))
    deadline = db.session.scalar(db.select(Deadline))
    assert deadline.title == "Due " + LINE
    page = page_of(browser, world)
    assert_safe(page, "Due " + LINE, deadline.note, where="case page")
    clocks.update(world.consultant_a, deadline.id, {"status": "met"})
    assert_safe(page_of(browser, world), "Due " + LINE, where="closed deadline")


# ---- another agency --------------------------------------------------------------------------

def test_another_agencys_deadline_is_404_on_every_route(browser, world):
    deadline = add(world, kind="agency_sla")
    browser.login(world.admin_b.email)
    for url, data in [(f"/cases/{world.case_a.id}/deadlines", add_form(due_at="2026-12-10T09:00")),
                      (f"/deadlines/{deadline.id}/edit", {f"deadline-{deadline.id}-title": "Taken"}),
                      (f"/deadlines/{deadline.id}/status", {"status": "met"}),
                      (f"/deadlines/{deadline.id}/pause", {}), (f"/deadlines/{deadline.id}/resume", {})]:
        response = browser.post(url, data=data)
        assert response.status_code == 404, url
        assert "Send the client the POA" not in response.get_data(as_text=True)
    row = reload(deadline)
    assert (row.title, row.status, row.paused) == ("Send the client the POA", "open", False)
    assert db.session.scalar(db.select(db.func.count(Deadline.id))) == 1
