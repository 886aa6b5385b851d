"""PATCH and DELETE /api/v1/submissions/{id} and /api/v1/responses/{id}: corrections with the
case recomputed; 404 for another agency, 403 for someone not allowed, 409 when withdrawn."""
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.services.accounts import tokens
from caseapp.views.api.openapi import document
from tests.api.conftest import Api
from tests.conftest import make_user

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def error(response) -> dict:
    return response.get_json()["error"]


@pytest.fixture
def submitted(world, api_a) -> dict:
    response = api_a.post(f"/cases/{world.case_a.id}/submissions",
                          json={"submitted_at": "2026-11-29T08:00:00+00:00", "channel": "email"})
    assert response.status_code == 201
    return response.get_json()


@pytest.fixture
def colleague_api(app, world) -> Api:
    colleague = make_user(world.agency_a, "colleague@agency-a.example", "consultant", "Cora Colleague")
    return Api(app, tokens.create(colleague, "tests")[1])


def test_reply_without_outcome_is_a_422_naming_it(api_a, submitted):
    response = api_a.post(f"/submissions/{submitted['id']}/responses", json={"body": "We reinstated"})
    assert response.status_code == 422
    assert "Choose Amazon's outcome" in error(response)["fields"]["outcome"]


def test_withdrawing_a_reinstated_reply_reopens_the_case(world, api_a, submitted):
    reply = api_a.post(f"/submissions/{submitted['id']}/responses", json={"outcome": "reinstated"}).get_json()
    case = api_a.get(f"/cases/{world.case_a.id}").get_json()
    assert case["status"] == "reinstated" and case["closed_at"] is not None
    assert api_a.delete(f"/responses/{reply['id']}").status_code == 204
    case = api_a.get(f"/cases/{world.case_a.id}").get_json()
    assert case["status"] == "submitted" and case["closed_at"] is None
    assert case["follow_up_due_at"] == "2026-12-01T08:00:00+00:00"
    kinds = [e["kind"] for e in api_a.get(f"/cases/{world.case_a.id}/timeline").get_json()["items"]]
    assert "amazon_replied" in kinds and "reply_withdrawn" in kinds
    assert api_a.delete(f"/responses/{reply['id']}").status_code == 409
    assert api_a.patch(f"/responses/{reply['id']}", json={"outcome": "other"}).status_code == 409


def test_correcting_a_reply_outcome(world, api_a, submitted):
    reply = api_a.post(f"/submissions/{submitted['id']}/responses", json={"outcome": "reinstated"}).get_json()
    response = api_a.patch(f"/responses/{reply['id']}", json={"outcome": "more_info_requested",
                                                               "body": "Send invoices"})
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "more_info_requested" and response.get_json()["body"] == "Send invoices"
    assert api_a.get(f"/cases/{world.case_a.id}").get_json()["status"] == "more_info_requested"
    bad = api_a.patch(f"/responses/{reply['id']}", json={"outcome": "maybe",
                                                          "received_at": "2026-11-01T00:00:00+00:00"})
    assert bad.status_code == 422 and set(error(bad)["fields"]) == {"outcome", "received_at"}


def test_correcting_and_withdrawing_a_submission(world, api_a, submitted):
    response = api_a.patch(f"/submissions/{submitted['id']}", json={
        "submitted_at": "2026-11-28T12:00:00+00:00", "amazon_reference": "CASE-77"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["amazon_reference"] == "CASE-77" and body["follow_up_due_at"] == "2026-11-30T12:00:00+00:00"
    assert body["withdrawn_at"] is None
    assert api_a.patch(f"/submissions/{submitted['id']}", json={"channel": None}).status_code == 422
    assert api_a.patch(f"/submissions/{submitted['id']}", json={"status": "x"}).status_code == 422
    assert api_a.delete(f"/submissions/{submitted['id']}").status_code == 204
    case = api_a.get(f"/cases/{world.case_a.id}").get_json()
    assert case["status"] == "open" and case["follow_up_due_at"] is None
    assert api_a.get("/reminders?status=pending").get_json()["items"] == []


def test_a_reference_that_is_not_text_is_refused_not_emptied(world, api_a, submitted):
    """schemathesis found {"amazon_reference": false} accepted as an empty reference."""
    for value in (False, 0, [], {}):
        patched = api_a.patch(f"/submissions/{submitted['id']}", json={"amazon_reference": value})
        assert patched.status_code == 422 and "amazon_reference" in error(patched)["fields"]
        posted = api_a.post(f"/cases/{world.case_a.id}/submissions", json={"amazon_reference": value})
        assert posted.status_code == 422 and "amazon_reference" in error(posted)["fields"]


def test_who_may(world, api_a, api_b, admin_api_a, colleague_api, submitted, clock):
    path = f"/submissions/{submitted['id']}"
    assert api_b.patch(path, json={"channel": "other"}).status_code == 404
    assert api_b.delete(path).status_code == 404
    refused = colleague_api.delete(path)
    assert refused.status_code == 403 and "within 24 hours" in error(refused)["message"]
    clock.shift(timedelta(hours=25))
    assert api_a.patch(path, json={"channel": "other"}).status_code == 403
    assert admin_api_a.patch(path, json={"channel": "other"}).status_code == 200
    assert api_a.delete("/responses/999999").status_code == 404


def test_the_openapi_document_describes_them():
    paths = document()["paths"]
    assert set(paths["/submissions/{submission_id}"]) >= {"patch", "delete"}
    assert set(paths["/responses/{response_id}"]) >= {"patch", "delete"}
    assert "403" in paths["/responses/{response_id}"]["delete"]["responses"]
