"""Plan of Action drafts. Each save is a new row (a version); rows are never rewritten."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.extensions import db
from caseapp.models.agency import User
from caseapp.models.types import UTCDateTime, utcnow


class PoaDraft(db.Model):
    __tablename__ = "poa_drafts"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(Text, default="")
    introduction: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    corrective_actions: Mapped[list] = mapped_column(JSON, default=list)
    preventive_measures: Mapped[list] = mapped_column(JSON, default=list)
    closure: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the consultant marked this version as the one to send.
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the version goes to Amazon; from then on it is read-only.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User | None] = relationship(lazy="raise")

    @property
    def is_final(self) -> bool:
        return self.final_at is not None

    @property
    def is_read_only(self) -> bool:
        return self.submitted_at is not None
