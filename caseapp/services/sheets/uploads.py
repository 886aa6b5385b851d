"""The import page's steps around services/cases/imports.py: the uploaded file is kept while a
person checks it, fixes the column mapping and imports it, then removed.

An upload is kept in the instance folder (`INSTANCE/imports/`), named by its agency, its
person and a random token, for at most KEEP_HOURS, one per person (a new upload replaces the
last); only the person who uploaded it reaches it (anyone else: NotFound). One host's disk: behind several web hosts, send the upload and the
import to the same host (sticky sessions) or use `flask import`.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from werkzeug.datastructures import FileStorage

from caseapp.core.errors import NotFound, ValidationFailed
from caseapp.models import User
from caseapp.services.cases import imports
from caseapp.services.deadlines import presets

KEEP_HOURS = 24
FORMATS = ("csv", "xlsx")
_TOKEN_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass
class Checked:
    """What the page shows: the file's columns, the field each is read as, and the plan (or why
    the file as a whole cannot be imported yet)."""

    token: str
    kind: str
    filename: str
    headers: list[str]
    mapping: dict[str, str | None]
    plan: imports.Plan | None = None
    refusal: str = ""
    fields: tuple[str, ...] = field(default=())


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    cutoff = time.time() - KEEP_HOURS * 3600
    for old in folder.glob("*"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def save(actor: User, kind: str, upload: FileStorage | None) -> str:
    if kind not in imports.IMPORT_KINDS:
        raise ValidationFailed({"kind": "Choose clients or cases."})
    if upload is None or not upload.filename:
        raise ValidationFailed({"file": "Choose a CSV or XLSX file."})
    ext = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
    if ext not in FORMATS:
        raise ValidationFailed({"file": "Choose a CSV or XLSX file (an .xls from old Excel: save it as .xlsx)."})
    folder = _folder()
    _sweep(folder)
    for earlier in folder.glob(f"{actor.agency_id}-{actor.id}-*"):
        earlier.unlink(missing_ok=True)  # one upload per person at a time: a new one replaces it
    token = f"{kind}-{secrets.token_urlsafe(16)}"
    path = folder / f"{actor.agency_id}-{actor.id}-{token}.{ext}"
    upload.save(path)
    (folder / f"{actor.agency_id}-{actor.id}-{token}.name").write_text(upload.filename[:200], encoding="utf-8")
    return token


def _path(actor: User, token: str) -> tuple[Path, str, str]:
    if not token or set(token) - _TOKEN_CHARS or len(token) > 80:
        raise NotFound("No such upload: upload the file again.")
    kind = token.split("-", 1)[0]
    folder = _folder()
    for ext in FORMATS:
        path = folder / f"{actor.agency_id}-{actor.id}-{token}.{ext}"
        if path.is_file() and kind in imports.IMPORT_KINDS:
            name_file = path.with_suffix(".name")
            filename = name_file.read_text(encoding="utf-8") if name_file.is_file() else path.name
            return path, kind, filename
    raise NotFound("No such upload (it is kept for 24 hours): upload the file again.")


def check(actor: User, token: str, mapping: dict[str, str | None] | None = None) -> Checked:
    """The upload checked with `mapping` (header -> field; None or "" for none), or with the
    remembered or guessed one. Writes nothing."""
    path, kind, filename = _path(actor, token)
    checked = Checked(token, kind, filename, [], {}, fields=imports.FIELDS[kind])
    try:
        with open(path, "rb") as stream:
            sheet = imports.read_sheet(stream)
            checked.headers = [h for h in sheet.headers if imports.normalise(h)]
            checked.mapping = suggested(actor, kind, checked.headers, mapping)
            checked.plan = imports.preview(actor, kind, sheet, filename=filename, mapping=checked.mapping)
    except imports.ImportRefused as refused:
        checked.refusal = refused.message
    return checked


def headers(actor: User, token: str) -> list[str]:
    """The upload's column names (its header row alone is read)."""
    path, _kind, _filename = _path(actor, token)
    try:
        with open(path, "rb") as stream:
            return [h for h in imports.read_sheet(stream).headers if imports.normalise(h)]
    except imports.ImportRefused:
        return []


def suggested(actor: User, kind: str, headers: list[str], explicit: dict[str, str | None] | None) -> dict:
    """The field each column is read as: what the person chose, else what the agency used last
    time, else the guess from its header."""
    remembered = imports.remembered_mapping(actor, kind)
    explicit = explicit or {}
    out: dict[str, str | None] = {}
    for header in headers:
        if header in explicit:
            out[header] = explicit[header] or None
        elif imports.normalise(header) in remembered:
            out[header] = remembered[imports.normalise(header)] or None
        else:
            out[header] = imports.guess_field(kind, header)
    return out


def apply(actor: User, token: str, mapping: dict[str, str | None]) -> Checked:
    """Import the upload with `mapping`, every row or none; the upload is removed once it is in."""
    checked = check(actor, token, mapping)
    if checked.plan is None or not checked.plan.ok:
        return checked
    path, _kind, filename = _path(actor, token)
    checked.plan = imports.import_file(actor, checked.kind, path, filename=filename, mapping=checked.mapping,
                                       open_cases=presets.open_cases)
    if checked.plan.applied:
        discard(actor, token)
    return checked


def discard(actor: User, token: str) -> None:
    path, _kind, _filename = _path(actor, token)
    path.unlink(missing_ok=True)
    path.with_suffix(".name").unlink(missing_ok=True)
