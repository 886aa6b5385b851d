"""Deadlines as lists: an agency's deadlines filtered and paged (GET /api/v1/deadlines), and
the next deadline of each case of a page of cases (the case object's `next_deadline`).

Each is one query, whatever the number of rows: a page of deadlines is read through one of
the deadlines indexes (agency + status + due time, or agency + owner + status + due time,
or case + status + due time), entered at the cursor; the next deadlines of a page of cases
come in one windowed query over ix_deadlines_case_id_status_due_at.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from caseapp.core import paging
from caseapp.core.errors import ValidationFailed
from caseapp.extensions import db
from caseapp.models import DEADLINE_KINDS, DEADLINE_STATUSES, Case, Deadline, User
from caseapp.services.deadlines import clocks

DEFAULT_STATUS = "open"  # what a script asking "what is due?" wants; closed ones on request
# Soonest first; the id breaks ties so that a cursor names one place in the order.
KEYSET = paging.Keyset("due", (paging.SortKey(Deadline.due_at, False, lambda d: d.due_at),
                               paging.SortKey(Deadline.id, False, lambda d: d.id)))


@dataclass(frozen=True)
class DeadlineFilters:
    """What GET /deadlines narrows by. `mine`: the actor owns it (is the case's assignee);
    `assignee_id`: that person owns it; due_after <= due_at < due_before."""

    mine: bool = False
    assignee_id: int | None = None
    case_id: int | None = None
    kind: str | None = None
    status: str = DEFAULT_STATUS
    due_before: datetime | None = None
    due_after: datetime | None = None

    def check(self) -> None:
        errors = {}
        if self.kind is not None and self.kind not in DEADLINE_KINDS:
            errors["kind"] = "Choose one of: " + ", ".join(DEADLINE_KINDS) + "."
        if self.status not in DEADLINE_STATUSES:
            errors["status"] = "Choose one of: " + ", ".join(DEADLINE_STATUSES) + "."
        if errors:
            raise ValidationFailed(errors, "Invalid query parameter.")


def list_deadlines(actor: User, filters: DeadlineFilters, *, after: str = "", per_page: int = 50,
                   page: int = 1) -> paging.Page:
    """A page of the agency's deadlines matching `filters`, soonest due first (then by id).

    Raises ValidationFailed for an unknown kind or status, paging.BadCursor for a cursor
    this list did not make."""
    filters.check()
    stmt = select(Deadline).where(Deadline.agency_id == actor.agency_id,
                                  Deadline.status == filters.status)
    if filters.mine:
        stmt = stmt.where(Deadline.owner_id == actor.id)
    if filters.assignee_id is not None:
        stmt = stmt.where(Deadline.owner_id == filters.assignee_id)
    if filters.case_id is not None:
        stmt = stmt.where(Deadline.case_id == filters.case_id)
    if filters.kind is not None:
        stmt = stmt.where(Deadline.kind == filters.kind)
    if filters.due_after is not None:
        stmt = stmt.where(Deadline.due_at >= filters.due_after)
    if filters.due_before is not None:
        stmt = stmt.where(Deadline.due_at < filters.due_before)
    return paging.fetch_keyset(stmt, KEYSET, per_page, after=after, page=page)


def next_deadlines(cases: list[Case]) -> dict[int, Deadline]:
    """Each case's soonest running deadline (the follow-up with Amazon included): the one
    `case.next_deadline_at` is the due time of. Cases with none are left out. One query."""
    ids = sorted({c.id for c in cases})
    if not ids:
        return {}
    ranked = (select(Deadline.id.label("id"),
                     func.row_number().over(partition_by=Deadline.case_id,
                                            order_by=(Deadline.due_at, Deadline.id)).label("n"))
              .where(Deadline.case_id.in_(ids), clocks.running_sql()).subquery())
    rows = db.session.scalars(select(Deadline).join(ranked, ranked.c.id == Deadline.id)
                              .where(ranked.c.n == 1))
    return {d.case_id: d for d in rows}
