"""One raw message (RFC 5322 bytes) read into what caseapp files, whatever it holds.

Nothing here raises on bad mail: malformed MIME, missing or wrong charsets, 8-bit headers,
nested messages, TNEF, an HTML-only body with scripts are each read as far as they can be,
and what was odd is said in `flags`, in words a person reads. The work is linear in the
size of the message: text is cut at TEXT_LIMIT before the reply parser sees it, parts are
read at most MAX_PARTS and MAX_DEPTH deep.
"""
from __future__ import annotations

import codecs
import html as html_lib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

import nh3
from mailparser_reply import EmailReplyParser

TEXT_LIMIT = 100_000  # characters of text kept and parsed for the reply
MAX_PARTS = 200
MAX_DEPTH = 8
MESSAGE_ID_RE = re.compile(r"<([^<>\s]{1,250})>")
# Bounded, and never across another "<": each match attempt reads at most 220 characters, so
# a body of unclosed tags costs linear time (".*?" and "[^>]*" made it quadratic).
_BLOCK_END = re.compile(r"(?i)<\s{0,10}(?:br|/p|/div|/tr|/li|/h[1-6]|/blockquote)\b[^<>]{0,200}>")
# Control characters (NUL, ESC, C1) in a header: PostgreSQL refuses NUL in text, and none of
# them is meant to be read.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Codecs that turn text into text; "unicode_escape" and kin would read a mail's bytes as
# Python escapes (lone surrogates, anything).
_REFUSED_CODECS = ("unicode_escape", "raw_unicode_escape", "unicode_internal", "punycode", "idna")


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Parsed:
    message_id: str = ""  # "<...>" as sent, or "" when it has none
    from_address: str = ""
    from_name: str = ""
    to: list[str] = field(default_factory=list)  # To, Cc, Delivered-To, X-Original-To
    subject: str = ""
    sent_at: datetime | None = None
    references: list[str] = field(default_factory=list)  # In-Reply-To first, then References
    text: str = ""  # the whole text (the plain part, else the HTML as text)
    html: str = ""  # the HTML part, sanitised
    attachments: list[Attachment] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    automatic: bool = False  # an auto-reply or a bounce: never answered
    forwarded_from: list[str] = field(default_factory=list)  # senders of forwarded mail in it
    authentication: list[str] = field(default_factory=list)  # Authentication-Results headers, top first


def header(message: Message, name: str, flags: list[str]) -> str:
    """A header as text: encoded words decoded, 8-bit bytes read as UTF-8 or Latin-1."""
    try:
        raw = message.get(name)
    except Exception:  # noqa: BLE001 - a header the parser cannot even return
        flags.append(f"The {name} header could not be read.")
        return ""
    if raw is None:
        return ""
    text = str(raw)
    if isinstance(raw, Header):
        # compat32 wraps a header with 8-bit bytes in a Header of charset unknown-8bit, whose
        # text is replacement marks: take the value as it came instead.
        text = next((str(v) for k, v in message.raw_items() if k.lower() == name.lower()), text)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        # 8-bit bytes in a header arrive as surrogates, which decoding the encoded words
        # would turn into replacement marks: read them as UTF-8, else Latin-1, first.
        data = text.encode("utf-8", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            flags.append(f"The {name} header has 8-bit characters without a charset; read as Latin-1.")
    value = text
    if "=?" in text:
        try:
            value = str(make_header(decode_header(text)))
        except Exception:  # noqa: BLE001 - unknown charset, broken encoded word
            flags.append(f"The {name} header is badly encoded; shown as sent.")
    return " ".join(_CONTROL.sub(" ", value).split())


def _decode(payload: bytes, charset: str | None, what: str, flags: list[str]) -> str:
    if not charset:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            flags.append(f"The {what} has no charset; read as Latin-1.")
            return payload.decode("latin-1")
    try:
        info = codecs.lookup(charset)
        if not getattr(info, "_is_text_encoding", True) or info.name.replace("-", "_") in _REFUSED_CODECS:
            raise LookupError(charset)
        text = payload.decode(info.name)
    except UnicodeDecodeError:
        # Most often Latin-1 (or Windows-1252) sent as UTF-8 by a mail client that lies.
        if charset.lower().replace("_", "-") in ("utf-8", "utf8", "us-ascii", "ascii"):
            flags.append(f"The {what} says it is {charset[:40]} but is not; read as Latin-1.")
            text = payload.decode("latin-1")
        else:
            flags.append(f"The {what} is not valid {charset[:40]}; unreadable characters are marked.")
            text = payload.decode(charset, errors="replace")
    except (LookupError, TypeError, ValueError):
        flags.append(f"The {what} names an unknown charset ({charset[:40]}); read as UTF-8.")
        text = payload.decode("utf-8", errors="replace")
    # Never a lone surrogate: neither the database nor the sanitiser takes one.
    return text.encode("utf-8", "replace").decode("utf-8")


def html_to_text(markup: str) -> str:
    """The words of an HTML body, one block to a line: no tag, script or style left."""
    markup = _BLOCK_END.sub("\n", markup[:TEXT_LIMIT * 4])
    text = html_lib.unescape(nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "head", "title"}))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line).strip()


