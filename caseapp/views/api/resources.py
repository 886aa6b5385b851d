"""The API's endpoints, one thin function each: parse, call the service, serialise."""
from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from caseapp.core.errors import ValidationFailed
from caseapp.core.paging import BadCursor
from caseapp.core.transaction import transaction
from caseapp.models import CATEGORIES, ITEM_KINDS, STATUSES, utcnow
from caseapp.models.submission import REMINDER_STATUSES
from caseapp.services.accounts import invitations
from caseapp.services.appeals import corrections, followups, submissions, workflow
from caseapp.services.cases import clients, records
from caseapp.services.cases import search as finder
from caseapp.services.sheets import exports
from caseapp.services.cases.records import CaseFilters
from caseapp.services.deadlines import clocks, presets
from caseapp.services.deadlines import listing as deadline_lists
from caseapp.services.evidence import files
from caseapp.services.inbound import filing as inbound_filing
from caseapp.services.poa import drafts as poa
from caseapp.services.poa.content import LIST_SECTIONS, SECTION_KEYS
from caseapp.services.portal import checklists, links
from caseapp.services.portal import requests as doc_requests
from caseapp.views.api import serialize
from caseapp.views.api.core import (SECRET_BUILDERS, body, bp, int_arg, listing, moment, moment_arg, page_args,
                                    texts, user, withhold)
from caseapp.views.api.openapi import document
from caseapp.views.helpers import export_response
from caseapp.views.helpers import send_file_row as send_evidence

CLIENT_FIELDS = {"name", "seller_id", "marketplace", "contact_name", "contact_email", "notes"}
CASE_FIELDS = {"client_id", "title", "kind", "reason", "asins", "assignee_id", "amazon_notice",
               "opened_at", "priority"}


def created(payload: dict) -> tuple[Response, int]:
    return jsonify(payload), 201


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


# ---- clients ----------------------------------------------------------------------------

@bp.get("/clients")
def client_list():
    page, per_page = page_args()
    found = clients.list_clients(user(), request.args.get("q", "")[:200], page, per_page)
    return listing([serialize.client(c) for c in found.items], found, "api.client_list")


@bp.post("/clients")
def client_create():
    return created(serialize.client(clients.create_client(user(), body(CLIENT_FIELDS))))


@bp.get("/clients/<int:client_id>")
def client_get(client_id: int):
    return serialize.client(clients.get_client(user(), client_id))


@bp.patch("/clients/<int:client_id>")
def client_update(client_id: int):
    clients.get_client(user(), client_id)  # another agency's client: 404 before anything else
    return serialize.client(clients.update_client(user(), client_id, body(CLIENT_FIELDS)))


@bp.delete("/clients/<int:client_id>")
def client_delete(client_id: int):
    clients.delete_client(user(), client_id)
    return "", 204


# ---- cases ------------------------------------------------------------------------------

def _case_filters() -> CaseFilters:
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise ValidationFailed({"status": "Choose one of: " + ", ".join(STATUSES) + "."},
                               "Invalid query parameter.")
    assignee = int_arg("assignee_id")
    page, _ = page_args()
    return CaseFilters(status=status or "", client_id=int_arg("client_id"),
                       assignee=str(assignee) if assignee else "all",
                       q=request.args.get("q", "")[:200], page=page,
                       after=request.args.get("after", ""))


def _cases(rows: list) -> list[dict]:
    """Cases as the API shows them, with their next deadlines read in one query for all."""
    now, upcoming = utcnow(), deadline_lists.next_deadlines(rows)
    return [serialize.case(c, upcoming.get(c.id), now) for c in rows]


def _case(case) -> dict:
    return _cases([case])[0]


@bp.get("/cases")
def case_list():
    _, per_page = page_args()
    try:
        found = records.list_cases(user(), _case_filters(), per_page=per_page)
    except BadCursor:
        raise ValidationFailed({"after": "Not a cursor of this list: follow the `next` link as given."},
                               "Invalid query parameter.") from None
    return listing(_cases(found.items), found, "api.case_list")


