"""Pages of results without counting the whole table: one row more than a page says
whether there is a next one. At 100,000 cases a COUNT per request costs more than the page."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select

from caseapp.extensions import db

MAX_PAGE = 100_000


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def fetch(stmt: Select, page: int, per_page: int) -> Page:
    page = min(max(page, 1), MAX_PAGE)
    rows = list(db.session.scalars(stmt.limit(per_page + 1).offset((page - 1) * per_page)).unique())
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)
