"""A form sent twice (a double click, a reload of the POST) is done once: each rendered form
carries a one-time key, written with what the POST saved (views/form_keys.py)."""
import io
import re

from caseapp.extensions import db
from caseapp.models import (AmazonResponse, Case, Client, Evidence, IdempotencyKey, Note, PoaDraft,
                            Reminder, Submission)
from caseapp.services import idempotency
from caseapp.services.poa import drafts

KEY_RE = re.compile(r'name="(?:[a-z]+-)?form_key" type="hidden" value="([^"]+)"')


def count(model) -> int:
    return db.session.scalar(db.select(db.func.count(model.id)))


def key_on(browser, url: str) -> str:
    match = KEY_RE.search(browser.get(url).get_data(as_text=True))
    assert match, f"no form key on {url}"
    return match.group(1)


def test_every_rendering_of_a_form_has_its_own_key(browser, world):
    browser.login(world.consultant_a.email)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    first = KEY_RE.findall(page)
    assert len(first) >= 3  # the note, the submission and the upload form at least
    again = KEY_RE.findall(browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True))
    assert not set(first) & set(again)


def test_a_note_sent_twice_with_its_key_is_saved_once(browser, world):
    browser.login(world.consultant_a.email)
    key = key_on(browser, f"/cases/{world.case_a.id}")
    data = {"body": "Called the seller.", "form_key": key}
    first = browser.post(f"/cases/{world.case_a.id}/notes", data=data)
    second = browser.post(f"/cases/{world.case_a.id}/notes", data=data)
    assert count(Note) == 1
    assert second.status_code == 303
    assert second.location == first.location  # where the first one went
    page = browser.get(second.location).get_data(as_text=True)
    assert "sent twice; it was done once" in page
    assert db.session.scalar(db.select(IdempotencyKey.location)) == first.location


def test_a_submission_sent_twice_with_its_key_schedules_one_follow_up(browser, world):
    browser.login(world.consultant_a.email)
    key = key_on(browser, f"/cases/{world.case_a.id}")
    data = {"poa_draft_id": "", "channel": "email", "amazon_reference": "R-1", "form_key": key}
    browser.post(f"/cases/{world.case_a.id}/submissions", data=data)
    browser.post(f"/cases/{world.case_a.id}/submissions", data=data)
    assert count(Submission) == 1
    assert count(Reminder) == 1


def test_a_reply_sent_twice_with_its_key_is_recorded_once(browser, world):
    browser.login(world.consultant_a.email)
    browser.post(f"/cases/{world.case_a.id}/submissions", data={"channel": "email"})
    submission = db.session.scalar(db.select(Submission))
    key = key_on(browser, f"/cases/{world.case_a.id}")
    data = {"outcome": "more_info_requested", "body": "Send invoices.", "form_key": key}
    browser.post(f"/submissions/{submission.id}/responses", data=data)
    second = browser.post(f"/submissions/{submission.id}/responses", data=data)
    assert second.status_code == 303
    assert count(AmazonResponse) == 1


def test_a_refused_post_spends_no_key(browser, world):
    browser.login(world.consultant_a.email)
    key = key_on(browser, f"/cases/{world.case_a.id}")
    refused = browser.post(f"/cases/{world.case_a.id}/notes", data={"body": "", "form_key": key})
    assert refused.status_code == 422
    assert count(IdempotencyKey) == 0
    browser.post(f"/cases/{world.case_a.id}/notes", data={"body": "Now with text.", "form_key": key})
    assert count(Note) == 1


def test_new_client_and_new_case_sent_twice_are_made_once(browser, world):
    browser.login(world.consultant_a.email)
    before = count(Client)
    data = {"name": "Blue Door Toys", "seller_id": "", "marketplace": "US",
            "form_key": key_on(browser, "/clients/new")}
    first = browser.post("/clients/new", data=data)
    second = browser.post("/clients/new", data=data)
    assert count(Client) == before + 1
    assert second.location == first.location
    cases_before = count(Case)
    data = {"client_id": str(world.client_a.id), "title": "Listing down", "kind": "listing_deactivation",
            "reason": "other", "priority": "normal", "assignee_id": "", "asins": "",
            "form_key": key_on(browser, "/cases/new")}
    browser.post("/cases/new", data=data)
    browser.post("/cases/new", data=data)
    assert count(Case) == cases_before + 1


