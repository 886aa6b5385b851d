"""Evidence files: upload, list, open, describe, delete (their links to POA versions and the
bundle live in the poa package, which stands on this one).

The bytes live in the evidence storage under their SHA-256 (storage.py); a row
names them, so the same file on two cases is one blob and two rows; uploaded twice to one
case, it is refused the second time as already attached. Row and blob never disagree:

- upload stores the blob, then saves the row. When anything fails after the blob
  was stored, the blob is removed again, if this call created it and no row uses it.
- delete removes the row, then the blob once no row refers to it any more.

Those decisions about one blob (commit a row that uses it, remove it) are taken under
a lock on that blob (`_lock_blob`), so an upload and a delete of the same bytes cannot
interleave into a row whose blob is gone. What a crash can leave behind is at worst a
blob that no row uses: disk space, never a broken download.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import delete as sql_delete
from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import joinedload

from caseapp.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from caseapp.core.transaction import active, after_commit, on_rollback, transaction, transactional
from caseapp.extensions import db
from caseapp.models import CATEGORIES, Case, DocumentRequest, DocumentRequestItem, Evidence, InboundMessage, PoaEvidenceLink, User, utcnow
from caseapp.services.accounts import audit, people
from caseapp.services.cases import records, timeline
from caseapp.services.evidence import file_types as types
from caseapp.services.evidence.filenames import safe_display_name
from caseapp.services.evidence.storage import LocalStorage, Storage, StoredBlob

log = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_DESCRIPTION_CHARS = 2000

CATEGORY_LABELS = {
    "invoice": "Invoice",
    "supplier_letter": "Supplier letter",
    "screenshot": "Screenshot",
    "customer_correspondence": "Customer correspondence",
    "listing_change": "Listing change",
    "other": "Other",
}
assert tuple(CATEGORY_LABELS) == CATEGORIES

TYPE_LABELS = {kind.content_type: kind.label for kind in (
    types.PDF, types.PNG, types.JPEG, types.GIF, types.WEBP, types.TEXT, types.CSV,
    types.DOCX, types.XLSX, types.EML, types.ZIP)}
# Shown inside the page (an <img>, or an <iframe sandbox> for PDF); the rest is downloaded.
PREVIEWABLE = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})


def get_storage() -> Storage:
    """The evidence store of the current app: the one place that picks the backend.

    An S3-compatible store would be chosen here (from a setting such as an
    EVIDENCE_STORAGE URL); views and the rest of this module only see `Storage`.
    """
    return LocalStorage(current_app.config["EVIDENCE_DIR"])


def max_upload_bytes() -> int:
    return int(current_app.config["MAX_UPLOAD_MB"] * MB)


def is_previewable(row: Evidence) -> bool:
    return row.content_type in PREVIEWABLE


# ---------------------------------------------------------------- reading

def get(actor: User, evidence_id: int) -> Evidence:
    return records.get_case_child(actor, Evidence, evidence_id, "No such evidence file.",
                                joinedload(Evidence.uploaded_by))


def list_for_case(actor: User, case_id: int, oldest_first: bool = False) -> list[Evidence]:
    case = records.get_case(actor, case_id)
    order = ((Evidence.uploaded_at, Evidence.id) if oldest_first
             else (Evidence.uploaded_at.desc(), Evidence.id.desc()))
    return list(db.session.scalars(
        select(Evidence).where(Evidence.case_id == case.id)
        .options(joinedload(Evidence.uploaded_by)).order_by(*order)))


def open_file(actor: User, evidence_id: int, preview: bool = False) -> tuple[Evidence, BinaryIO]:
    """The row and its bytes, opened; the caller closes the stream.

    With `preview`, only the types shown inside the page (images and PDF) are opened, and
    nothing is written; a download is a unit of work for its audit entry.
    """
    row = get(actor, evidence_id)
    if preview and not is_previewable(row):
        raise NotFound("This type of file has no preview. Download it instead.")
    if not preview:
        with transaction():
            audit.record("download", actor, target=f"evidence {row.id} of case {row.case_id}",
                         detail=row.filename)
    return row, get_storage().open(row.sha256)


# ---------------------------------------------------------------- upload and edit

def clean_fields(category: Any, description: Any) -> tuple[str, str]:
    errors = {}
    if category in (None, ""):
        category = "other"
    if category not in CATEGORIES:
        errors["category"] = "Choose one of: " + ", ".join(CATEGORY_LABELS.values()) + "."
    if description is None:
        description = ""
    if not isinstance(description, str):
        errors["description"] = "Must be text."
    else:
        description = description.replace("\r\n", "\n").replace("\r", "\n").strip()
        if len(description) > MAX_DESCRIPTION_CHARS:
            errors["description"] = f"At most {MAX_DESCRIPTION_CHARS:,} characters."
    if errors:
        raise ValidationFailed(errors)
    return category, description


class AlreadyAttached(Conflict):
    """These exact bytes (by SHA-256) are a file of the case already: no second row."""


@transactional
def upload(actor: User, case_id: int, file, category: str | None = None,
           description: str | None = None) -> Evidence:
    """Store one uploaded file (a werkzeug FileStorage) as evidence of the case.

    Raises NotFound (not the actor's case), ValidationFailed (no file, bad category or
    description), AlreadyAttached (the same bytes are a file of this case already; its
    `existing` names that file), TooLarge (over MAX_UPLOAD_MB) or RefusedType (a type not accepted; the
    message names the accepted ones). On any failure nothing is left behind.
    """
    case = records.get_case(actor, case_id)
    category, description = clean_fields(category, description)
    return store(case, file, category, description, actor)


def store(case: Case, file, category: str, description: str, actor: User | None, *,
          source: str = "staff", request_item_id: int | None = None,
          summary: str = "Evidence added") -> Evidence:
    """Store a file on a case the caller has found and checked (the fields are clean), in the
    caller's unit of work: `upload` for a person, the portal for a client (`actor` None,
    `source` "client"), mail for an attachment. Raises as `upload` does."""
    if file is None or not (getattr(file, "filename", None) or "").strip():
        raise ValidationFailed({"file": "Choose a file to upload."})
    name = safe_display_name(file.filename)
    storage = get_storage()
    blob = storage.put(file.stream, max_upload_bytes())
    if blob.created:  # a failure from here on removes the bytes again, unless a row uses them
        on_rollback(lambda: _remove_if_unreferenced(storage, blob.sha256))
    same_stmt = select(Evidence).where(Evidence.case_id == case.id, Evidence.sha256 == blob.sha256)
    if request_item_id is not None:
        # A file sent for a requested item: the same bytes kept for another item are that
        # item's (one document can answer two items: an invoice that is also the licence).
        # A staff file is never the client's: the same bytes get a row of their own for the
        # item, so the portal shows only what the client (or their mail) sent.
        same_stmt = same_stmt.where(or_(and_(Evidence.request_item_id.is_(None), Evidence.source != "staff"),
                                        Evidence.request_item_id == request_item_id))
    same = db.session.scalar(same_stmt.order_by(Evidence.id).limit(1))
    if same is not None and request_item_id is not None and same.request_item_id is None:
        # A file the case holds already, answering no item yet, now answers this one: the
        # item is received with it, instead of a refused upload leaving the item requested.
        same.request_item_id = request_item_id
        timeline.record(case, "evidence_claimed", actor,
                        f"{summary}: {same.filename} (already on the case) now answers a requested item",
                        {"evidence_id": same.id, "filename": same.filename, "request_item_id": request_item_id}
                        | ({"source": source} if source != "staff" else {}))
        case.updated_at = utcnow()
        return same
    if same is not None:  # the same bytes twice on one case are one file, under its first name
        raise AlreadyAttached(f"Already attached to this case as {same.filename}; nothing was added.",
                              {"file": f"Already attached as {same.filename}."}
                              ).naming("evidence", same.id, "file")
    kind = types.detect(blob.head, name, open_full=lambda: storage.open(blob.sha256))
    row = Evidence(case_id=case.id, sha256=blob.sha256, size=blob.size,
                   content_type=kind.content_type, filename=name, category=category,
                   description=description, uploaded_by_id=actor.id if actor else None,
                   uploaded_at=utcnow(), source=source, request_item_id=request_item_id)
    db.session.add(row)
    db.session.flush()
    timeline.record(case, "evidence_added", actor,
                    f"{summary}: {name} ({CATEGORY_LABELS[category]})",
                    {"evidence_id": row.id, "filename": name, "category": category}
                    | ({"source": source} if source != "staff" else {}))
    case.updated_at = utcnow()
    db.session.flush()  # row locks first, the blob lock last: the order delete uses too
    _lock_blob(blob.sha256)
    if not storage.exists(blob.sha256):
        # A delete removed the last other row using these bytes, and the blob with
        # it, after our put found the blob there. Store the bytes again.
        if _store_again(storage, file.stream, blob) and not blob.created:
            on_rollback(lambda: _remove_if_unreferenced(storage, blob.sha256))
    return row


@dataclass
class Uploaded:
    saved: list[Evidence]
    refused: list[tuple[str, DomainError]]  # (safe display name, why), in upload order


def upload_many(actor: User, case_id: int, files, category: str | None = None,
                description: str | None = None) -> Uploaded:
    """Store several files with one category and description, each on its own: a refused
    file does not stop the others. The shared fields are checked first, so a mistake there
    (or no file at all) raises ValidationFailed before anything is stored. Each file is a
    unit of work of its own, so this must not run inside another one.
    """
    if active():
        raise RuntimeError("upload_many saves each file on its own: call it outside transaction()")
    records.get_case(actor, case_id)
    clean_fields(category, description)
    files = [f for f in files or () if f is not None and (f.filename or "").strip()]
    if not files:
        raise ValidationFailed({"files": "Choose one or more files to upload."})
    result = Uploaded([], [])
    for file in files:
        try:
            result.saved.append(upload(actor, case_id, file, category, description))
        except DomainError as error:
            result.refused.append((safe_display_name(file.filename), error))
    return result


def _store_again(storage: Storage, stream: BinaryIO, blob: StoredBlob) -> bool:
    if not stream.seekable():
        raise Conflict("The file was being removed at the same moment. Please upload it again.")
    stream.seek(0)
    again = storage.put(stream, max_upload_bytes())
    if again.sha256 != blob.sha256:  # the stream changed under us; never store a wrong blob
        if again.created:
            storage.delete(again.sha256)
        raise Conflict("The upload changed while it was being stored. Please upload it again.")
    return again.created


@transactional
def update(actor: User, evidence_id: int, description: str | None,
           category: str | None = None) -> Evidence:
    """Change the description (and, when given, the category) of a file."""
    row = get(actor, evidence_id)
    category, description = clean_fields(row.category if category is None else category,
                                          description)
    row.category, row.description = category, description
    db.session.flush()
    return row


@dataclass(frozen=True)
class Deleted:
    filename: str
    case_id: int


@transactional
def delete(actor: User, evidence_id: int) -> Deleted:
    """Delete a file (agency admins only) and record it on the timeline.

    The blob goes too once no other row uses it; if that step fails, the deletion
    stands and the blob merely stays on disk unused.
    """
    row = get(actor, evidence_id)
    people.require_admin(actor)
    case = records.get_case(actor, row.case_id, for_update=True)
    gone = Deleted(row.filename, case.id)
    sha256 = row.sha256
    db.session.execute(sql_delete(PoaEvidenceLink).where(PoaEvidenceLink.evidence_id == row.id))
    db.session.delete(row)
    if row.request_item_id is not None:
        _unanswer_if_last(row)
    audit.record("deletion", actor, target=f"evidence {row.id} of case {case.id}",
                 detail=row.filename)
    timeline.record(case, "evidence_deleted", actor, f"Evidence deleted: {row.filename}",
                    {"evidence_id": row.id, "filename": row.filename, "category": row.category})
    case.updated_at = utcnow()
    storage = get_storage()
    after_commit(lambda: _remove_if_unreferenced(storage, sha256))
    return gone


def _unanswer_if_last(row: Evidence) -> None:
    """A requested item whose last file is deleted before anyone decided on it is requested
    again: the client's portal asks for it, and it is not counted as sent."""
    db.session.flush()
    item = db.session.get(DocumentRequestItem, row.request_item_id)
    left = db.session.scalar(select(Evidence.id).where(Evidence.request_item_id == row.request_item_id).limit(1))
    if item is None or left is not None or item.kind != "file" or item.status != "uploaded":
        return
    request = db.session.get(DocumentRequest, item.request_id)
    if request.status != "open":
        return
    item.status, item.updated_at = "requested", utcnow()
    if request.next_client_reminder_at is None:
        # Nothing was being chased: the client hears at the next reminder pass (outside their
        # quiet hours) that the item is missing again, and the pass plans the rest.
        request.next_client_reminder_at = utcnow()


