"""GET /deadlines, GET and POST /cases/{id}/deadlines, PATCH /deadlines/{id}, and the case
object's next_deadline, as a script sees them."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

from caseapp.extensions import db
from caseapp.models import CaseEvent, Deadline, utcnow
from caseapp.services.appeals import submissions
from caseapp.services.deadlines import clocks
from caseapp.views.api.openapi import document
from tests.cost import statements
from tests.conftest import make_case, make_user

def iso(moment) -> str:
    return moment.isoformat()


def q(moment) -> str:
    """A moment for a query string: its + encoded."""
    return quote(moment.isoformat())


def path_of(url: str) -> str:
    return url.split("/api/v1", 1)[1]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [d["id"] for d in response.get_json()["items"]]


def add(api, case_id, days: float, **fields):
    response = api.post(f"/cases/{case_id}/deadlines",
                        json={"due_at": iso(utcnow() + timedelta(days=days)), **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def timeline_kinds(case_id) -> list[str]:
    return list(db.session.scalars(db.select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                                   .order_by(CaseEvent.id)))


# ---- POST and GET /cases/{id}/deadlines --------------------------------------------------------

def test_a_deadline_added_is_shown_on_its_case_and_timeline(world, api_a):
    case_id = world.case_a.id
    due = (utcnow() + timedelta(days=5)).replace(microsecond=0)
    response = api_a.post(f"/cases/{case_id}/deadlines", json={
        "kind": "agency_sla", "title": "POA to the client", "due_at": due.isoformat(),
        "note": "Promised on the call"})
    assert response.status_code == 201
    made = response.get_json()
    assert made["case_id"] == case_id and made["kind"] == "agency_sla" and made["title"] == "POA to the client"
    assert made["due_at"] == due.isoformat() and made["status"] == "open" and made["clock"] == "agency"
    assert made["source"] == "person" and made["paused"] is False and made["overdue"] is False
    assert made["met_at"] is None and made["note"] == "Promised on the call"
    assert made["owner_id"] == world.consultant_a.id
    listed = api_a.get(f"/cases/{case_id}/deadlines").get_json()
    assert listed == {"items": [made], "next": None}
    assert "deadline_added" in timeline_kinds(case_id)
    # No kind: a custom deadline named after its kind; Amazon's kinds run on Amazon's clock.
    assert add(api_a, case_id, 3)["title"] == clocks.KIND_LABELS["custom"]
    assert add(api_a, case_id, 3, kind="appeal_window")["clock"] == "amazon"


def test_a_bad_deadline_is_refused_field_by_field(world, api_a):
    path = f"/cases/{world.case_a.id}/deadlines"
    due = iso(utcnow() + timedelta(days=2))
    for payload, field in [({}, "due_at"), ({"due_at": "tomorrow"}, "due_at"),
                           ({"due_at": "2026-12-24T17:00:00"}, "due_at"),
                           ({"due_at": due, "kind": "amazon_follow_up"}, "kind"),
                           ({"due_at": due, "kind": "birthday"}, "kind"),
                           ({"due_at": due, "kind": ""}, "kind"), ({"due_at": due, "kind": 0}, "kind"),
                           ({"due_at": due, "title": 7}, "title"),
                           ({"due_at": due, "title": " " + "x" * clocks.TITLE_LIMIT}, "title"),
                           ({"due_at": due, "note": "x" * (clocks.NOTE_LIMIT + 1)}, "note"),
                           ({"due_at": due, "owner_id": 1}, "owner_id")]:
        response = api_a.post(path, json=payload)
        assert response.status_code == 422, payload
        assert field in response.get_json()["error"]["fields"], payload
    assert api_a.post(path, data="due_at=x", content_type="text/plain").status_code == 415
    assert db.session.scalar(db.select(db.func.count(Deadline.id))) == 0


def test_a_repeated_post_with_its_idempotency_key_adds_one_deadline(world, api_a):
    path = f"/cases/{world.case_a.id}/deadlines"
    body = {"title": "Call the client", "due_at": iso(utcnow() + timedelta(days=1))}
    first = api_a.post(path, json=body, headers={"Idempotency-Key": "deadline-1"})
    again = api_a.post(path, json=body, headers={"Idempotency-Key": "deadline-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    other = api_a.post(path, json={**body, "title": "Another"}, headers={"Idempotency-Key": "deadline-1"})
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["error"]["fields"]
    assert db.session.scalar(db.select(db.func.count(Deadline.id))) == 1


# ---- GET /deadlines ----------------------------------------------------------------------------

def _scene(world, admin_api_a):
    """Deadlines on two cases of agency A: case_a (the consultant's) and another person's."""
    other = make_user(world.agency_a, "other@agency-a.example", "consultant", "Olga Other")
    theirs = make_case(world.admin_a, world.client_a, title="Listing down", assignee_id=other.id)
    mine_a = add(admin_api_a, world.case_a.id, 2, kind="appeal_window")
    mine_b = add(admin_api_a, world.case_a.id, 10, kind="funds_release")
    late = add(admin_api_a, world.case_a.id, -1, kind="custom", title="Late one")
    theirs_a = add(admin_api_a, theirs.id, 1, kind="appeal_window")
    theirs_met = add(admin_api_a, theirs.id, 4, kind="inventory_removal")
    assert admin_api_a.patch(f"/deadlines/{theirs_met['id']}", json={"status": "met"}).status_code == 200
    cancelled = add(admin_api_a, world.case_a.id, 6)
    assert admin_api_a.patch(f"/deadlines/{cancelled['id']}", json={"status": "cancelled"}).status_code == 200
    return other, theirs, {"mine_a": mine_a["id"], "mine_b": mine_b["id"], "late": late["id"],
                           "theirs_a": theirs_a["id"], "theirs_met": theirs_met["id"],
                           "cancelled": cancelled["id"]}


def test_the_list_is_open_deadlines_soonest_first_and_each_filter_narrows_it(world, api_a, admin_api_a):
    other, theirs, d = _scene(world, admin_api_a)
    assert ids(api_a.get("/deadlines")) == [d["late"], d["theirs_a"], d["mine_a"], d["mine_b"]]
    assert ids(api_a.get("/deadlines?status=open")) == ids(api_a.get("/deadlines"))
    assert ids(api_a.get("/deadlines?status=met")) == [d["theirs_met"]]
    assert ids(api_a.get("/deadlines?status=cancelled")) == [d["cancelled"]]
    assert ids(api_a.get("/deadlines?status=missed")) == []
    assert ids(api_a.get("/deadlines?mine=true")) == [d["late"], d["mine_a"], d["mine_b"]]
    assert ids(api_a.get("/deadlines?mine=false")) == ids(api_a.get("/deadlines"))
    assert ids(admin_api_a.get("/deadlines?mine=true")) == []  # the admin owns no case
    assert ids(api_a.get(f"/deadlines?assignee_id={other.id}")) == [d["theirs_a"]]
    assert ids(api_a.get(f"/deadlines?assignee_id={other.id}&status=met")) == [d["theirs_met"]]
    assert ids(api_a.get(f"/deadlines?case_id={theirs.id}")) == [d["theirs_a"]]
    assert ids(api_a.get("/deadlines?kind=appeal_window")) == [d["theirs_a"], d["mine_a"]]
    assert ids(api_a.get("/deadlines?kind=appeal_window&mine=true")) == [d["mine_a"]]
    now = utcnow()
    assert ids(api_a.get(f"/deadlines?due_before={q(now)}")) == [d["late"]]
    assert ids(api_a.get(f"/deadlines?due_after={q(now)}")) == [d["theirs_a"], d["mine_a"], d["mine_b"]]
    window = f"due_after={q(now + timedelta(days=1.5))}&due_before={q(now + timedelta(days=20))}"
    assert ids(api_a.get(f"/deadlines?{window}")) == [d["mine_a"], d["mine_b"]]
    item = api_a.get(f"/deadlines?case_id={world.case_a.id}").get_json()["items"][0]
    assert item["id"] == d["late"] and item["overdue"] is True and item["title"] == "Late one"
    assert set(item) == set(document()["components"]["schemas"]["Deadline"]["properties"])


def test_bad_filters_are_422s_naming_them(world, api_a):
    for query, field in [("mine=yes", "mine"), ("status=closed", "status"), ("kind=birthday", "kind"),
                         ("assignee_id=x", "assignee_id"), ("case_id=0", "case_id"),
                         ("due_before=2026-12-01", "due_before"), ("due_after=soon", "due_after"),
                         ("after=bm90LWEtY3Vyc29y", "after"), ("per_page=101", "per_page")]:
        response = api_a.get(f"/deadlines?{query}")
        assert response.status_code == 422, query
        assert field in response.get_json()["error"]["fields"], query


def test_pages_follow_the_next_link_through_every_deadline_once(world, api_a):
    made = [add(api_a, world.case_a.id, days)["id"] for days in (5, 1, 3, 3, 3, 2, 8)]
    order = sorted(made, key=lambda i: (db.session.get(Deadline, i).due_at, i))
    seen, path, pages = [], "/deadlines?mine=true&per_page=3", 0
    while path:
        page = api_a.get(path).get_json()
        seen += [d["id"] for d in page["items"]]
        pages += 1
        if page["next"]:
            assert "mine=true" in page["next"] and "after=" in page["next"]
        path = page["next"] and path_of(page["next"])
    assert seen == order and pages == 3
    by_number = api_a.get("/deadlines?per_page=3&page=2").get_json()
    assert [d["id"] for d in by_number["items"]] == order[3:6] and "after=" in by_number["next"]


def test_listing_deadlines_costs_the_same_statements_at_any_size(app, world, api_a):
    def count() -> int:
        with statements() as seen:
            response = api_a.get("/deadlines?mine=true&per_page=100")
            assert response.status_code == 200
        return len(seen), len(response.get_json()["items"])

    for days in range(3):
        add(api_a, world.case_a.id, days + 1)
    small, shown = count()
    assert shown == 3
    for days in range(60):
        if days % 10 == 0:
            other = make_case(world.consultant_a, world.client_a, title=f"Case {days}")
        clocks.add(world.consultant_a, other.id, {"due_at": utcnow() + timedelta(hours=days + 1)})
    large, shown = count()
    assert shown == 63 and large == small


# ---- PATCH /deadlines/{id} -------------------------------------------------------------------

def test_patch_meets_reopens_moves_and_renames_with_a_timeline_entry_each(world, api_a):
    deadline = add(api_a, world.case_a.id, 2, kind="funds_release")
    path = f"/deadlines/{deadline['id']}"
    met = api_a.patch(path, json={"status": "met"}).get_json()
    assert met["status"] == "met" and met["met_at"] is not None and met["overdue"] is False
    assert ids(api_a.get("/deadlines")) == [] and ids(api_a.get("/deadlines?status=met")) == [deadline["id"]]
    reopened = api_a.patch(path, json={"status": "open"}).get_json()
    assert reopened["status"] == "open" and reopened["met_at"] is None
    due = (utcnow() + timedelta(days=9)).replace(microsecond=0)
    moved = api_a.patch(path, json={"due_at": due.isoformat(), "title": "Ask for the funds",
                                    "note": "Form in Seller Central"}).get_json()
    assert moved["due_at"] == due.isoformat() and moved["title"] == "Ask for the funds"
    assert moved["note"] == "Form in Seller Central"
    assert timeline_kinds(world.case_a.id).count("deadline_changed") == 3
    assert api_a.patch(path, json={}).get_json() == moved  # nothing asked, nothing changed
    assert timeline_kinds(world.case_a.id).count("deadline_changed") == 3
    cancelled = api_a.patch(path, json={"status": "cancelled"}).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["closed_at"] is not None


def test_a_bad_patch_is_refused_and_changes_nothing(world, api_a):
    deadline = add(api_a, world.case_a.id, 2)
    path = f"/deadlines/{deadline['id']}"
    for payload, field in [({"status": "missed"}, "status"), ({"status": 3}, "status"),
                           ({"title": ""}, "title"), ({"title": None}, "title"),
                           ({"due_at": "next week"}, "due_at"), ({"paused": "yes"}, "paused"),
                           ({"kind": "appeal_window"}, "kind")]:
        response = api_a.patch(path, json=payload)
        assert response.status_code == 422, payload
        assert field in response.get_json()["error"]["fields"], payload
    assert api_a.get(f"/cases/{world.case_a.id}/deadlines").get_json()["items"] == [deadline]


def test_pausing_and_resuming_an_agency_clock(world, api_a):
    deadline = add(api_a, world.case_a.id, 3, kind="agency_sla")
    path = f"/deadlines/{deadline['id']}"
    paused = api_a.patch(path, json={"paused": True}).get_json()
    assert paused["paused"] is True and paused["status"] == "open" and paused["overdue"] is False
    assert api_a.patch(path, json={"paused": True}).get_json() == paused  # already so: no change
    assert "deadline_paused" in timeline_kinds(world.case_a.id)
    refused = api_a.patch(path, json={"due_at": iso(utcnow() + timedelta(days=4))})
    assert refused.status_code == 422 and "due_at" in refused.get_json()["error"]["fields"]
    due = (utcnow() + timedelta(days=4)).replace(microsecond=0)
    running = api_a.patch(path, json={"paused": False, "due_at": due.isoformat()}).get_json()
    assert running["paused"] is False and running["due_at"] == due.isoformat()
    assert "deadline_resumed" in timeline_kinds(world.case_a.id)
    assert api_a.patch(path, json={"paused": False}).get_json() == running


def test_amazon_clocks_never_pause_and_a_refusal_saves_nothing(world, api_a):
    deadline = add(api_a, world.case_a.id, 3, kind="appeal_window")
    response = api_a.patch(f"/deadlines/{deadline['id']}", json={"title": "Renamed", "paused": True})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert api_a.get(f"/cases/{world.case_a.id}/deadlines").get_json()["items"] == [deadline]


def test_the_follow_up_with_amazon_is_not_edited_by_hand(world, api_a):
    submissions.record_submission(world.consultant_a, world.case_a.id, {})
    follow_up = api_a.get(f"/deadlines?kind=amazon_follow_up&case_id={world.case_a.id}").get_json()["items"]
    assert [d["source"] for d in follow_up] == ["submission"]
    path = f"/deadlines/{follow_up[0]['id']}"
    for payload in ({"status": "met"}, {"due_at": iso(utcnow() + timedelta(days=9))},
                    {"title": "Mine now"}, {"paused": True}, {"status": "cancelled", "note": "x"}):
        response = api_a.patch(path, json=payload)
        assert response.status_code == 409, payload
    unchanged = api_a.get("/deadlines?kind=amazon_follow_up").get_json()["items"]
    assert unchanged == follow_up
    assert api_a.patch(path, json={"note": "Chased by phone too"}).get_json()["note"] == "Chased by phone too"


# ---- another agency ----------------------------------------------------------------------------

def test_another_agencys_deadlines_are_404_on_every_route_and_never_listed(world, api_a, api_b):
    deadline = add(api_a, world.case_a.id, 2, title="Agency A's secret")
    case_path = f"/cases/{world.case_a.id}/deadlines"
    assert api_b.get(case_path).status_code == 404
    refused = api_b.post(case_path, json={"title": "Planted", "due_at": iso(utcnow() + timedelta(days=1))})
    assert refused.status_code == 404
    for payload in ({"status": "met"}, {"title": "Taken over"}, {"paused": True}, {"nonsense": 1}):
        response = api_b.patch(f"/deadlines/{deadline['id']}", json=payload)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert api_b.patch("/deadlines/999999", json={}).status_code == 404
    for query in ("", f"?case_id={world.case_a.id}", f"?assignee_id={world.consultant_a.id}",
                  "?status=met", "?mine=true"):
        listed = api_b.get(f"/deadlines{query}")
        assert listed.status_code == 200 and listed.get_json()["items"] == []
    assert api_a.get(case_path).get_json()["items"] == [deadline]


# ---- the case object's next_deadline --------------------------------------------------------

def test_the_case_shows_its_next_running_deadline(world, api_a):
    case_path = f"/cases/{world.case_a.id}"
    assert api_a.get(case_path).get_json()["next_deadline"] is None
    later = add(api_a, world.case_a.id, 9, kind="funds_release")
    sooner = add(api_a, world.case_a.id, 2, kind="agency_sla", title="POA to the client")
    shown = api_a.get(case_path).get_json()
    assert shown["next_deadline"] == {"id": sooner["id"], "kind": "agency_sla", "title": "POA to the client",
                                      "due_at": sooner["due_at"], "overdue": False}
    assert "follow_up_due_at" in shown
    api_a.patch(f"/deadlines/{sooner['id']}", json={"paused": True})  # a paused clock is not next
    assert api_a.get(case_path).get_json()["next_deadline"]["id"] == later["id"]
    late = add(api_a, world.case_a.id, -0.5, title="Past due")
    assert api_a.get(case_path).get_json()["next_deadline"] == {
        "id": late["id"], "kind": "custom", "title": "Past due", "due_at": late["due_at"], "overdue": True}
    api_a.patch(f"/deadlines/{late['id']}", json={"status": "met"})
    listed = {c["id"]: c for c in api_a.get("/cases").get_json()["items"]}
    assert listed[world.case_a.id]["next_deadline"]["id"] == later["id"]
    # The follow-up with Amazon is a deadline too.
    submissions.record_submission(world.consultant_a, world.case_a.id, {})
    follow_up = api_a.get(case_path).get_json()
    assert follow_up["next_deadline"]["kind"] == "amazon_follow_up"
    assert follow_up["next_deadline"]["due_at"] == follow_up["follow_up_due_at"]


def test_listing_cases_reads_their_next_deadlines_in_one_query(world, api_a):
    def count(expected: int) -> int:
        with statements() as seen:
            items = api_a.get("/cases?per_page=100").get_json()["items"]
        assert len(items) == expected and all(c["next_deadline"] for c in items)
        return len(seen)

    add(api_a, world.case_a.id, 1)
    small = count(1)
    for i in range(12):
        case = make_case(world.consultant_a, world.client_a, title=f"Case {i}")
        add(api_a, case.id, i + 2)
        add(api_a, case.id, i + 3)
    assert count(13) == small
    created = api_a.post("/cases", json={"client_id": world.client_a.id, "title": "New", "kind": "other",
                                         "reason": "other"}).get_json()
    assert "next_deadline" in created


# ---- the document --------------------------------------------------------------------------

def test_the_openapi_document_describes_every_deadline_route(app, anonymous):
    doc = anonymous.get("/openapi.json").get_json()
    routes = {(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule).removeprefix("/api/v1"), method.lower())
              for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item
                  if method != "parameters"}
    assert routes == documented
    listed = doc["paths"]["/deadlines"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {
        "mine", "assignee_id", "case_id", "kind", "status", "due_before", "due_after", "after"}
    assert "only open deadlines" in listed["description"]
    schemas = doc["components"]["schemas"]
    assert "paused" in schemas["DeadlineUpdate"]["properties"]
    assert "next_deadline" in schemas["Case"]["required"]
    post = doc["paths"]["/cases/{case_id}/deadlines"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "409" in doc["paths"]["/deadlines/{deadline_id}"]["patch"]["responses"]
