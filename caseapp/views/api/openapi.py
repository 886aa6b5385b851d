"""The OpenAPI 3.1 description of /api/v1, built from the same vocabularies as the code."""
from __future__ import annotations

from functools import lru_cache

from caseapp.models import (CLOCKS, DEADLINE_KINDS, DEADLINE_STATUSES, ITEM_KINDS, ITEM_STATUSES, KINDS,
                            MARKETPLACES, PRIORITIES, REASONS, REQUEST_STATUSES, ROLES, STATUSES)
from caseapp.models.deadline import SOURCES
from caseapp.models.evidence import CATEGORIES
from caseapp.models.inbound import INBOUND_STATUSES
from caseapp.models.submission import CHANNELS, OUTCOMES, REMINDER_STATUSES
from caseapp.core.parsing import MAX_ID, MAX_PAGE
from caseapp.services.poa.content import (
    MAX_DRAFT_CHARS,
    MAX_ITEM_CHARS,
    MAX_ITEM_LINES,
    MAX_LIST_ITEMS,
    MAX_SECTION_CHARS,
    MAX_SECTION_LINES,
    MAX_SUBJECT_CHARS,
)
from caseapp.services.poa.checks import ERROR, WARNING
from caseapp.services.deadlines.clocks import ADDABLE_KINDS, MAX_YEARS_AHEAD, NOTE_LIMIT, TITLE_LIMIT
from caseapp.services.portal import checklists as portal_checklists
from caseapp.services.portal import requests as portal_requests

TS = {"type": "string", "format": "date-time"}
TS_NULL = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
ID_NULL = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict, required: list[str] | None = None, extra: bool = False) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = required
    return schema


def text(max_length: int, min_length: int = 0) -> dict:
    """A text field; an optional one (no minimum) also takes null, read as empty."""
    if min_length:
        return {"type": "string", "maxLength": max_length, "minLength": min_length}
    return {"type": ["string", "null"], "maxLength": max_length}


def listing(item: str) -> dict:
    return obj({"items": {"type": "array", "items": ref(item)},
                "next": {"type": ["string", "null"]}}, ["items", "next"])


CLIENT_IN = {
    "name": text(200, 1),
    "seller_id": {"type": ["string", "null"], "pattern": "^\\s*([A-Za-z0-9]{8,20})?\\s*$"},
    "marketplace": {"enum": [*MARKETPLACES, None], "description": "null: US"},
    "contact_name": text(120),
    "contact_email": {"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0},
                                {"type": "null"}]},
    "notes": text(20000),
}
CASE_IN = {
    "client_id": ID, "title": text(200, 1), "kind": {"type": "string", "enum": list(KINDS)},
    "reason": {"type": "string", "enum": list(REASONS)},
    "asins": {"type": ["array", "null"], "maxItems": 200,
              "items": {"type": "string", "pattern": "^\\s*[A-Za-z0-9]{10}\\s*$"}},
    "assignee_id": ID_NULL, "amazon_notice": text(50000),
    "opened_at": {**TS_NULL, "description": "When Amazon's notice came; null or absent: now"},
    "priority": {"type": "string", "enum": list(PRIORITIES)},
}
_ITEMS = {"type": "array", "maxItems": MAX_LIST_ITEMS,
          "items": {**text(MAX_ITEM_CHARS), "description": f"At most {MAX_ITEM_LINES} lines"}}
_SECTION = {**text(MAX_SECTION_CHARS), "description": f"At most {MAX_SECTION_LINES} lines"}
POA_IN = {
    "subject": text(MAX_SUBJECT_CHARS), "introduction": _SECTION, "root_cause": _SECTION,
    "corrective_actions": _ITEMS, "preventive_measures": _ITEMS, "closure": _SECTION,
}

# A submission or reply recorded by mistake is kept, withdrawn (services/appeals/corrections.py).
WITHDRAWN = {"recorded_by_id": ID_NULL,
             "withdrawn_at": {**TS_NULL, "description": "null: it counts; otherwise withdrawn, "
                              "and the case's status and follow-ups no longer follow it"},
             "withdrawn_by_id": ID_NULL}
CORRECTION = ("Its recorder within 24 hours of recording it, an admin at any time (others: 403); "
              "the case's status, follow-ups and timeline are recomputed, and the timeline keeps "
              "what was changed.")

