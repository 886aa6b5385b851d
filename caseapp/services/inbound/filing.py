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
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from werkzeug.datastructures import FileStorage

from caseapp.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from caseapp.core.transaction import on_rollback, transaction, transactional
from caseapp.extensions import db
from caseapp.models import Agency, Case, Client, InboundMessage, User, utcnow
from caseapp.services.cases import records, timeline
from caseapp.services.evidence import files as evidence_files
from caseapp.services.evidence.filenames import safe_display_name
from caseapp.services.inbound import amazon, matching, parsing

log = logging.getLogger(__name__)

SUMMARY_LIMIT = 500
ROLE_LABELS = {"amazon": "Amazon", "client": "the client", "staff": "a colleague", "other": ""}


class StorageUnavailable(Exception):
    """The evidence storage failed (not the message): try the message again later."""


@dataclass
class Received:
    message: InboundMessage
    duplicate: bool  # it had come before: nothing changed


def max_bytes() -> int:
    return int(current_app.config.get("INBOUND_MAX_MB", 50)) * 1024 * 1024


def _existing(dedup_key: str) -> InboundMessage | None:
    return db.session.scalar(select(InboundMessage).where(InboundMessage.dedup_key == dedup_key))


def _canonical_id(parsed: parsing.Parsed) -> str:
    """A message without a Message-ID is known by what a copy keeps the same (its sender,
    date, subject and text), not by its bytes: the pipe's copy and the mailbox's differ in
    their Received headers."""
    digest = hashlib.sha256("\n".join([parsed.from_address, parsed.sent_at.isoformat() if parsed.sent_at else "",
                                        parsed.subject, parsed.text]).encode("utf-8", "replace")).hexdigest()
    return f"<sha256:{digest}>"


def receive(raw: bytes, source: str = "pipe", now: datetime | None = None) -> Received:
    """File one raw message. Raises only when the database cannot be reached (the caller then
    answers with a temporary failure, and the MTA or the next fetch tries again); a message
    that trips anything else is kept as refused, with the reason."""
    now = now or utcnow()
    too_large = len(raw) > max_bytes()
    parsed = parsing.parse(raw[:max_bytes()] if too_large else raw)
    message_id = parsed.message_id or _canonical_id(parsed)
    try:
        return _receive(raw, parsed, message_id, source, too_large, now)
    except (OperationalError, InterfaceError, StorageUnavailable):
        raise
    except Exception as error:  # noqa: BLE001 - a message must never stop the pipe or the fetch
        log.exception("inbound message %s could not be filed; kept as refused", message_id)
        db.session.rollback()
        return _keep_refused(raw, parsed, message_id, source, now, error)


def _receive(raw: bytes, parsed: parsing.Parsed, message_id: str, source: str, too_large: bool,
             now: datetime) -> Received:
    with transaction():
        found = matching.match(parsed.to, parsed.subject, parsed.references, parsed.text, parsed.from_address)
        dedup_key = f"{found.agency_id or '-'}|{message_id}"[:300]
        existing = _existing(dedup_key)
    if existing is not None:
        if existing.case_id is not None and not existing.attachments_done and existing.raw_size <= max_bytes():
            _attach_all(existing.id, parsed)  # the delivery that filed it died before they were in
        with transaction():
            return Received(db.session.get(InboundMessage, existing.id), True)
    try:
        with transaction():
            row = _keep(raw, parsed, message_id, dedup_key, found, source, too_large, now)
            row_id, filed = row.id, row.case_id is not None
    except IntegrityError:  # the same message filed at the same moment by another process
        db.session.rollback()
        with transaction():
            return Received(_existing(dedup_key), True)
    if filed:
        _attach_all(row_id, parsed)
    with transaction():
        return Received(db.session.get(InboundMessage, row_id), False)


def _keep_refused(raw: bytes, parsed: parsing.Parsed, message_id: str, source: str, now: datetime,
                  error: Exception) -> Received:
    dedup_key = f"refused|{message_id}"[:300]
    with transaction():
        existing = _existing(dedup_key)
        if existing is not None:
            return Received(existing, True)
        row = InboundMessage(
            message_id=message_id[:255], dedup_key=dedup_key, source=source, received_at=now, status="refused",
            from_address=parsed.from_address, subject=parsed.subject, raw_sha256=_store_raw(raw),
            raw_size=len(raw), flags=list(parsed.flags) + [
                f"It could not be filed ({type(error).__name__}); kept as it came for a person to look at."])
        db.session.add(row)
        db.session.flush()
        return Received(row, False)


def _store_raw(raw: bytes) -> str:
    """The raw message in the evidence storage (in the caller's unit of work: a rollback
    removes bytes it stored unless another row uses them)."""
    storage = evidence_files.get_storage()
    blob = storage.put(io.BytesIO(raw), max(max_bytes(), len(raw)))
    if blob.created:
        on_rollback(lambda: evidence_files.remove_if_unreferenced(storage, blob.sha256))
    evidence_files.lock_blob(blob.sha256)
    return blob.sha256


