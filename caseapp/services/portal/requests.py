"""Document requests: what a consultant asks the client for, by when, and what came back.

The rules (DESIGN.md, "Client portal and document requests"):
- A request has items (from a checklist or typed), each with a title, instructions for the
  client and the evidence category its files go to, and a due date: a document_request
  deadline of the deadlines engine. While any request of a case is open the case waits on the
  client (`case.waiting_on_client_since`) and its agency_sla clocks pause.
- Items go requested → uploaded (the client sent files or an answer) → accepted or rejected
  (the consultant; a rejection has a reason, which the client is mailed). A rejected item goes
  back to uploaded when the client sends again. When every item is accepted the request is
  fulfilled and its deadline met.
- The client is mailed a portal link (services/portal/links.py) and reminded before the due
  date and while overdue (reminders.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import (Case, Client, Deadline, DocumentRequest, DocumentRequestItem, Evidence,
                            PortalLink, User, utcnow)
from caseapp.services.cases import records, timeline
from caseapp.services.deadlines import clocks
from caseapp.services.portal import checklists, links, notify, reminders

MAX_ITEMS = 20
MESSAGE_LIMIT = 5000
REASON_LIMIT = 1000
DEFAULT_DAYS = 7  # a request without a due date is due a week later
ITEM_LABELS = {"requested": "Requested", "uploaded": "Sent by the client", "accepted": "Accepted",
               "rejected": "Sent back"}
WAITING = "waiting on the client's documents"


@dataclass
class Opened:
    request: DocumentRequest
    link: PortalLink
    portal_url: str  # shown once, to the consultant who opened the request
    mailed: bool  # False: the client has no contact email; the consultant sends the link


def _clean_message(value: Any, errors: dict[str, str], key: str = "message",
                   limit: int = MESSAGE_LIMIT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = "Must be text."
        return ""
    value = value.replace("\r\n", "\n").strip()
    if len(value) > limit:
        errors[key] = f"At most {limit:,} characters."
    return value


def _items_from(actor: User, data: dict[str, Any], errors: dict[str, str]) -> list[checklists.Item]:
    items: list[checklists.Item] = []
    keys = data.get("checklist") or []
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list):
        errors["checklist"] = "Name a checklist by its key."
        keys = []
    for key in keys:
        if not isinstance(key, str):
            errors["checklist"] = "Name a checklist by its key."
            continue
        try:
            items.extend(checklists.get(actor.agency_id, key).items)
        except NotFound:
            errors["checklist"] = f"No checklist {key!r}; choose one of those listed."
    typed = data.get("items") or []
    if not isinstance(typed, list):
        errors["items"] = "A list of items, each with a title, instructions and a category."
        typed = []
    for index, raw in enumerate(typed[:MAX_ITEMS + 1]):
        item = checklists.clean_item(raw, f"items-{index}-", errors)
        if item is not None:
            items.append(item)
    if not items and not any(k.startswith(("items", "checklist")) for k in errors):
        errors["items"] = "Ask for at least one document or answer."
    if len(items) > MAX_ITEMS:
        errors["items"] = f"At most {MAX_ITEMS} items in one request."
    return items


@transactional
def open_request(actor: User, case_id: int, data: dict[str, Any],
                 now: datetime | None = None) -> Opened:
    """Ask the client of the case for documents: `items` (a list of {title, instructions,
    category, kind}) and/or `checklist` (a checklist key, or a list of them), `due_at`
    (default: a week from now), `message`."""
    now = now or utcnow()
    case = records.get_case(actor, case_id, for_update=True)
    if case.status in clocks.CASE_ENDED:
        raise Conflict("This case has ended; reopen it before asking the client for anything.")
    errors: dict[str, str] = {}
    items = _items_from(actor, data, errors)
    message = _clean_message(data.get("message"), errors)
    raw_due = data.get("due_at")
    due_at = (clocks.parse_due(raw_due, errors, now) if raw_due not in (None, "")
              else now + timedelta(days=DEFAULT_DAYS))
    if due_at is not None and due_at <= now:
        errors["due_at"] = "Give the client a due date in the future."
    if errors:
        raise ValidationFailed(errors)
    client = db.session.get(Client, case.client_id)
    request = DocumentRequest(agency_id=case.agency_id, case_id=case.id, client_id=case.client_id, status="open",
                              message=message, due_at=due_at, created_by_id=actor.id, created_at=now)
    request.items = [DocumentRequestItem(position=position, kind=item.kind, title=item.title,
                                         instructions=item.instructions, category=item.category,
                                         status="requested", updated_at=now)
                     for position, item in enumerate(items)]
    db.session.add(request)
    db.session.flush()
    link = links.send_link(case, actor, now)
    request.link_id = link.id
    deadline = clocks.start(
        case, kind="document_request", title=f"Documents from {client.name}"[:clocks.TITLE_LIMIT],
        due_at=due_at, source="document_request", source_id=request.id, actor=actor, now=now,
        say=f"Deadline added: documents from the client, due {clocks.agency_time(clocks.agency_of(case), due_at)}")
    request.deadline_id = deadline.id
    _start_waiting(case, now)
    timeline.record(case, "document_request_opened", actor,
                    f"Asked the client for {_count(len(items))}: " + ", ".join(i.title for i in items),
                    {"request_id": request.id, "items": len(items)})
    db.session.flush()
    mailed = notify.request_opened(case, client, request, link, items, actor, now)
    reminders.schedule(request, now)
    return Opened(request, link, links.url_for_link(link), mailed)


def _count(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _start_waiting(case: Case, now: datetime) -> None:
    if case.waiting_on_client_since is None:
        case.waiting_on_client_since = now
    clocks.pause_agency_clocks(case, WAITING, now)
    case.updated_at = now


def _stop_waiting_if_done(case: Case, now: datetime) -> None:
    still_open = db.session.scalar(select(func.count(DocumentRequest.id)).where(
        DocumentRequest.case_id == case.id, DocumentRequest.status == "open"))
    if not still_open:
        case.waiting_on_client_since = None
        clocks.resume_agency_clocks(case, "the client's documents are in", now)
    case.updated_at = now


def _close(request: DocumentRequest, case: Case, status: str, actor: User | None, now: datetime,
           why: str) -> None:
    request.status, request.closed_at = status, now
    request.next_client_reminder_at = None
    if request.deadline_id is not None:
        deadline = db.session.get(Deadline, request.deadline_id)
        if deadline is not None:
            clocks.close(deadline, case, "met" if status == "fulfilled" else "cancelled", why, actor, now)
    _stop_waiting_if_done(case, now)


# ---- reading -------------------------------------------------------------------------------

def for_case(case: Case, open_only: bool = False) -> list[DocumentRequest]:
    stmt = (select(DocumentRequest).where(DocumentRequest.case_id == case.id)
            .order_by(DocumentRequest.created_at.desc(), DocumentRequest.id.desc()))
    if open_only:
        stmt = stmt.where(DocumentRequest.status == "open")
    return list(db.session.scalars(stmt.limit(50)))


def list_for_case(actor: User, case_id: int) -> list[DocumentRequest]:
    return for_case(records.get_case(actor, case_id))


def files_by_item(requests: list[DocumentRequest]) -> dict[int, list[Evidence]]:
    """The client's files of each item of these requests, oldest first: one statement."""
    ids = [item.id for request in requests for item in request.items]
    found: dict[int, list[Evidence]] = {i: [] for i in ids}
    if ids:
        for row in db.session.scalars(select(Evidence).where(Evidence.request_item_id.in_(ids))
                                      .order_by(Evidence.uploaded_at, Evidence.id)):
            found[row.request_item_id].append(row)
    return found