SCHEMAS = {
    "Error": obj({"error": obj({
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        "existing_id": {**ID, "description": "A 409 for a duplicate (a client's seller ID, a file "
                                             "already on the case): the id of the one that exists"},
    }, ["code", "message"])}, ["error"]),
    "ClientInput": obj(CLIENT_IN, ["name"]),
    "ClientUpdate": obj(CLIENT_IN),
    "Client": obj({**{k: {"type": "string"} for k in CLIENT_IN}, "id": ID, "created_at": TS},
                  ["id", "name", "seller_id", "marketplace", "created_at"]),
    "CaseInput": obj(CASE_IN, ["client_id", "title", "kind", "reason"]),
    "CaseUpdate": obj({**CASE_IN, "status": {"enum": [*STATUSES, None], "description": "null: unchanged"}}),
    "Case": obj({
        "id": ID, "client_id": ID, "title": {"type": "string"}, "kind": CASE_IN["kind"],
        "reason": CASE_IN["reason"], "asins": {"type": "array", "items": {"type": "string"}},
        "assignee_id": ID_NULL, "amazon_notice": {"type": "string"}, "priority": CASE_IN["priority"],
        "status": {"type": "string", "enum": list(STATUSES)}, "opened_at": TS, "closed_at": TS_NULL,
        "follow_up_due_at": {**TS_NULL, "description": (
            "The case's next follow-up with Amazon: the earliest reminder not yet sent (a snooze "
            "moves it, a sent reminder's repeat replaces it; one whose email was refused for good "
            "or is held stays, overdue, until delivered); null when no follow-up is open "
            "(Amazon replied, it was dismissed, or the case is no longer submitted)")},
        "follow_up_overdue": {"type": "boolean", "description": (
            "follow_up_due_at has passed and the follow-up is still open: the dashboard's red")},
        "next_deadline": {"anyOf": [ref("NextDeadline"), {"type": "null"}], "description": (
            "The case's soonest running deadline (open, not paused; the follow-up with Amazon "
            "included), or null when none runs. Its full row: GET /deadlines?case_id=")},
        "waiting_on_client": {"type": "boolean", "description": (
            "A document request of the case is open: the case waits on the client, and its "
            "agency clocks are paused")},
        "waiting_on_client_since": {**TS_NULL, "description": (
            "Since when the case waits on the client; null when it does not")},
        "amazon_wrote_at": {**TS_NULL, "description": (
            "When Amazon's newest mail on the case came that nobody has recorded as its reply "
            "or dismissed yet; null when there is none")},
        "created_at": TS, "updated_at": TS,
    }, ["id", "client_id", "title", "kind", "reason", "asins", "status", "opened_at", "closed_at",
        "follow_up_due_at", "follow_up_overdue", "next_deadline", "waiting_on_client",
        "waiting_on_client_since"]),
    "Event": obj({"id": ID, "kind": {"type": "string"}, "occurred_at": TS, "actor_id": ID_NULL,
                  "summary": {"type": "string"}, "data": {
                      "type": "object", "description": "Depends on the kind; note_added: note_id; note_edited: "
                      "note_id, previous_body (the text before the edit); note_deleted: note_id, author_id, body"}},
                 ["id", "kind", "occurred_at", "actor_id", "summary", "data"]),
    "NoteInput": obj({"body": text(20000, 1)}, ["body"]),
    "Note": obj({"id": ID, "case_id": ID, "author_id": ID_NULL, "body": {"type": "string"},
                 "created_at": TS, "edited_at": {**TS_NULL, "description": "The last edit; null: never edited"}},
                ["id", "case_id", "body", "created_at", "edited_at"]),
    "PoaDraftInput": {**obj(POA_IN), "description": (
        f"At most {MAX_DRAFT_CHARS:,} characters in all (trimmed, line breaks as one); over that the "
        "422 names the longest section in `fields`.")},
    "PoaDraft": obj({**{k: {"type": "string"} for k in ("subject", "introduction", "root_cause", "closure")},
                     "corrective_actions": {"type": "array", "items": {"type": "string"}},
                     "preventive_measures": {"type": "array", "items": {"type": "string"}},
                     "id": ID, "case_id": ID, "version": ID, "created_at": TS, "author_id": ID_NULL,
                     "final": {"type": "boolean"}, "submitted_at": TS_NULL},
                    ["id", "case_id", "version", "created_at", "author_id"]),
    "Review": obj({"draft_id": ID, "findings": {"type": "array", "items": obj({
        "code": {"type": "string"}, "severity": {"type": "string", "enum": [ERROR, WARNING]},
        "section": {"type": ["string", "null"]}, "message": {"type": "string"},
    }, ["code", "severity", "section", "message"])}}, ["findings"]),
    "SubmissionInput": obj({"poa_draft_id": ID_NULL,
                            "evidence_ids": {"type": ["array", "null"], "items": ID, "maxItems": 500,
                                             "description": "Evidence files of the case sent with it"}, "submitted_at": {**TS_NULL, "description": "null: now"},
                            "channel": {"enum": [*CHANNELS, None], "description": "null: account_health_appeal"},
                            "amazon_reference": text(200)}),
    "Submission": obj({"id": ID, "case_id": ID, "poa_draft_id": ID_NULL, "submitted_at": TS,
                       "evidence_ids": {"type": "array", "items": ID},
                       "channel": {"type": "string", "enum": list(CHANNELS)},
                       "amazon_reference": {"type": "string"},
                       "follow_up_due_at": {**TS_NULL, "description": (
                           "The follow-up this submission started; null when it starts none")},
                       "note": {"type": ["string", "null"], "description": (
                           "Said when the submission is dated before the case's latest one: it is "
                           "recorded as history and starts no follow-up (follow_up_due_at null)")},
                       "created_at": TS, **WITHDRAWN},
                      ["id", "case_id", "submitted_at", "channel", "follow_up_due_at", "note"]),
    "SubmissionUpdate": obj({
        "submitted_at": {**TS_NULL, "description": "null or absent: unchanged"},
        "channel": {"type": "string", "enum": list(CHANNELS)}, "amazon_reference": text(200)}),
    "ResponseUpdate": obj({
        "received_at": {**TS_NULL, "description": "null or absent: unchanged"},
        "outcome": {"type": "string", "enum": list(OUTCOMES)}, "body": text(50000)}),
    "ResponseInput": obj({"received_at": {**TS_NULL, "description": "null: now"}, "outcome": {"type": "string", "enum": list(OUTCOMES)},
                          "body": text(50000)}, ["outcome"]),
    "Response": obj({"id": ID, "submission_id": ID, "case_id": ID, "received_at": TS,
                     "outcome": {"type": "string", "enum": list(OUTCOMES)},
                     "body": {"type": "string"}, "created_at": TS, **WITHDRAWN},
                    ["id", "submission_id", "received_at", "outcome"]),
    "Reminder": obj({"id": ID, "case_id": ID, "submission_id": ID, "sequence": ID, "due_at": TS,
                     "status": {"type": "string", "enum": list(REMINDER_STATUSES), "description": (
                         "pending until its email is delivered (a refused or held email leaves it "
                         "pending and the follow-up open; the email's own state is in the Outbox); "
                         "failed only when its email could not be prepared")},
                     "sent_at": TS_NULL, "recipient": {"type": ["string", "null"]}},
                    ["id", "case_id", "submission_id", "due_at", "status", "sent_at", "recipient"]),
    "InvitationInput": obj({"email": {"type": "string", "format": "email", "maxLength": 254},
                            "name": text(120, 1), "role": {"type": "string", "enum": list(ROLES)},
                            "timezone": {"type": ["string", "null"], "maxLength": 64,
                                         "description": "null: the agency's time zone"}},
                           ["email", "name", "role"]),
    "Invitation": obj({"id": ID, "email": {"type": "string"}, "name": {"type": "string"},
                       "role": {"type": "string", "enum": list(ROLES)}, "created_at": TS,
                       "expires_at": TS}, ["id", "email", "role", "expires_at"]),
}
OVERDUE = ("Open, not paused, and its due time has passed: the one definition of overdue of every "
           "page, mail and feed")
