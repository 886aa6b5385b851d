"""Decide what an uploaded evidence file is from its bytes, never from its name.

This is an allow-list: a file is accepted only when its content is positively
recognised as one of the types below; everything else is refused. The explicit
checks for executables, web pages, SVG and scripts exist for the cases that would
otherwise pass as text or ZIP, and to give the user a precise message.

The name matters in one place only: a text file named *.csv is labelled CSV when its
rows have a consistent delimiter. Whether a file is refused depends on content alone,
so the same bytes get the same verdict whatever they are called.

Text checks look at the head (the first few KiB), as browsers do when they sniff.
Downloads must still be sent as attachments with `X-Content-Type-Options: nosniff`;
this module lowers the risk, it does not replace that.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Callable

from caseapp.core.errors import DomainError


@dataclass(frozen=True)
class DetectedType:
    content_type: str
    label: str


PDF = DetectedType("application/pdf", "PDF document")
PNG = DetectedType("image/png", "PNG image")
JPEG = DetectedType("image/jpeg", "JPEG image")
GIF = DetectedType("image/gif", "GIF image")
WEBP = DetectedType("image/webp", "WebP image")
TEXT = DetectedType("text/plain", "Plain text")
CSV = DetectedType("text/csv", "CSV spreadsheet")
DOCX = DetectedType("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    "Word document")
XLSX = DetectedType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "Excel workbook")
EML = DetectedType("message/rfc822", "Email message")
ZIP = DetectedType("application/zip", "ZIP archive")

ALLOWED_TYPES_TEXT = ("PDF, PNG, JPEG, GIF, WebP, plain text, CSV, Word (.docx), "
                      "Excel (.xlsx), email (.eml) and ZIP")


class RefusedType(DomainError):
    code = "unsupported_media_type"
    status = 415

    def __init__(self, problem: str, reason: str):
        super().__init__(f"{problem} Accepted file types: {ALLOWED_TYPES_TEXT}.")
        self.reason = reason  # short machine-readable cause, for logs and tests


_SIGNATURES = [
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
]
_EXECUTABLE_SIGNATURES = (
    b"\x7fELF",  # Linux and most Unix
    b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",  # Mach-O
    b"\xca\xfe\xba\xbe",  # Java class, and Mach-O universal binaries
    b"\x00asm",  # WebAssembly
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # first entry / empty archive

# C0 controls other than tab, newline, form feed and carriage return; DEL; C1 controls.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_EMAIL_FIELDS = {"from", "to", "subject", "received", "mime-version", "return-path", "date",
                 "message-id"}
_FIELD_NAME = re.compile(r"([!-9;-~]+):")  # RFC 5322: printable ASCII except the colon

# Starts that make browsers treat a document as HTML (WHATWG MIME sniffing).
# The patterns below avoid neighbouring quantifiers that match the same characters, so a
# crafted upload cannot make the regex engine backtrack for minutes (see the hostile-text test).
_MARKUP_START = re.compile(
    r"<(?:!--|(?:!doctype\s+html|html|head|body|script|iframe|h1|div|font|table|a|style|"
    r"title|b|br|p)(?:[\s/>]|$))", re.I)
_MARKUP_ANYWHERE = re.compile(
    r"<(?:!doctype\s+html|html|script|iframe|object|embed)\b|<\?xml-stylesheet"
    r"|www\.w3\.org/1999/xhtml", re.I)
_SVG_ANYWHERE = re.compile(r"<svg\b|www\.w3\.org/2000/svg", re.I)
_LEADING_COMMENTS = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.S)
_SCRIPT_START = re.compile(
    r"""\#!                                        # shebang: run by an interpreter
      | <%                                         # ASP, JSP
      | (?i:@echo\s+off\b)                         # Windows batch file
      | ["']use\ strict["']
      | (?:var|let|const)\s+[\w$]+\s*=
      | (?:async\s+)?function\b[\s*]*(?:[\w$]+\s*)?\(
      | [(!]\s*function\b
      | import[\ \t]+(?:[\w${},*]+[\ \t]+)+?from[\ \t]+["']
      | module\.exports\b
      | require\s*\(\s*["']
    """, re.X)
_SCRIPT_ANYWHERE = re.compile(r"<\?php\b", re.I)


def detect(head: bytes, filename: str | None,
           open_full: Callable[[], BinaryIO] | None = None) -> DetectedType:
    """Return the type of a file from its first bytes, or raise RefusedType.

    `open_full` opens the whole file; it is used only for ZIP-based files, whose list of
    entries sits at the end. Without it, the entry names found in `head` are used.
    """
    if not head:
        raise RefusedType("The file is empty.", "empty")
    if head.startswith(_EXECUTABLE_SIGNATURES) or _is_dos_executable(head):
        raise RefusedType("This file is a program, and programs are not accepted.", "executable")
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(_ZIP_SIGNATURES):
        names = _zip_names(open_full) if open_full else _zip_names_in_head(head)
        return _zip_kind(names)
    text = _decode_text(head)
    if text is None:
        raise RefusedType("This file type is not accepted.", "unknown")
    return _text_kind(text, filename or "")


def _is_dos_executable(head: bytes) -> bool:
    """'MZ' opens every Windows .exe/.dll; a binary header has NUL bytes, text never does."""
    return head.startswith(b"MZ") and b"\x00" in head[:64]


def _zip_names(open_full: Callable[[], BinaryIO]) -> list[str]:
    with open_full() as stream:
        if not stream.seekable():
            stream = io.BytesIO(stream.read())
        try:
            with zipfile.ZipFile(stream) as archive:
                return archive.namelist()
        except (zipfile.BadZipFile, EOFError, ValueError):
            raise RefusedType("This ZIP-based file is damaged and cannot be opened.",
                              "damaged") from None


def _zip_names_in_head(head: bytes) -> list[str]:
    """Entry names from the local file headers that fit in `head` (best effort)."""
    names = []
    for match in re.finditer(re.escape(b"PK\x03\x04"), head):
        start = match.start() + 30
        if start > len(head):
            break
        (length,) = struct.unpack_from("<H", head, match.start() + 26)
        if start + length <= len(head):
            names.append(head[start:start + length].decode("utf-8", "replace"))
    return names


def _zip_kind(names: list[str]) -> DetectedType:
    lowered = [name.lower() for name in names]
    if any(name.endswith(".class") or name.endswith("classes.dex") for name in lowered):
        raise RefusedType("This archive is a Java or Android program, and programs are not "
                          "accepted.", "executable")
    if any(name.endswith("vbaproject.bin") for name in lowered):
        raise RefusedType("This Office file contains macros, which are not accepted. Save it "
                          "as a normal .docx or .xlsx file first.", "macros")
    if "[content_types].xml" in lowered:
        if any(name.startswith("word/") for name in lowered):
            return DOCX
        if any(name.startswith("xl/") for name in lowered):
            return XLSX
    return ZIP


def _decode_text(head: bytes) -> str | None:
    """The head as text, or None when it is binary.

    UTF-16 needs its byte order mark. Otherwise UTF-8, then Windows-1252 (Latin-1 with
    the printable characters Windows puts in 0x80-0x9F, such as the euro sign).
    A trailing character cut in half by the head limit is not an error.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8-sig", "cp1252"]
    for encoding in encodings:
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return None if _CONTROL_CHARS.search(text) else text
    return None


def _text_kind(text: str, filename: str) -> DetectedType:
    if _looks_like_email(text):
        return EML  # before the markup checks: emails often carry an HTML part
    start = text.lstrip()
    if _SVG_ANYWHERE.search(text):
        raise RefusedType("This file is an SVG image, which can contain scripts and is not "
                          "accepted. Convert it to PNG first.", "svg")
    if _MARKUP_START.match(start) or _MARKUP_ANYWHERE.search(text):
        raise RefusedType("This file is a web page (HTML), which is not accepted. Save the "
                          "page as PDF or take a screenshot instead.", "html")
    code = start[_LEADING_COMMENTS.match(start).end():]
    if _SCRIPT_START.match(code) or _SCRIPT_ANYWHERE.search(text):
        raise RefusedType("This file is a script (program code), which is not accepted.",
                          "script")
    if filename.strip().lower().endswith(".csv") and _has_consistent_delimiter(text):
        return CSV
    return TEXT


def _looks_like_email(text: str) -> bool:
    """An RFC 822 header block: only header lines up to the first blank line, at least
    two of them well-known message fields. The block may run past the head."""
    lines = text.split("\n")[:-1]  # the last piece may be cut off by the head limit
    known: set[str] = set()
    for index, line in enumerate(lines):
        line = line.rstrip("\r")
        if not line:
            break
        if line[0] in " \t" and index > 0:
            continue  # folded continuation of the previous field
        match = _FIELD_NAME.match(line)
        if not match:
            return False
        if match.group(1).lower() in _EMAIL_FIELDS:
            known.add(match.group(1).lower())
    return len(known) >= 2


def _has_consistent_delimiter(text: str) -> bool:
    """True when, for one of the usual delimiters, every row has the same number (>1) of
    fields. Quoted fields may contain the delimiter or line breaks."""
    for delimiter in ",;\t|":
        try:
            rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if len(rows) > 1 and not text.endswith(("\n", "\r")):
            rows = rows[:-1]  # possibly cut off by the head limit
        widths = {len(row) for row in rows}
        if len(widths) == 1 and widths.pop() > 1:
            return True
    return False
