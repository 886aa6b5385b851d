"""A bulk action on the case list: what it did to each case, so its author can undo it.

`items` holds, per case that moved, `{"case_id", "before", "after"}` (assignee id, priority or
status before and after the action); `refused` the cases the action left alone, each
`{"case_id", "title", "reason"}`. An undo fills `undone_at` and, in `not_undone`, the cases it
could not put back and why.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.extensions import db
from caseapp.models.agency import User
from caseapp.models.types import UTCDateTime, utcnow

BULK_ACTIONS = ("reassign", "priority", "status", "close")


class BulkAction(db.Model):
    __tablename__ = "bulk_actions"
    # "The person's latest bulk action" is read through this index.
    __table_args__ = (Index("ix_bulk_actions_actor_id_created_at", "actor_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    # The assignee's id as text ("" for unassigned), the priority or the status.
    value: Mapped[str] = mapped_column(String(40), default="")
    # "selected" or "matching" (every case of the filtered list).
    scope: Mapped[str] = mapped_column(String(20), default="selected")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    items: Mapped[list] = mapped_column(JSON, default=list)
    refused: Mapped[list] = mapped_column(JSON, default=list)
    not_undone: Mapped[list] = mapped_column(JSON, default=list)
    undone_count: Mapped[int] = mapped_column(Integer, default=0)

    actor: Mapped[User] = relationship(lazy="joined")
