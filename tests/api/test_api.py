"""Each endpoint: success, a validation error, no token, and another agency's object."""
from datetime import datetime, timedelta, timezone
from io import BytesIO

import pytest
from docx import Document

from caseapp.extensions import db
from caseapp.models import Reminder
from caseapp.services.accounts import tokens
from caseapp.services.poa import drafts
from caseapp.services.appeals import submissions


def error_code(response):
    return response.get_json()["error"]["code"]


# ---- tokens ---------------------------------------------------------------------------------

def test_missing_unknown_and_revoked_tokens_get_401_json(app, world, anonymous):
    response = anonymous.get("/cases")
    assert response.status_code == 401 and error_code(response) == "unauthorized"
    anonymous.token = "cap_not-a-real-token"
    assert anonymous.get("/cases").status_code == 401
    row, token = tokens.create(world.consultant_a, "old script")
    anonymous.token = token
    assert anonymous.get("/cases").status_code == 200
    tokens.revoke(world.consultant_a, row.id)
    response = anonymous.get("/cases")
    assert response.status_code == 401 and "valid API token" in response.get_json()["error"]["message"]


def test_token_of_a_deactivated_user_stops_working(app, world, api_a):
    assert api_a.get("/cases").status_code == 200
    from caseapp.services.accounts import people

    people.set_active(world.admin_a, world.consultant_a.id, False)
    assert api_a.get("/cases").status_code == 401


def test_tokens_are_stored_hashed_and_last_use_is_recorded(world, api_a):
    from caseapp.models import ApiToken

    row = db.session.scalar(db.select(ApiToken))
    assert api_a.token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    assert row.last_used_at is None
    api_a.get("/cases")
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_tokens_create_command_prints_the_token_last(app, world, anonymous):
    result = app.test_cli_runner().invoke(args=["tokens", "create", world.consultant_a.email])
    assert result.exit_code == 0, result.output
    anonymous.token = result.output.strip().splitlines()[-1]
    assert anonymous.get("/cases").status_code == 200
    result = app.test_cli_runner().invoke(args=["tokens", "create", "nobody@nowhere.example"])
    assert result.exit_code != 0 and "No user" in result.output


def test_openapi_document_needs_no_token(anonymous):
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    assert "/cases/{case_id}/poa-drafts" in doc["paths"]


# ---- clients ---------------------------------------------------------------------------------

def test_clients_crud(api_a, admin_api_a):
    response = api_a.post("/clients", json={"name": "Maple & Pine", "seller_id": "amaplepine2024",
                                            "marketplace": "CA"})
    assert response.status_code == 201
    client = response.get_json()
    assert client["seller_id"] == "AMAPLEPINE2024" and client["created_at"].endswith("+00:00")
    assert api_a.get(f"/clients/{client['id']}").get_json()["name"] == "Maple & Pine"
    patched = api_a.patch(f"/clients/{client['id']}", json={"notes": "Etsy too"}).get_json()
    assert patched["notes"] == "Etsy too" and patched["name"] == "Maple & Pine"
    assert api_a.delete(f"/clients/{client['id']}").status_code == 403  # consultants cannot
    assert admin_api_a.delete(f"/clients/{client['id']}").status_code == 204
    assert api_a.get(f"/clients/{client['id']}").status_code == 404