def _filename(part: Message, flags: list[str], index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    if name:
        try:
            name = str(make_header(decode_header(name)))
        except Exception:  # noqa: BLE001
            pass
    if not name:
        kind = part.get_content_type()
        ext = {"message/rfc822": "eml", "application/pdf": "pdf", "image/png": "png",
               "image/jpeg": "jpg", "application/ms-tnef": "dat"}.get(kind, "bin")
        name = f"attachment-{index}.{ext}"
    return name


def _walk(part: Message, out: Parsed, texts: list[str], htmls: list[str], depth: int, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_PARTS:
        if count[0] == MAX_PARTS + 1:
            out.flags.append(f"More than {MAX_PARTS} parts: the rest were not read.")
        return
    if depth > MAX_DEPTH:
        out.flags.append(f"Parts nested deeper than {MAX_DEPTH} levels were not read.")
        return
    kind = part.get_content_type()
    if kind == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            try:
                data = inner.as_bytes(policy=policy.compat32)
            except Exception:  # noqa: BLE001 - RecursionError: nested past what can be written out
                out.flags.append("A forwarded message could not be written out; its text is kept.")
                data = b""
            out.attachments.append(Attachment(_filename(part, out.flags, len(out.attachments) + 1),
                                              "message/rfc822", data))
            inner_texts: list[str] = []
            _walk(inner, out, inner_texts, htmls, depth + 1, count)
            subject = header(inner, "Subject", out.flags)
            sender = header(inner, "From", out.flags)
            forwarded = parseaddr(sender)[1].strip().lower()
            if forwarded:
                out.forwarded_from.append(forwarded)
            if inner_texts:
                texts.append("\n".join([f"---------- Forwarded message from {sender}: {subject}", *inner_texts]))
        return
    if part.is_multipart():
        payload = part.get_payload()
        if not isinstance(payload, list):
            out.flags.append("A multipart part has no parts; its content was not read.")
            return
        for sub in payload:
            if isinstance(sub, Message):
                _walk(sub, out, texts, htmls, depth + 1, count)
        return
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        disposition = ""
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:  # noqa: BLE001 - a broken transfer encoding
        out.flags.append("A part's transfer encoding is broken; it was read as sent.")
        data = str(part.get_payload()).encode("utf-8", "replace")
    if any("Base64" in type(defect).__name__ for defect in getattr(part, "defects", ())):
        # The stdlib decodes what it can and says nothing but this defect.
        out.flags.append(f"The base64 of a part ({kind}) is broken; it may be cut short or garbled.")
    is_body = disposition != "attachment" and kind in ("text/plain", "text/html") and not part.get_filename()
    if is_body:
        text = _decode(data, part.get_content_charset(), "text" if kind == "text/plain" else "HTML", out.flags)
        (texts if kind == "text/plain" else htmls).append(text)
        return
    if kind == "application/ms-tnef":
        out.flags.append("A winmail.dat (TNEF) part from Outlook: kept as it came; ask the sender "
                         "to send the files as ordinary attachments.")
    out.attachments.append(Attachment(_filename(part, out.flags, len(out.attachments) + 1), kind, data))


_PROGRAM = re.compile(r"(?i)\.(?:exe|com|scr|bat|cmd|pif|msi|dll|vbs|vbe|js|jse|wsf|ps1|jar|lnk|hta|cpl)$")


def _programs_in_zip(attachment: Attachment) -> list[str]:
    """The names of programs inside a zip attachment (its directory only, at most 1,000)."""
    if not attachment.data.startswith(b"PK"):
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(attachment.data)) as archive:
            names = [info.filename for info in archive.infolist()[:1000]]
    except Exception:  # noqa: BLE001 - a broken zip: the evidence pipeline says what it is
        return []
    return [name for name in names if _PROGRAM.search(name.rstrip("/"))]


def _moment(value: str, flags: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        flags.append("The Date header could not be read.")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _automatic(message: Message, sender: str, flags: list[str]) -> bool:
    auto = header(message, "Auto-Submitted", flags).lower()
    precedence = header(message, "Precedence", flags).lower()
    return_path = header(message, "Return-Path", flags)
    return bool((auto and auto != "no") or precedence in ("bulk", "junk", "list", "auto_reply")
                or return_path.strip() == "<>" or header(message, "X-Autoreply", flags)
                or header(message, "X-Autorespond", flags)
                or message.get_content_type() == "multipart/report"
                or sender.lower().startswith(("mailer-daemon@", "postmaster@")))


def parse(raw: bytes) -> Parsed:
    """Never raises: what could not be read is said in `flags`."""
    try:
        return _parse(raw)
    except Exception as error:  # noqa: BLE001 - RecursionError included: keep the mail whatever it is
        out = Parsed()
        out.flags.append(f"The message could not be read ({type(error).__name__}); kept as it came.")
        out.text = raw[:TEXT_LIMIT].decode("utf-8", "replace").replace("\x00", "")
        return out


def _parse(raw: bytes) -> Parsed:
    out = Parsed()
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:  # noqa: BLE001 - the stdlib parser is lenient; this is the last resort
        out.flags.append("The message could not be read as mail at all; kept as it came.")
        out.text = raw[:TEXT_LIMIT].decode("utf-8", "replace")
        return out
    for defect in getattr(message, "defects", [])[:5]:
        out.flags.append(f"Malformed mail: {type(defect).__name__}.")
    flags = out.flags
    ids = MESSAGE_ID_RE.findall(header(message, "Message-ID", flags))
    out.message_id = f"<{ids[0]}>" if ids else ""
    name, address = parseaddr(header(message, "From", flags))
    out.from_name, out.from_address = name[:200], address.strip().lower()[:254]
    recipients = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To"):
        recipients.append(header(message, name, flags))
    out.to = [a.strip().lower() for _, a in getaddresses(recipients)[:100] if a and "@" in a]
    out.subject = header(message, "Subject", flags)[:500]
    out.sent_at = _moment(header(message, "Date", flags), flags)
    refs = MESSAGE_ID_RE.findall(header(message, "In-Reply-To", flags))
    refs += [r for r in MESSAGE_ID_RE.findall(header(message, "References", flags)) if r not in refs]
    out.references = [f"<{r}>" for r in refs[:50]]
    out.automatic = _automatic(message, out.from_address, flags)
    try:
        out.authentication = [" ".join(str(v).split())[:2000]
                              for v in (message.get_all("Authentication-Results") or [])[:10]]
    except Exception:  # noqa: BLE001
        out.authentication = []
    texts: list[str] = []
    htmls: list[str] = []
    _walk(message, out, texts, htmls, 0, [0])
    for attachment in out.attachments:
        programs = _programs_in_zip(attachment)
        if programs:
            flags.append(f"{attachment.filename[:100]} holds a program ({', '.join(programs[:3])[:200]}): "
                         "do not open it; ask the sender for the documents themselves.")
    html = "\n".join(htmls)
    out.html = nh3.clean(html[:TEXT_LIMIT * 4]) if html else ""
    text = "\n\n".join(t for t in texts if t.strip()) or (html_to_text(html) if html else "")
    if len(text) > TEXT_LIMIT:
        flags.append(f"The text is longer than {TEXT_LIMIT:,} characters; the rest is in the mail as kept.")
        text = text[:TEXT_LIMIT]
    out.text = text.replace("\r\n", "\n").replace("\x00", "")
    out.forwarded_from = _forwarded_senders(out.text) + out.forwarded_from
    out.html = out.html.replace("\x00", "")
    out.flags = list(dict.fromkeys(out.flags))  # one line per kind of trouble, however many parts had it
    return out


_FORWARDED_FROM = re.compile(r"(?im)^[>\s]{0,10}(?:From|Von|De|Da|Van)\s{0,3}:[^\n@]{0,200}?([\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,6})")


def _forwarded_senders(text: str) -> list[str]:
    """The senders a forward quotes ("From: ... <x@amazon.com>" lines in the text)."""
    return [address.lower() for address in _FORWARDED_FROM.findall(text[:20_000])][:10]


# The reply parser (mail-parser-reply) looks for "On … wrote:" with patterns such as
# ^On\s(.+?\s?.+?)\swrote: that backtrack quadratically on a long line starting with "On"
# (16,000 characters of "On Mon, … " took 14 s). It sees at most REPLY_LIMIT characters, in
# lines of at most LINE_LIMIT (a real "On … wrote:" line is far shorter): linear then.
REPLY_LIMIT = 20_000
LINE_LIMIT = 200


def _short_lines(text: str) -> tuple[str, bool]:
    """The text with every line longer than LINE_LIMIT cut into pieces; True when one was."""
    lines, cut = [], False
    for line in text.split("\n"):
        if len(line) <= LINE_LIMIT:
            lines.append(line)
            continue
        cut = True
        lines.extend(line[i:i + LINE_LIMIT] for i in range(0, len(line), LINE_LIMIT))
    return "\n".join(lines), cut


def new_text(text: str) -> str:
    """The reply's own words: the quoted history and the "On ... wrote:" line removed."""
    if not text.strip():
        return ""
    head, cut = _short_lines(text[:REPLY_LIMIT])
    cut = cut or len(text) > REPLY_LIMIT
    try:
        message = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl"]).read(text=head)
    except Exception:  # noqa: BLE001 - the whole text is better than none
        return text.strip()
    if len(message.replies) > 1:  # a quoted history begins within the head: the reply is above it
        return (message.latest_reply or text).strip()
    # No history found: all of it is new. The text as it came when the parser saw only a
    # cut version of it (long lines in pieces, or only its start).
    return text.strip() if cut else (message.latest_reply or text).strip()
