"""The evidence bundle: one zip to attach to an appeal, the POA text with the files it encloses."""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from caseapp.core import timezones
from caseapp.core.errors import Conflict
from caseapp.core.transaction import on_rollback, transactional
from caseapp.models import Evidence, User
from caseapp.services.accounts import audit
from caseapp.services.cases import records
from caseapp.services.evidence import file_types as types
from caseapp.services.evidence import files as evidence
from caseapp.services.evidence.filenames import download_name, slug
from caseapp.services.evidence.storage import CHUNK_BYTES
from caseapp.services.poa import drafts as poa
from caseapp.services.poa import render

# Already compressed: deflating them again costs time and saves nothing.
_STORED_IN_ZIP = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp",
                            "application/zip", types.DOCX.content_type, types.XLSX.content_type})


@dataclass
class Bundle:
    file: BinaryIO  # a temporary file at position 0; closing it removes it
    filename: str
    names: list[str]  # the entries, in order


@transactional
def bundle(actor: User, case_id: int, all_files: bool = False) -> Bundle:
    """One zip to attach to an appeal: the POA text of the final version (the latest
    when none is final) with its list of enclosed files, and under evidence/ the files
    that list names: those linked to that version, or every file of the case when the
    version links none (as its export lists them) or there is no POA yet. `all_files`
    puts every file of the case in, whatever the POA links. Named after the client and
    case: Evidence-<client>-case<id>.zip.
    """
    case = records.get_case(actor, case_id)
    drafts = poa.versions(actor, case.id)
    draft = next((d for d in drafts if d.is_final), drafts[0] if drafts else None)
    enclosed = poa.evidence_entries(case, draft) if draft is not None else []
    if all_files or draft is None:
        files = evidence.list_for_case(actor, case.id, oldest_first=True)
    else:
        files = sorted((row for row, _description in enclosed), key=lambda row: (row.uploaded_at, row.id))
    if not files and draft is None:
        raise Conflict("There is nothing to bundle yet: upload evidence or write the POA first.")
    entry_names = _entry_names(files)
    storage = evidence.get_storage()
    zone = actor.effective_timezone
    out = tempfile.TemporaryFile()
    on_rollback(out.close)  # the zip is not handed out when its audit entry cannot be saved
    names = []
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            if draft is not None:
                index = [(entry_names[row.id], description) for row, description in enclosed]
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
    result = Bundle(out, f"Evidence-{slug(case.client.name)}-case{case.id}.zip", names)
    audit.record("download", actor, target=f"case {case_id}",
                 detail=f"evidence bundle, {len(files)} files" + (", all on the case" if all_files else ""))
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
