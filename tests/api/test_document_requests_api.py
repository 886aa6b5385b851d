"""GET and POST /cases/{id}/document-requests and PATCH /document-request-items/{id}, as a
script sees them: asking the client, the link shown once, what came back, the decisions."""
from __future__ import annotations

import io
import re
from datetime import timedelta

from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import Case, Deadline, DocumentRequest, IdempotencyKey, PortalLink, utcnow
from caseapp.services.portal import checklists, client, links
from caseapp.views.api.openapi import document

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TYPED = [{"title": "Invoice from your supplier", "instructions": "Dated 2026", "category": "invoice"},
         {"title": "Who is your supplier?", "kind": "answer"}]


def path(world) -> str:
    return f"/cases/{world.case_a.id}/document-requests"


def open_typed(api, world, **extra):
    response = api.post(path(world), json={"items": TYPED, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def token_of(made) -> str:
    return made["portal_url"].rsplit("/", 1)[1]


def send_file(made, item_id, name="invoice.pdf", extra=b""):
    upload = FileStorage(io.BytesIO(PDF + extra), filename=name, content_type="application/pdf")
    result = client.upload(token_of(made), item_id, [upload])
    assert result.saved == [name], result.refused


def test_a_request_from_a_checklist_asks_for_its_items_and_the_case_waits_on_the_client(world, api_a):
    due = (utcnow() + timedelta(days=5)).replace(microsecond=0)
    response = api_a.post(path(world), json={"checklist": "authenticity", "due_at": due.isoformat(),
                                             "message": "Hi, we need these."})
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    expected = checklists.get(world.agency_a.id, "authenticity").items
    assert [(i["title"], i["category"], i["kind"]) for i in made["items"]] == [
        (i.title, i.category, i.kind) for i in expected]
    assert all(i["status"] == "requested" and i["evidence_ids"] == [] for i in made["items"])
    assert made["status"] == "open" and made["due_at"] == due.isoformat()
    assert made["message"] == "Hi, we need these." and made["case_id"] == world.case_a.id
    assert made["mailed"] is False  # the client has no contact email: the consultant sends the link
    # The link works: it opens the portal of this case.
    assert links.resolve(token_of(made)).case_id == world.case_a.id
    deadline = db.session.get(Deadline, made["deadline_id"])
    assert deadline.kind == "document_request" and deadline.due_at == due
    case = api_a.get(f"/cases/{world.case_a.id}").get_json()
    assert case["waiting_on_client"] is True and case["waiting_on_client_since"] is not None


def test_typed_items_keep_their_kind_category_and_instructions(world, api_a):
    made = open_typed(api_a, world)
    first, second = made["items"]
    assert (first["title"], first["category"], first["kind"], first["instructions"]) == (
        "Invoice from your supplier", "invoice", "file", "Dated 2026")
    assert (second["kind"], second["category"], second["instructions"]) == ("answer", "other", "")
    # No due date: a week from now.
    assert abs(db.session.get(DocumentRequest, made["id"]).due_at - (utcnow() + timedelta(days=7))) \
        < timedelta(minutes=1)


def test_the_portal_url_is_shown_in_the_post_answer_only(world, api_a):
    made = open_typed(api_a, world)
    assert made["portal_url"].startswith("http") and "/portal/" in made["portal_url"]
    listed = api_a.get(path(world))
    assert listed.status_code == 200
    body = listed.get_data(as_text=True)
    assert token_of(made) not in body and "portal_url" not in body
    [shown] = listed.get_json()["items"]
    assert listed.get_json()["next"] is None
    assert shown == {k: v for k, v in made.items() if k not in ("portal_url", "mailed")}


def test_bad_input_is_422_naming_each_field_and_saves_nothing(world, api_a):
    for payload, field in [({}, "items"), ({"items": []}, "items"), ({"items": "invoices"}, "items"),
                           ({"checklist": "authenticity", "items": 0}, "items"),
                           ({"checklist": "authenticity", "items": {}}, "items"),
                           ({"checklist": "authenticity", "items": False}, "items"),
                           ({"checklist": "no_such_list"}, "checklist"), ({"checklist": 7}, "checklist"),
                           ({"checklist": ""}, "checklist"), ({"checklist": ["authenticity", 3]}, "checklist"),
                           ({"items": [{"instructions": "no title"}]}, "items-0-title"),
                           ({"items": [{"title": "   "}]}, "items-0-title"),
                           ({"items": [{"title": "x" * 201}]}, "items-0-title"),
                           ({"items": [TYPED[0], {"title": "A", "category": "selfie"}]}, "items-1-category"),
                           ({"items": [{"title": "A", "kind": "video"}]}, "items-0-kind"),
                           ({"items": [{"title": "A", "colour": "red"}]}, "items-0-colour"),
                           ({"items": ["invoice"]}, "items-0"),
                           ({"items": [{"title": f"Item {n}"} for n in range(21)]}, "items"),
                           ({"items": TYPED, "due_at": "next week"}, "due_at"),
                           ({"items": TYPED, "due_at": "2026-12-24T17:00:00"}, "due_at"),
                           ({"items": TYPED, "due_at": "2001-01-01T00:00:00+00:00"}, "due_at"),
                           ({"items": TYPED, "message": 5}, "message"),
                           ({"items": TYPED, "message": "x" * 5001}, "message"),
                           ({"items": TYPED, "portal_url": "x"}, "portal_url")]:
        response = api_a.post(path(world), json=payload)
        assert response.status_code == 422, (payload, response.get_json())
        assert field in response.get_json()["error"]["fields"], (payload, response.get_json())
    assert api_a.post(path(world), data="items=x", content_type="text/plain").status_code == 415
    assert db.session.scalar(db.select(db.func.count(DocumentRequest.id))) == 0
    assert db.session.get(Case, world.case_a.id).waiting_on_client_since is None


def test_an_ended_case_is_409(world, api_a):
    assert api_a.patch(f"/cases/{world.case_a.id}", json={"status": "closed"}).status_code == 200
    response = api_a.post(path(world), json={"items": TYPED})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert db.session.scalar(db.select(db.func.count(DocumentRequest.id))) == 0


def test_another_agency_gets_404_and_changes_nothing(world, api_a, api_b):
    made = open_typed(api_a, world)
    assert api_b.get(path(world)).status_code == 404
    assert api_b.post(path(world), json={"items": TYPED}).status_code == 404
    item_id = made["items"][0]["id"]
    send_file(made, item_id)
    response = api_b.patch(f"/document-request-items/{item_id}", json={"status": "accepted"})
    assert response.status_code == 404 and world.case_a.title not in response.get_data(as_text=True)
    assert api_b.patch("/document-request-items/999999", json={"status": "accepted"}).status_code == 404
    [shown] = api_a.get(path(world)).get_json()["items"]
    assert [i["status"] for i in shown["items"]] == ["uploaded", "requested"]
    assert db.session.scalar(db.select(db.func.count(DocumentRequest.id))) == 1


def test_a_client_upload_shows_as_evidence_ids_and_in_the_evidence_list(world, api_a):
    made = open_typed(api_a, world)
    item_id = made["items"][0]["id"]
    send_file(made, item_id)
    [shown] = api_a.get(path(world)).get_json()["items"]
    first = shown["items"][0]
    assert first["status"] == "uploaded" and len(first["evidence_ids"]) == 1
    [evidence] = [e for e in api_a.get(f"/cases/{world.case_a.id}/evidence").get_json()["items"]
                  if e["id"] == first["evidence_ids"][0]]
    assert evidence["source"] == "client" and evidence["request_item_id"] == item_id
    assert evidence["category"] == "invoice" and evidence["filename"] == "invoice.pdf"


def test_reject_needs_a_reason_then_accepting_every_item_fulfils_the_request(world, api_a):
    made = open_typed(api_a, world, checklist=None)
    file_item, answer_item = (i["id"] for i in made["items"])
    # Nothing sent yet: nothing to decide.
    early = api_a.patch(f"/document-request-items/{file_item}", json={"status": "accepted"})
    assert early.status_code == 409
    send_file(made, file_item)
    client.answer(token_of(made), answer_item, "Harbor Supplies Ltd, since 2023.")
    for payload, field in [({"status": "rejected"}, "reason"), ({"status": "rejected", "reason": "  "}, "reason"),
                           ({"status": "maybe"}, "status"), ({}, "status"), ({"status": 1}, "status"),
                           ({"status": "rejected", "reason": "x" * 1001}, "reason"),
                           ({"status": "accepted", "note": "x"}, "note")]:
        response = api_a.patch(f"/document-request-items/{file_item}", json=payload)
        assert response.status_code == 422, (payload, response.get_json())
        assert field in response.get_json()["error"]["fields"], payload
    rejected = api_a.patch(f"/document-request-items/{file_item}",
                           json={"status": "rejected", "reason": "The invoice is cropped."})
    assert rejected.status_code == 200, rejected.get_json()
    item = rejected.get_json()
    assert item["status"] == "rejected" and item["reason"] == "The invoice is cropped."
    assert item["id"] == file_item and item["request_id"] == made["id"] and len(item["evidence_ids"]) == 1
    assert item["decided_at"] is not None
    # Sent back: the client sends again, the consultant accepts both.
    send_file(made, file_item, "again.pdf", b"2")
    accepted = api_a.patch(f"/document-request-items/{file_item}", json={"status": "accepted"}).get_json()
    assert accepted["status"] == "accepted" and accepted["reason"] == "" and len(accepted["evidence_ids"]) == 2
    [shown] = api_a.get(path(world)).get_json()["items"]
    assert shown["status"] == "open" and shown["closed_at"] is None
    last = api_a.patch(f"/document-request-items/{answer_item}", json={"status": "accepted"}).get_json()
    assert last["answer"] == "Harbor Supplies Ltd, since 2023." and last["evidence_ids"] == []
    [shown] = api_a.get(path(world)).get_json()["items"]
    assert shown["status"] == "fulfilled" and shown["closed_at"] is not None
    assert db.session.get(Deadline, made["deadline_id"]).status == "met"
    case = api_a.get(f"/cases/{world.case_a.id}").get_json()
    assert case["waiting_on_client"] is False and case["waiting_on_client_since"] is None
    # A fulfilled request changes no more.
    again = api_a.patch(f"/document-request-items/{answer_item}", json={"status": "rejected", "reason": "No"})
    assert again.status_code == 409


def test_an_idempotency_key_replay_opens_one_request_and_keeps_no_link_in_the_database(world, api_a):
    body = {"items": TYPED, "message": "Please send these."}
    headers = {"Idempotency-Key": "ask-client-1"}
    first = api_a.post(path(world), json=body, headers=headers)
    again = api_a.post(path(world), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(db.select(db.func.count(DocumentRequest.id))) == 1
    # The answer kept for replays holds no working link: the link is stored hashed only.
    token = token_of(first.get_json())
    kept = db.session.scalars(db.select(IdempotencyKey.body)).all()
    assert len(kept) == 1 and token not in kept[0]
    other = api_a.post(path(world), json={**body, "message": "Other"}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["error"]["fields"]
    # Once the link is revoked, a replay shows no link rather than a dead one.
    links.revoke(world.consultant_a, world.case_a.id)
    revoked = api_a.post(path(world), json=body, headers=headers).get_json()
    assert revoked["portal_url"] is None and revoked["id"] == first.get_json()["id"]


def test_a_typed_marker_is_never_filled_with_a_link(world, api_a):
    """A message that looks like the kept answer's marker stays the text it was."""
    made = open_typed(api_a, world)
    link_id = db.session.scalar(db.select(PortalLink.id))
    forged = f"[withheld:portal_link:{link_id}:{'0' * 32}]"
    body = {"items": TYPED, "message": forged}
    api_a.post(path(world), json=body, headers={"Idempotency-Key": "forge"})
    replay = api_a.post(path(world), json=body, headers={"Idempotency-Key": "forge"}).get_json()
    assert replay["message"] == forged and token_of(made) not in str(replay["message"])


def test_the_openapi_document_describes_the_routes_and_the_answers_match_it(app, world, api_a):
    doc = document()
    paths = doc["paths"]
    post = paths["/cases/{case_id}/document-requests"]["post"]
    assert {"201", "404", "409", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert set(paths["/cases/{case_id}/document-requests"]) == {"parameters", "get", "post"}
    assert set(paths["/document-request-items/{item_id}"]) == {"parameters", "patch"}
    assert {"404", "409", "422"} <= set(paths["/document-request-items/{item_id}"]["patch"]["responses"])
    schemas = doc["components"]["schemas"]
    made = open_typed(api_a, world)
    assert set(made) == set(schemas["OpenedDocumentRequest"]["properties"])
    assert set(made) - {"portal_url", "mailed"} == set(schemas["DocumentRequest"]["properties"])
    assert set(made["items"][0]) == set(schemas["DocumentRequestItem"]["properties"])
    assert set(schemas["DocumentRequestItem"]["required"]) == set(made["items"][0])
    assert set(schemas["DocumentRequestItemInput"]["properties"]) == {"title", "instructions", "category", "kind"}
    case = api_a.get(f"/cases/{world.case_a.id}").get_json()
    assert set(case) == set(schemas["Case"]["properties"])
    documented = {(p, m) for p, item in paths.items() for m in item if m != "parameters"}
    routes = {(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule).removeprefix("/api/v1"), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              and "document-request" in rule.rule for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes <= documented and len(routes) == 3