def test_an_upload_sent_twice_with_its_key_adds_one_file(browser, world):
    browser.login(world.consultant_a.email)
    key = key_on(browser, f"/cases/{world.case_a.id}")
    for text in (b"first invoice", b"another text, same key"):
        browser.post(f"/cases/{world.case_a.id}/evidence", data={
            "evidence-files": (io.BytesIO(text), "invoice.txt"), "evidence-category": "invoice",
            "evidence-form_key": key}, content_type="multipart/form-data")
    assert count(Evidence) == 1


def test_a_poa_save_sent_twice_makes_one_version(browser, world):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    browser.login(world.consultant_a.email)
    key = key_on(browser, f"/poa/{draft.id}")
    data = {"subject": "Appeal", "introduction": "We sold a damaged item.", "root_cause": "Packing.",
            "corrective_actions": "New boxes", "preventive_measures": "Checks", "closure": "Thanks",
            "form_key": key}
    browser.post(f"/poa/{draft.id}", data=data)
    browser.post(f"/poa/{draft.id}", data=data)
    assert count(PoaDraft) == 2  # the starter and one saved version


def test_another_persons_key_is_not_mine(browser, other_browser, world):
    browser.login(world.consultant_a.email)
    other_browser.login(world.admin_a.email)
    key = key_on(browser, f"/cases/{world.case_a.id}")
    browser.post(f"/cases/{world.case_a.id}/notes", data={"body": "Mine.", "form_key": key})
    other_browser.post(f"/cases/{world.case_a.id}/notes", data={"body": "Theirs.", "form_key": key})
    assert count(Note) == 2


def racing(monkeypatch):
    """The first look-up misses the key, as for a second click arriving while the first was
    still being saved: the database's unique key must then stop the second."""
    real = idempotency.find
    calls = []

    def find(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)
    monkeypatch.setattr(idempotency, "find", find)


def test_two_clicks_racing_save_one_note_and_the_second_shows_the_first_result(browser, world,
                                                                               monkeypatch):
    browser.login(world.consultant_a.email)
    key = key_on(browser, f"/cases/{world.case_a.id}")
    data = {"body": "Called the seller.", "form_key": key}
    first = browser.post(f"/cases/{world.case_a.id}/notes", data=data)
    racing(monkeypatch)
    second = browser.post(f"/cases/{world.case_a.id}/notes", data=data)
    assert count(Note) == 1  # the second note was rolled back with its key
    assert second.status_code == 303 and second.location == first.location


def keys_of_forms(page: str, action: str) -> list[str]:
    """The one-time keys of the forms posting to `action` on a page."""
    forms = re.findall(rf'<form[^>]*action="{re.escape(action)}[^"]*"[^>]*>(.*?)</form>', page, re.S)
    return [m for form in forms for m in KEY_RE.findall(form)]


def test_snooze_clicked_twice_snoozes_once(browser, world):
    """A double click on "Snooze 24 h" moved the follow-up by 48 h."""
    from datetime import timedelta
    browser.login(world.consultant_a.email)
    browser.post(f"/cases/{world.case_a.id}/submissions", data={"channel": "email"})
    reminder = db.session.scalar(db.select(Reminder))
    due = reminder.due_at
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    (key,) = keys_of_forms(page, f"/reminders/{reminder.id}/snooze")
    for _ in range(2):
        browser.post(f"/reminders/{reminder.id}/snooze", data={"hours": "24", "form_key": key})
    db.session.expire_all()
    assert db.session.get(Reminder, reminder.id).due_at == due + timedelta(hours=24)


def test_withdraw_clicked_twice_withdraws_once_and_shows_the_case(browser, world):
    browser.login(world.consultant_a.email)
    browser.post(f"/cases/{world.case_a.id}/submissions", data={"channel": "email"})
    submission = db.session.scalar(db.select(Submission))
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    (key,) = keys_of_forms(page, f"/submissions/{submission.id}/withdraw")
    data = {"confirmed": "yes", "form_key": key}
    first = browser.post(f"/submissions/{submission.id}/withdraw", data=data)
    second = browser.post(f"/submissions/{submission.id}/withdraw", data=data)
    assert second.status_code == 303 and second.location == first.location
    assert "sent twice; it was done once" in browser.get(second.location).get_data(as_text=True)
