"""Pages of results without counting the whole table: one row more than a page says
whether there is a next one. At 100,000 cases a COUNT per request costs more than the page.

Two ways to page:
- `fetch`: by page number (OFFSET). Fine for short lists; the database still reads and
  throws away every row before the page, so page 200 costs 200 pages.
- `fetch_keyset`: after (or before) a cursor, the sort key of the last (first) row shown.
  Page 200 costs what page 1 costs, since the index is entered at the cursor. The cursor
  is opaque text in the "Next"/"Previous" links and the API's `next` URL.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select

from caseapp.extensions import db
from caseapp.core.parsing import MAX_ID, MAX_PAGE, json_depth_exceeds, parse_moment, text_problem
MAX_CURSOR_LENGTH = 1000  # a client name of 200 characters, base64, fits with room to spare
CURSOR_DEPTH = 3  # {"s": ..., "v": [..., {"t": ...}]}


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    has_next: bool
    has_previous: bool | None = None  # None: page > 1
    next_cursor: str = ""
    previous_cursor: str = ""
    total: int | None = None  # the whole list's length by capped_count, where the caller counted it

    @property
    def first(self) -> int:
        """The number of the page's first row in the whole list (OFFSET paging)."""
        return (self.page - 1) * self.per_page + 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1 if self.has_previous is None else self.has_previous

    @property
    def prev_num(self) -> int | None:
        return max(self.page - 1, 1) if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    @property
    def next_args(self) -> dict[str, Any]:
        """Query arguments of the next page's link (page number, and the cursor if any)."""
        args: dict[str, Any] = {"page": self.next_num or self.page}
        if self.next_cursor:
            args["after"] = self.next_cursor
        return args

    @property
    def prev_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"page": self.prev_num or 1}
        if self.previous_cursor and args["page"] > 1:
            args["before"] = self.previous_cursor  # page 1 is plainly the first page
        return args


def _read(stmt: Select, tuples: bool) -> list:
    if tuples:
        return list(db.session.execute(stmt).unique())
    return list(db.session.scalars(stmt).unique())


COUNT_CAP = 1000  # beyond this a list's length reads "1,000+": nobody needs the exact figure at a glance


def capped_count(stmt: Select, cap: int = COUNT_CAP) -> int:
    """How many rows `stmt` selects, counted up to cap + 1: a count that stops early, so a
    list can say "1–25 of 1,000+" without reading every row of a large table."""
    found = stmt.with_only_columns(literal_column("1"), maintain_column_froms=True).order_by(None)
    return db.session.scalar(select(func.count()).select_from(found.limit(cap + 1).subquery())) or 0


def fetch(stmt: Select, page: int, per_page: int, tuples: bool = False) -> Page:
    page = min(max(page, 1), MAX_PAGE)
    found = _read(stmt.limit(per_page + 1).offset((page - 1) * per_page), tuples)
    return Page(found[:per_page], page, per_page, len(found) > per_page)


# ---- keyset --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SortKey:
    """One column of a sort order: the SQL expression, its direction, and how to read the
    value from a loaded row (for the cursor)."""
    expr: ColumnElement
    descending: bool
    value: Callable[[Any], Any]
    nullable: bool = False
    # Ascending with the NULLs after every value (NULLS LAST), which both databases read
    # straight from a plain index on the column; with it no flag key has to come first.
    nulls_last: bool = False


@dataclass(frozen=True)
class Keyset:
    name: str  # written into cursors, so a cursor of another sort order is refused
    keys: tuple[SortKey, ...] = field(default=())

    def order_by(self, backwards: bool = False) -> list:
        order = []
        for key in self.keys:
            if key.nulls_last:
                order.append(key.expr.desc().nulls_first() if backwards else key.expr.asc().nulls_last())
            else:
                order.append(key.expr.asc() if key.descending == backwards else key.expr.desc())
        return order


class BadCursor(ValueError):
    """A cursor that was not made by this list (edited, truncated, or of another sort)."""