SCHEMAS["NextDeadline"] = obj({
    "id": ID, "kind": {"type": "string", "enum": list(DEADLINE_KINDS)}, "title": {"type": "string"},
    "due_at": TS, "overdue": {"type": "boolean", "description": OVERDUE},
}, ["id", "kind", "title", "due_at", "overdue"])
_DEADLINE_TEXTS = {"title": text(TITLE_LIMIT), "note": text(NOTE_LIMIT)}
SCHEMAS["Deadline"] = obj({
    "id": ID, "case_id": ID, "kind": {"type": "string", "enum": list(DEADLINE_KINDS)},
    "title": {"type": "string"}, "note": {"type": "string"}, "due_at": {**TS, "description": (
        "When it is due; while paused, when it was due at the moment it paused (it runs on from "
        "what was left when it resumes)")},
    "status": {"type": "string", "enum": list(DEADLINE_STATUSES)},
    "clock": {"type": "string", "enum": list(CLOCKS), "description": (
        "amazon: Amazon's time, calendar hours, never paused; agency: the agency's own promise, "
        "may count business days of the agency's calendar and pause")},
    "business_days": {"type": "boolean", "description": "Counted in the agency's business days"},
    "paused": {"type": "boolean"}, "overdue": {"type": "boolean", "description": OVERDUE},
    "source": {"type": "string", "enum": list(SOURCES), "description": "Where it came from"},
    "source_id": {**ID_NULL, "description": "The submission, reply or document request it came from"},
    "owner_id": {**ID_NULL, "description": "The case's assignee; null: unassigned"},
    "met_at": TS_NULL, "closed_at": TS_NULL,
    "closed_reason": {"type": "string", "description": "Why it was closed, when not by a person"},
    "created_at": TS, "updated_at": TS,
}, ["id", "case_id", "kind", "title", "due_at", "status", "clock", "paused", "overdue", "source",
    "met_at", "created_at"])
