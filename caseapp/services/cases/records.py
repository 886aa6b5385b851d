"""Cases: opening, editing, assignment, notes, the timeline and listing.

Every function takes the acting user and only ever reaches that user's agency. Each change
writes its timeline entry in the same unit of work as the change (core.transaction); the
public functions that change data are units of work of their own when called alone. A case's
status is not changed here: services/appeals/workflow.py `set_status` is the one place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import ColumnElement, and_, func, literal, or_, select, union, union_all, update
from sqlalchemy.orm import joinedload, selectinload
from flask import current_app
from markupsafe import Markup

from caseapp.extensions import db
from caseapp.models import (KINDS, PRIORITIES, REASONS, STATUSES, Case, CaseAsin, CaseEvent, Client, Deadline,
                            DocumentRequest, Note, PoaShare, User, utcnow)
from caseapp.services.accounts import audit
from caseapp.core import locking
from caseapp.core import markdown
from caseapp.core import paging
from caseapp.core.transaction import transactional
from caseapp.services.cases import timeline
from caseapp.core.errors import Forbidden, NotFound, ValidationFailed
from caseapp.core.parsing import parse_id

ASIN_RE = re.compile(r"^[A-Z0-9]{10}$")
SELLER_CODE_RE = re.compile(r"^[A-Z0-9]{8,20}$")
MAX_ASINS = 200
FIELD_LABELS = {
    "title": "title", "kind": "kind", "reason": "reason", "asins": "ASINs",
    "amazon_notice": "Amazon's notice", "opened_at": "notice date", "priority": "priority",
    "client_id": "client",
}


def parse_asins(raw: Any) -> list[str]:
    """ASINs from a list or from text separated by commas, spaces or new lines; upper-cased."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        items = re.split(r"[\s,;]+", raw)
    elif isinstance(raw, (list, tuple)):
        items = raw
    else:
        raise ValidationFailed({"asins": "ASINs must be a list of 10-character codes."})
    if len(items) > MAX_ASINS:
        raise ValidationFailed({"asins": f"At most {MAX_ASINS} ASINs per case."})
    asins: list[str] = []
    bad: list[str] = []
    for item in items:
        if not isinstance(item, str):
            bad.append(repr(item))
            continue
        value = item.strip().upper()
        if not value and isinstance(raw, str):
            continue  # blank lines and double commas in typed text
        if not ASIN_RE.match(value):
            bad.append(item.strip())
        elif value not in asins:
            asins.append(value)
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise ValidationFailed(
            {"asins": f"An ASIN is exactly 10 letters and digits; these are not: {shown}."}
        )
    return asins