def _keep(raw: bytes, parsed: parsing.Parsed, message_id: str, dedup_key: str, found: matching.Match,
          source: str, too_large: bool, now: datetime) -> InboundMessage:
    flags = list(parsed.flags)
    if too_large:
        flags.append(f"Larger than INBOUND_MAX_MB ({max_bytes() // (1024 * 1024)} MB): refused; "
                     "only its headers and the start of its text are kept.")
        raw_sha = hashlib.sha256(raw).hexdigest()
    else:
        raw_sha = _store_raw(raw)
    row = InboundMessage(
        message_id=message_id[:255], dedup_key=dedup_key, agency_id=found.agency_id, source=source,
        received_at=now, sent_at=parsed.sent_at, from_address=parsed.from_address, from_name=parsed.from_name,
        to_addresses=", ".join(parsed.to)[:5000], subject=parsed.subject,
        in_reply_to=" ".join(parsed.references)[:5000], automatic=parsed.automatic,
        full_text=parsed.text, body_text=parsing.new_text(parsed.text), body_html=parsed.html,
        raw_sha256=raw_sha, raw_size=len(raw), flags=flags, status="unmatched")
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
            _file(row, case, found.matched_by, None, now, parsed)
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


def _file(row: InboundMessage, case: Case, matched_by: str | None, actor: User | None, now: datetime,
          parsed: parsing.Parsed) -> None:
    """Put the message on the case (in the caller's unit of work)."""
    row.case_id, row.status, row.matched_by = case.id, "matched", matched_by
    agency = db.session.get(Agency, case.agency_id)
    row.sender_role = sender_role(agency, row.from_address, case.id)
    says = amazon_says(agency, row, parsed)
    event = timeline.record(case, "email_received", actor, _summary(row, says), {
        "inbound_id": row.id, "from": row.from_address, "subject": row.subject,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None, "role": row.sender_role,
        "matched_by": matched_by, "automatic": row.automatic})
    db.session.flush()
    row.event_id = event.id
    if says and not row.automatic:
        amazon.propose(row, case, row.full_text or row.body_text, now)
    case.updated_at = now


def amazon_says(agency: Agency, row: InboundMessage, parsed: parsing.Parsed) -> str | None:
    """"direct" (from Amazon's domains), "forwarded" (a colleague forwards Amazon's mail), or
    None: not Amazon's, or claiming to be and failing the receiving server's check. Mail
    from Amazon proposes its reply; a person still confirms it. `From:` alone is not proof:
    the flags say when nothing verified it."""
    if row.sender_role == "amazon":
        verdict = authenticated(parsed.authentication, row.from_address)
        if verdict == "fail":
            row.flags = list(row.flags) + [
                "Claims to come from Amazon but failed this mail server's signature check "
                "(Authentication-Results): not proposed as Amazon's reply."]
            return None
        if verdict != "pass":
            row.flags = list(row.flags) + [
                "From an Amazon address, not verified (set INBOUND_AUTHSERV_ID to trust your mail "
                "server's DKIM/DMARC results): compare with Seller Central before recording it."]
        return "direct"
    if row.sender_role == "staff" and any(amazon.is_amazon(agency, a) for a in parsed.forwarded_from):
        return "forwarded"
    return None


def authenticated(results: list[str], address: str) -> str | None:
    """"pass" when the receiving server (INBOUND_AUTHSERV_ID) says DMARC or DKIM passed for
    the sender's domain, "fail" when any result says they failed, else None."""
    domain = address.rpartition("@")[2].lower()
    trusted = (current_app.config.get("INBOUND_AUTHSERV_ID") or "").strip().lower()
    verdict = None
    for result in results:
        text = result.lower()
        if "dmarc=fail" in text or ("dkim=fail" in text and "dkim=pass" not in text):
            return "fail"
        server = text.split(";", 1)[0].strip()
        names_sender = any(f"{key}{domain}" in text for key in ("header.d=", "header.from=", "header.i=@"))
        if (trusted and server.split()[:1] == [trusted] and names_sender
                and ("dmarc=pass" in text or "dkim=pass" in text)):
            verdict = "pass"
    return verdict


def _summary(row: InboundMessage, says: str | None = None) -> str:
    who = ROLE_LABELS.get(row.sender_role) or row.from_name or row.from_address or "an unknown sender"
    if says == "forwarded":
        who = f"{who} (forwarded from Amazon)"
    return f"Email from {who}: {row.subject or '(no subject)'}"[:SUMMARY_LIMIT]


def _attach_all(row_id: int, parsed: parsing.Parsed) -> None:
    """Each attachment through the evidence pipeline, each in a unit of work of its own: a
    refused one (its type, its size) is flagged on the message and stops nothing. Then the
    message is marked done, so a later copy does not add them again. When the storage fails
    (a full disk), the message is not marked done and StorageUnavailable is raised: the pipe
    answers "try again later", and the next copy of the message stores what is missing."""
    unavailable = None
    for attachment in parsed.attachments:
        name = safe_display_name(attachment.filename)
        try:
            with transaction():
                row = db.session.get(InboundMessage, row_id)
                case = db.session.get(Case, row.case_id)
                _store(row, case, attachment)
        except (OperationalError, InterfaceError):
            raise
        except OSError as error:
            unavailable = error
        except Exception as error:  # noqa: BLE001 - DomainError or worse: flagged, the rest go on
            why = str(error) if isinstance(error, DomainError) else f"it could not be stored ({type(error).__name__})"
            with transaction():
                row = db.session.get(InboundMessage, row_id)
                row.flags = list(row.flags) + [f"Attachment {name} was not kept as evidence: {why}"]
    if unavailable is not None:
        raise StorageUnavailable(str(unavailable)) from unavailable
    with transaction():
        db.session.get(InboundMessage, row_id).attachments_done = True


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
        raw = _raw(row) if row.raw_size <= max_bytes() else None
        parsed = parsing.parse(raw) if raw is not None else parsing.Parsed()
        _file(row, case, "person", actor, now, parsed)
        row_id = row.id
    _attach_all(row_id, parsed)
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