SCHEMAS["DeadlineInput"] = {**obj({
    "kind": {"enum": [*ADDABLE_KINDS, None], "description": (
        "null or absent: custom. amazon_follow_up is not among them: follow-ups start by "
        "themselves when a submission is recorded (a 422)")},
    "title": {**_DEADLINE_TEXTS["title"], "description": "Blank, null or absent: the kind's name"},
    "due_at": {**TS, "description": f"With its offset; at most {MAX_YEARS_AHEAD} years ahead, "
                                    "not before 2000"},
    "note": _DEADLINE_TEXTS["note"],
}, ["due_at"]), "description": "The clock (amazon or agency) follows from the kind."}
SCHEMAS["DeadlineUpdate"] = {**obj({
    "status": {"enum": ["open", "met", "cancelled", None], "description": (
        "met or cancelled closes it, open opens a closed one again; null or absent: unchanged")},
    "due_at": {**TS_NULL, "description": "null or absent: unchanged; a paused clock must be resumed "
                                         "first (send paused false with it)"},
    "title": {"type": "string", "minLength": 1, "maxLength": TITLE_LIMIT},
    "note": _DEADLINE_TEXTS["note"],
    "paused": {"type": ["boolean", "null"], "description": (
        "true pauses an agency clock, keeping what is left of it; false runs it again from "
        "now with what was left; the state it is already in changes nothing; null or absent: "
        "unchanged. Amazon clocks never pause: true on one is a 409")},
}), "description": (
    "Every change is one entry on the case's timeline; all or nothing. The follow-up with Amazon "
    "(kind amazon_follow_up) follows the submissions: changing its status, due_at or title (or "
    "pausing it) is a 409.")}
SCHEMAS["Evidence"] = obj({
    "id": ID, "case_id": ID, "filename": {"type": "string"}, "size": {"type": "integer", "minimum": 0},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "content_type": {"type": "string"},
    "category": {"type": "string", "enum": list(CATEGORIES)}, "description": {"type": "string"},
    "uploaded_at": TS, "uploaded_by_id": ID_NULL,
    "source": {"type": "string", "enum": ["staff", "client", "email"], "description": (
        "Who brought it: a person of the agency, the client through the portal, or an email")},
    "request_item_id": {**ID_NULL, "description": "The document request item the client sent it for"},
}, ["id", "filename", "size", "sha256", "content_type", "category", "description", "uploaded_at"])
SCHEMAS["EvidenceUpload"] = obj({
    # Any bytes: the type is decided from the content, not from the request.
    "file": {"contentMediaType": "application/octet-stream"},
    "category": {"type": "string", "enum": list(CATEGORIES)}, "description": text(2000),
}, ["file"])
_KEY = {"type": "string", "pattern": "^[a-z0-9_]{1,40}$"}
SCHEMAS["DocumentRequestItemInput"] = obj({
    "title": {"type": "string", "minLength": 1, "maxLength": portal_checklists.TITLE_LIMIT, "pattern": "\\S",
              "description": "What the client is asked for, in their words"},
    "instructions": {**text(portal_checklists.INSTRUCTIONS_LIMIT), "description": "What it must show"},
    "category": {"enum": [*CATEGORIES, None], "description": (
        "The evidence category its files go to; null or absent: other")},
    "kind": {"enum": [*ITEM_KINDS, None], "description": (
        "file: the client uploads files; answer: the client writes an answer; null or absent: file")},
}, ["title"])
SCHEMAS["DocumentRequestInput"] = {**obj({
    "items": {"type": ["array", "null"], "maxItems": portal_requests.MAX_ITEMS,
              "items": ref("DocumentRequestItemInput")},
    "checklist": {"anyOf": [_KEY, {"type": "array", "maxItems": portal_checklists.MAX_CHECKLISTS,
                                   "items": _KEY}, {"type": "null"}], "description": (
        "A checklist key of your agency (or a list of them): its items are asked for, before "
        "the typed `items`. An unknown key is a 422")},
    "due_at": {**TS_NULL, "description": "By when, with its offset; in the future; null or absent: "
                                         f"{portal_requests.DEFAULT_DAYS} days from now"},
    "message": {**text(portal_requests.MESSAGE_LIMIT), "description": "Your words to the client, in the email"},
}), "description": (
    f"At least one item, from `checklist` and/or `items`, and at most {portal_requests.MAX_ITEMS} in all.")}
SCHEMAS["DocumentRequestItem"] = obj({
    "id": ID, "request_id": ID, "kind": {"type": "string", "enum": list(ITEM_KINDS)},
    "title": {"type": "string"}, "instructions": {"type": "string"},
    "category": {"type": "string", "enum": list(CATEGORIES)},
    "status": {"type": "string", "enum": list(ITEM_STATUSES), "description": (
        "requested: nothing came yet; uploaded: the client sent files or an answer (again, after "
        "a rejection); accepted; rejected: sent back to the client with `reason`")},
    "answer": {"type": "string", "description": "The client's written answer (kind answer)"},
    "reason": {"type": "string", "description": "Why it was last sent back; empty once accepted"},
    "evidence_ids": {"type": "array", "items": ID, "description": (
        "The evidence files the client sent for it, oldest first (GET /evidence/{id}/download)")},
    "updated_at": TS, "decided_at": {**TS_NULL, "description": "The last acceptance or rejection"},
}, ["id", "request_id", "kind", "title", "instructions", "category", "status", "answer", "reason",
    "evidence_ids", "updated_at", "decided_at"])
