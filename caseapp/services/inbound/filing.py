"""Filing one message: kept as it came, matched to its case (or the triage inbox), on the
case's timeline with its attachments as evidence "from email"; Amazon's mail proposes
"record as Amazon's reply".

`receive(raw, source)` is what the pipe (`flask inbound receive`) and the IMAP fetch call,
one message at a time, each in units of work of its own. The same Message-ID is filed once,
whichever way it came and however often: a second arrival returns the first row untouched.
A message without a Message-ID is known by the SHA-256 of its bytes.
"""
from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from caseapp.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from caseapp.core.transaction import transaction, transactional
from caseapp.extensions import db
from caseapp.models import Agency, Case, Client, InboundMessage, User, utcnow
from caseapp.services.cases import records, timeline
from caseapp.services.evidence import files as evidence_files
from caseapp.services.evidence.filenames import safe_display_name
from caseapp.services.inbound import amazon, matching, parsing

log = logging.getLogger(__name__)

SUMMARY_LIMIT = 500
ROLE_LABELS = {"amazon": "Amazon", "client": "the client", "staff": "a colleague", "other": ""}


@dataclass
class Received:
    message: InboundMessage
    duplicate: bool  # it had come before: nothing changed


def max_bytes() -> int:
    return int(current_app.config.get("INBOUND_MAX_MB", 50)) * 1024 * 1024


def _existing(message_id: str) -> InboundMessage | None:
    return db.session.scalar(select(InboundMessage).where(InboundMessage.message_id == message_id))


def receive(raw: bytes, source: str = "pipe", now: datetime | None = None) -> Received:
    """File one raw message. Raises only when the database cannot be reached (the caller then
    answers with a temporary failure, and the MTA or the next fetch tries again)."""
    sha = hashlib.sha256(raw).hexdigest()
    too_large = len(raw) > max_bytes()
    parsed = parsing.parse(raw[:max_bytes()] if too_large else raw)
    message_id = parsed.message_id or f"<sha256:{sha}>"
    with transaction():
        found = _existing(message_id)
    if found is not None:
        return Received(found, True)
    try:
        with transaction():
            row = _keep(raw, sha, parsed, message_id, source, too_large, now or utcnow())
            row_id = row.id
    except IntegrityError:  # the same message filed at the same moment by another process
        db.session.rollback()
        with transaction():
            return Received(_existing(message_id), True)
    if row.case_id is not None:
        _attach_all(row_id, parsed)
    with transaction():
        return Received(db.session.get(InboundMessage, row_id), False)


def _keep(raw: bytes, sha: str, parsed: parsing.Parsed, message_id: str, source: str,
          too_large: bool, now: datetime) -> InboundMessage:
    flags = list(parsed.flags)
    raw_sha, raw_size = sha, len(raw)
    if too_large:
        flags.append(f"Larger than INBOUND_MAX_MB ({max_bytes() // (1024 * 1024)} MB): refused; "
                     "only its headers and the start of its text are kept.")
    else:
        storage = evidence_files.get_storage()
        blob = storage.put(io.BytesIO(raw), max(max_bytes(), len(raw)))
        raw_sha = blob.sha256
    found = matching.match(parsed.to, parsed.subject, parsed.references, parsed.text, parsed.from_address)
    row = InboundMessage(
        message_id=message_id[:255], agency_id=found.agency_id, source=source, received_at=now,
        sent_at=parsed.sent_at, from_address=parsed.from_address, from_name=parsed.from_name,
        to_addresses=", ".join(parsed.to)[:5000], subject=parsed.subject,
        in_reply_to=" ".join(parsed.references)[:5000], automatic=parsed.automatic,
        full_text=parsed.text, body_text=parsing.new_text(parsed.text), body_html=parsed.html,
        raw_sha256=raw_sha, raw_size=raw_size, flags=flags, status="unmatched")
    if found.agency_id is None:
        row.status = "refused"
        row.flags = flags + found.why
    elif too_large:
        row.status = "refused"
    db.session.add(row)
    db.session.flush()
    if row.agency_id is not None:
        row.sender_role = sender_role(db.session.get(Agency, row.agency_id), row.from_address,
                                      found.case_id)
    if row.status != "refused" and found.case_id is not None:
        case = records_case(found.case_id, row.agency_id)
        if case is not None:
            _file(row, case, found.matched_by, None, now)
    elif row.status == "unmatched":
        row.flags = flags + found.why
    return row


def records_case(case_id: int, agency_id: int) -> Case | None:
    case = db.session.get(Case, case_id)
    return case if case is not None and case.agency_id == agency_id else None


def sender_role(agency: Agency, address: str, case_id: int | None) -> str:
    if not address:
        return "other"
    if amazon.is_amazon(agency, address):
        return "amazon"
    if db.session.scalar(select(User.id).where(User.agency_id == agency.id,
                                               func.lower(User.email) == address).limit(1)):
        return "staff"
    clients = select(Client.id).where(Client.agency_id == agency.id, func.lower(Client.contact_email) == address)
    if case_id is not None:
        clients = clients.join(Case, Case.client_id == Client.id).where(Case.id == case_id)
    return "client" if db.session.scalar(clients.limit(1)) else "other"


