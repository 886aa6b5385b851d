"""Make user-supplied file names safe to store, show and offer as download names.

The name is only ever displayed and sent back in Content-Disposition; files are
stored under their SHA-256 (see evidence_storage), never under this name.
"""
from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 200
FALLBACK_STEM = "file"

# Invisible characters that reorder or hide text: "invoice\u202Efdp.exe" shows as
# "invoiceexe.pdf". Also zero-width space, word joiner and the byte order mark.
_INVISIBLE = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A),
                               0x200E, 0x200F, 0x061C, 0x200B, 0x2060, 0xFEFF)}
_EXTENSION = re.compile(r"\.[^.\s]{1,16}$")


def safe_display_name(raw: str | None) -> str:
    """A readable version of `raw` without directories, control or bidi characters,
    at most MAX_LENGTH characters with the extension kept; never empty."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if char.isspace() else char for char in name if _is_visible(char))
    name = " ".join(name.split()).rstrip(" .")
    match = _EXTENSION.search(name)
    extension = match.group() if match else ""
    stem = name[: len(name) - len(extension)].strip(" .")
    stem = stem[: MAX_LENGTH - len(extension)].rstrip(" .")
    return (stem or FALLBACK_STEM) + extension


def download_name(display_name: str) -> str:
    """A name for Content-Disposition: safe as above, with no double quotes.

    werkzeug's send_file adds the RFC 5987 `filename*` form for non-ASCII names.
    """
    return safe_display_name(display_name).replace('"', "'")


def _is_visible(char: str) -> bool:
    if char in _INVISIBLE:
        return False
    category = unicodedata.category(char)
    # Cc: control characters (kept only when they are whitespace, turned into spaces).
    # Cs: lone surrogates, which cannot be encoded and would break the database write.
    return category != "Cs" and (category != "Cc" or char.isspace())