_DOCUMENT_REQUEST = {
    "id": ID, "case_id": ID, "status": {"type": "string", "enum": list(REQUEST_STATUSES), "description": (
        "open until every item is accepted (fulfilled), or it is cancelled (also when the case ends)")},
    "message": {"type": "string"}, "due_at": TS,
    "deadline_id": {**ID_NULL, "description": "Its document_request deadline"},
    "created_by_id": ID_NULL, "created_at": TS, "closed_at": TS_NULL,
    "items": {"type": "array", "items": ref("DocumentRequestItem")},
}
_DOCUMENT_REQUIRED = ["id", "case_id", "status", "message", "due_at", "deadline_id", "created_at",
                      "closed_at", "items"]
SCHEMAS["DocumentRequest"] = obj(_DOCUMENT_REQUEST, _DOCUMENT_REQUIRED)
SCHEMAS["OpenedDocumentRequest"] = obj({
    **_DOCUMENT_REQUEST,
    "portal_url": {"type": ["string", "null"], "description": (
        "The client's portal link. Shown in this answer only: it is stored hashed, and no GET "
        "shows it. A replay of this answer (Idempotency-Key) shows it while the link works, "
        "null once it was revoked or expired")},
    "mailed": {"type": "boolean", "description": (
        "The link was mailed to the client; false: the client has no contact email, send it yourself")},
}, [*_DOCUMENT_REQUIRED, "portal_url", "mailed"])
SCHEMAS["DocumentRequestItemDecision"] = obj({
    "status": {"type": "string", "enum": ["accepted", "rejected"]},
    "reason": {**text(portal_requests.REASON_LIMIT), "description": (
        "Required to reject: what is wrong, mailed to the client; ignored on acceptance")},
}, ["status"])
SCHEMAS["Inbound"] = obj({
    "id": ID, "received_at": TS, "from": {"type": "string", "description": "The sender's address, as sent"},
    "subject": {"type": "string"},
    "case_id": {**ID_NULL, "description": "The case it is filed on; null while it waits in the triage inbox"},
    "status": {"type": "string", "enum": list(INBOUND_STATUSES), "description": (
        "matched: filed on its case; unmatched: waiting in the triage inbox; refused: no agency "
        "could be told or nothing in it could be read; discarded: by a person, from the inbox")},
    "message_id": {"type": "string", "description": "Its Message-ID header (or <sha256:…> of its bytes)"},
}, ["id", "received_at", "from", "subject", "case_id", "status", "message_id"])
SCHEMAS["SearchHit"] = obj({
    "type": {"type": "string", "enum": ["case", "client", "note", "poa", "submission", "email"]},
    "id": {**ID, "description": "The id of the object of that type (a POA version, a note, an inbound message…)"},
    "case_id": {**ID_NULL, "description": "The case it belongs to; null for a client and for unfiled mail"},
    "title": {"type": "string"},
    "snippet": {"type": "string", "description": "The passage that matched, as plain text"},
}, ["type", "id", "case_id", "title", "snippet"])
for _name in ("Client", "Case", "Event", "PoaDraft", "Reminder", "Evidence", "Deadline", "DocumentRequest",
              "Inbound", "SearchHit"):
    SCHEMAS[f"{_name}List"] = listing(_name)

ERRORS = {
    "400": ("The request is malformed: not JSON, text with NUL characters or lone surrogates, "
            "or a JSON body nested more than 64 levels deep."), "401": "No valid API token.",
    "403": "Your role does not allow this.", "404": "No such object in your agency.",
    "409": "Not possible in the object's current state.", "413": "The upload is too large.",
    "415": "The body is not JSON (or not the expected media type).",
    "422": "Invalid fields; `error.fields` names each one.", "429": "Too many requests; see Retry-After.",
}


def error_responses(*codes: str) -> dict:
    return {code: {"description": ERRORS[code],
                   "content": {"application/json": {"schema": ref("Error")}}} for code in codes}


def ok(schema: str, status: str = "200", description: str = "OK") -> dict:
    return {status: {"description": description, "content": {"application/json": {"schema": ref(schema)}}}}


