"""Evidence files: upload, list, describe, delete, link to POA versions, bundle.

The bytes live in the evidence storage under their SHA-256 (evidence_storage); a row
names them, so the same file uploaded twice is one blob and two rows. Row and blob
never disagree:

- upload stores the blob, then commits the row. When anything fails after the blob
  was stored, the blob is removed again, if this call created it and no row uses it.
- delete removes the row, then the blob once no row refers to it any more.

Those decisions about one blob (commit a row that uses it, remove it) are taken under
a lock on that blob (`_lock_blob`), so an upload and a delete of the same bytes cannot
interleave into a row whose blob is gone. What a crash can leave behind is at worst a
blob that no row uses: disk space, never a broken download.
"""
from __future__ import annotations

import logging
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import delete as sql_delete
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from caseapp.extensions import db
from caseapp.models import CATEGORIES, Evidence, PoaDraft, PoaEvidenceLink, User, utcnow
from caseapp.services.accounts import people
from caseapp.services.accounts import audit
from caseapp.services.cases import records
from caseapp.services.poa import drafts as poa
from caseapp.services.poa import render
from caseapp.services.cases import timeline
from caseapp.core import timezones
from caseapp.services.evidence import file_types as types
from caseapp.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from caseapp.services.evidence.filenames import ascii_letters, download_name, safe_display_name
from caseapp.core.parsing import parse_id, whole_number
from caseapp.services.evidence.storage import CHUNK_BYTES, LocalStorage, Storage, StoredBlob

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
# Already compressed: deflating them again costs time and saves nothing.
_STORED_IN_ZIP = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp",
                            "application/zip", types.DOCX.content_type, types.XLSX.content_type})


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

    With `preview`, only the types shown inside the page (images and PDF) are opened.
    """
    row = get(actor, evidence_id)
    if preview and not is_previewable(row):
        raise NotFound("This type of file has no preview. Download it instead.")
    if not preview:
        audit.record("download", actor, target=f"evidence {row.id} of case {row.case_id}",
                     detail=row.filename)
    return row, get_storage().open(row.sha256)


def links_of(actor: User, evidence_id: int) -> list[tuple[PoaDraft, int | None]]:
    """The POA versions this file backs, newest first, each with its action index."""
    row = get(actor, evidence_id)
    return list(db.session.execute(
        select(PoaDraft, PoaEvidenceLink.action_index)
        .join(PoaEvidenceLink, PoaEvidenceLink.poa_draft_id == PoaDraft.id)
        .where(PoaEvidenceLink.evidence_id == row.id)
        .order_by(PoaDraft.version.desc())))


# ---------------------------------------------------------------- upload and edit

def _clean_fields(category: Any, description: Any) -> tuple[str, str]:
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


def upload(actor: User, case_id: int, file, category: str | None = None,
           description: str | None = None) -> Evidence:
    """Store one uploaded file (a werkzeug FileStorage) as evidence of the case.

    Raises NotFound (not the actor's case), ValidationFailed (no file, bad category or
    description), TooLarge (over MAX_UPLOAD_MB) or RefusedType (a type not accepted; the
    message names the accepted ones). On any failure nothing is left behind.
    """
    case = records.get_case(actor, case_id)
    category, description = _clean_fields(category, description)
    if file is None or not (getattr(file, "filename", None) or "").strip():
        raise ValidationFailed({"file": "Choose a file to upload."})
    name = safe_display_name(file.filename)
    storage = get_storage()
    blob = storage.put(file.stream, max_upload_bytes())
    ours = blob.created
    try:
        kind = types.detect(blob.head, name, open_full=lambda: storage.open(blob.sha256))
        row = Evidence(case_id=case.id, sha256=blob.sha256, size=blob.size,
                       content_type=kind.content_type, filename=name, category=category,
                       description=description, uploaded_by_id=actor.id, uploaded_at=utcnow())
        db.session.add(row)
        db.session.flush()
        timeline.record(case, "evidence_added", actor,
                        f"Evidence added: {name} ({CATEGORY_LABELS[category]})",
                        {"evidence_id": row.id, "filename": name, "category": category})
        case.updated_at = utcnow()
        db.session.flush()  # row locks first, the blob lock last: the order delete uses too
        _lock_blob(blob.sha256)
        if not storage.exists(blob.sha256):
            # A delete removed the last other row using these bytes, and the blob with
            # it, after our put found the blob there. Store the bytes again.
            ours = _store_again(storage, file.stream, blob) or ours
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if ours:
            _remove_if_unreferenced(storage, blob.sha256)
        raise
    return row


@dataclass
class Uploaded:
    saved: list[Evidence]
    refused: list[tuple[str, DomainError]]  # (safe display name, why), in upload order


def upload_many(actor: User, case_id: int, files, category: str | None = None,
                description: str | None = None) -> Uploaded:
    """Store several files with one category and description, each on its own: a refused
    file does not stop the others. The shared fields are checked first, so a mistake there
    (or no file at all) raises ValidationFailed before anything is stored.
    """
    records.get_case(actor, case_id)
    _clean_fields(category, description)
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


def update(actor: User, evidence_id: int, description: str | None,
           category: str | None = None) -> Evidence:
    """Change the description (and, when given, the category) of a file."""
    row = get(actor, evidence_id)
    category, description = _clean_fields(row.category if category is None else category,
                                          description)
    row.category, row.description = category, description
    db.session.commit()
    return row


@dataclass(frozen=True)
class Deleted:
    filename: str
    case_id: int


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
    audit.record("deletion", actor, target=f"evidence {row.id} of case {case.id}",
                 detail=row.filename)
    timeline.record(case, "evidence_deleted", actor, f"Evidence deleted: {row.filename}",
                    {"evidence_id": row.id, "filename": row.filename, "category": row.category})
    case.updated_at = utcnow()
    db.session.commit()
    _remove_if_unreferenced(get_storage(), sha256)
    return gone


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
    return db.session.scalar(select(Evidence.id).where(Evidence.sha256 == sha256).limit(1)) is not None


def _remove_if_unreferenced(storage: Storage, sha256: str) -> None:
    """Remove the blob when no row uses it. Never raises: on doubt the blob stays."""
    try:
        _lock_blob(sha256)
        if not _referenced(sha256):
            storage.delete(sha256)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not decide whether blob %s is still used; it stays", sha256)


# ---------------------------------------------------------------- links to POA versions

@dataclass
class DraftEvidence:
    """What the POA editor shows about evidence for one version."""

    links: list[PoaEvidenceLink]  # with .evidence loaded, in export order
    files: list[Evidence]  # every file of the case, oldest first
    copy_from: PoaDraft | None  # the latest earlier version with links, when this one has none


def for_draft(actor: User, draft_id: int) -> DraftEvidence:
    draft = poa.get_draft(actor, draft_id)
    links = _links(draft.id)
    copy_from = None if links else _earlier_with_links(draft)
    return DraftEvidence(links, list_for_case(actor, draft.case_id, oldest_first=True), copy_from)


def _links(draft_id: int) -> list[PoaEvidenceLink]:
    return list(db.session.scalars(
        select(PoaEvidenceLink).join(Evidence, Evidence.id == PoaEvidenceLink.evidence_id)
        .where(PoaEvidenceLink.poa_draft_id == draft_id)
        .options(joinedload(PoaEvidenceLink.evidence))
        .order_by(PoaEvidenceLink.action_index.is_(None), PoaEvidenceLink.action_index,
                  Evidence.uploaded_at, Evidence.id)))


def _earlier_with_links(draft: PoaDraft) -> PoaDraft | None:
    return db.session.scalar(
        select(PoaDraft).where(
            PoaDraft.case_id == draft.case_id, PoaDraft.version < draft.version,
            PoaDraft.id.in_(select(PoaEvidenceLink.poa_draft_id)))
        .order_by(PoaDraft.version.desc()).limit(1))


def _editable(draft: PoaDraft) -> None:
    if draft.is_read_only:
        raise Conflict(f"Version {draft.version} went to Amazon, so the files it was sent with "
                       "stay as they were. Link files to a newer version instead.")


def _action_index(draft: PoaDraft, raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    index = whole_number(raw)
    if index is None:
        raise ValidationFailed({"action_index": "Choose one of the corrective actions, or the whole POA."})
    if index >= len(draft.corrective_actions):
        raise ValidationFailed({"action_index": f"Version {draft.version} has "
                                f"{len(draft.corrective_actions)} corrective actions; choose one of them."})
    return index


def link(actor: User, draft_id: int, evidence_id: Any, action_index: Any = None) -> PoaEvidenceLink:
    """Make a file back this POA version, as a whole or one corrective action (index from 0).

    Linking a file that is already linked moves it to the given action.
    """
    draft = poa.get_draft(actor, draft_id)
    wanted = parse_id(evidence_id)
    try:
        if wanted is None:
            raise NotFound("No such evidence file.")
        row = get(actor, wanted)
    except NotFound:  # another agency's file looks like a missing one
        raise ValidationFailed({"evidence_id": "Choose a file of this case."}) from None
    if row.case_id != draft.case_id:
        raise ValidationFailed({"evidence_id": "That file belongs to another case."})
    _editable(draft)
    index = _action_index(draft, action_index)
    found = db.session.get(PoaEvidenceLink, (draft.id, row.id))
    if found is None:
        found = PoaEvidenceLink(poa_draft_id=draft.id, evidence_id=row.id, action_index=index,
                                linked_at=utcnow())
        db.session.add(found)
    else:
        found.action_index = index
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Someone linked this file at the same moment. Reload the page to see it.") from None
    return found


def unlink(actor: User, draft_id: int, evidence_id: int) -> None:
    draft = poa.get_draft(actor, draft_id)
    row = get(actor, evidence_id)
    _editable(draft)
    found = db.session.get(PoaEvidenceLink, (draft.id, row.id))
    if found is None:
        raise NotFound("That file is not linked to this version.")
    db.session.delete(found)
    db.session.commit()


def copy_links(actor: User, draft_id: int) -> int:
    """Give this version the links of the latest earlier version that has some.

    A link to an action follows the action's text when the text is still there (it may
    have moved), else keeps its position when that still exists, else backs the whole
    POA. Files already linked to this version keep their link. Returns how many were added.
    """
    draft = poa.get_draft(actor, draft_id)
    _editable(draft)
    source = _earlier_with_links(draft)
    if source is None:
        raise Conflict("No earlier version has linked files to copy.")
    present = {link.evidence_id for link in _links(draft.id)}
    actions = list(draft.corrective_actions)
    added = 0
    for old in _links(source.id):
        if old.evidence_id in present:
            continue
        index = old.action_index
        if index is not None:
            old_text = source.corrective_actions[index] if index < len(source.corrective_actions) else None
            if old_text in actions:
                index = actions.index(old_text)
            elif index >= len(actions):
                index = None
        db.session.add(PoaEvidenceLink(poa_draft_id=draft.id, evidence_id=old.evidence_id,
                                       action_index=index, linked_at=utcnow()))
        added += 1
    db.session.commit()
    return added


# ---------------------------------------------------------------- bundle

@dataclass
class Bundle:
    file: BinaryIO  # a temporary file at position 0; closing it removes it
    filename: str
    names: list[str]  # the entries, in order


def bundle(actor: User, case_id: int) -> Bundle:
    """One zip to attach to an appeal: the POA text of the final version (the latest
    when none is final) with its list of enclosed files, and every evidence file of the
    case under evidence/. Named after the client and case: Evidence-<client>-case<id>.zip.
    """
    case = records.get_case(actor, case_id)
    files = list_for_case(actor, case.id, oldest_first=True)
    drafts = poa.versions(actor, case.id)
    draft = next((d for d in drafts if d.is_final), drafts[0] if drafts else None)
    if not files and draft is None:
        raise Conflict("There is nothing to bundle yet: upload evidence or write the POA first.")
    entry_names = _entry_names(files)
    storage = get_storage()
    zone = actor.effective_timezone
    out = tempfile.TemporaryFile()
    names = []
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            if draft is not None:
                index = [(entry_names[row.id], description)
                         for row, description in poa.evidence_entries(case, draft)]
                body = render.to_text(poa.content_of(draft), index).encode("utf-8")
                name = f"{poa.export_basename(case, draft)}.txt"
                archive.writestr(_zip_info(name, draft.created_at, zone, deflate=True), body)
                names.append(name)
            for row in files:
                name = f"evidence/{entry_names[row.id]}"
                info = _zip_info(name, row.uploaded_at, zone,
                                 deflate=row.content_type not in _STORED_IN_ZIP)
                with storage.open(row.sha256) as source, \
                        archive.open(info, "w", force_zip64=row.size > 2**31) as target:
                    shutil.copyfileobj(source, target, CHUNK_BYTES)
                names.append(name)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    result = Bundle(out, f"Evidence-{_client_slug(case.client.name)}-case{case.id}.zip", names)
    audit.record("download", actor, target=f"case {case_id}", detail=f"evidence bundle, {len(files)} files")
    return result


def _entry_names(files: list[Evidence]) -> dict[int, str]:
    """A distinct name per file, safe to unpack (download_name: no directory, no leading
    dot, no device name): a second "invoice.pdf" becomes "invoice (2).pdf"."""
    taken: set[str] = set()
    names = {}
    for row in files:
        name = download_name(row.filename)
        stem, dot, extension = name.rpartition(".")
        if not stem:
            stem, dot, extension = name, "", ""
        candidate, number = name, 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{stem} ({number}){dot}{extension}"
        taken.add(candidate.lower())
        names[row.id] = candidate
    return names


def _zip_info(name: str, moment, zone: str, deflate: bool) -> zipfile.ZipInfo:
    local = timezones.to_local(moment, zone)
    info = zipfile.ZipInfo(name, date_time=local.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # a readable file once unpacked
    return info


def _client_slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_letters(name)).strip("-")[:60].strip("-") or "client"