def test_client_validation_lists_each_bad_field(api_a):
    response = api_a.post("/clients", json={"name": "", "marketplace": "XX", "colour": "red"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert fields == {"colour": "Unknown field."}
    response = api_a.post("/clients", json={"name": "", "marketplace": "XX", "contact_email": "nope"})
    assert set(response.get_json()["error"]["fields"]) == {"name", "marketplace", "contact_email"}


def test_body_must_be_a_json_object(api_a):
    response = api_a.post("/clients", data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"
    response = api_a.post("/clients", data="[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    response = api_a.post("/clients", data="{bad json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_client_with_cases_cannot_be_deleted(world, admin_api_a):
    response = admin_api_a.delete(f"/clients/{world.client_a.id}")
    assert response.status_code == 409 and error_code(response) == "conflict"


# ---- cases -----------------------------------------------------------------------------------

def test_case_create_get_and_filters(world, api_a):
    response = api_a.post("/cases", json={
        "client_id": world.client_a.id, "title": "Listing removed", "kind": "listing_deactivation",
        "reason": "intellectual_property", "asins": ["b0c1tent01"], "opened_at": "2026-11-20T09:00:00+01:00"})
    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    assert case["asins"] == ["B0C1TENT01"] and case["status"] == "open"
    assert case["opened_at"] == "2026-11-20T08:00:00+00:00"
    assert case["assignee_id"] == world.consultant_a.id and case["follow_up_due_at"] is None
    listed = api_a.get("/cases?q=b0c1tent01").get_json()
    assert [c["id"] for c in listed["items"]] == [case["id"]] and listed["next"] is None
    assert [c["id"] for c in api_a.get("/cases?status=open").get_json()["items"]] == [case["id"], world.case_a.id]
    assert api_a.get("/cases?status=won").status_code == 422
    assert api_a.get("/cases?page=0").status_code == 422


def test_case_validation_and_time_zone_required(world, api_a):
    response = api_a.post("/cases", json={"client_id": world.client_a.id, "title": "X", "kind": "ban",
                                          "reason": "other", "asins": ["SHORT"], "opened_at": "2026-11-20T09:00:00"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"opened_at"}
    response = api_a.post("/cases", json={"client_id": world.client_a.id, "title": "X", "kind": "ban",
                                          "reason": "other", "asins": ["SHORT"]})
    assert set(response.get_json()["error"]["fields"]) == {"kind", "asins"}


def test_case_status_follows_the_workflow(world, api_a):
    path = f"/cases/{world.case_a.id}"
    response = api_a.patch(path, json={"status": "reinstated", "title": "Should not change"})
    assert response.status_code == 409 and "only reinstate" in response.get_json()["error"]["message"]
    assert api_a.get(path).get_json()["title"] == "Account suspended"
    response = api_a.patch(path, json={"status": "drafting", "priority": "urgent"})
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["priority"]) == ("drafting", "urgent")


def test_timeline_oldest_first_and_notes(world, api_a):
    note = api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": "Called **Dana**"})
    assert note.status_code == 201 and note.get_json()["body"] == "Called **Dana**"
    assert api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": " "}).status_code == 422
    events = api_a.get(f"/cases/{world.case_a.id}/timeline").get_json()["items"]
    assert [e["kind"] for e in events] == ["created", "assigned", "note_added"]
    assert events[-1]["actor_id"] == world.consultant_a.id


def test_pagination_next_link(world, api_a):
    for i in range(3):
        api_a.post("/cases", json={"client_id": world.client_a.id, "title": f"C{i}",
                                   "kind": "other", "reason": "other"})
    first = api_a.get("/cases?per_page=2").get_json()
    assert len(first["items"]) == 2 and "after=" in first["next"]
    second = api_a.get(first["next"].split("/api/v1", 1)[1]).get_json()
    ids = [c["id"] for c in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 4 and second["next"] is None
    # A plain page number still works (OFFSET), and its next link carries on by cursor.
    by_number = api_a.get("/cases?per_page=1&page=2").get_json()
    assert [c["id"] for c in by_number["items"]] == ids[1:2] and "after=" in by_number["next"]


def test_a_made_up_cursor_is_a_422_naming_it(world, api_a):
    response = api_a.get("/cases?after=bm90LWEtY3Vyc29y")
    assert response.status_code == 422
    assert "after" in response.get_json()["error"]["fields"]


# ---- POA -------------------------------------------------------------------------------------

def test_poa_drafts_review_and_export(world, api_a):
    path = f"/cases/{world.case_a.id}/poa-drafts"
    response = api_a.post(path, json={"subject": "Appeal", "root_cause": "We do not know why.",
                                      "corrective_actions": ["We will check suppliers"]})
    assert response.status_code == 201
    draft = response.get_json()
    assert draft["version"] == 1 and draft["corrective_actions"] == ["We will check suppliers"]
    assert api_a.post(path, json={"corrective_actions": "not a list"}).status_code == 422
    codes = {f["code"] for f in api_a.get(f"/poa-drafts/{draft['id']}/review").get_json()["findings"]}
    assert {"missing_section", "root_cause_unknown", "promise_in_corrective"} <= codes
    export = api_a.get(f"/poa-drafts/{draft['id']}/export?format=docx")
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    assert any("Appeal" in p.text for p in Document(BytesIO(export.data)).paragraphs)
    assert api_a.get(f"/poa-drafts/{draft['id']}/export?format=exe").status_code == 422
    assert [d["version"] for d in api_a.get(path).get_json()["items"]] == [1]


def test_an_unchanged_poa_draft_answers_200_with_the_latest_and_an_empty_one_422(world, api_a, anonymous):
    path = f"/cases/{world.case_a.id}/poa-drafts"
    body = {"subject": "Appeal", "root_cause": "A supplier sent used stock.", "corrective_actions": ["Refunded."]}
    first = api_a.post(path, json=body)
    assert first.status_code == 201
    again = api_a.post(path, json={**body, "corrective_actions": ["  Refunded. ", ""]})
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    empty = api_a.post(path, json={"subject": " ", "corrective_actions": []})
    assert empty.status_code == 422 and "Every section is empty" in empty.get_json()["error"]["message"]
    assert [d["version"] for d in api_a.get(path).get_json()["items"]] == [1]
    answers = anonymous.get("/openapi.json").get_json()["paths"]["/cases/{case_id}/poa-drafts"]["post"]["responses"]
    assert {"200", "201", "422"} <= set(answers)


def test_the_api_document_states_the_poa_limits(anonymous):
    schema = anonymous.get("/openapi.json").get_json()["components"]["schemas"]["PoaDraftInput"]
    fields = schema["properties"]
    assert fields["subject"]["maxLength"] == 3_000
    assert [fields[k]["maxLength"] for k in ("introduction", "root_cause", "closure")] == [10_000] * 3
    assert fields["corrective_actions"]["maxItems"] == 30
    assert fields["corrective_actions"]["items"]["maxLength"] == 2_000
    assert "30,000 characters in all" in schema["description"]


def test_poa_draft_over_the_limits_is_refused_with_each_field(world, api_a):
    path = f"/cases/{world.case_a.id}/poa-drafts"
    response = api_a.post(path, json={"subject": "s" * 3_001, "corrective_actions": ["a\n" * 5 + "a"],
                                      "preventive_measures": ["p"] * 31})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "subject": "At most 3,000 characters.",
        "corrective_actions": "An item can be at most 5 lines.",
        "preventive_measures": "At most 30 items.",
    }
    response = api_a.post(path, json={"introduction": "i" * 10_000, "root_cause": "r" * 10_000,
                                      "closure": "c" * 10_000, "subject": "Appeal"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "The POA is too long: at most 30,000 characters in all."
    assert list(error["fields"]) == ["introduction"]
    assert api_a.get(path).get_json()["items"] == []


# ---- submissions and reminders ---------------------------------------------------------------

def test_submission_reply_and_reminders(world, api_a):
    submitted_at = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=0)
    response = api_a.post(f"/cases/{world.case_a.id}/submissions", json={
        "submitted_at": submitted_at.isoformat(), "channel": "account_health_appeal",
        "amazon_reference": "A-1"})
    assert response.status_code == 201, response.get_json()
    submission = response.get_json()
    assert submission["follow_up_due_at"] == (submitted_at + timedelta(hours=48)).isoformat()
    pending = api_a.get("/reminders?status=pending").get_json()["items"]
    assert [r["submission_id"] for r in pending] == [submission["id"]]
    response = api_a.post(f"/submissions/{submission['id']}/responses", json={"outcome": "maybe"})
    assert response.status_code == 422
    response = api_a.post(f"/submissions/{submission['id']}/responses", json={"outcome": "reinstated"})
    assert response.status_code == 201
    assert api_a.get("/reminders?status=pending").get_json()["items"] == []
    assert api_a.get(f"/cases/{world.case_a.id}").get_json()["status"] == "reinstated"
    response = api_a.post(f"/cases/{world.case_a.id}/submissions", json={})
    assert response.status_code == 409


# ---- another agency ----------------------------------------------------------------------------

def test_another_agencys_objects_are_404(world, api_a, api_b):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    submission = submissions.record_submission(world.consultant_a, world.case_a.id, {})
    paths = [
        ("GET", f"/clients/{world.client_a.id}", None), ("PATCH", f"/clients/{world.client_a.id}", {"name": "x"}),
        ("DELETE", f"/clients/{world.client_a.id}", None), ("GET", f"/cases/{world.case_a.id}", None),
        ("PATCH", f"/cases/{world.case_a.id}", {"title": "x"}), ("GET", f"/cases/{world.case_a.id}/timeline", None),
        ("POST", f"/cases/{world.case_a.id}/notes", {"body": "x"}),
        ("GET", f"/cases/{world.case_a.id}/poa-drafts", None),
        ("POST", f"/cases/{world.case_a.id}/poa-drafts", {"subject": "x"}),
        ("GET", f"/poa-drafts/{draft.id}", None), ("GET", f"/poa-drafts/{draft.id}/review", None),
        ("GET", f"/poa-drafts/{draft.id}/export?format=txt", None),
        ("POST", f"/cases/{world.case_a.id}/submissions", {}),
        ("POST", f"/submissions/{submission.id}/responses", {"outcome": "reinstated"}),
    ]
    for method, path, body in paths:
        response = api_b.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.status_code)
        assert error_code(response) == "not_found"
    assert api_b.get("/cases").get_json()["items"] == []
    assert api_b.get("/reminders").get_json()["items"] == []
    assert db.session.scalar(db.select(db.func.count(Reminder.id))) == 1


def test_rate_limit_per_token_answers_429_with_retry_after(app, world, api_a, api_b):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert api_a.get("/cases").status_code == 200
    response = api_a.get("/cases")
    assert response.status_code == 429 and error_code(response) == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    assert api_b.get("/cases").status_code == 200  # another token has its own budget


def test_ids_too_big_for_the_database_are_plain_404s_and_422s(world, api_a):
    assert api_a.get("/cases/2147483648").status_code == 404
    response = api_a.post("/cases", json={"client_id": 2**40, "title": "X", "kind": "other", "reason": "other"})
    assert response.status_code == 422 and "client_id" in response.get_json()["error"]["fields"]


def test_nul_characters_are_refused_not_stored(world, api_a, browser):
    response = api_a.post("/clients", json={"name": "Bad\u0000Name"})
    assert response.status_code == 400 and "NUL" in response.get_json()["error"]["message"]
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/notes", data={"body": "a\x00b"})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)


def test_repeated_query_parameters_are_refused(api_a):
    response = api_a.get("/cases?page=1&page=2")
    assert response.status_code == 422 and response.get_json()["error"]["fields"] == {"page": "Given more than once."}


def test_lengths_count_what_was_sent(world, api_a):
    response = api_a.post(f"/cases/{world.case_a.id}/notes", json={"body": " " + "x" * 20000})
    assert response.status_code == 422


# ---- evidence ----------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_evidence_upload_list_and_download(world, api_a, api_b):
    path = f"/cases/{world.case_a.id}/evidence"
    response = api_a.post(path, data={"file": (BytesIO(PDF), "../../invoice 2026.pdf"),
                                      "category": "invoice", "description": "Supplier invoice"},
                          content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert item["filename"] == "invoice 2026.pdf" and item["content_type"] == "application/pdf"
    assert item["size"] == len(PDF) and len(item["sha256"]) == 64
    assert [e["id"] for e in api_a.get(path).get_json()["items"]] == [item["id"]]
    download = api_a.get(f"/evidence/{item['id']}/download")
    assert download.data == PDF and "attachment" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert api_b.get(f"/evidence/{item['id']}/download").status_code == 404
    assert api_b.post(path, data={"file": (BytesIO(PDF), "x.pdf")},
                      content_type="multipart/form-data").status_code == 404


def test_evidence_refusals_are_json(app, world, api_a):
    path = f"/cases/{world.case_a.id}/evidence"
    response = api_a.post(path, data={"file": (BytesIO(b"<html><script>x</script></html>"), "a.pdf")},
                          content_type="multipart/form-data")
    assert response.status_code == 415 and "PDF" in response.get_json()["error"]["message"]
    assert api_a.post(path, json={"file": "x"}).status_code == 415
    response = api_a.post(path, data={"file": (BytesIO(PDF), "a.pdf"), "colour": "red"},
                          content_type="multipart/form-data")
    assert response.status_code == 422
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = api_a.post(path, data={"file": (BytesIO(PDF + b"0" * 4096), "big.pdf")},
                          content_type="multipart/form-data")
    assert response.status_code == 413 and error_code(response) == "too_large"


def test_every_api_route_needs_a_token(app, anonymous):
    """Generated from the URL map, so an endpoint added later is covered too."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        url = rule.build({arg: 1 for arg in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = anonymous.request(method, url.removeprefix("/api/v1"),
                                         json=None if method in ("GET", "DELETE") else {})
            assert response.status_code == 401, (method, url, response.status_code)
            assert error_code(response) == "unauthorized"
            checked += 1
    assert checked >= 20
