"""Make user-supplied file names safe to store, show, download and unpack.

The name is only ever displayed, sent back in Content-Disposition and used as a member of
the evidence bundle; files are stored under their SHA-256 (see storage.py), never
under this name.

Every name is normalised with NFKC before it is cleaned: "．．／．．／.ssh／authorized_keys"
(fullwidth dots and slashes) reads as "../../.ssh/authorized_keys" to anything that folds
compatibility characters, as werkzeug's ASCII fallback and some unzip tools do, so it is
cleaned as that. A name that leaves here has no directory part, no leading dot, no
control, direction or zero-width character, and is never empty.
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_LENGTH = 200  # characters of a displayed name
MAX_FILE_BYTES = 200  # UTF-8 bytes of a name a file system gets (most allow 255)
FALLBACK_STEM = "file"

# Invisible characters that reorder or hide text: "invoice\u202Efdp.exe" shows as
# "invoiceexe.pdf". Also zero-width space, word joiner and the byte order mark.
_INVISIBLE = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A),
                               0x200E, 0x200F, 0x061C, 0x200B, 0x2060, 0xFEFF)}
_EXTENSION = re.compile(r"\.[^.\s]{1,16}$")
# Not allowed in a Windows file name (and "/" nowhere); a double quote becomes "'" first.
_NOT_IN_FILE_NAMES = re.compile(r'[<>:"/\\|?*]')
# Windows device names, whatever the extension ("CON.txt" is the console too); digits
# after COM and LPT include the superscripts Windows counts, which NFKC makes ASCII.
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9]|CONIN\$|CONOUT\$)", re.IGNORECASE)
_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9 !#$%&'()+,\-.;=@\[\]^_`{}~]")
# Letters NFKD does not take apart into an ASCII letter and an accent.
_ASCII_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "ss",
                             "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th"})


def safe_display_name(raw: str | None) -> str:
    """A readable version of `raw` without directories, leading dots, control or bidi
    characters, at most MAX_LENGTH characters with the extension kept; never empty."""
    name = unicodedata.normalize("NFKC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if char.isspace() else char for char in name if _is_visible(char))
    return _shorten(" ".join(name.split()), max_chars=MAX_LENGTH)


def download_name(display_name: str) -> str:
    """The name a downloaded or bundled file gets on the recipient's disk: the display name
    cleaned again (rows stored before a rule was added are covered too), without double
    quotes and the other characters Windows refuses, not a Windows device name, at most
    MAX_FILE_BYTES long."""
    name = _NOT_IN_FILE_NAMES.sub("_", safe_display_name(display_name).replace('"', "'"))
    return _file_system_safe(name)


def ascii_name(display_name: str) -> str:
    """download_name in printable ASCII, for clients that do not read RFC 6266's
    filename*: accents taken off ("Müller" gives "Muller"), other characters dropped or
    made "_". Built here: werkzeug's own fallback only strips what is not ASCII after
    NFKD, which turns fullwidth "．．／" into "../"."""
    name = _NOT_ASCII_NAME.sub("_", ascii_letters(download_name(display_name)))
    return _file_system_safe(" ".join(name.split()))


def ascii_letters(text: str) -> str:
    """`text` with accents taken off and ligatures spelled out ("Müller & Łódź" gives
    "Muller & Lodz"); what has no ASCII form is dropped."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return text.encode("ascii", "ignore").decode("ascii")


def slug(text: str, fallback: str = "client") -> str:
    """A name for a file: ASCII letters and digits joined by hyphens, at most 60 characters
    ("Müller & Łódź GmbH" gives "Muller-Lodz-GmbH"); `fallback` when nothing is left."""
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_letters(text)).strip("-")[:60].strip("-") or fallback


def content_disposition(display_name: str, attachment: bool = True) -> str:
    """A Content-Disposition value with the ASCII name, and the UTF-8 one when it differs."""
    plain, full = ascii_name(display_name), download_name(display_name)
    value = f'{"attachment" if attachment else "inline"}; filename="{plain}"'
    if full != plain:
        value += "; filename*=UTF-8''" + quote(full, safe="!#$&+-.^_`|~")
    return value


def _file_system_safe(name: str) -> str:
    name = _shorten(name, max_bytes=MAX_FILE_BYTES)
    stem = name.split(".", 1)[0].rstrip(" ")
    if _RESERVED.fullmatch(stem):
        name = "_" + name
    return name


def _shorten(name: str, max_chars: int | None = None, max_bytes: int | None = None) -> str:
    """`name` without leading or trailing dots and spaces, cut to `max_chars` characters or
    `max_bytes` UTF-8 bytes with its extension kept; FALLBACK_STEM when no stem is left."""
    name = name.rstrip(" .")
    match = _EXTENSION.search(name)
    extension = match.group() if match else ""
    stem = name[: len(name) - len(extension)].strip(" .")
    if max_chars is not None:
        stem = stem[: max_chars - len(extension)]
    if max_bytes is not None:
        budget = max_bytes - len(extension.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")  # whole characters only
    return (stem.rstrip(" .") or FALLBACK_STEM) + extension


def _is_visible(char: str) -> bool:
    if char in _INVISIBLE:
        return False
    category = unicodedata.category(char)
    # Cc: control characters (kept only when they are whitespace, turned into spaces).
    # Cs: lone surrogates, which cannot be encoded and would break the database write.
    return category != "Cs" and (category != "Cc" or char.isspace())
