"""Sign-in sessions: one row per sign-in of one browser, ended on the server at sign-out."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from caseapp.extensions import db
from caseapp.models.types import UTCDateTime, utcnow

END_REASONS = ("signed_out", "idle", "expired", "password_changed", "password_reset",
               "password_set_by_operator", "signed_out_everywhere", "deactivated")


class UserSession(db.Model):
    """The session and "keep me signed in" cookies carry `<user id>:<key>`; only the key's
    SHA-256 is stored, so a copy of this table signs nobody in."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "Keep me signed in": no idle timeout, ends REMEMBER_DAYS after sign-in.
    remember: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_ip: Mapped[str] = mapped_column(String(64), default="")
    # Written at most once a minute, by the requests of this session.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str] = mapped_column(String(30), default="")  # one of END_REASONS

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user {self.user_id}{' ended' if self.ended_at else ''}>"