def _clean(actor: User, data: dict[str, Any], partial: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    def text(name: str, required: bool, limit: int) -> None:
        if name not in data:
            if required and not partial:
                errors[name] = "Required."
            return
        value = data[name] if data[name] is not None else ""
        if not isinstance(value, str):
            errors[name] = "Must be text."
            return
        if len(value) > limit:  # counted as sent, before trimming
            errors[name] = f"At most {limit} characters."
            return
        value = value.strip()
        if required and not value:
            errors[name] = "Required."
        else:
            out[name] = value

    def choice(name: str, options: tuple[str, ...], default: str | None) -> None:
        if name not in data:
            if not partial:
                if default is None:
                    errors[name] = "Required."
                else:
                    out[name] = default
            return
        if data[name] not in options:
            errors[name] = "Choose one of: " + ", ".join(options) + "."
        else:
            out[name] = data[name]

    text("title", True, 200)
    if "title" in out:
        out["title"] = " ".join(out["title"].split())  # one line: it is shown in lists and subjects
    text("amazon_notice", False, 50000)
    choice("kind", KINDS, None)
    choice("reason", REASONS, None)
    choice("priority", PRIORITIES, "normal")

    if "asins" in data:
        try:
            out["asins"] = parse_asins(data["asins"])
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if "opened_at" in data and data["opened_at"] is not None:
        value = data["opened_at"]
        if not isinstance(value, datetime) or value.tzinfo is None:
            errors["opened_at"] = "Give the date and time with a time zone."
        elif value > utcnow():
            errors["opened_at"] = "The notice date cannot be in the future."
        else:
            out["opened_at"] = value
    if "client_id" in data or not partial:
        client = _own(actor, Client, data.get("client_id"))
        if client is None:
            errors["client_id"] = "Choose one of your agency's clients."
        else:
            out["client_id"] = client.id
    if "assignee_id" in data:
        if data["assignee_id"] in (None, ""):
            out["assignee_id"] = None
        else:
            assignee = _own(actor, User, data["assignee_id"])
            if assignee is None:
                errors["assignee_id"] = "Choose a member of your agency."
            elif not assignee.active:
                errors["assignee_id"] = f"{assignee.name} is deactivated; choose someone active."
            else:
                out["assignee_id"] = assignee.id
    if errors:
        raise ValidationFailed(errors)
    return out


def _own(actor: User, model, object_id):
    object_id = parse_id(object_id)
    if object_id is None:
        return None
    obj = db.session.get(model, object_id)
    if obj is None or obj.agency_id != actor.agency_id:
        return None
    return obj


def _set_asins(case: Case, asins: list[str]) -> None:
    case.asin_rows = [CaseAsin(asin=asin, position=i) for i, asin in enumerate(asins)]


@transactional
def create_case(actor: User, data: dict[str, Any]) -> Case:
    case = create_cases(actor, [data])[0]
    return get_case(actor, case.id)


@transactional
def create_cases(actor: User, rows: list[dict[str, Any]]) -> list[Case]:
    """Open a case for each of `rows` (an import's batch), as create_case does one: checked
    the same way, then written in one flush rather than one per case. Raises ValidationFailed
    for the first bad row, and nothing of the batch is kept then (the caller's unit of work)."""
    now = utcnow()
    cases = []
    for data in rows:
        data = dict(data)
        data.setdefault("assignee_id", actor.id)
        fields = _clean(actor, data, partial=False)
        asins = fields.pop("asins", [])
        case = Case(agency_id=actor.agency_id, status="open", created_at=now, updated_at=now, **fields)
        case.opened_at = fields.get("opened_at") or now
        _set_asins(case, asins)
        cases.append(case)
    db.session.add_all(cases)
    db.session.flush()
    for case in cases:
        timeline.record(case, "created", actor, f"Case opened: {case.title}")
        if case.assignee_id:
            assignee = db.session.get(User, case.assignee_id)  # the session's copy after the first
            timeline.record(case, "assigned", actor, f"Assigned to {assignee.name}",
                            {"assignee_id": assignee.id})
    return cases


_CASE_RELATIONS = ("client", "assignee", "asin_rows")


def get_case(actor: User, case_id: int, for_update: bool = False) -> Case:
    if not for_update:
        # A page asks for its case several times (timeline, POA versions, evidence,
        # submissions...): the one this session already loaded, with its relations, will do.
        known = db.session.identity_map.get(db.inspect(Case).identity_key_from_primary_key([case_id]))
        if (known is not None and not db.inspect(known).expired_attributes
                and all(name in known.__dict__ for name in _CASE_RELATIONS)
                and known.agency_id == actor.agency_id):
            return known
    stmt = (
        select(Case)
        .where(Case.id == case_id, Case.agency_id == actor.agency_id)
        .options(joinedload(Case.client), joinedload(Case.assignee), selectinload(Case.asin_rows))
    )
    if for_update:
        stmt = locking.for_update(stmt, of=Case)
    case = db.session.scalar(stmt)
    if case is None:
        raise NotFound("No such case.")
    return case


def get_case_child(actor: User, model, child_id: int, missing: str, *options):
    """A row that belongs to a case (POA draft, evidence, submission...) of the actor's
    agency; NotFound(`missing`) when there is none or it is another agency's."""
    row = db.session.scalar(
        select(model).join(Case, Case.id == model.case_id)
        .where(model.id == child_id, Case.agency_id == actor.agency_id).options(*options))
    if row is None:
        raise NotFound(missing)
    return row


@transactional
def update_case(actor: User, case_id: int, data: dict[str, Any]) -> Case:
    case = get_case(actor, case_id, for_update=True)
    fields = _clean(actor, data, partial=True)
    changed: list[str] = []
    if "asins" in fields:
        asins = fields.pop("asins")
        if asins != case.asins:
            _set_asins(case, asins)
            changed.append("asins")
    new_assignee = fields.pop("assignee_id", case.assignee_id)
    if fields.get("client_id", case.client_id) != case.client_id:
        _move_to_client(case)
    for name, value in fields.items():
        if getattr(case, name) != value:
            setattr(case, name, value)
            changed.append(name)
    if changed:
        db.session.flush()
        summary = "Edited " + ", ".join(FIELD_LABELS[name] for name in changed)
        timeline.record(case, "edited", actor, summary, {"fields": changed})
    reassigned = new_assignee != case.assignee_id
    if reassigned:
        _assign(actor, case, new_assignee)
    if changed or reassigned:
        case.updated_at = utcnow()
    return get_case(actor, case.id)


def _move_to_client(case: Case) -> None:
    """Before the case becomes another client's: what was asked of the client it has now is
    theirs. An open document request went to that client by mail and pauses the agency's
    clocks, so it is cancelled first, by a person who sees what it was; a POA version waiting
    for that client's approval is withdrawn (the new client's portal never shows either)."""
    asked = db.session.scalar(select(func.count(DocumentRequest.id)).where(
        DocumentRequest.case_id == case.id, DocumentRequest.status == "open"))
    if asked:
        raise ValidationFailed({"client_id": (
            "This case has an open document request to its client; cancel it on the case page "
            "before moving the case to another client.")})
    db.session.execute(update(PoaShare).where(PoaShare.case_id == case.id, PoaShare.status == "pending")
                       .values(status="withdrawn"))


def _assign(actor: User, case: Case, assignee_id: int | None) -> None:
    previous = case.assignee_id
    case.assignee_id = assignee_id
    # The case's deadlines are the assignee's (My day lists them by owner without a join).
    db.session.execute(update(Deadline).where(Deadline.case_id == case.id).values(owner_id=assignee_id))
    if assignee_id is None:
        summary = "Unassigned"
    else:
        summary = f"Assigned to {db.session.get(User, assignee_id).name}"
    timeline.record(case, "assigned", actor, summary,
                    {"assignee_id": assignee_id, "previous_assignee_id": previous})


NOTE_MAX_LENGTH = 20000  # about ten pages; checked as sent, before trimming
NOTE_LIMIT_MESSAGE = f"A note can be at most {NOTE_MAX_LENGTH:,} characters."


def _note_body(body: Any) -> str:
    if body is not None and not isinstance(body, str):
        raise ValidationFailed({"body": "Must be text."})
    if body is not None and len(body) > NOTE_MAX_LENGTH:
        raise ValidationFailed({"body": NOTE_LIMIT_MESSAGE})
    body = (body or "").strip()
    if not body:
        raise ValidationFailed({"body": "A note cannot be empty."})
    return body


def note_summary(body: str) -> str:
    """The timeline's one line for a note: its first line as plain text, cut at 120 characters."""
    first_line = _plain(body.splitlines()[0])
    return "Note: " + (first_line[:120] + ("…" if len(first_line) > 120 else ""))


def _set_body(note: Note, body: str) -> None:
    """The text, and its HTML as rendered now: a page shows the kept HTML (note_html)."""
    note.body = body
    note.body_html = str(markdown.render(body))
    note.rendered_with = markdown.RENDERER


def note_html(note: Note) -> Markup:
    """The note as safe HTML: kept from when it was saved, or rendered now when the renderer
    has changed since (or the note is older than kept HTML)."""
    if note.body_html is not None and note.rendered_with == markdown.RENDERER:
        return Markup(note.body_html)
    return markdown.render(note.body)


@transactional
def add_note(actor: User, case_id: int, body: str) -> Note:
    return add_notes(actor, [(get_case(actor, case_id), body)])[0]


@transactional
def add_notes(actor: User, notes: list[tuple[Case, str]]) -> list[Note]:
    """A note on each of the actor's own cases given (an import's batch) in one flush; each
    body checked as add_note checks one. The caller has loaded the cases as the actor's."""
    made = []
    for case, body in notes:
        body = _note_body(body)
        note = Note(case_id=case.id, author_id=actor.id)
        _set_body(note, body)
        made.append((case, note, body))
    db.session.add_all([note for _, note, _ in made])
    db.session.flush()
    now = utcnow()
    for case, note, body in made:
        timeline.record(case, "note_added", actor, note_summary(body), {"note_id": note.id})
        case.updated_at = now
    return [note for _, note, _ in made]


def get_note(actor: User, note_id: int) -> Note:
    """A note of the actor's agency; NotFound when there is none or it is another agency's."""
    return get_case_child(actor, Note, note_id, "No such note.")


def may_change_note(actor: User, note: Note) -> bool:
    """Its author and the agency's admins may edit or delete a note."""
    return actor.is_admin or (note.author_id is not None and note.author_id == actor.id)


def changeable_note(actor: User, note_id: int) -> Note:
    """The note if the actor may edit or delete it.

    Raises NotFound for another agency's note, Forbidden for a colleague's (consultants).
    """
    note = get_note(actor, note_id)
    if not may_change_note(actor, note):
        raise Forbidden("Only the note's author or an agency admin can edit or delete this note.")
    return note


def _locked(actor: User, note: Note) -> tuple[Case, Note]:
    """The note's case, locked so that changes to one note come one at a time, and the note
    as the last change left it."""
    case = get_case(actor, note.case_id, for_update=True)
    note = db.session.scalar(select(Note).where(Note.id == note.id)
                             .execution_options(populate_existing=True))
    if note is None:  # deleted while this request waited for the lock
        raise NotFound("No such note.")
    return case, note


def _added_event(case: Case, note: Note) -> CaseEvent | None:
    events = db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "note_added"))
    return next((e for e in events if (e.data or {}).get("note_id") == note.id), None)