@bp.get("/cases/export")
def case_export():
    """Every case the filters of GET /cases match, streamed as CSV or XLSX."""
    return export_response(*exports.export(user(), _case_filters(), request.args.get("format", "csv")))


@bp.post("/cases")
def case_create():
    data = body(CASE_FIELDS)
    moment(data, "opened_at")
    case = presets.open_case(user(), data)  # saved: what is shown is read back, as stored
    return created(_case(records.get_case(user(), case.id)))


@bp.get("/cases/<int:case_id>")
def case_get(case_id: int):
    return _case(records.get_case(user(), case_id))


@bp.patch("/cases/<int:case_id>")
def case_update(case_id: int):
    """The field edits and the status move are one unit of work: a refused move saves nothing."""
    records.get_case(user(), case_id)  # another agency's case: 404 before the body is read
    data = body(CASE_FIELDS | {"status"})
    moment(data, "opened_at")
    target = data.pop("status", None)
    with transaction():
        case = records.get_case(user(), case_id, for_update=True)
        if target is not None and target != case.status:
            workflow.check_move(case.status, target)  # a refusal answers before a field error
        if data:
            records.update_case(user(), case_id, data)
        case = records.get_case(user(), case_id, for_update=True)
        if target is not None and target != case.status:
            workflow.set_status(user(), case, target, by=workflow.PERSON)
    return _case(records.get_case(user(), case_id))


@bp.get("/cases/<int:case_id>/timeline")
def case_timeline(case_id: int):
    records.get_case(user(), case_id)  # another agency's case: 404 before the query is read
    page, per_page = page_args()
    found = records.timeline_page(user(), case_id, page, per_page)
    return listing([serialize.event(e) for e in found.items], found, "api.case_timeline",
                   case_id=case_id)


@bp.post("/cases/<int:case_id>/notes")
def note_create(case_id: int):
    records.get_case(user(), case_id)
    data = body({"body"})
    return created(serialize.note(records.add_note(user(), case_id, data.get("body"))))


@bp.patch("/notes/<int:note_id>")
def note_update(note_id: int):
    records.changeable_note(user(), note_id)  # 404 and 403 before the body is read
    data = body({"body"})
    if "body" not in data:
        raise ValidationFailed({"body": "Required."})
    return serialize.note(records.edit_note(user(), note_id, data["body"]))


@bp.delete("/notes/<int:note_id>")
def note_delete(note_id: int):
    records.delete_note(user(), note_id)
    return "", 204


# ---- deadlines ------------------------------------------------------------------------------

DEADLINE_TEXTS = {"kind": 30, "title": clocks.TITLE_LIMIT, "note": clocks.NOTE_LIMIT}


def _deadline_filters() -> deadline_lists.DeadlineFilters:
    mine = request.args.get("mine", "false")
    if mine not in ("true", "false"):
        raise ValidationFailed({"mine": "Use true or false."}, "Invalid query parameter.")
    return deadline_lists.DeadlineFilters(
        mine=mine == "true", assignee_id=int_arg("assignee_id"), case_id=int_arg("case_id"),
        kind=request.args.get("kind"), status=request.args.get("status", deadline_lists.DEFAULT_STATUS),
        due_before=moment_arg("due_before"), due_after=moment_arg("due_after"))


@bp.get("/deadlines")
def deadline_list():
    page, per_page = page_args()
    try:
        found = deadline_lists.list_deadlines(user(), _deadline_filters(), after=request.args.get("after", ""),
                                              per_page=per_page, page=page)
    except BadCursor:
        raise ValidationFailed({"after": "Not a cursor of this list: follow the `next` link as given."},
                               "Invalid query parameter.") from None
    now = utcnow()
    return listing([serialize.deadline(d, now) for d in found.items], found, "api.deadline_list")


@bp.get("/cases/<int:case_id>/deadlines")
def case_deadlines(case_id: int):
    now = utcnow()
    rows = clocks.for_case(records.get_case(user(), case_id))
    return {"items": [serialize.deadline(d, now) for d in rows], "next": None}


