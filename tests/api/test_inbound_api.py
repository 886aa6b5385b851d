"""GET /api/v1/inbound: the agency's mail, newest first, by status, paged by `next`."""
from __future__ import annotations

import pytest

from caseapp.core import mailtags
from caseapp.services.inbound import filing
from tests.services.inbound.conftest import mail


@pytest.fixture(autouse=True)
def inbound_address(app):
    app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    yield
    app.config["INBOUND_ADDRESS"] = ""


@pytest.fixture
def messages(world):
    stray = filing.receive(mail(to=mailtags.agency_address(world.agency_a.id), message_id="<stray@x.example>",
                                sender="pat@harbor-lane.example", subject="Any news?")).message
    filed = filing.receive(mail(to=mailtags.case_address(world.case_a.id), message_id="<filed@amazon.com>",
                                subject="Your appeal")).message
    return stray, filed


def test_the_list_shows_each_message_newest_first(world, api_a, messages):
    stray, filed = messages
    response = api_a.get("/inbound")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["id"] for i in items] == [filed.id, stray.id]
    assert items[0] == {"id": filed.id, "received_at": filed.received_at.isoformat(),
                        "from": "seller-performance@amazon.com", "subject": "Your appeal",
                        "case_id": world.case_a.id, "status": "matched", "message_id": "<filed@amazon.com>"}


@pytest.mark.parametrize("status, expected", [("unmatched", [0]), ("matched", [1]), ("refused", []),
                                              ("discarded", [])])
def test_status_narrows_the_list(api_a, messages, status, expected):
    items = api_a.get(f"/inbound?status={status}").get_json()["items"]
    assert [i["id"] for i in items] == [messages[n].id for n in expected]


def test_a_bad_status_is_a_422_naming_it(api_a, messages):
    response = api_a.get("/inbound?status=spam")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "status" in error["fields"]


def test_next_pages_through_older_messages(api_a, messages):
    first = api_a.get("/inbound?per_page=1").get_json()
    assert [i["id"] for i in first["items"]] == [messages[1].id] and first["next"]
    second = api_a.get(first["next"].split("/api/v1", 1)[1]).get_json()
    assert [i["id"] for i in second["items"]] == [messages[0].id] and second["next"] is None


def test_another_agency_sees_none_of_it(api_b, messages):
    assert api_b.get("/inbound").get_json()["items"] == []


def test_the_case_says_when_amazon_wrote_and_the_document_lists_the_endpoint(world, api_a, messages):
    case = api_a.get(f"/cases/{world.case_a.id}").get_json()
    assert case["amazon_wrote_at"] == messages[1].sent_at.isoformat()
    document = api_a.get("/openapi.json").get_json()
    get = document["paths"]["/inbound"]["get"]
    status = next(p for p in get["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == ["matched", "unmatched", "refused", "discarded"]
    assert "amazon_wrote_at" in document["components"]["schemas"]["Case"]["properties"]