@transactional
def edit_note(actor: User, note_id: int, body: str) -> Note:
    """Replace a note's text. The timeline records the edit with the earlier text, and the
    entry that added the note now sums up its new text."""
    note = changeable_note(actor, note_id)
    body = _note_body(body)
    case, note = _locked(actor, note)
    if body == note.body:
        return note  # nothing changed: no entry (the unit of work ends, and the lock goes)
    previous = note.body
    now = utcnow()
    _set_body(note, body)
    note.edited_at = now
    added = _added_event(case, note)
    if added is not None:
        added.summary = note_summary(body)
    timeline.record(case, "note_edited", actor, f"Note edited by {actor.name}",
                    {"note_id": note.id, "previous_body": previous})
    case.updated_at = now
    return note


DELETED_NOTE_SUMMARY = "Note (deleted)"


@transactional
def delete_note(actor: User, note_id: int) -> int:
    """Delete a note; returns its case's id. The timeline keeps who deleted it and when, and
    the text in the entry's data (never shown as a note); the entry that added it no longer
    repeats its first line."""
    case, note = _locked(actor, changeable_note(actor, note_id))
    added = _added_event(case, note)
    if added is not None:
        added.summary = DELETED_NOTE_SUMMARY
    timeline.record(case, "note_deleted", actor, f"Note deleted by {actor.name}",
                    {"note_id": note.id, "author_id": note.author_id, "body": note.body})
    audit.record("deletion", actor, target=f"note {note.id} of case {case.id}",
                 detail=note_summary(note.body))
    db.session.delete(note)
    case.updated_at = utcnow()
    return case.id


