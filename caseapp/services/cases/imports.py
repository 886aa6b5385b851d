"""Bringing a spreadsheet in: clients or cases from a CSV or XLSX file, all or nothing.

The steps, each usable on its own by the command line and by an upload page:

1. `read_sheet(source)`: the header and a re-readable stream of rows. CSV in UTF-8 (with or
   without a byte order mark) or, when the bytes are not UTF-8, Windows-1252; `,` `;` or tab
   between fields, whichever the header line has most of. XLSX: the first sheet, read with
   openpyxl in read-only mode. Rows are streamed, never held whole; a file of more than
   MAX_ROWS data rows is refused, naming the cap (the plan of every row is kept until it is
   applied, so the cap bounds memory).
2. `resolve_mapping(...)`: which column is which field. An explicit mapping (header -> field,
   or None to skip a column) wins, then the agency's remembered one, then a guess from the
   header's normalised name and common synonyms (SYNONYMS).
3. `preview(actor, kind, source)`: every row checked by the rules the app's forms use
   (clients.clean_fields, records._clean), matched against the agency's records in batches
   (never one query per row), and planned as create / update / unchanged; every bad row and
   field is named with its spreadsheet row number (the header is row 1).
4. `import_file(actor, kind, source, dry_run=..., open_cases=...)`: the preview and, when no
   row is bad and it is not a dry run, the writes, in one unit of work. Nothing is written
   when any row is bad.

Rules a person relies on:
- Re-importing updates instead of duplicating. A client is its agency's client with the same
  seller ID (or, for a row without one, the one client with that name). A case is the
  agency's case with the row's reference; a row without a reference updates the one open
  case (not reinstated, denied or closed) of the same client with the same title, and opens
  a new case when there is none. A row with a reference nobody has yet opens a new case.
- An empty cell never erases: it leaves what the record holds.
- A case row names its client by seller ID or, when no seller ID column is filled, by the
  client's name (when exactly one client has it). A client the agency does not have is
  created from the case row only when the row gives both its seller ID and its name; other
  rows naming an unknown client are errors. A case row's marketplace and contact columns
  serve only such a new client: an existing client is changed by a clients import.
- Dates: ISO 8601 (2026-11-03, with a time optional) or day first (03/11/2026, 3.11.2026,
  3-11-2026), or with the month's name (3 Nov 2026, Nov 3, 2026). Month-first numbers are
  never guessed: 11/25/2026 is refused with the rule. A date without a time is midnight in
  the agency's time zone; XLSX date cells are read as the agency's local time.
- Vocabularies (kind, reason, priority, status) are read from their codes or their labels,
  in any case ("Account suspension", "account_suspension", "IP").
- An import never moves a case's status: the workflow (services/appeals/workflow.py) is the
  one place that does, and "submitted" needs a submission a sheet does not have. A status
  column is checked and, where it differs from the case's, reported.
- A case's notes cell becomes a note of the case, unless the case already has that note.
- Another agency's clients, cases and people are never matched nor touched.

The layer above passes `open_cases` (services/deadlines/presets.py `open_cases`): this
package is below the deadlines one, and a new case must get its preset deadlines exactly as
one opened on the case page does. New cases are opened BATCH at a time, a few flushes per
batch rather than several per case: 10,000 rows in well under 30 s (bench/import_rows.py).
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, Callable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from caseapp.core.errors import DomainError, ValidationFailed
from caseapp.core.transaction import transaction
from caseapp.extensions import db
from caseapp.models import KINDS, PRIORITIES, REASONS, STATUSES, Agency, Case, Client, Note, User
from caseapp.services.accounts import audit
from caseapp.services.cases import records, timeline
from caseapp.services.cases.clients import clean_fields

MAX_ROWS = 20_000  # data rows per file; a larger file is refused before anything is checked
BATCH = 500  # keys per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits
SNIFF_BYTES = 64 * 1024
IMPORT_KINDS = ("clients", "cases")
OPEN_STATUSES = ("open", "drafting", "submitted", "more_info_requested")

CLIENT_FIELDS = ("name", "seller_id", "marketplace", "contact_name", "contact_email", "notes")
CASE_FIELDS = ("reference", "seller_id", "client_name", "title", "kind", "reason", "priority", "status",
               "asins", "assignee", "opened_at", "amazon_notice", "notes", "marketplace",
               "contact_name", "contact_email")
FIELDS = {"clients": CLIENT_FIELDS, "cases": CASE_FIELDS}
# What a person reads for each field in messages.
FIELD_NAMES = {
    "name": "client name", "client_name": "client name", "seller_id": "seller ID",
    "marketplace": "marketplace", "contact_name": "contact name", "contact_email": "contact email",
    "notes": "notes", "reference": "case reference", "title": "title", "kind": "kind",
    "reason": "reason", "priority": "priority", "status": "status", "asins": "ASINs",
    "assignee": "assignee", "opened_at": "notice date", "amazon_notice": "Amazon's notice",
}
REQUIRED = {"clients": (("name",),), "cases": (("title",), ("kind",), ("reason",), ("seller_id", "client_name"))}

_SELLER = ("seller id", "sellerid", "seller token", "merchant token", "merchant id", "merchant",
           "merchant token id", "amazon seller id", "seller central id")
_CLIENT_NAME = ("client", "client name", "business name", "business", "store name", "store",
                "seller name", "company", "company name", "account name", "customer")
_CONTACT = {
    "marketplace": ("marketplace", "market", "amazon marketplace", "country", "site"),
    "contact_name": ("contact", "contact name", "contact person", "owner name"),
    "contact_email": ("email", "e mail", "contact email", "contact e mail", "email address"),
}
_NOTES = ("notes", "note", "comments", "comment", "remarks")
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "clients": {"name": ("name",) + _CLIENT_NAME, "seller_id": _SELLER, "notes": _NOTES, **_CONTACT},
    "cases": {
        "reference": ("reference", "ref", "case reference", "case ref", "case id", "case number",
                      "case no", "our reference", "internal reference"),
        "seller_id": _SELLER,
        "client_name": _CLIENT_NAME,
        "title": ("title", "case title", "subject", "case", "summary", "issue"),
        "kind": ("kind", "type", "case type", "case kind", "suspension type"),
        "reason": ("reason", "suspension reason", "cause", "violation", "violation type"),
        "priority": ("priority", "urgency"),
        "status": ("status", "case status", "stage"),
        "asins": ("asin", "asins", "affected asins", "asin list", "asins affected"),
        "assignee": ("assignee", "consultant", "assigned to", "owner", "case manager", "handler"),
        "opened_at": ("notice date", "opened", "opened at", "opened on", "date opened", "date",
                      "suspension date", "deactivation date", "notice received", "received"),
        "amazon_notice": ("amazon notice", "amazons notice", "notice", "notice text", "amazon message"),
        "notes": _NOTES,
        **_CONTACT,
    },
}

# Words people write for a vocabulary's value besides its code and its label.
ALIASES = {
    "kind": {"suspension": "account_suspension", "account_suspended": "account_suspension",
             "suspended": "account_suspension", "listing": "listing_deactivation",
             "listing_deactivated": "listing_deactivation", "deactivated_listing": "listing_deactivation"},
    "reason": {"ip": "intellectual_property", "ip_complaint": "intellectual_property",
               "policy": "policy_violation", "complaints": "customer_complaints",
               "performance": "performance_metrics"},
    "priority": {"medium": "normal"},
    "status": {"drafting_poa": "drafting", "submitted_to_amazon": "submitted",
               "more_information_requested": "more_info_requested", "more_info": "more_info_requested"},
}
VOCABULARIES = {"kind": KINDS, "reason": REASONS, "priority": PRIORITIES, "status": STATUSES}


class ImportRefused(DomainError):
    """The file as a whole cannot be imported: unreadable, too long, or its columns do not say
    what is what. Nothing was checked row by row, nothing written."""

    code = "import_refused"
    status = 422


@dataclass(frozen=True)
class RowError:
    row: int  # the spreadsheet's row number: the header is row 1
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


@dataclass
class Change:
    row: int
    action: str  # create, update or unchanged
    label: str  # what a person recognises the record by
    target_id: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # a case's notes cell, to be added as a note
    client_key: str | None = None  # a case of a client this import creates: its seller ID
    reference: str | None = None


@dataclass
class Plan:
    kind: str
    filename: str
    mapping: dict[str, str | None]  # header as written -> field (None: not imported)
    rows: int = 0
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # seller ID -> fields
    remarks: list[str] = field(default_factory=list)
    applied: bool = False
    # The records the preview matched, held until they are applied: the session's identity
    # map holds them weakly, and an update must find them there, not query each again.
    _held: list[Any] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> str:
        """"12 clients to create, 3 to update, 1 unchanged" (or "created", "updated" once applied)."""
        create, update = ("created", "updated") if self.applied else ("to create", "to update")
        text = (f"{plural(self.count('create'), self.kind[:-1])} {create}, {self.count('update')} {update}, "
                f"{self.count('unchanged')} unchanged")
        if self.new_clients:
            text += (f"; {plural(len(self.new_clients), 'new client')} "
                     f"{'created' if self.applied else 'to create'} from the case rows")
        return text


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# ---- reading -------------------------------------------------------------------------------

@dataclass
class Sheet:
    """A file's header and its data rows, streamed again on each call of `rows()`."""

    headers: list[str]
    format: str  # csv or xlsx
    _rows: Callable[[], Iterator[tuple[int, list[Any]]]]

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cells) of each non-blank data row; refuses the file past MAX_ROWS."""
        for number, cells in self._rows():
            if number - 1 > MAX_ROWS:
                raise ImportRefused(f"The file has more than {MAX_ROWS:,} data rows; import at most "
                                    f"{MAX_ROWS:,} rows at a time (split the file).")
            if any(_blank(cell) is False for cell in cells):
                yield number, cells


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def read_sheet(stream: IO[bytes]) -> Sheet:
    """The sheet of a CSV or XLSX file, open for reading in binary and seekable (a file on
    disk, an upload's stream); its rows are read while the file stays open.

    Raises ImportRefused for bytes that are neither, or a file without a header row."""
    stream.seek(0)
    start = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if start.startswith(b"PK\x03\x04"):
        sheet = _xlsx(stream)
    elif start.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused("This is an old Excel (.xls) workbook: save it as .xlsx or as CSV and import that.")
    elif b"\x00" in start and not start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportRefused("This file is neither CSV nor XLSX: save the spreadsheet as one of them.")
    elif start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportRefused("This CSV is in UTF-16: save it as CSV UTF-8 and import that.")
    else:
        sheet = _csv(stream)
    if not any(sheet.headers):
        raise ImportRefused("The first row holds no column names: the header row must come first.")
    return sheet


def _encoding(stream: IO[bytes]) -> str:
    """utf-8-sig when every byte decodes as UTF-8 (read in chunks), else cp1252."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream.seek(0)
    try:
        while chunk := stream.read(SNIFF_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "cp1252"
    finally:
        stream.seek(0)


class _Borrowed(io.RawIOBase):
    """The caller's file, read through a text wrapper that must not close it when it goes."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._raw.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


def _text(stream: IO[bytes], encoding: str) -> io.TextIOWrapper:
    """The file as text from its start (each call reads it again, from the start)."""
    stream.seek(0)
    return io.TextIOWrapper(io.BufferedReader(_Borrowed(stream)), encoding=encoding, errors="replace",
                            newline="")


def _csv(stream: IO[bytes]) -> Sheet:
    encoding = _encoding(stream)
    text = _text(stream, encoding)
    first = text.readline()
    delimiter = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))

    def reader() -> csv.reader:
        return csv.reader(_text(stream, encoding), delimiter=delimiter)

    try:
        headers = next(reader(), [])
    except csv.Error as exc:
        raise ImportRefused(f"The CSV cannot be read: {exc}.") from None

    def rows() -> Iterator[tuple[int, list[Any]]]:
        lines = reader()
        try:
            next(lines, None)
            for number, cells in enumerate(lines, start=2):
                yield number, cells
        except csv.Error as exc:
            raise ImportRefused(f"The CSV cannot be read after row {lines.line_num}: {exc}.") from None

    return Sheet([h.strip() for h in headers], "csv", rows)


def _xlsx(stream: IO[bytes]) -> Sheet:
    import openpyxl  # heavy: loaded only when a workbook comes in (tests/test_layers.py)
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError,
                  IndexError, AttributeError, SyntaxError)  # what openpyxl raises on a broken part

    def refused(exc: Exception) -> ImportRefused:
        return ImportRefused(f"This file is not a readable XLSX workbook ({exc.__class__.__name__}): "
                             "save the spreadsheet as .xlsx or CSV.")

    _check_unpacked_size(stream)

    def workbook():
        stream.seek(0)
        try:
            return openpyxl.load_workbook(stream, read_only=True, data_only=True)
        except unreadable as exc:
            raise refused(exc) from None

    book = workbook()
    try:
        if not book.worksheets:
            raise ImportRefused("The workbook has no sheet.")
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the size a sheet claims is not read: 16,384 empty columns cost nothing
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
    except unreadable as exc:
        raise refused(exc) from None
    finally:
        book.close()
    headers = ["" if cell is None else str(cell).strip() for cell in first]
    while headers and not headers[-1]:
        headers.pop()
    width = max(len(headers), 1)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        book = workbook()
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()
            for number, cells in enumerate(sheet.iter_rows(min_row=2, max_col=width, values_only=True), start=2):
                yield number, list(cells)
        except unreadable as exc:
            raise refused(exc) from None
        finally:
            book.close()

    return Sheet(headers, "xlsx", rows)


MAX_UNPACKED_MB = 200  # an XLSX's parts once unpacked: 20,000 real rows need a tenth of it


def _check_unpacked_size(stream: IO[bytes]) -> None:
    """Refuse a workbook whose parts would unpack to more than MAX_UNPACKED_MB (openpyxl reads
    the shared strings whole, even in read-only mode: a 158 KB file of 150 MB of strings took
    424 MB of memory), before any part is unpacked."""
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportRefused(f"This file is not a readable XLSX workbook ({exc.__class__.__name__}): "
                            "save the spreadsheet as .xlsx or CSV.") from None
    finally:
        stream.seek(0)
    if unpacked > MAX_UNPACKED_MB * 1024 * 1024:
        raise ImportRefused(f"This workbook unpacks to {unpacked / 2**20:,.0f} MB, more than the "
                            f"{MAX_UNPACKED_MB} MB an import reads: save it as CSV, or split it.")


# ---- mapping -------------------------------------------------------------------------------

def normalise(header: str) -> str:
    """"Seller ID", "seller_id" and "SELLER-ID " all read "seller id"."""
    text = str(header or "").lower().replace("'", "").replace("\u2019", "")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def guess_field(kind: str, header: str) -> str | None:
    name = normalise(header)
    for fieldname, words in SYNONYMS[kind].items():
        if name == normalise(fieldname) or name in words:
            return fieldname
    return None


def remembered_mapping(actor: User, kind: str) -> dict[str, str | None]:
    """The agency's remembered mapping for `kind`: normalised header -> field (None: skipped)."""
    agency = db.session.get(Agency, actor.agency_id)
    return dict(((agency.import_mappings or {}).get(kind)) or {})


def resolve_mapping(kind: str, headers: list[str], explicit: dict[str, str | None] | None = None,
                    remembered: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """header -> field for each column, or raise ImportRefused naming what is missing or doubled."""
    _check_kind(kind)
    explicit = {normalise(h): f for h, f in (explicit or {}).items()}
    remembered = remembered or {}
    known = {normalise(h) for h in headers}
    problems = [f"the mapping names a column the file does not have: {h!r}" for h in explicit if h not in known]
    mapping: dict[str, str | None] = {}
    seen: set[str] = set()
    for header in headers:
        name = normalise(header)
        if not name:
            continue
        if name in seen:
            problems.append(f"two columns are called {header!r}: give each column its own name")
            continue
        seen.add(name)
        if name in explicit:
            target = explicit[name] or None
        elif name in remembered:
            target = remembered[name] or None
        else:
            target = guess_field(kind, header)
        if target is not None and target not in FIELDS[kind]:
            problems.append(f"{header!r} is mapped to {target!r}, which is not a field of {kind} "
                            f"(fields: {', '.join(FIELDS[kind])})")
            target = None
        mapping[header] = target
    used: dict[str, list[str]] = {}
    for header, target in mapping.items():
        if target:
            used.setdefault(target, []).append(header)
    for target, columns in used.items():
        if len(columns) > 1:
            problems.append(f"{len(columns)} columns would be read as {FIELD_NAMES[target]}: "
                            f"{', '.join(columns)}; map all but one to nothing")
    for one_of in REQUIRED[kind]:
        if not any(target in used for target in one_of):
            wanted = " or ".join(FIELD_NAMES[t] for t in one_of)
            problems.append(f"no column is read as {wanted}; name one in the mapping "
                            f"(the file's columns: {', '.join(h for h in headers if h)})")
    if problems:
        raise ImportRefused("The columns cannot be matched to fields: " + "; ".join(problems) + ".")
    return mapping


def _check_kind(kind: str) -> None:
    if kind not in IMPORT_KINDS:
        raise ImportRefused(f"Import clients or cases, not {kind!r}.")


# ---- values --------------------------------------------------------------------------------

def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def vocabulary(name: str, value: str) -> str | None:
    """The code a cell means (its code or its label, any case), or None."""
    key = re.sub(r"[^0-9a-z]+", "_", value.lower()).strip("_")
    if key in VOCABULARIES[name]:
        return key
    return ALIASES[name].get(key)


def _choices(name: str) -> str:
    return ", ".join(code.replace("_", " ").capitalize() for code in VOCABULARIES[name])


_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_NAMED_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d %b %y")
DATE_RULE = "write dates as YYYY-MM-DD or day/month/year, e.g. 2026-11-03 or 03/11/2026"


def parse_when(value: Any, tz: ZoneInfo) -> datetime:
    """A notice date as a cell holds it; raises ValueError with the rule when it is not one."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    text = _cell_text(value)
    moment = None
    try:
        moment = datetime.fromisoformat(text) if re.match(r"^\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        raise ValueError(f"{text!r} is not a date: {DATE_RULE}.") from None
    if moment is None:
        found = _DAY_FIRST.match(text)
        if found:
            day, month, year, hour, minute, second = found.groups()
            try:
                moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                  int(second or 0))
            except ValueError:
                raise ValueError(f"{text!r} is not a day-first date (day/month/year): {DATE_RULE}.") from None
    if moment is None:
        cleaned = " ".join(text.replace(",", " ").split())
        for fmt in _NAMED_FORMATS:
            try:
                moment = datetime.strptime(cleaned, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        raise ValueError(f"{text!r} is not a date: {DATE_RULE}.")
    if moment.year < 1990:
        raise ValueError(f"{text!r} is too long ago for an Amazon notice: {DATE_RULE}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


# ---- preview -------------------------------------------------------------------------------

def _chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _read_rows(sheet: Sheet, mapping: dict[str, str | None]) -> list[tuple[int, dict[str, Any]]]:
    """(row number, {field: cell}) of every data row, only the mapped and non-empty cells."""
    columns = [(i, mapping.get(h)) for i, h in enumerate(sheet.headers)]
    columns = [(i, f) for i, f in columns if f]
    out = []
    for number, cells in sheet.rows():
        values: dict[str, Any] = {}
        for index, fieldname in columns:
            value = cells[index] if index < len(cells) else None
            if isinstance(value, (datetime, date)) and fieldname == "opened_at":
                values[fieldname] = value
            elif (text := _cell_text(value)) != "":
                values[fieldname] = text
        out.append((number, values))
    return out


def _errors(plan: Plan, number: int, error: ValidationFailed, names: dict[str, str] | None = None) -> None:
    for key, message in error.fields.items():
        key = (names or {}).get(key, key)
        plan.errors.append(RowError(number, key, message))


def _clients_by_seller(actor: User, sellers: set[str]) -> dict[str, Client]:
    found: dict[str, Client] = {}
    for chunk in _chunks(sorted(sellers)):
        for client in db.session.scalars(select(Client).where(
                Client.agency_id == actor.agency_id, Client.seller_id.in_(chunk)).order_by(Client.id)):
            found.setdefault(client.seller_id, client)
    return found


def _clients_by_name(actor: User, names: set[str]) -> dict[str, list[Client]]:
    found: dict[str, list[Client]] = {}
    for chunk in _chunks(sorted(names)):
        for client in db.session.scalars(select(Client).where(
                Client.agency_id == actor.agency_id, func.lower(Client.name).in_(chunk)).order_by(Client.id)):
            found.setdefault(client.name.lower(), []).append(client)
    return found


def _preview_clients(actor: User, plan: Plan, rows: list[tuple[int, dict[str, Any]]]) -> None:
    sellers = {v["seller_id"].upper() for _, v in rows if v.get("seller_id")}
    by_seller = _clients_by_seller(actor, sellers)
    by_name = _clients_by_name(actor, {v["name"].lower() for _, v in rows
                                       if v.get("name") and not v.get("seller_id")})
    seen: dict[str, int] = {}
    for number, values in rows:
        seller = (values.get("seller_id") or "").upper()
        existing = by_seller.get(seller) if seller else None
        if existing is None and not seller and values.get("name"):
            namesakes = by_name.get(values["name"].lower(), [])
            if len(namesakes) > 1:
                plan.errors.append(RowError(number, "name", f"{len(namesakes)} clients of your agency are "
                                            f"called {values['name']}: give the seller ID to say which."))
                continue
            existing = namesakes[0] if namesakes else None
        key = seller or f"name:{values.get('name', '').lower()}"
        if key in seen:
            plan.errors.append(RowError(number, "seller_id" if seller else "name",
                                        f"Row {seen[key]} has this client already: each client once per file."))
            continue
        seen[key] = number
        try:
            fields = clean_fields(values, partial=existing is not None)
        except ValidationFailed as exc:
            _errors(plan, number, exc)
            continue
        if existing is None:
            plan.changes.append(Change(number, "create", fields["name"], fields=fields))
            continue
        changed = {k: v for k, v in fields.items() if getattr(existing, k) != v}
        plan.changes.append(Change(number, "update" if changed else "unchanged", existing.name,
                                   target_id=existing.id, fields=changed))


@dataclass
class _People:
    by_email: dict[str, User]
    by_name: dict[str, list[User]]

    def find(self, text: str) -> User | str:
        """The agency's member a cell names (email, or a name only one member has), or why not."""
        key = text.strip().lower()
        if "@" in key:
            person = self.by_email.get(key)
            return person if person is not None else f"Nobody in your agency has the email {text}."
        found = self.by_name.get(" ".join(key.split()), [])
        if len(found) == 1:
            return found[0]
        if found:
            return f"{len(found)} people in your agency are called {text}: give the email."
        return f"Nobody in your agency is called {text}: give a member's name or email."


def _people(actor: User) -> _People:
    members = list(db.session.scalars(select(User).where(User.agency_id == actor.agency_id)))
    by_name: dict[str, list[User]] = {}
    for person in members:
        by_name.setdefault(" ".join(person.name.lower().split()), []).append(person)
    return _People({p.email.lower(): p for p in members}, by_name)


def _title_key(title: str) -> str:
    return " ".join(title.split()).lower()


def _preview_cases(actor: User, plan: Plan, rows: list[tuple[int, dict[str, Any]]]) -> None:
    tz = ZoneInfo(db.session.get(Agency, actor.agency_id).timezone or "UTC")
    people = _people(actor)
    sellers = {v["seller_id"].upper() for _, v in rows if v.get("seller_id")}
    by_seller = _clients_by_seller(actor, sellers)
    by_name = _clients_by_name(actor, {v["client_name"].lower() for _, v in rows
                                       if v.get("client_name") and not v.get("seller_id")})
    references = sorted({v["reference"] for _, v in rows if v.get("reference")})
    by_reference: dict[str, int] = {}
    for chunk in _chunks(references):
        by_reference.update((ref, case_id) for ref, case_id in db.session.execute(select(Case.reference, Case.id)
                            .where(Case.agency_id == actor.agency_id, Case.reference.in_(chunk))))
    known_clients = {c.id for c in by_seller.values()} | {c.id for cs in by_name.values() for c in cs}
    by_title: dict[tuple[int, str], list[int]] = {}
    for chunk in _chunks(sorted(known_clients)):
        for case_id, client_id, title in db.session.execute(select(Case.id, Case.client_id, Case.title).where(
                Case.agency_id == actor.agency_id, Case.client_id.in_(chunk),
                Case.status.in_(OPEN_STATUSES))):
            by_title.setdefault((client_id, _title_key(title)), []).append(case_id)

    # First pass: each row's client and its case (by reference, or by client and title).
    resolved: list[tuple[int, dict[str, Any], Client | None, str | None, int | None]] = []
    seen_refs: dict[str, int] = {}
    seen_titles: dict[tuple[Any, str], int] = {}
    for number, values in rows:
        client, new_key, problem = _row_client(values, by_seller, by_name, plan, number)
        if problem:
            plan.errors.append(RowError(number, *problem))
            continue
        reference = values.get("reference")
        if reference is not None and len(reference) > 100:
            plan.errors.append(RowError(number, "reference", "At most 100 characters."))
            continue
        target = None
        if reference:
            if reference in seen_refs:
                plan.errors.append(RowError(number, "reference", f"Row {seen_refs[reference]} has this "
                                            "reference already: each case once per file."))
                continue
            seen_refs[reference] = number
            target = by_reference.get(reference)
        elif values.get("title"):
            key = (client.id if client else new_key, _title_key(values["title"]))
            if key in seen_titles:
                plan.errors.append(RowError(number, "title", f"Row {seen_titles[key]} has a case of this client "
                                            "with this title already: give each a reference."))
                continue
            seen_titles[key] = number
            matches = by_title.get(key, []) if client else []
            if len(matches) > 1:
                plan.errors.append(RowError(number, "title", f"{len(matches)} open cases of {client.name} have "
                                            "this title: give the case reference to say which."))
                continue
            target = matches[0] if matches else None
        resolved.append((number, values, client, new_key, target))

    targets = sorted({t for *_, t in resolved if t})
    cases: dict[int, Case] = {}
    notes: set[tuple[int, str]] = set()
    for chunk in _chunks(targets):
        for case in db.session.scalars(select(Case).where(Case.id.in_(chunk), Case.agency_id == actor.agency_id)
                                       .options(selectinload(Case.asin_rows))):
            cases[case.id] = case
        notes.update((case_id, body) for case_id, body in db.session.execute(
            select(Note.case_id, Note.body).where(Note.case_id.in_(chunk))))
    plan._held.extend((by_seller, by_name, cases, people))

    # Second pass: each row's fields, by the case form's rules.
    moved_status = 0
    for number, values, client, new_key, target in resolved:
        data: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for name in ("title", "amazon_notice", "asins"):
            if name in values:
                data[name] = values[name]
        for name in ("kind", "reason", "priority", "status"):
            if name in values:
                code = vocabulary(name, values[name])
                if code is None:
                    bad[name] = f"{values[name]!r} is not one of: {_choices(name)}."
                else:
                    data[name] = code
        if "opened_at" in values:
            try:
                data["opened_at"] = parse_when(values["opened_at"], tz)
            except ValueError as exc:
                bad["opened_at"] = str(exc)
        if "assignee" in values:
            person = people.find(values["assignee"])
            if isinstance(person, str):
                bad["assignee"] = person
            else:
                data["assignee_id"] = person.id
        status = data.pop("status", None)
        data["client_id"] = client.id if client else None
        case = cases.get(target) if target else None
        try:
            cleaned = records._clean(actor, data, partial=case is not None)
        except ValidationFailed as exc:
            cleaned = None
            fields = dict(exc.fields)
            if client is None and new_key:
                fields.pop("client_id", None)  # a client this import creates
            bad.update({k: v for k, v in fields.items() if k not in bad})  # "Shoe" says more than "Required."
        if cleaned is None and not bad:
            cleaned = records._clean(actor, {k: v for k, v in data.items() if k != "client_id"}, partial=True)
        if bad:
            _errors(plan, number, ValidationFailed(bad), {"assignee_id": "assignee", "client_id": "client"})
            continue
        if new_key:
            cleaned.pop("client_id", None)
        note = values.get("notes", "")
        if note and len(note) > records.NOTE_MAX_LENGTH:
            plan.errors.append(RowError(number, "notes", records.NOTE_LIMIT_MESSAGE))
            continue
        if case is None:
            if status and status != "open":
                moved_status += 1
            plan.changes.append(Change(number, "create", cleaned.get("title", ""), fields=cleaned,
                                       note=note, client_key=new_key, reference=values.get("reference")))
            continue
        if status and status != case.status:
            moved_status += 1
        changed = {k: v for k, v in cleaned.items() if _differs(case, k, v)}
        if note and (case.id, note) in notes:
            note = ""
        action = "update" if changed or note else "unchanged"
        plan.changes.append(Change(number, action, case.title, target_id=case.id, fields=changed, note=note))
    if moved_status:
        plan.remarks.append(f"{moved_status} rows give a status other than the case's: an import does not move "
                            "a case's status; record submissions and Amazon's replies on the case.")


def _differs(case: Case, name: str, value: Any) -> bool:
    if name == "asins":
        return value != case.asins
    return getattr(case, name) != value


def _row_client(values: dict[str, Any], by_seller: dict[str, Client], by_name: dict[str, list[Client]],
                plan: Plan, number: int) -> tuple[Client | None, str | None, tuple[str, str] | None]:
    """(the agency's client, or the seller ID of a client this import creates, or (field, why not))."""
    seller = (values.get("seller_id") or "").upper()
    name = values.get("client_name", "")
    if seller:
        if seller in by_seller:
            return by_seller[seller], None, None
        if seller in plan.new_clients:
            return None, seller, None
        if not name:
            return None, None, ("seller_id", f"No client of your agency has seller ID {seller}: import the "
                                "client first, or fill the client name column to add it with this case.")
        data = {"name": name, "seller_id": seller}
        for extra in ("marketplace", "contact_name", "contact_email"):
            if values.get(extra):
                data[extra] = values[extra]
        try:
            plan.new_clients[seller] = clean_fields(data)
        except ValidationFailed as exc:
            field_name, message = next(iter(exc.fields.items()))
            return None, None, ("client_name" if field_name == "name" else field_name, message)
        return None, seller, None
    if name:
        found = by_name.get(name.lower(), [])
        if len(found) == 1:
            return found[0], None, None
        if found:
            return None, None, ("client_name", f"{len(found)} clients of your agency are called {name}: "
                                "give the seller ID to say which.")
        return None, None, ("client_name", f"No client of your agency is called {name}: import the client "
                            "first, or give its seller ID and name to add it with this case.")
    return None, None, ("seller_id", "Give the client's seller ID (or its name).")


def preview(actor: User, kind: str, source: str | Path | IO[bytes] | Sheet, *, filename: str = "",
            mapping: dict[str, str | None] | None = None) -> Plan:
    """What importing the file would do, row by row, and every bad row and field. Writes
    nothing. Raises ImportRefused when the file as a whole cannot be read or mapped."""
    _check_kind(kind)
    if isinstance(source, (str, Path)):
        with open(source, "rb") as stream:
            return preview(actor, kind, stream, filename=filename or Path(source).name, mapping=mapping)
    sheet = source if isinstance(source, Sheet) else read_sheet(source)
    used = resolve_mapping(kind, sheet.headers, mapping, remembered_mapping(actor, kind))
    plan = Plan(kind, filename, used)
    rows = _read_rows(sheet, used)
    plan.rows = len(rows)
    if kind == "clients":
        _preview_clients(actor, plan, rows)
    else:
        _preview_cases(actor, plan, rows)
    plan.errors.sort(key=lambda e: e.row)
    skipped = [h for h, f in used.items() if not f]
    if skipped:
        plan.remarks.append("Not imported (no field): " + ", ".join(skipped) + ".")
    return plan


# ---- apply ---------------------------------------------------------------------------------

def import_file(actor: User, kind: str, source: str | Path | IO[bytes] | Sheet, *, dry_run: bool = False,
                filename: str = "", mapping: dict[str, str | None] | None = None,
                open_cases: Callable[[User, list[dict[str, Any]]], list[Case]]) -> Plan:
    """Preview the file and, unless it is a dry run or any row is bad, apply it, all in one
    unit of work: every row or none. `plan.applied` says which; `plan.errors` names each bad
    row and field. `open_cases` opens new cases with their preset deadlines (the layer above
    passes services/deadlines/presets.py `open_cases`). The mapping used is remembered for
    the agency's next import of this kind. Raises ImportRefused as `preview` does."""
    with transaction():
        plan = preview(actor, kind, source, filename=filename, mapping=mapping)
        if dry_run or not plan.ok:
            return plan  # the preview wrote nothing (no abandon(): it would spoil a caller's own unit of work)
        if kind == "clients":
            _apply_clients(actor, plan)
        else:
            _apply_cases(actor, plan, open_cases)
        _remember(actor, kind, plan.mapping)
        plan.applied = True
        audit.record("import", actor, target=f"{kind} import",
                     detail=f"{plan.filename or 'a spreadsheet'}: {plan.summary()}")
    return plan


def _remember(actor: User, kind: str, mapping: dict[str, str | None]) -> None:
    agency = db.session.get(Agency, actor.agency_id)
    stored = dict(agency.import_mappings or {})
    stored[kind] = {normalise(h): f or "" for h, f in mapping.items()}
    agency.import_mappings = stored  # a new dict: JSON columns do not see changes made inside one


def _apply_clients(actor: User, plan: Plan) -> None:
    for change in plan.changes:
        if change.action == "create":
            db.session.add(Client(agency_id=actor.agency_id, **change.fields))
        elif change.action == "update":
            client = db.session.get(Client, change.target_id)
            for name, value in change.fields.items():
                setattr(client, name, value)
    db.session.flush()


def _apply_cases(actor: User, plan: Plan, open_cases: Callable[[User, list[dict[str, Any]]], list[Case]]) -> None:
    created_clients: dict[str, int] = {}
    new_clients = [Client(agency_id=actor.agency_id, **fields) for fields in plan.new_clients.values()]
    db.session.add_all(new_clients)
    db.session.flush()
    for seller, client in zip(plan.new_clients, new_clients):
        created_clients[seller] = client.id
    where = plan.filename or "a spreadsheet"
    notes: list[tuple[Case, str]] = []
    creates = [c for c in plan.changes if c.action == "create"]
    for batch in _chunks(creates):
        rows = []
        for change in batch:
            data = dict(change.fields)
            if change.client_key:
                data["client_id"] = created_clients[change.client_key]
            rows.append(data)
        with timeline.gathered():  # the batch's entries in one INSERT
            for change, case in zip(batch, open_cases(actor, rows)):
                if change.reference:
                    case.reference = change.reference
                _imported(actor, plan, case, change, f"Imported from {where}, row {change.row}", notes)
            notes = _add_notes(actor, notes)
    for change in plan.changes:
        if change.action != "update":
            continue
        case = records.update_case(actor, change.target_id, change.fields) if change.fields else \
            records.get_case(actor, change.target_id)
        _imported(actor, plan, case, change, f"Updated from {where}, row {change.row}", notes)
        if len(notes) >= BATCH:
            notes = _add_notes(actor, notes)
    _add_notes(actor, notes)


def _imported(actor: User, plan: Plan, case: Case, change: Change, summary: str, notes: list[tuple[Case, str]]) -> None:
    timeline.record(case, "imported", actor, summary, {"row": change.row, "file": plan.filename})
    if change.note:
        notes.append((case, change.note))


def _add_notes(actor: User, notes: list[tuple[Case, str]]) -> list[tuple[Case, str]]:
    """Write the notes gathered so far; what is left to gather (none)."""
    if notes:
        records.add_notes(actor, notes)
    return []
