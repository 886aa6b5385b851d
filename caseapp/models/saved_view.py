"""A case list a person named: its filters and sort, their own or shared with the agency."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from caseapp.extensions import db
from caseapp.models.types import UTCDateTime, utcnow


class SavedView(db.Model):
    __tablename__ = "saved_views"
    __table_args__ = (Index("ix_saved_views_agency_id_owner_id", "agency_id", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    shared: Mapped[bool] = mapped_column(default=False)
    # The list's query arguments as the case list reads them (status, client_id, assignee,
    # reason, q, sort, per_page): never a cursor or a page number.
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