# Linear in the line's length, whatever it holds: in `[^\]]*` a run of `[` was scanned again
# from every `[` (20,000 of them: seconds). Here each attempt stops at the next bracket, and
# its address at the next parenthesis (one nested pair allowed: wiki addresses have them).
_MARKDOWN_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*+\)")
_LINE_MARKER = re.compile(r"^\s*(#+|>|[-*+]\s)\s*")
_EMPHASIS = re.compile(r"\*\*|__|~~|[*`]")


def _plain(markdown_line: str) -> str:
    """A Markdown line as plain text for a one-line summary: links keep their text."""
    text = _MARKDOWN_LINK.sub(r"\1", markdown_line)
    text = _LINE_MARKER.sub("", text)
    return _EMPHASIS.sub("", text).strip() or "(formatting only)"


def notes_by_id(case: Case, ids: list[int] | None = None) -> dict[int, Note]:
    stmt = select(Note).where(Note.case_id == case.id)
    if ids is not None:
        stmt = stmt.where(Note.id.in_([i for i in ids if i]))
    return {n.id: n for n in db.session.scalars(stmt)}


def events(actor: User, case_id: int, newest_first: bool = True,
           limit: int | None = None) -> list[CaseEvent]:
    """The case's timeline; with `limit`, at most that many (plus one, to tell there are more)."""
    case = get_case(actor, case_id)
    order = (CaseEvent.occurred_at.desc(), CaseEvent.id.desc()) if newest_first else (
        CaseEvent.occurred_at, CaseEvent.id)
    stmt = (select(CaseEvent).where(CaseEvent.case_id == case.id)
            .options(joinedload(CaseEvent.actor)).order_by(*order))
    if limit is not None:
        stmt = stmt.limit(limit + 1)
    return list(db.session.scalars(stmt))


