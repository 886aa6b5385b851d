"""Numbers, ids, dates and text as they arrive from outside: query strings, forms, JSON, the CLI.

Every number and date a request carries is read here, so each rule lives once:

- Digits are ASCII 0-9. `str.isdigit()` also takes "²" and "١٢" (which `int()` then refuses,
  or reads as 12), and `int()` takes " 12", "1_000" and "+5".
- A number has at most MAX_DIGITS digits before it is converted: `int()` refuses more than
  4,300, and a value beyond the columns is refused here rather than by the database
  (SQLite raises OverflowError beyond 64 bits, PostgreSQL's INTEGER ends at 2**31 - 1).
- A date lies between EARLIEST and LATEST, so a day either side of it and its conversion
  to or from any time zone stay inside the calendar (year 1 to 9999).
- Text holds no NUL character and no lone surrogate: neither can be stored (PostgreSQL
  refuses NUL, no database driver can encode a surrogate), so both are refused at the door.
- A JSON body is nested at most MAX_JSON_DEPTH deep, found without recursion before the
  body is parsed (the parser recurses once per level).

Each function returns None (or False) for what it refuses; the caller says why, in words
that fit its field.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any, Iterator

MAX_ID = 2**31 - 1  # an INTEGER column on PostgreSQL; ids, versions and ranks are such columns
MAX_PAGE = 100_000
MAX_DIGITS = 18  # any 18 digits fit a 64-bit integer
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
MAX_JSON_DEPTH = 64
MAX_MOMENT_LENGTH = 40  # "2026-11-29T14:30:00.000000+01:00" with room to spare

_DIGITS = re.compile(r"[0-9]{1,%d}" % MAX_DIGITS)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


# ---------------------------------------------------------------- numbers

def whole_number(value: Any, minimum: int = 0, maximum: int | None = None) -> int | None:
    """`value` (an int, or ASCII digits as text, spaces around allowed) when it is a whole
    number from `minimum` to `maximum`; otherwise None. Booleans and floats are no numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            return None
        value = int(text)
    if not isinstance(value, int):
        return None
    if value < minimum or (maximum is not None and value > maximum):
        return None
    return value


def parse_id(value: Any) -> int | None:
    """The id in `value` (int, or digits as text), or None when it cannot name a row."""
    return whole_number(value, 1, MAX_ID)


def page_number(value: Any, default: int = 1) -> int:
    """A page number from a link or a bookmark; anything else is the first page."""
    number = whole_number(value, 1, MAX_PAGE)
    return default if number is None else number


# ---------------------------------------------------------------- dates and times

def in_calendar(day: date) -> bool:
    return EARLIEST <= day <= LATEST


def parse_date(value: Any) -> date | None:
    """A day written YYYY-MM-DD (ASCII digits) between EARLIEST and LATEST, or None."""
    if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return day if in_calendar(day) else None


def parse_moment(value: Any) -> datetime | None:
    """An ISO 8601 date and time with its UTC offset ("Z" or "+01:00"), as given, or None:
    no offset, not ASCII, or a day outside EARLIEST..LATEST."""
    moment = _iso_datetime(value)
    if moment is None or moment.tzinfo is None:
        return None
    return moment


def parse_local_moment(value: Any) -> datetime | None:
    """A date and time without an offset, as a form's datetime-local field sends it
    ("2026-11-29T14:30", seconds optional, a space for the T allowed); naive, or None."""
    moment = _iso_datetime(value)
    if moment is None or moment.tzinfo is not None:
        return None
    return moment


def _iso_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_MOMENT_LENGTH or not text.isascii() or not _DATE.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if in_calendar(moment.date()) else None


def next_day(day: date) -> date:
    """The day after `day`, which parse_date made sure exists."""
    return day + timedelta(days=1)


# ---------------------------------------------------------------- text and JSON

def text_problem(text: str) -> str | None:
    """What makes `text` impossible to store, in words for the person who sent it, or None."""
    if "\x00" in text:
        return "NUL characters"
    if _SURROGATE.search(text):
        return "lone surrogates (half of a character's UTF-16 pair)"
    return None


def json_texts(value: Any) -> Iterator[str]:
    """Every key and string of a parsed JSON value, however deep, without recursion."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, inner in item.items():
                yield key
                pending.append(inner)
        elif isinstance(item, list):
            pending.extend(item)


# A JSON string, also one the body cuts off (even after a lone backslash): brackets inside
# it do not nest. Every quote starts a match that cannot fail, with possessive repeats, so
# nothing is tried twice and the scan is linear. On UTF-8 bytes this is exact: no byte of a
# multi-byte character is ASCII.
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_CHUNK = 4096


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the UTF-8 JSON `body` nests arrays and objects more than `limit` deep.

    Counted on the bytes, before they are parsed: the parser recurses once per level, so
    a body nested 100,000 deep would exhaust the stack. Linear, and without a Python step
    per byte: a chunk whose openers cannot reach the limit is skipped on its counts, the
    others are summed by itertools (about a second for 25 MB of brackets).
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = 0
    for start in range(0, len(brackets), _CHUNK):
        chunk = brackets[start:start + _CHUNK]
        opened = chunk.count(b"[") + chunk.count(b"{")
        if depth + opened > limit and max(accumulate(map(_STEP.__getitem__, chunk), initial=depth)) > limit:
            return True
        depth += 2 * opened - len(chunk)
    return False