def get_request(actor: User, request_id: int, for_update: bool = False) -> tuple[DocumentRequest, Case]:
    """A request of the actor's agency and its case. `for_update`: the case row is locked
    first (the order every writer of a request keeps), then the request and its items are
    read again, as they are now: what was loaded before the lock may be stale by then (a
    client's upload, a cancel that committed while this waited)."""
    request = db.session.get(DocumentRequest, request_id)
    if request is None or request.agency_id != actor.agency_id:
        raise NotFound("No such document request.")
    case = records.get_case(actor, request.case_id, for_update=for_update)
    if for_update:
        request = reload(request.id)
    return request, case


def reload(request_id: int) -> DocumentRequest:
    """The request and its items as the database has them now (after the case's lock)."""
    request = db.session.scalar(select(DocumentRequest).where(DocumentRequest.id == request_id)
                                .execution_options(populate_existing=True))
    list(db.session.scalars(select(DocumentRequestItem).where(DocumentRequestItem.request_id == request_id)
                            .execution_options(populate_existing=True)))
    return request


def get_item(actor: User, item_id: int, for_update: bool = False
             ) -> tuple[DocumentRequestItem, DocumentRequest, Case]:
    item = db.session.get(DocumentRequestItem, item_id)
    if item is None:
        raise NotFound("No such requested item.")
    request, case = get_request(actor, item.request_id, for_update)
    return item, request, case