def json_body(schema: str, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": ref(schema)}}}


def path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def query(name: str, schema: dict, description: str = "") -> dict:
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


PAGING = [query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
          query("per_page", {"type": "integer", "minimum": 1, "maximum": 100})]
READ = ("400", "401", "404", "429")
WRITE = ("400", "401", "404", "415", "422", "429")


def operation(op_id: str, summary: str, responses: dict, *errors: str, **extra) -> dict:
    return {"operationId": op_id, "summary": summary,
            "responses": {**responses, **error_responses(*errors)}, **extra}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]{1,255}$"},
    "description": "Any string of yours, new for each new request. The same key from the same token "
                   "within 24 hours answers the first answer again (with `Idempotent-Replayed: true`) "
                   "and changes nothing; the same key with another body or path is a 422. An error "
                   "answer keeps no key. Another token's key is another key.",
}
REPLAYED = {"Idempotent-Replayed": {"description": "true: the answer of an earlier request with this "
                                                   "Idempotency-Key, given again",
                                    "schema": {"type": "string", "enum": ["true"]}}}


def honour_idempotency_key(post: dict) -> None:
    post.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    for status, answer in post["responses"].items():
        if status.startswith("2"):
            answer["headers"] = REPLAYED
    post["responses"].update({code: answer for code, answer in error_responses("400", "422").items()
                              if code not in post["responses"]})