def timeline_page(actor: User, case_id: int, page: int, per_page: int) -> paging.Page:
    """A page of the case's timeline, oldest first (the API's order)."""
    case = get_case(actor, case_id)
    return paging.fetch(select(CaseEvent).where(CaseEvent.case_id == case.id)
                        .order_by(CaseEvent.occurred_at, CaseEvent.id), page, per_page)


# ---- listing -------------------------------------------------------------------------

SORTS = {
    "updated": "Recently updated",
    "opened": "Notice date, newest first",
    "oldest": "Notice date, oldest first",
    "priority": "Priority",
    "client": "Client name",
    "deadline": "Next deadline, soonest first",
    "follow_up": "Next follow-up with Amazon, soonest first",
}


@dataclass
class CaseFilters:
    status: str = ""
    client_id: int | None = None
    assignee: str = "me"  # "me", "all", "none", or a user id as text
    reason: str = ""
    q: str = ""
    sort: str = "updated"
    page: int = 1
    per_page: int = 0  # 25, 50 or 100 chosen on the list; 0: CASES_PER_PAGE
    after: str = ""  # cursors from the pager's links; not filters, so not in as_args
    before: str = ""
    statuses: tuple[str, ...] = field(default=())

    def as_args(self, **overrides) -> dict[str, Any]:
        args = {
            "status": self.status, "client_id": self.client_id or "", "assignee": self.assignee,
            "reason": self.reason, "q": self.q, "sort": self.sort, "page": self.page,
            "per_page": self.per_page or "",
        }
        args.update(overrides)
        return {k: v for k, v in args.items() if v not in ("", None)}


def _filtered(actor: User, f: CaseFilters, with_status: bool = True):
    q = f.q.strip()
    code_search = bool(q) and _looks_like_code(q)
    # In a code search the handful of matches must drive the query. Without statistics
    # SQLite preferred walking the agency's sort index through all its cases, testing each
    # against the matches (40 ms at 100,000 cases); "+ 0" keeps the agency test (and so
    # every index that starts with it) out of the plan.
    agency = (Case.agency_id + 0) if code_search else Case.agency_id
    stmt = select(Case).where(agency == actor.agency_id)
    if with_status and f.status:
        stmt = stmt.where(Case.status == f.status)
    if f.client_id:
        stmt = stmt.where(Case.client_id == f.client_id)
    if f.reason:
        stmt = stmt.where(Case.reason == f.reason)
    if f.assignee == "me":
        stmt = stmt.where(Case.assignee_id == actor.id)
    elif f.assignee == "none":
        stmt = stmt.where(Case.assignee_id.is_(None))
    elif parse_id(f.assignee) is not None:
        stmt = stmt.where(Case.assignee_id == parse_id(f.assignee))
    if code_search:
        # An ASIN, or a seller ID or its start: lookups through their indexes, no scan of
        # every title. The prefix is a range, which a B-tree serves on both databases.
        code = q.upper()
        after = code[:-1] + chr(ord(code[-1]) + 1)
        sellers = select(Client.id).where(
            Client.agency_id == actor.agency_id, Client.seller_id >= code, Client.seller_id < after)
        # One IN over a UNION of two indexed lookups: an OR of two INs makes PostgreSQL scan.
        matches = union(select(CaseAsin.case_id).where(CaseAsin.asin == code),
                        select(Case.id).where(Case.client_id.in_(sellers)))
        stmt = stmt.where(Case.id.in_(matches))
    elif q:
        like = f"%{q.lower()}%"
        client_match = select(Client.id).where(
            Client.agency_id == actor.agency_id,
            func.lower(Client.name).like(like) | func.lower(Client.seller_id).like(like),
        )
        stmt = stmt.where(db.or_(func.lower(Case.title).like(like), Case.client_id.in_(client_match)))
    return stmt


def _looks_like_code(q: str) -> bool:
    """ASINs (10) and seller IDs (8-20) mix letters and digits; words do not."""
    return (SELLER_CODE_RE.match(q.upper()) is not None
            and any(c.isdigit() for c in q) and any(c.isalpha() for c in q))


_PRIORITY_RANK = {p: i for i, p in enumerate(reversed(PRIORITIES))}  # most urgent first