# ---------------------------------------------------------------- blob lifetime

_LOCK_NAMESPACE = 0x45564944  # "EVID": keeps these advisory locks apart from any others


def _lock_blob(sha256: str) -> None:
    """Serialise, until this transaction ends, every decision about the blob's fate.

    PostgreSQL: an advisory lock per blob. SQLite: the database's single write lock,
    which a write statement takes (this one changes nothing).
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(bytes.fromhex(sha256[:8]), "big", signed=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                           {"ns": _LOCK_NAMESPACE, "key": key})
    elif dialect == "sqlite":
        db.session.execute(text("UPDATE evidence SET id = id WHERE 1 = 0"))


def _referenced(sha256: str) -> bool:
    """A row uses the blob: a file, or a mail kept as it came (services/inbound)."""
    return (db.session.scalar(select(Evidence.id).where(Evidence.sha256 == sha256).limit(1)) is not None
            or db.session.scalar(select(InboundMessage.id).where(InboundMessage.raw_sha256 == sha256)
                                 .limit(1)) is not None)


def _remove_if_unreferenced(storage: Storage, sha256: str) -> None:
    """Remove the blob when no row uses it, in a unit of work of its own (run after the one
    that stopped using it has ended). Never raises: on doubt the blob stays."""
    try:
        with transaction():
            _lock_blob(sha256)
            if not _referenced(sha256):
                storage.delete(sha256)
    except Exception:
        log.exception("could not decide whether blob %s is still used; it stays", sha256)


# For the other owner of blobs, mail kept as it came (services/inbound/filing.py).
lock_blob = _lock_blob
remove_if_unreferenced = _remove_if_unreferenced
