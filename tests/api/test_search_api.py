"""GET /api/v1/search: the same matches as the search page, as JSON."""
from __future__ import annotations

from caseapp.extensions import db
from caseapp.services.appeals import submissions


def test_search_answers_hits_best_first(world, api_a, api_b):
    submissions.record_submission(world.consultant_a, world.case_a.id, {"amazon_reference": "CASE-998877"})
    db.session.commit()
    answer = api_a.get("/search?q=998877")
    assert answer.status_code == 200 and answer.get_json()["next"] is None
    [hit] = answer.get_json()["items"]
    assert hit["type"] == "submission" and hit["case_id"] == world.case_a.id
    assert hit["title"] == "Submission · Account suspended" and "CASE-998877" in hit["snippet"]
    assert api_b.get("/search?q=998877").get_json()["items"] == []
    assert api_a.get("/search?q=").get_json()["items"] == []


def test_bad_parameters_are_named(api_a):
    assert api_a.get("/search?q=" + "x" * 201).get_json()["error"]["fields"]["q"] == "At most 200 characters."
    assert api_a.get("/search?q=a&limit=0").status_code == 422
