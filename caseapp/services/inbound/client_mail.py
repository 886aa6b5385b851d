"""Mail from the client that answers a document request: its files go to the request's items.

A message filed on a case (from the client's contact address, or a colleague's forward of
the client's mail) whose attachments became evidence "from email" offers, while a document
request of the case is open, to attach each file to a requested item. Attaching does what
the portal's upload does (services/portal/client.py): the file answers the item (its
category becomes the item's), the item is "uploaded" (sent by the client), the request's
reminders to the client are planned again, and the timeline says who attached what. The
consultant then accepts it or sends it back as with any upload.

Another agency's file or item is a 404; an item of another case too (the page never offers
it). A closed request, an accepted item, an item that asks for a written answer, a file
that answers an item already: 409, with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from caseapp.core.errors import Conflict, NotFound
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import (DocumentRequest, DocumentRequestItem, Evidence, InboundMessage, User,
                            utcnow)
from caseapp.services.cases import records, timeline
from caseapp.services.evidence import files as evidence_files
from caseapp.services.portal import requests

OPEN_ITEM_STATUSES = ("requested", "rejected", "uploaded")  # what a file may still answer


@dataclass
class Offer:
    """What the case page shows under a filed message: its files, and the open requests'
    items each may be attached to. Empty `items`: nothing to offer (no open request)."""

    message: InboundMessage
    from_client: bool  # the sender is the case's client (else: a forward, or someone else)
    files: list[Evidence] = field(default_factory=list)
    items: list[tuple[DocumentRequest, DocumentRequestItem]] = field(default_factory=list)

    @property
    def offered(self) -> bool:
        return bool(self.files and self.items)

    def attached_to(self, evidence: Evidence) -> DocumentRequestItem | None:
        return next((item for _, item in self.items if item.id == evidence.request_item_id), None)


def open_items(case_id: int) -> list[tuple[DocumentRequest, DocumentRequestItem]]:
    """The items of the case's open requests that a file may still answer, in order."""
    rows = db.session.execute(
        select(DocumentRequest, DocumentRequestItem)
        .join(DocumentRequestItem, DocumentRequestItem.request_id == DocumentRequest.id)
        .where(DocumentRequest.case_id == case_id, DocumentRequest.status == "open",
               DocumentRequestItem.kind == "file", DocumentRequestItem.status.in_(OPEN_ITEM_STATUSES))
        .order_by(DocumentRequest.created_at, DocumentRequest.id, DocumentRequestItem.position,
                  DocumentRequestItem.id)).all()
    return [(request, item) for request, item in rows]


def offer(actor: User, message_id: int) -> Offer:
    """The files of a filed message and the items they may answer: three statements.

    Raises NotFound for another agency's message."""
    message = db.session.get(InboundMessage, message_id)
    if message is None or message.agency_id != actor.agency_id:
        raise NotFound("No such message.")
    result = Offer(message, message.sender_role == "client")
    if message.case_id is None:
        return result
    result.files = list(db.session.scalars(select(Evidence).where(
        Evidence.inbound_message_id == message.id, Evidence.case_id == message.case_id)
        .order_by(Evidence.id)))
    if not result.files:
        return result
    result.items = open_items(message.case_id)
    return result


def offers_for_case(actor: User, case_id: int) -> dict[int, Offer]:
    """An offer for each of the case's filed messages that has files, while a request is
    open (by message id); {} when no request is open: one statement then."""
    case = records.get_case(actor, case_id)
    open_request = db.session.scalar(select(DocumentRequest.id).where(
        DocumentRequest.case_id == case.id, DocumentRequest.status == "open").limit(1))
    if open_request is None:
        return {}
    files = list(db.session.scalars(select(Evidence).where(
        Evidence.case_id == case.id, Evidence.inbound_message_id.is_not(None)).order_by(Evidence.id)))
    if not files:
        return {}
    items = open_items(case.id)
    messages = {m.id: m for m in db.session.scalars(select(InboundMessage).where(
        InboundMessage.id.in_({f.inbound_message_id for f in files})))}
    offers: dict[int, Offer] = {}
    for row in files:
        message = messages.get(row.inbound_message_id)
        if message is None:
            continue
        found = offers.setdefault(message.id, Offer(message, message.sender_role == "client",
                                                    items=items))
        found.files.append(row)
    return offers


@transactional
def attach_to_item(actor: User, evidence_id: int, item_id: int, now: datetime | None = None) -> Evidence:
    """Attach a file that came by email to a requested item of the same case, as if the
    client had uploaded it through the portal (see the module's doc)."""
    now = now or utcnow()
    row = evidence_files.get(actor, evidence_id)  # NotFound: another agency's file
    case = records.get_case(actor, row.case_id, for_update=True)
    # As they are after the case's lock: a portal upload or a decision may have just committed.
    row = db.session.scalar(select(Evidence).where(Evidence.id == evidence_id)
                            .execution_options(populate_existing=True))
    item = db.session.scalar(select(DocumentRequestItem).where(DocumentRequestItem.id == item_id)
                             .execution_options(populate_existing=True))
    request = requests.reload(item.request_id) if item is not None else None
    if request is None or request.agency_id != actor.agency_id or request.case_id != case.id:
        raise NotFound("No such requested item on this case.")
    if row.inbound_message_id is None:
        raise Conflict("This file did not come by email; the client sends files for a request "
                       "through the portal.")
    if request.status != "open":
        raise Conflict(f"This request is {request.status}: nothing more can be attached to it.")
    if item.kind != "file":
        raise Conflict("This item asks for a written answer, not files.")
    if item.status == "accepted":
        raise Conflict("This item is accepted already: nothing more is needed for it.")
    if row.request_item_id == item.id:
        raise Conflict(f"{row.filename} is attached to {item.title} already.")
    if row.request_item_id is not None:
        other = db.session.get(DocumentRequestItem, row.request_item_id)
        raise Conflict(f"{row.filename} answers {other.title if other else 'another item'} already.")
    row.request_item_id, row.category = item.id, item.category
    requests.item_received(item, request, case, now)
    message = db.session.get(InboundMessage, row.inbound_message_id)
    sender = message.from_address if message is not None else ""
    timeline.record(case, "email_file_attached", actor,
                    f"Attached from the email of {sender or 'an unknown sender'} to {item.title}: "
                    f"{row.filename}"[:500],
                    {"evidence_id": row.id, "item_id": item.id, "request_id": request.id,
                     "inbound_id": row.inbound_message_id})
    return row
