"""A case list as a spreadsheet: every case the filters match, in the list's order, as CSV or
XLSX, read in keyset batches so memory stays the same at 100 cases and at 100,000.

The columns are what the list and the case page show, in words (labels, not stored codes),
times in the viewer's zone (the header names it). A cell a spreadsheet would run as a formula
is neutralised (OWASP, "CSV Injection"): in CSV a text starting with =, +, -, @, a tab or a
carriage return gets a leading apostrophe; in XLSX every text is written as a text cell, never
a formula, so it keeps its exact characters.
"""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select

from caseapp.core import timezones
from caseapp.core.errors import ValidationFailed
from caseapp.extensions import db
from caseapp.models import Case, Submission, User, utcnow
from caseapp.models.case import KIND_LABELS, PRIORITY_LABELS, REASON_LABELS
from caseapp.services.appeals.workflow import LABELS as STATUS_LABELS
from caseapp.services.cases.records import CaseFilters, list_cases

BATCH = 500
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Case, dict[int, str]], Any]
    moment: bool = False  # a UTC datetime, shown in the viewer's zone


COLUMNS = (
    Column("Case", lambda c, _: c.id),
    Column("Title", lambda c, _: c.title),
    Column("Client", lambda c, _: c.client.name),
    Column("Seller ID", lambda c, _: c.client.seller_id),
    Column("Marketplace", lambda c, _: c.client.marketplace),
    Column("Kind", lambda c, _: KIND_LABELS.get(c.kind, c.kind)),
    Column("Reason", lambda c, _: REASON_LABELS.get(c.reason, c.reason)),
    Column("Status", lambda c, _: STATUS_LABELS.get(c.status, c.status)),
    Column("Priority", lambda c, _: PRIORITY_LABELS.get(c.priority, c.priority)),
    Column("Assignee", lambda c, _: c.assignee.name if c.assignee else ""),
    Column("ASINs", lambda c, _: " ".join(c.asins)),
    Column("Amazon reference", lambda c, refs: refs.get(c.id, "")),
    Column("Notice date", lambda c, _: c.opened_at, moment=True),
    Column("Next follow-up", lambda c, _: c.follow_up_due_at, moment=True),
    Column("Next deadline", lambda c, _: c.next_deadline_at, moment=True),
    Column("Waiting on Amazon since", lambda c, _: c.awaiting_since, moment=True),
    Column("Closed", lambda c, _: c.closed_at, moment=True),
    Column("Updated", lambda c, _: c.updated_at, moment=True),
)


def headers(zone: str) -> list[str]:
    return [f"{col.header} ({zone})" if col.moment else col.header for col in COLUMNS]


def filename(fmt: str, now: datetime | None = None) -> str:
    return f"cases-{(now or utcnow()).strftime('%Y-%m-%d')}.{fmt}"


def _references(case_ids: list[int]) -> dict[int, str]:
    """The Amazon reference of each case's latest submission that has one (one statement)."""
    latest = (select(Submission.case_id, func.max(Submission.id).label("id"))
              .where(Submission.case_id.in_(case_ids), Submission.amazon_reference != "",
                     Submission.withdrawn_at.is_(None))
              .group_by(Submission.case_id).subquery())
    rows = db.session.execute(select(Submission.case_id, Submission.amazon_reference)
                              .join(latest, latest.c.id == Submission.id))
    return {case_id: reference for case_id, reference in rows}


def cases(actor: User, f: CaseFilters) -> Iterator[list[Any]]:
    """Every matching case as a row of values (moments as aware UTC datetimes), in the list's
    order, BATCH at a time: three statements per batch whatever the number of cases."""
    f = replace(f, page=1, after="", before="")
    while True:
        page = list_cases(actor, f, per_page=BATCH)
        refs = _references([c.id for c in page.items]) if page.items else {}
        for case in page.items:
            yield [col.value(case, refs) for col in COLUMNS]
        if not page.has_next:
            return
        f = replace(f, after=page.next_cursor)


def _local(value: Any, zone: str) -> Any:
    return timezones.to_local(value, zone).replace(tzinfo=None) if isinstance(value, datetime) else value


def neutralise(text: str) -> str:
    """A text a spreadsheet would take for a formula, made plain text (CSV only)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_cell(value: Any, zone: str) -> Any:
    value = _local(value, zone)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if value is None:
        return ""
    return neutralise(value) if isinstance(value, str) else value


def csv_chunks(actor: User, f: CaseFilters, zone: str) -> Iterator[bytes]:
    """The CSV, as UTF-8 with a byte-order mark (so Excel reads its accents), in chunks of
    about CHUNK bytes as the rows are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers(zone))
    for row in cases(actor, f):
        writer.writerow([_csv_cell(value, zone) for value in row])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_cell(sheet, value: Any, zone: str):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = _local(value, zone)
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # a text, never a formula, whatever it starts with
        return cell
    cell = WriteOnlyCell(sheet, value)
    if isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    return cell


def xlsx_file(actor: User, f: CaseFilters, zone: str):
    """The workbook, written row by row (openpyxl's write-only mode keeps rows on disk) into a
    temporary file that is returned rewound; the caller streams and closes it."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Cases")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for text in headers(zone):
        cell = WriteOnlyCell(sheet, text)
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for row in cases(actor, f):
        sheet.append([_xlsx_cell(sheet, value, zone) for value in row])
    out = tempfile.TemporaryFile()
    book.save(out)
    out.seek(0)
    return out


def xlsx_chunks(actor: User, f: CaseFilters, zone: str) -> Iterator[bytes]:
    with xlsx_file(actor, f, zone) as out:
        while chunk := out.read(CHUNK):
            yield chunk


def export(actor: User, f: CaseFilters, fmt: str, zone: str | None = None) -> tuple[Iterator[bytes], str, str]:
    """The file's chunks, content type and name; ValidationFailed for a format there is none
    of, before anything is read."""
    if fmt not in FORMATS:
        raise ValidationFailed({"format": "Choose csv or xlsx."},
                               "There is no export in that format: choose csv or xlsx.")
    zone = zone or actor.effective_timezone
    made = csv_chunks(actor, f, zone) if fmt == "csv" else xlsx_chunks(actor, f, zone)
    return made, FORMATS[fmt], filename(fmt)