@bp.post("/cases/<int:case_id>/deadlines")
def deadline_create(case_id: int):
    records.get_case(user(), case_id)  # another agency's case: 404 before the body is read
    data = body({"kind", "title", "due_at", "note"})
    texts(data, DEADLINE_TEXTS)
    if data.get("kind") == "":
        raise ValidationFailed({"kind": "Choose one of: " + ", ".join(clocks.ADDABLE_KINDS) + "."})
    moment(data, "due_at")
    return created(serialize.deadline(clocks.add(user(), case_id, data)))


@bp.patch("/deadlines/<int:deadline_id>")
def deadline_update(deadline_id: int):
    clocks.get_deadline(user(), deadline_id)  # another agency's deadline: 404 before the body
    data = body({"status", "due_at", "title", "note", "paused"})
    texts(data, {**DEADLINE_TEXTS, "status": 20})
    if data.get("paused") is not None and not isinstance(data["paused"], bool):
        raise ValidationFailed({"paused": "Use true to pause the clock, false to run it again."})
    moment(data, "due_at")
    return serialize.deadline(clocks.change(user(), deadline_id, data))


# ---- document requests -----------------------------------------------------------------------

ITEM_FIELDS = {"title", "instructions", "category", "kind"}
SECRET_BUILDERS["portal_link"] = lambda ref: links.build_for_mail(ref, utcnow())


def _request_items(data: dict) -> None:
    """What JSON Schema says of `items` and `checklist` (the service reads forms too, which are
    looser): a 422 naming each field that is not what the OpenAPI document describes."""
    wrong: dict[str, str] = {}
    items, keys = data.get("items"), data.get("checklist")
    if items is not None and not isinstance(items, list):  # 0, false, "" or {} is no list either
        wrong["items"] = "A list of items, each with a title, instructions and a category."
    elif items is not None and len(items) > doc_requests.MAX_ITEMS:
        wrong["items"] = f"At most {doc_requests.MAX_ITEMS} items in one request."
    for n, item in enumerate(items[:doc_requests.MAX_ITEMS] if isinstance(items, list) else ()):
        if not isinstance(item, dict):
            wrong[f"items-{n}"] = "Each item is an object with a title, instructions and a category."
            continue
        wrong.update({f"items-{n}-{name}": "Unknown field." for name in sorted(set(item) - ITEM_FIELDS)})
        for name, limit in (("title", checklists.TITLE_LIMIT), ("instructions", checklists.INSTRUCTIONS_LIMIT)):
            value = item.get(name)
            if (value is not None or name == "title") and not isinstance(value, str):
                wrong[f"items-{n}-{name}"] = "Must be text." if value is not None else "Required."
            elif value is not None and len(value) > limit:
                wrong[f"items-{n}-{name}"] = f"At most {limit:,} characters."
            elif name == "title" and not value.strip():
                wrong[f"items-{n}-title"] = "Give the item a title the client understands."
        for name, allowed in (("category", CATEGORIES), ("kind", ITEM_KINDS)):
            if item.get(name) is not None and item[name] not in allowed:
                wrong[f"items-{n}-{name}"] = "Choose one of: " + ", ".join(allowed) + "."
    listed = keys if isinstance(keys, list) else [keys]
    if keys is not None and (len(listed) > checklists.MAX_CHECKLISTS
                             or not all(isinstance(k, str) and k for k in listed)):
        wrong["checklist"] = "Name a checklist by its key, or give a list of keys."
    if wrong:
        raise ValidationFailed(wrong)


@bp.get("/cases/<int:case_id>/document-requests")
def document_request_list(case_id: int):
    rows = doc_requests.list_for_case(user(), case_id)
    files_of = doc_requests.files_by_item(rows)
    return {"items": [serialize.document_request(r, files_of) for r in rows], "next": None}