def encode_cursor(keyset: Keyset, row) -> str:
    values = []
    for key in keyset.keys:
        value = key.value(row)
        values.append({"t": value.isoformat()} if isinstance(value, datetime) else value)
    raw = json.dumps({"s": keyset.name, "v": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(keyset: Keyset, cursor: str) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor("longer than any cursor this list makes")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if json_depth_exceeds(raw, CURSOR_DEPTH):
            raise BadCursor("nested deeper than a cursor")
        data = json.loads(raw.decode("utf-8"))  # as UTF-8, the encoding the depth was counted in
        if not isinstance(data, dict) or data.get("s") != keyset.name:
            raise BadCursor("a cursor of another list or sort order")
        values = data["v"]
        if not isinstance(values, list) or len(values) != len(keyset.keys):
            raise BadCursor("a cursor of another shape")
        out = []
        for key, value in zip(keyset.keys, values):
            if isinstance(value, dict):
                value = parse_moment(value["t"])
                if value is None:
                    raise BadCursor("not a time with its zone, or one beyond the calendar's edge")
                value = value.astimezone(timezone.utc)
            if value is None and not key.nullable:
                raise BadCursor("an empty value where there cannot be one")
            if value is not None and type(value) is not _python_type(key):
                raise BadCursor("a value of the wrong kind")
            if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
                raise BadCursor("a number no row can have")  # PostgreSQL would refuse to compare it
            if isinstance(value, str) and text_problem(value):
                raise BadCursor(text_problem(value))  # no database can compare with it
            out.append(value)
        return out
    except (binascii.Error, UnicodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError, OverflowError, RecursionError) as exc:
        raise exc if isinstance(exc, BadCursor) else BadCursor(str(exc)) from exc


def _python_type(key: SortKey) -> type:
    sql_type = key.expr.type
    return getattr(sql_type, "impl_instance", sql_type).python_type  # through TypeDecorators


def _beyond(keys: tuple[SortKey, ...], values: list[Any], backwards: bool) -> ColumnElement:
    """Rows strictly after the cursor in the sort order (before it, going backwards).

    Written as k1 > v1 OR (k1 = v1 AND k2 > v2) OR ... because directions can differ per
    key, which a row-value comparison cannot express; the extra `k1 >= v1` up front lets
    both databases start an index range scan at the cursor.
    """
    terms = []
    for i, (key, value) in enumerate(zip(keys, values)):
        prefix = [k.expr.is_(None) if v is None else k.expr == v for k, v in zip(keys[:i], values[:i])]
        if key.nulls_last:  # ascending, NULLs after every value
            if value is None:  # after NULL: nothing; before it: every value
                if backwards:
                    terms.append(and_(*prefix, key.expr.is_not(None)))
            else:
                terms.append(and_(*prefix, key.expr < value if backwards
                                  else or_(key.expr > value, key.expr.is_(None))))
            continue
        if value is None:
            continue  # nothing is "after NULL" within the NULL group; the flag key before it orders groups
        ahead = key.descending != backwards
        terms.append(and_(*prefix, key.expr < value if ahead else key.expr > value))
    first, first_value = keys[0], values[0]
    if first_value is None or first.nullable:
        return or_(*terms)
    ahead = first.descending != backwards
    return and_(first.expr <= first_value if ahead else first.expr >= first_value, or_(*terms))


def fetch_keyset(stmt: Select, keyset: Keyset, per_page: int, *, after: str = "", before: str = "",
                 page: int = 1, tuples: bool = False) -> Page:
    """One page after `after`, before `before`, or the first page; with a cursor, `page` is
    only shown. A bare page number above 1 (an old bookmark, `?page=` in the API) is
    found by OFFSET, and its links carry on by cursor. With `tuples`, the items are whole
    result rows (tuples of every entity selected) rather than the first entity alone, and
    the keyset's `value` functions read such a row.

    Raises BadCursor for a cursor this list did not make.
    """
    backwards = bool(before) and not after
    cursor = after or before
    if not cursor and page > 1:
        found = fetch(stmt.order_by(*keyset.order_by()), page, per_page, tuples=tuples)
        if found.items:
            found.next_cursor = encode_cursor(keyset, found.items[-1]) if found.has_next else ""
            found.previous_cursor = encode_cursor(keyset, found.items[0])
        return found
    if cursor:
        stmt = stmt.where(_beyond(keyset.keys, decode_cursor(keyset, cursor), backwards))
    rows = _read(stmt.order_by(*keyset.order_by(backwards)).limit(per_page + 1), tuples)
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, bool(after)
    page = min(max(page, 1), MAX_PAGE)
    if not has_previous:
        page = 1  # whatever the link said, this is the first page
    return Page(rows, page, per_page, has_next, has_previous,
                next_cursor=encode_cursor(keyset, rows[-1]) if rows and has_next else "",
                previous_cursor=encode_cursor(keyset, rows[0]) if rows and has_previous else "")