# ---- the consultant decides ------------------------------------------------------------------

@transactional
def decide_item(actor: User, item_id: int, status: Any, reason: Any = None,
                now: datetime | None = None) -> DocumentRequestItem:
    """Accept what the client sent for an item, or send it back with a reason the client reads."""
    now = now or utcnow()
    item, request, case = get_item(actor, item_id, for_update=True)
    errors: dict[str, str] = {}
    if status not in ("accepted", "rejected"):
        errors["status"] = "Accept the item, or send it back to the client."
    reason = _clean_message(reason, errors, "reason", REASON_LIMIT)
    if status == "rejected" and not reason and "reason" not in errors:
        errors["reason"] = "Tell the client what is wrong, so they can send the right thing."
    if errors:
        raise ValidationFailed(errors)
    if request.status != "open":
        raise Conflict(f"This request is {request.status}; nothing in it can change.")
    if item.status == "requested":
        raise Conflict("The client has not sent anything for this item yet.")
    if item.status == status:
        raise Conflict(f"This item is {ITEM_LABELS[status].lower()} already.")
    item.status, item.decided_at, item.decided_by_id, item.updated_at = status, now, actor.id, now
    if status == "rejected":
        item.reason = reason
        timeline.record(case, "document_item_rejected", actor,
                        f"Sent back to the client: {item.title} ({reason})",
                        {"request_id": request.id, "item_id": item.id, "reason": reason})
        notify.item_rejected(case, request, item, actor, now)
        reminders.schedule(request, now)
    else:
        item.reason = ""
        timeline.record(case, "document_item_accepted", actor, f"Accepted from the client: {item.title}",
                        {"request_id": request.id, "item_id": item.id})
        if all(other.status == "accepted" for other in request.items):
            _close(request, case, "fulfilled", actor, now, "every item accepted")
            timeline.record(case, "document_request_fulfilled", actor,
                            "Every requested item is in: the request is fulfilled",
                            {"request_id": request.id})
        else:
            reminders.schedule(request, now)  # a sent-back item accepted after all: one less to chase
    return item


@transactional
def cancel_request(actor: User, request_id: int, now: datetime | None = None) -> DocumentRequest:
    now = now or utcnow()
    request, case = get_request(actor, request_id, for_update=True)
    if request.status != "open":
        raise Conflict(f"This request is {request.status} already.")
    _close(request, case, "cancelled", actor, now, f"request cancelled by {actor.name}")
    timeline.record(case, "document_request_cancelled", actor, "Document request cancelled",
                    {"request_id": request.id})
    return request


def case_ended(case: Case, status: str, actor: User | None, now: datetime) -> None:
    """The case reached an end status: its open requests are cancelled with it."""
    for request in db.session.scalars(select(DocumentRequest).where(
            DocumentRequest.case_id == case.id, DocumentRequest.status == "open")
            .order_by(DocumentRequest.id)).all():
        _close(request, case, "cancelled", actor, now, f"the case was {status}")
        timeline.record(case, "document_request_cancelled", actor,
                        f"Document request cancelled: the case was {status}", {"request_id": request.id})


# ---- what the client does (services/portal/client.py finds the link and item) -----------------

def item_received(item: DocumentRequestItem, request: DocumentRequest, case: Case, now: datetime) -> None:
    """The client sent files or an answer for an item (in the caller's unit of work)."""
    item.status, item.updated_at = "uploaded", now
    reminders.schedule(request, now)
    case.updated_at = now