@bp.post("/cases/<int:case_id>/document-requests")
def document_request_create(case_id: int):
    records.get_case(user(), case_id)  # another agency's case: 404 before the body is read
    data = body({"items", "checklist", "due_at", "message"})
    texts(data, {"message": doc_requests.MESSAGE_LIMIT})
    _request_items(data)
    moment(data, "due_at")
    opened = doc_requests.open_request(user(), case_id, data)
    withhold("portal_link", opened.link.id, opened.portal_url)  # shown once: never kept for a replay
    return created({**serialize.document_request(opened.request, {}), "portal_url": opened.portal_url,
                    "mailed": opened.mailed})


@bp.patch("/document-request-items/<int:item_id>")
def document_request_item_decide(item_id: int):
    doc_requests.get_item(user(), item_id)  # another agency's item: 404 before the body is read
    data = body({"status", "reason"})
    texts(data, {"status": 20, "reason": doc_requests.REASON_LIMIT})
    item = doc_requests.decide_item(user(), item_id, data.get("status"), data.get("reason"))
    _, request_of_item, _ = doc_requests.get_item(user(), item_id)
    return serialize.document_request_item(item, doc_requests.files_by_item([request_of_item])[item.id])


# ---- POA drafts ---------------------------------------------------------------------------

@bp.get("/cases/<int:case_id>/poa-drafts")
def draft_list(case_id: int):
    drafts = poa.versions(user(), case_id)
    return {"items": [serialize.poa_draft(d) for d in drafts], "next": None}


@bp.post("/cases/<int:case_id>/poa-drafts")
def draft_create(case_id: int):
    records.get_case(user(), case_id)
    data = body(set(SECTION_KEYS))
    wrong = {key: "Must be a list of texts." for key in LIST_SECTIONS
             if key in data and not isinstance(data[key], list)}
    if wrong:  # the pages send one item per line; the API takes real lists
        raise ValidationFailed(wrong)
    saved = poa.save(user(), case_id, data)
    # The same text as the latest version makes none: 200 with that version, not 201.
    return created(serialize.poa_draft(saved.draft)) if saved.created else serialize.poa_draft(saved.draft)


@bp.get("/poa-drafts/<int:draft_id>")
def draft_get(draft_id: int):
    return serialize.poa_draft(poa.get_draft(user(), draft_id))


@bp.get("/poa-drafts/<int:draft_id>/review")
def draft_review(draft_id: int):
    return {"draft_id": draft_id,
            "findings": [f.as_dict() for f in poa.review(user(), draft_id)]}


@bp.get("/poa-drafts/<int:draft_id>/export")
def draft_export(draft_id: int):
    with_evidence = request.args.get("evidence", "0")
    if with_evidence not in ("0", "1"):
        raise ValidationFailed({"evidence": "Use 1 to append the evidence index, 0 not to."},
                               "Invalid query parameter.")
    return export_response(*poa.export(user(), draft_id, request.args.get("format", "txt"),
                                       with_evidence=with_evidence == "1"))


# ---- submissions, replies, reminders ------------------------------------------------------

@bp.post("/cases/<int:case_id>/submissions")
def submission_create(case_id: int):
    records.get_case(user(), case_id)
    data = body({"poa_draft_id", "submitted_at", "channel", "amazon_reference", "evidence_ids"})
    texts(data, {"amazon_reference": 200})  # false or 0 is not an empty reference
    moment(data, "submitted_at")
    submission = submissions.record_submission(user(), case_id, data)
    return created(_submission(submission, followups.history_note(submission, serialize.ts)))


def _submission(submission, note: str | None = None) -> dict:
    due = followups.submission_follow_up(submission, utcnow()).due_at
    sent = submissions.evidence_by_submission(submission.case_id).get(submission.id, [])
    return serialize.submission(submission, due, [e.id for e in sent], note)


@bp.patch("/submissions/<int:submission_id>")
def submission_update(submission_id: int):
    corrections.changeable_submission(user(), submission_id)  # 404, 403, 409 before the body
    data = body(set(corrections.SUBMISSION_FIELDS))
    texts(data, {"amazon_reference": 200})
    moment(data, "submitted_at")
    return _submission(corrections.correct_submission(user(), submission_id, data))