def _keyset(sort: str) -> paging.Keyset:
    """The order of each sort as keyset keys; every one ends in the id, so it is total."""
    key = paging.SortKey
    newest_id = key(Case.id, True, lambda c: c.id)
    if sort in ("opened", "oldest"):
        newest = sort == "opened"
        return paging.Keyset(sort, (key(Case.opened_at, newest, lambda c: c.opened_at),
                                    key(Case.id, newest, lambda c: c.id)))
    if sort == "priority":
        rank = sql_case(_PRIORITY_RANK, value=Case.priority)
        return paging.Keyset(sort, (key(rank, False, lambda c: _PRIORITY_RANK[c.priority]),
                                    key(Case.updated_at, True, lambda c: c.updated_at), newest_id))
    if sort == "client":
        return paging.Keyset(sort, (key(Client.name, False, lambda c: c.client.name), newest_id))
    if sort == "follow_up":
        no_deadline = sql_case((Case.follow_up_due_at.is_(None), 1), else_=0)  # those last
        return paging.Keyset(sort, (
            key(no_deadline, False, lambda c: int(c.follow_up_due_at is None)),
            key(Case.follow_up_due_at, False, lambda c: c.follow_up_due_at, nullable=True),
            key(Case.id, False, lambda c: c.id)))
    if sort == "deadline":
        # Any running clock (case.next_deadline_at), cases with none last: read in the order of
        # ix_cases_agency_id_next_deadline_at (or its assignee twin), no sort of every case.
        return paging.Keyset(sort, (
            key(Case.next_deadline_at, False, lambda c: c.next_deadline_at, nullable=True, nulls_last=True),
            key(Case.id, False, lambda c: c.id)))
    return paging.Keyset("updated", (key(Case.updated_at, True, lambda c: c.updated_at), newest_id))


def looked_after_by(person: User) -> ColumnElement[bool]:
    """The cases a person answers for, as a condition on Case: their own, and for an admin
    also the agency's unassigned ones (the digest and the calendar feed use it)."""
    mine = Case.assignee_id == person.id
    if person.is_admin:
        mine = or_(mine, Case.assignee_id.is_(None))
    return and_(Case.agency_id == person.agency_id, mine)


def list_cases(actor: User, f: CaseFilters, per_page: int | None = None) -> paging.Page:
    """A page of the filtered cases. With a cursor (`f.after`/`f.before`, from the previous
    page's links) the page is found through the sort's index whatever its depth.

    Raises paging.BadCursor for a cursor this list did not make.
    """
    stmt = _filtered(actor, f)
    if f.sort == "client":
        stmt = stmt.join(Client, Client.id == Case.client_id)
    stmt = stmt.options(joinedload(Case.client), joinedload(Case.assignee), selectinload(Case.asin_rows))
    per_page = per_page or f.per_page or current_app.config["CASES_PER_PAGE"]
    return paging.fetch_keyset(stmt, _keyset(f.sort), per_page, after=f.after, before=f.before, page=f.page)


COUNT_CAP = paging.COUNT_CAP


def _capped(stmt):
    """The ids `stmt` selects, at most COUNT_CAP + 1 of them: a count that stops early."""
    return stmt.with_only_columns(Case.id).order_by(None).limit(COUNT_CAP + 1).subquery()


def status_counts(actor: User, f: CaseFilters) -> dict[str, int]:
    """Cases per status under the other filters, each counted up to COUNT_CAP + 1.

    One small indexed count per status rather than a GROUP BY over every case of the agency.
    """
    base = _filtered(actor, f, with_status=False)
    parts = [select(literal(status).label("status"), func.count().label("n"))
             .select_from(_capped(base.where(Case.status == status))) for status in STATUSES]
    return {status: n for status, n in db.session.execute(union_all(*parts))}


def assignee_choices(actor: User, include_inactive: bool = False) -> list[User]:
    stmt = select(User).where(User.agency_id == actor.agency_id).order_by(User.name)
    if not include_inactive:
        stmt = stmt.where(User.active.is_(True))
    return list(db.session.scalars(stmt))


def awaiting_amazon(actor: User, f: CaseFilters, limit: int = 10) -> tuple[list[Case], int]:
    """Cases waiting on Amazon within the dashboard's assignee scope, longest silence first."""
    scope = CaseFilters(assignee=f.assignee, client_id=f.client_id, reason=f.reason)
    stmt = _filtered(actor, scope).where(Case.awaiting_since.is_not(None))
    total = paging.capped_count(stmt)
    rows = db.session.scalars(
        stmt.options(joinedload(Case.client), joinedload(Case.assignee))
        .order_by(Case.awaiting_since, Case.id).limit(limit)).all()
    return list(rows), total
