"""PATCH /api/v1/cases/<id> is one unit of work: a refused status move saves no field edit."""
from sqlalchemy import update

from caseapp.extensions import db
from caseapp.models import Case
from caseapp.services.cases import records


def _titles_and_kinds(api, case_id):
    case = api.get(f"/cases/{case_id}").get_json()
    kinds = [e["kind"] for e in api.get(f"/cases/{case_id}/timeline").get_json()["items"]]
    return case, kinds


def test_a_move_refused_after_the_edits_saves_none_of_them(world, api_a, monkeypatch):
    """The status changes under the request after its first check (a colleague's move landing
    in between): the move is refused, and the title edited before it is not kept either."""
    real_update = records.update_case

    def update_then_colleague_closes(actor, case_id, data):
        case = real_update(actor, case_id, data)
        db.session.execute(update(Case).where(Case.id == case_id).values(status="closed"))
        return case

    monkeypatch.setattr(records, "update_case", update_then_colleague_closes)
    path = f"/cases/{world.case_a.id}"
    response = api_a.patch(path, json={"title": "Half saved?", "status": "drafting"})
    assert response.status_code == 409, response.get_json()
    assert "cannot move from Closed to Drafting POA" in response.get_json()["error"]["message"]
    monkeypatch.undo()
    case, kinds = _titles_and_kinds(api_a, world.case_a.id)
    assert case["title"] == "Account suspended" and case["status"] == "open"
    assert "edited" not in kinds


def test_an_illegal_move_with_edits_answers_409_and_saves_nothing(world, api_a):
    path = f"/cases/{world.case_a.id}"
    response = api_a.patch(path, json={"title": "Should not change", "priority": "urgent",
                                       "status": "reinstated"})
    assert response.status_code == 409
    case, kinds = _titles_and_kinds(api_a, world.case_a.id)
    assert (case["title"], case["priority"], case["status"]) == ("Account suspended", "normal", "open")
    assert kinds == ["created", "assigned"]


def test_edits_and_a_move_are_saved_together(world, api_a):
    path = f"/cases/{world.case_a.id}"
    response = api_a.patch(path, json={"title": "Both saved", "status": "drafting"})
    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["status"]) == ("Both saved", "drafting")
    case, kinds = _titles_and_kinds(api_a, world.case_a.id)
    assert (case["title"], case["status"]) == ("Both saved", "drafting")
    assert kinds[-2:] == ["edited", "status_changed"]


def test_reinstating_through_the_api_sets_closed_at(world, api_a):
    path = f"/cases/{world.case_a.id}"
    for status in ("drafting", "submitted"):
        assert api_a.patch(path, json={"status": status}).status_code == 200
    reinstated = api_a.patch(path, json={"status": "reinstated"}).get_json()
    assert reinstated["closed_at"] is not None
    closed = api_a.patch(path, json={"status": "closed"}).get_json()
    assert closed["closed_at"] == reinstated["closed_at"]  # the work ended at the reinstatement
    assert api_a.patch(path, json={"status": "open"}).get_json()["closed_at"] is None