def _summary(row: InboundMessage) -> str:
    who = ROLE_LABELS.get(row.sender_role) or row.from_name or row.from_address or "an unknown sender"
    return f"Email from {who}: {row.subject or '(no subject)'}"[:SUMMARY_LIMIT]


def _file(row: InboundMessage, case: Case, matched_by: str | None, actor: User | None, now: datetime) -> None:
    """Put the message on the case (in the caller's unit of work)."""
    row.case_id, row.status, row.matched_by = case.id, "matched", matched_by
    row.sender_role = sender_role(db.session.get(Agency, case.agency_id), row.from_address, case.id)
    event = timeline.record(case, "email_received", actor, _summary(row), {
        "inbound_id": row.id, "from": row.from_address, "subject": row.subject,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None, "role": row.sender_role,
        "matched_by": matched_by, "automatic": row.automatic})
    row.event_id = event.id
    if row.sender_role == "amazon" and not row.automatic:
        amazon.propose(row, case, row.full_text or row.body_text, now)
    case.updated_at = now


def _attach_all(row_id: int, parsed: parsing.Parsed) -> None:
    """Each attachment through the evidence pipeline, each in a unit of work of its own: a
    refused one (its type, its size) is flagged on the message and stops nothing."""
    for attachment in parsed.attachments:
        name = safe_display_name(attachment.filename)
        try:
            with transaction():
                row = db.session.get(InboundMessage, row_id)
                case = db.session.get(Case, row.case_id)
                _store(row, case, attachment)
        except DomainError as error:
            with transaction():
                row = db.session.get(InboundMessage, row_id)
                row.flags = list(row.flags) + [f"Attachment {name} was not kept as evidence: {error}"]


def _store(row: InboundMessage, case: Case, attachment: parsing.Attachment) -> None:
    upload = FileStorage(stream=io.BytesIO(attachment.data), filename=attachment.filename,
                         content_type=attachment.content_type)
    description = f"Attached to the email from {row.from_address or 'an unknown sender'}: {row.subject}"
    try:
        stored = evidence_files.store(case, upload, "customer_correspondence" if row.sender_role != "amazon"
                                      else "other", description[:evidence_files.MAX_DESCRIPTION_CHARS], None,
                                      source="email", summary="Evidence from email")
    except evidence_files.AlreadyAttached:
        return  # the case holds these bytes already: nothing to add, nothing to flag
    stored.inbound_message_id = row.id


# ---- the triage inbox --------------------------------------------------------------------------

def get_message(actor: User, message_id: int) -> InboundMessage:
    row = db.session.get(InboundMessage, message_id)
    if row is None or row.agency_id != actor.agency_id:
        raise NotFound("No such message.")
    return row


def list_messages(actor: User, status: str | None = None, limit: int = 50,
                  before_id: int | None = None) -> list[InboundMessage]:
    stmt = select(InboundMessage).where(InboundMessage.agency_id == actor.agency_id)
    if status:
        stmt = stmt.where(InboundMessage.status == status)
    if before_id:
        stmt = stmt.where(InboundMessage.id < before_id)
    return list(db.session.scalars(stmt.order_by(InboundMessage.id.desc()).limit(limit)))


def for_case(case: Case, limit: int = 50) -> list[InboundMessage]:
    return list(db.session.scalars(select(InboundMessage).where(InboundMessage.case_id == case.id)
                                   .order_by(InboundMessage.id.desc()).limit(limit)))


def file_to_case(actor: User, message_id: int, case_id: int, now: datetime | None = None) -> InboundMessage:
    """A person files a message from the triage inbox onto a case of their agency."""
    now = now or utcnow()
    with transaction():
        row = get_message(actor, message_id)
        case = records.get_case(actor, case_id, for_update=True)
        db.session.refresh(row)
        if row.status == "matched":
            raise Conflict("This message is filed on a case already.")
        if row.status == "refused" and row.raw_size > max_bytes():
            raise Conflict("This message was too large to keep; ask the sender for a smaller one.")
        row.filed_by_id, row.filed_at = actor.id, now
        _file(row, case, "person", actor, now)
        row_id = row.id
    if row.raw_size <= max_bytes():
        raw = _raw(row)
        if raw is not None:
            _attach_all(row_id, parsing.parse(raw))
    with transaction():
        return db.session.get(InboundMessage, row_id)


def _raw(row: InboundMessage) -> bytes | None:
    try:
        with evidence_files.get_storage().open(row.raw_sha256) as stream:
            return stream.read()
    except (OSError, FileNotFoundError):
        return None


@transactional
def discard(actor: User, message_id: int, now: datetime | None = None) -> InboundMessage:
    row = get_message(actor, message_id)
    if row.status == "matched":
        raise Conflict("This message is filed on a case; it stays on its timeline.")
    if row.status == "discarded":
        raise Conflict("This message is discarded already.")
    row.status, row.filed_by_id, row.filed_at = "discarded", actor.id, now or utcnow()
    return row


def check_status(value) -> str | None:
    if value in (None, ""):
        return None
    if value not in ("matched", "unmatched", "refused", "discarded"):
        raise ValidationFailed({"status": "One of: matched, unmatched, refused, discarded."})
    return value