@lru_cache(maxsize=1)
def document() -> dict:
    paths = {
        "/clients": {
            "get": operation("listClients", "Clients of your agency, by name", ok("ClientList"),
                             "400", "401", "422", "429",
                             parameters=[query("q", {"type": "string"}, "Name or seller ID contains"), *PAGING]),
            "post": operation("createClient", "Add a seller client; a seller ID another client of "
                              "your agency has is a 409 naming it (`existing_id`)",
                              ok("Client", "201", "Created"), *WRITE, "409",
                              requestBody=json_body("ClientInput")),
        },
        "/clients/{client_id}": {
            "parameters": [path_id("client_id")],
            "get": operation("getClient", "One client", ok("Client"), *READ),
            "patch": operation("updateClient", "Change a client's fields", ok("Client"), *WRITE, "409",
                               requestBody=json_body("ClientUpdate")),
            "delete": operation("deleteClient", "Delete a client without cases (admins)",
                                {"204": {"description": "Deleted"}}, "400", "401", "403", "404", "409", "429"),
        },
        "/cases": {
            "get": operation("listCases", "Cases of your agency, recently updated first", ok("CaseList"),
                             "400", "401", "422", "429", parameters=[
                                 query("status", {"type": "string", "enum": list(STATUSES)}),
                                 query("client_id", ID), query("assignee_id", ID),
                                 query("q", {"type": "string"}, "Client name, seller ID, title or ASIN"),
                                 query("after", {"type": "string"},
                                       "Cursor from a `next` link: the page after it"),
                                 *PAGING]),
            "post": operation("createCase", "Open a case", ok("Case", "201", "Created"), *WRITE,
                              requestBody=json_body("CaseInput")),
        },
        "/cases/export": {
            "get": operation("exportCases", "Every case the filters of GET /cases match, as a CSV or XLSX "
                             "file, streamed; times in the token owner's zone, formula-like cells "
                             "neutralised", {"200": {
                                 "description": "The file, as an attachment",
                                 "content": {"text/csv": {"schema": {"type": "string"}},
                                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                                                 {"schema": {"type": "string",
                                                             "contentMediaType": "application/octet-stream"}}}}},
                             "400", "401", "422", "429", parameters=[
                                 query("format", {"type": "string", "enum": ["csv", "xlsx"]}),
                                 query("status", {"type": "string", "enum": list(STATUSES)}),
                                 query("client_id", ID), query("assignee_id", ID),
                                 query("q", {"type": "string"}, "Client name, seller ID, title or ASIN")]),
        },
        "/cases/{case_id}": {
            "parameters": [path_id("case_id")],
            "get": operation("getCase", "One case", ok("Case"), *READ),
            "patch": operation("updateCase", "Change fields; `status` follows the workflow",
                               ok("Case"), *WRITE, "409", requestBody=json_body("CaseUpdate")),
        },
        "/cases/{case_id}/timeline": {
            "parameters": [path_id("case_id")],
            "get": operation("caseTimeline", "The case's events, oldest first", ok("EventList"),
                             "400", "401", "404", "422", "429", parameters=PAGING),
        },
        "/cases/{case_id}/notes": {
            "parameters": [path_id("case_id")],
            "post": operation("addNote", "Add a Markdown note", ok("Note", "201", "Created"), *WRITE,
                              requestBody=json_body("NoteInput")),
        },
        "/notes/{note_id}": {
            "parameters": [path_id("note_id")],
            "patch": operation("editNote", "Replace a note's text (its author or an admin); the timeline "
                               "keeps the earlier text in a note_edited event", ok("Note"), *WRITE, "403",
                               requestBody=json_body("NoteInput")),
            "delete": operation("deleteNote", "Delete a note (its author or an admin); the timeline "
                                "records a note_deleted event", {"204": {"description": "Deleted"}},
                                "400", "401", "403", "404", "429"),
        },
        "/cases/{case_id}/poa-drafts": {
            "parameters": [path_id("case_id")],
            "get": operation("listPoaDrafts", "Every POA version of the case, newest first",
                             ok("PoaDraftList"), *READ),
            "post": operation("createPoaDraft", "Save the next POA version",
                              {**ok("PoaDraft", "201", "Created"),
                               **ok("PoaDraft", "200", "Unchanged: the body says what the latest version "
                                    "says, so no version was made; this is that latest version")},
                              *WRITE, requestBody=json_body("PoaDraftInput"),
                              description="A body whose every section is blank is refused with a 422: "
                                          "an empty POA is never a version."),
        },
        "/poa-drafts/{draft_id}": {
            "parameters": [path_id("draft_id")],
            "get": operation("getPoaDraft", "One POA version", ok("PoaDraft"), *READ),
        },
        "/poa-drafts/{draft_id}/review": {
            "parameters": [path_id("draft_id")],
            "get": operation("reviewPoaDraft", "The review's findings for a POA version", ok("Review"), *READ),
        },
        "/poa-drafts/{draft_id}/export": {
            "parameters": [path_id("draft_id")],
            "get": operation("exportPoaDraft", "The POA version as a file", {"200": {
                "description": "The file, as an attachment",
                "content": {"text/plain": {"schema": {"type": "string"}},
                            "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
                                {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}},
                            "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}}}},
                "400", "401", "404", "422", "429",
                parameters=[query("format", {"type": "string", "enum": ["txt", "docx", "pdf"]}),
                            query("evidence", {"type": "string", "enum": ["0", "1"]},
                                  "1 appends the evidence index")]),
        },
        "/cases/{case_id}/evidence": {
            "parameters": [path_id("case_id")],
            "get": operation("listEvidence", "The case's evidence files, newest first", ok("EvidenceList"), *READ),
            "post": operation("uploadEvidence", "Upload one evidence file; its type is read from its "
                              "content. The same bytes (SHA-256) as a file of the case already are a "
                              "409 naming that file (`existing_id`), and add nothing",
                              ok("Evidence", "201", "Created"), *WRITE, "409", "413",
                              requestBody={"required": True, "content": {"multipart/form-data": {
                                  "schema": ref("EvidenceUpload")}}}),
        },
        "/evidence/{evidence_id}/download": {
            "parameters": [path_id("evidence_id")],
            "get": operation("downloadEvidence", "The file's bytes, as an attachment", {"200": {
                "description": "The file, with its stored content type",
                "content": {"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}},
                *READ),
        },
        "/cases/{case_id}/submissions": {
            "parameters": [path_id("case_id")],
            "post": operation("recordSubmission", "Record a submission to Amazon; schedules the follow-up",
                              ok("Submission", "201", "Created"), *WRITE, "409",
                              requestBody=json_body("SubmissionInput")),
        },
        "/submissions/{submission_id}/responses": {
            "parameters": [path_id("submission_id")],
            "post": operation("recordResponse", "Record Amazon's reply; cancels that submission's reminders",
                              ok("Response", "201", "Created"), *WRITE, "409",
                              requestBody=json_body("ResponseInput")),
        },
        "/submissions/{submission_id}": {
            "parameters": [path_id("submission_id")],
            "patch": operation("correctSubmission", "Correct when, through which channel or with which "
                               "reference a submission went. " + CORRECTION, ok("Submission"), *WRITE,
                               "403", "409", requestBody=json_body("SubmissionUpdate")),
            "delete": operation("withdrawSubmission", "Withdraw a submission recorded by mistake, with "
                                "Amazon's reply to it. " + CORRECTION, {"204": {"description": "Withdrawn"}},
                                "400", "401", "403", "404", "409", "429"),
        },
        "/responses/{response_id}": {
            "parameters": [path_id("response_id")],
            "patch": operation("correctResponse", "Correct Amazon's reply: outcome, when it came, text. "
                               + CORRECTION, ok("Response"), *WRITE, "403", "409",
                               requestBody=json_body("ResponseUpdate")),
            "delete": operation("withdrawResponse", "Withdraw Amazon's reply recorded by mistake; the "
                                "submission is waiting again. " + CORRECTION,
                                {"204": {"description": "Withdrawn"}},
                                "400", "401", "403", "404", "409", "429"),
        },
        "/invitations": {
            "post": operation("createInvitation", "Invite a person to your agency by email (admins); "
                              "they set their own password through a single-use link",
                              ok("Invitation", "201", "Created"), *WRITE, "403",
                              requestBody=json_body("InvitationInput")),
        },
        "/reminders": {
            "get": operation("listReminders", "Follow-up reminders of your agency, latest due first",
                             ok("ReminderList"), "400", "401", "422", "429",
                             parameters=[query("status", {"type": "string", "enum": list(REMINDER_STATUSES)}),
                                         *PAGING]),
        },
        "/deadlines": {
            "get": operation(
                "listDeadlines", "Deadlines of your agency, soonest due first", ok("DeadlineList"),
                "400", "401", "422", "429",
                description="Without `status`, only open deadlines (running or paused): what a script "
                            "asking what is due wants; ask for met, missed or cancelled ones by name. "
                            "Filters combine (all must hold). Follow `next` for the following page.",
                parameters=[
                    query("mine", {"type": "string", "enum": ["true", "false"]},
                          "true: only deadlines you own (of cases assigned to you)"),
                    query("assignee_id", ID, "Only deadlines this person owns (the case's assignee)"),
                    query("case_id", ID, "Only this case's deadlines (an id that is no case of your agency lists none)"),
                    query("kind", {"type": "string", "enum": list(DEADLINE_KINDS)}),
                    query("status", {"type": "string", "enum": list(DEADLINE_STATUSES)},
                          "Absent: open"),
                    query("due_before", TS, "Due strictly before this moment"),
                    query("due_after", TS, "Due at or after this moment"),
                    query("after", {"type": "string"}, "Cursor from a `next` link: the page after it"),
                    *PAGING]),
        },
        "/cases/{case_id}/deadlines": {
            "parameters": [path_id("case_id")],
            "get": operation("listCaseDeadlines", "The case's deadlines: open ones soonest first, then "
                             "closed ones latest closed first", ok("DeadlineList"), *READ),
            "post": operation("addDeadline", "Add a deadline to the case; it is on the timeline and "
                              "its reminders go to the case's assignee", ok("Deadline", "201", "Created"),
                              *WRITE, requestBody=json_body("DeadlineInput")),
        },
        "/cases/{case_id}/document-requests": {
            "parameters": [path_id("case_id")],
            "get": operation("listDocumentRequests", "What the client was asked for on this case, "
                             "newest first (the latest 50)", ok("DocumentRequestList"), *READ),
            "post": operation("openDocumentRequest", "Ask the client for documents or answers by a due "
                              "date: a document_request deadline starts, the case waits on the client "
                              "(its agency clocks pause) and the client is mailed a portal link. An "
                              "ended case is a 409", ok("OpenedDocumentRequest", "201", "Created"),
                              *WRITE, "409", requestBody=json_body("DocumentRequestInput")),
        },
        "/document-request-items/{item_id}": {
            "parameters": [path_id("item_id")],
            "patch": operation("decideDocumentRequestItem", "Accept what the client sent for an item, "
                               "or send it back with a reason (mailed to the client). When every item "
                               "is accepted the request is fulfilled and its deadline met. Nothing sent "
                               "yet, a closed request or the item's own status is a 409",
                               ok("DocumentRequestItem"), *WRITE, "409",
                               requestBody=json_body("DocumentRequestItemDecision")),
        },
        "/inbound": {
            "get": operation(
                "listInbound", "Mail that reached your agency, newest first", ok("InboundList"),
                "400", "401", "422", "429",
                description="Every message kept, whatever became of it; filter by `status`. "
                            "Follow `next` for the following page.",
                parameters=[
                    query("status", {"type": "string", "enum": list(INBOUND_STATUSES)}, "Absent: every status"),
                    query("before", ID, "Only messages older than this id (the `next` link's cursor)"),
                    query("per_page", {"type": "integer", "minimum": 1, "maximum": 100})]),
        },
        "/search": {
            "get": operation(
                "search", "Search everything of your agency, best match first", ok("SearchHitList"),
                "400", "401", "422", "429",
                description="Clients, seller IDs, ASINs or a part of one, titles, Amazon references, notice "
                            "text, notes, POA text and filed mail. Every word must match (as a word or the "
                            "start of one); a code-like query also matches any part of a code. At most "
                            "`limit` hits; `next` is always null.",
                parameters=[query("q", {"type": "string", "maxLength": 200}, "The words"),
                            query("limit", {"type": "integer", "minimum": 1, "maximum": 50})]),
        },
        "/deadlines/{deadline_id}": {
            "parameters": [path_id("deadline_id")],
            "patch": operation("updateDeadline", "Mark met, cancel, reopen, move, rename, pause or "
                               "resume a deadline", ok("Deadline"), *WRITE, "409",
                               requestBody=json_body("DeadlineUpdate")),
        },
    }
    for item in paths.values():
        if "post" in item:
            honour_idempotency_key(item["post"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "caseapp API", "version": "1.0.0",
                 "description": "Cases, POA drafts, submissions, follow-up reminders, deadlines and "
                                "document requests to the client of one agency. Every object belongs "
                                "to the token owner's agency; another agency's object answers 404 "
                                "like a missing one."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
