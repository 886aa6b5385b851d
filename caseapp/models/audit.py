"""Security-relevant events an admin can review: sign-ins, refusals, exports, deletions..."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.extensions import db
from caseapp.models.agency import User
from caseapp.models.types import UTCDateTime, utcnow

AUDIT_KINDS = (
    "sign_in", "sign_in_failed", "sign_out", "refused", "export", "download", "deletion",
    "role_change", "deactivation", "password_change", "password_reset", "invitation",
    "invitation_accepted", "mail_retry", "mail_problem_dismissed", "bounce_cleared",
    "settings_change", "portal", "import", "bulk_action", "bulk_undo",
)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_agency_id_occurred_at", "agency_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a failed sign-in with an email nobody has: it belongs to no agency.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")

    actor: Mapped[User | None] = relationship(lazy="raise")


class PasswordReset(db.Model):
    """A single-use, expiring password reset; only the token's hash is stored.

    The token is HMAC(SECRET_KEY, salt): the delivery pass derives it again from the row
    when it sends the email, so the link is never written anywhere, and every try of the
    same email carries the same link. Rows from before migration 0009 have no salt.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    salt: Mapped[str | None] = mapped_column(String(64))
