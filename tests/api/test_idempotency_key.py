"""The API's Idempotency-Key (DESIGN.md): the same key from the same token within 24 h answers
the first answer again and changes nothing; with a different body it is a 422."""
import io
from datetime import timedelta

import time_machine

from caseapp.extensions import db
from caseapp.models import Evidence, IdempotencyKey, Note, Submission, utcnow
from caseapp.services import idempotency
from caseapp.services.appeals import dispatch


def count(model) -> int:
    return db.session.scalar(db.select(db.func.count(model.id)))


def test_a_repeated_post_answers_the_first_answer_and_saves_nothing(api_a, world):
    headers = {"Idempotency-Key": "note-7f3a"}
    first = api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "Called."}, headers=headers)
    second = api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "Called."}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(Note) == 1


def test_the_same_key_with_another_body_is_422(api_a, world):
    headers = {"Idempotency-Key": "k-1"}
    api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "One."}, headers=headers)
    other = api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "Two."}, headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["error"]["fields"]
    assert count(Note) == 1


def test_key_order_and_spacing_of_the_json_do_not_make_another_body(api_a, world):
    headers = {"Idempotency-Key": "sub-1", "Content-Type": "application/json"}
    path = f"/cases/{world.case_a.id}/submissions"
    api_a.request("POST", path, data='{"channel": "email", "amazon_reference": "X"}', headers=headers)
    again = api_a.request("POST", path, data='{"amazon_reference":"X","channel":"email"}', headers=headers)
    assert again.status_code == 201
    assert count(Submission) == 1


def test_another_tokens_key_is_independent(api_a, api_b, admin_api_a, world):
    headers = {"Idempotency-Key": "shared"}
    api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "A."}, headers=headers)
    theirs = admin_api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "B."}, headers=headers)
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert count(Note) == 2
    # and another agency's token with the same key is nothing to do with ours
    assert api_b.post("/clients", json={"name": "Other"}, headers=headers).status_code == 201


def test_a_key_is_kept_24_hours(api_a, world):
    headers = {"Idempotency-Key": "daily"}
    path = f"/cases/{world.case_a.id}/notes"
    api_a.post(path, json={"body": "Same."}, headers=headers)
    with time_machine.travel(utcnow() + timedelta(hours=23), tick=False):
        assert api_a.post(path, json={"body": "Same."}, headers=headers).headers.get("Idempotent-Replayed")
    assert count(Note) == 1
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        later = api_a.post(path, json={"body": "Same."}, headers=headers)
        assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert count(Note) == 2
    assert count(IdempotencyKey) == 1  # the expired one was pruned


def test_a_refused_post_saves_no_key(api_a, world):
    headers = {"Idempotency-Key": "fix-me"}
    path = f"/cases/{world.case_a.id}/notes"
    assert api_a.post(path, json={"body": ""}, headers=headers).status_code == 422
    assert count(IdempotencyKey) == 0
    assert api_a.post(path, json={"body": "Fixed."}, headers=headers).status_code == 201


def test_an_upload_repeated_with_its_key_is_stored_once(api_a, world):
    headers = {"Idempotency-Key": "upload-1"}
    path = f"/cases/{world.case_a.id}/evidence"
    answers = [api_a.request("POST", path, data={"file": (io.BytesIO(b"an invoice"), "invoice.txt"),
                                                 "category": "invoice"},
                             headers=headers, content_type="multipart/form-data") for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].get_json() == answers[1].get_json()
    assert count(Evidence) == 1


def test_an_unusable_key_is_400(api_a, world):
    response = api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "x"},
                          headers={"Idempotency-Key": "has space"})
    assert response.status_code == 400
    assert count(Note) == 0


def test_two_requests_racing_with_one_key_save_once(api_a, world, monkeypatch):
    headers = {"Idempotency-Key": "race"}
    path = f"/cases/{world.case_a.id}/notes"
    first = api_a.post(path, json={"body": "Once."}, headers=headers)
    real, calls = idempotency.find, []

    def find(*args, **kwargs):  # the first look-up misses, as while the first was being saved
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)
    monkeypatch.setattr(idempotency, "find", find)
    second = api_a.post(path, json={"body": "Once."}, headers=headers)
    assert second.status_code == 201 and second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(Note) == 1


def test_other_expired_keys_are_pruned_by_the_scheduler_pass_not_by_a_post(api_a, world):
    """A keyed POST deleting every expired key held their row locks for its whole request
    (a 25 MB upload), queueing other keyed POSTs behind it; the scheduler's pass prunes."""
    path = f"/cases/{world.case_a.id}/notes"
    api_a.post(path, json={"body": "Old."}, headers={"Idempotency-Key": "old"})
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        api_a.post(path, json={"body": "New."}, headers={"Idempotency-Key": "new"})
        assert count(IdempotencyKey) == 2
        dispatch.run_pass(utcnow())
    assert count(IdempotencyKey) == 1