@bp.delete("/submissions/<int:submission_id>")
def submission_withdraw(submission_id: int):
    corrections.withdraw_submission(user(), submission_id)
    return "", 204


@bp.post("/submissions/<int:submission_id>/responses")
def response_create(submission_id: int):
    submissions.get_submission(user(), submission_id)
    data = body({"received_at", "outcome", "body"})
    moment(data, "received_at")
    return created(serialize.response(submissions.record_response(user(), submission_id, data)))


@bp.patch("/responses/<int:response_id>")
def response_update(response_id: int):
    corrections.changeable_response(user(), response_id)  # 404, 403, 409 before the body
    data = body(set(corrections.RESPONSE_FIELDS))
    moment(data, "received_at")
    return serialize.response(corrections.correct_response(user(), response_id, data))


@bp.delete("/responses/<int:response_id>")
def response_withdraw(response_id: int):
    corrections.withdraw_response(user(), response_id)
    return "", 204


@bp.post("/invitations")
def invitation_create():
    data = body({"email", "name", "role", "timezone"})
    return created(serialize.invitation(invitations.invite(
        user(), data.get("email"), data.get("name"), data.get("role"), data.get("timezone"))))


@bp.get("/reminders")
def reminder_list():
    status = request.args.get("status")
    if status is not None and status not in REMINDER_STATUSES:
        raise ValidationFailed({"status": "Choose one of: " + ", ".join(REMINDER_STATUSES) + "."},
                               "Invalid query parameter.")
    page, per_page = page_args()
    found = followups.list_reminders(user(), status, page, per_page)
    return listing([serialize.reminder(r) for r in found.items], found, "api.reminder_list")


# ---- evidence --------------------------------------------------------------------------------

@bp.get("/cases/<int:case_id>/evidence")
def evidence_list(case_id: int):
    rows = files.list_for_case(user(), case_id)
    return {"items": [serialize.evidence(e) for e in rows], "next": None}


@bp.post("/cases/<int:case_id>/evidence")
def evidence_upload(case_id: int):
    records.get_case(user(), case_id)
    if not request.mimetype == "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data with a 'file' part.")
    unknown = sorted((set(request.form) | set(request.files)) - {"file", "description", "category"})
    if unknown:
        raise ValidationFailed({name: "Unknown field." for name in unknown},
                               "The body has fields this endpoint does not take.")
    row = files.upload(user(), case_id, request.files.get("file"), request.form.get("category"),
                          request.form.get("description"))
    return created(serialize.evidence(row))


@bp.get("/evidence/<int:evidence_id>/download")
def evidence_download(evidence_id: int):
    row, stream = files.open_file(user(), evidence_id)
    return send_evidence(row, stream, as_attachment=True)


# ---- email in --------------------------------------------------------------------------------

class _Older:
    """The inbound list's paging: newest first, the next page before the last id shown."""

    def __init__(self, has_next: bool, last_id: int | None):
        self.has_next = has_next
        self.next_args = {"before": last_id}


@bp.get("/inbound")
def inbound_list():
    try:
        status = inbound_filing.check_status(request.args.get("status"))
    except ValidationFailed as error:
        raise ValidationFailed(error.fields, "Invalid query parameter.") from None
    per_page = int_arg("per_page", 50, maximum=100)
    rows = inbound_filing.list_messages(user(), status, per_page + 1, int_arg("before"))
    shown = rows[:per_page]
    return listing([serialize.inbound(m) for m in shown],
                   _Older(len(rows) > per_page, shown[-1].id if shown else None), "api.inbound_list")


# ---- search ---------------------------------------------------------------------------------

@bp.get("/search")
def search_everything():
    query = request.args.get("q", "")
    if len(query) > finder.MAX_QUERY:
        raise ValidationFailed({"q": f"At most {finder.MAX_QUERY} characters."}, "Invalid query parameter.")
    hits = finder.search(user(), query, int_arg("limit", finder.LIMIT, maximum=50))
    return {"items": [serialize.search_hit(h) for h in hits], "next": None}
