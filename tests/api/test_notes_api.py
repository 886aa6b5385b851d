"""PATCH and DELETE /api/v1/notes/{id}: the author and admins may, others get JSON errors."""
import pytest

from caseapp.services.accounts import tokens
from caseapp.services.cases import records
from caseapp.views.api.openapi import document
from tests.api.conftest import Api
from tests.conftest import make_user


def error(response) -> dict:
    return response.get_json()["error"]


@pytest.fixture
def note_id(world, api_a) -> int:
    response = api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "Called **Dana**"})
    assert response.status_code == 201 and response.get_json()["edited_at"] is None
    return response.get_json()["id"]


@pytest.fixture
def colleague_api(app, world) -> Api:
    colleague = make_user(world.agency_a, "colleague@agency-a.example", "consultant", "Cora Colleague")
    return Api(app, tokens.create(colleague, "tests")[1])


def test_the_author_edits_then_deletes_and_the_timeline_shows_both(world, api_a, note_id):
    response = api_a.patch(f"/notes/{note_id}", json={"body": "Called Dana twice"})
    assert response.status_code == 200
    note = response.get_json()
    assert note["body"] == "Called Dana twice" and note["edited_at"] is not None
    assert api_a.delete(f"/notes/{note_id}").status_code == 204
    events = api_a.get(f"/cases/{world.case_a.id}/timeline").get_json()["items"]
    assert [e["kind"] for e in events][-3:] == ["note_added", "note_edited", "note_deleted"]
    added, edited, deleted = events[-3:]
    assert edited["data"] == {"note_id": note_id, "previous_body": "Called **Dana**"}
    assert edited["actor_id"] == deleted["actor_id"] == world.consultant_a.id
    assert deleted["summary"] == "Note deleted by Carl Consultant"
    assert added["summary"] == "Note (deleted)"
    response = api_a.delete(f"/notes/{note_id}")
    assert response.status_code == 404 and error(response)["code"] == "not_found"


def test_an_admin_may_change_a_consultants_note(admin_api_a, note_id):
    assert admin_api_a.patch(f"/notes/{note_id}", json={"body": "Fixed"}).get_json()["body"] == "Fixed"
    assert admin_api_a.delete(f"/notes/{note_id}").status_code == 204


def test_a_colleague_gets_403_and_another_agency_404(world, colleague_api, api_b, note_id):
    for response in (colleague_api.patch(f"/notes/{note_id}", json={"body": "Mine"}),
                     colleague_api.patch(f"/notes/{note_id}", json={"body": ""}),
                     colleague_api.delete(f"/notes/{note_id}")):
        assert response.status_code == 403
        assert error(response)["code"] == "forbidden"
        assert "author or an agency admin" in error(response)["message"]
    for response in (api_b.patch(f"/notes/{note_id}", json={"body": "x"}),
                     api_b.delete(f"/notes/{note_id}")):
        assert response.status_code == 404 and error(response)["code"] == "not_found"
    assert records.get_note(world.consultant_a, note_id).body == "Called **Dana**"


@pytest.mark.parametrize("payload, status, field", [
    ({}, 422, "body"), ({"body": "  "}, 422, "body"), ({"body": None}, 422, "body"),
    ({"body": 7}, 422, "body"), ({"body": "x" * 20001}, 422, "body"),
    ({"body": "ok", "author_id": 1}, 422, "author_id"),
])
def test_a_bad_edit_is_a_422_naming_the_field(api_a, note_id, payload, status, field):
    response = api_a.patch(f"/notes/{note_id}", json=payload)
    assert response.status_code == status
    assert field in error(response)["fields"]


def test_a_non_json_edit_is_a_415(api_a, note_id):
    response = api_a.patch(f"/notes/{note_id}", data="body=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_the_openapi_document_describes_editing_and_deleting_notes():
    path = document()["paths"]["/notes/{note_id}"]
    assert set(path) == {"parameters", "patch", "delete"}
    assert path["patch"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/NoteInput")
    assert {"200", "403", "404", "422"} <= set(path["patch"]["responses"])
    assert {"204", "403", "404"} <= set(path["delete"]["responses"])
    assert "edited_at" in document()["components"]["schemas"]["Note"]["properties"]
