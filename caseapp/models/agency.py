"""Agencies and their users (admins and consultants)."""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from caseapp.extensions import db
from caseapp.models.types import UTCDateTime, utcnow

ROLES = ("admin", "consultant")


class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # None means "use the FOLLOW_UP_HOURS default of the deployment".
    follow_up_hours: Mapped[int | None]
    # The agency calendar for clocks counted in business days (core/workdays.py): public
    # holidays of `country` (ISO 3166 code, "" none) and its `subdivision`, and the ISO
    # weekdays that are working days.
    country: Mapped[str] = mapped_column(String(2), server_default="")
    subdivision: Mapped[str] = mapped_column(String(10), server_default="")
    working_days: Mapped[str] = mapped_column(String(7), server_default="12345")
    # Hours before a deadline at which its reminders go (services/deadlines/alerts.py). These
    # four have no Python-side default: tables written by older code (and migration tests) leave
    # them out.
    deadline_lead_hours: Mapped[str] = mapped_column(String(50), server_default="72,24")
    # No reminder mail goes to a client between these local times (the agency's time zone).
    client_quiet_start: Mapped[str] = mapped_column(String(5), server_default="20:00")
    client_quiet_end: Mapped[str] = mapped_column(String(5), server_default="08:00")
    # The sender domains whose mail is Amazon's, by marketplace ({"US": ["amazon.com"], ...});
    # None: the shipped list (services/inbound/amazon.py DOMAINS).
    amazon_domains: Mapped[dict | None] = mapped_column(JSON)
    # The column mapping of the agency's last spreadsheet import, per kind of import:
    # {"clients": {"merchant token": "seller_id", ...}, "cases": {...}}, headers normalised
    # (services/cases/imports.py); None: never imported.
    import_mappings: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="agency", lazy="raise")

    def __repr__(self) -> str:
        return f"<Agency {self.id} {self.name!r}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20), default="consultant")
    password_hash: Mapped[str] = mapped_column(String(255))
    # None means "use the agency's time zone".
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # How follow-up reminders reach this person.
    notify_each_reminder: Mapped[bool] = mapped_column(default=True, server_default=true())
    notify_daily_digest: Mapped[bool] = mapped_column(default=False, server_default=false())
    quiet_hours_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    quiet_start: Mapped[str] = mapped_column(String(5), default="20:00", server_default="20:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00", server_default="08:00")
    last_digest_on: Mapped[date | None]
    # SHA-256 (hex) of the secret part of the personal iCalendar feed URL, which is shown
    # once and never stored; None when no feed is active. The column keeps its first name,
    # calendar_token: renaming it would make SQLite rebuild the users table, which every
    # other table refers to (migration 0009 hashed the tokens in place).
    calendar_token_hash: Mapped[str | None] = mapped_column("calendar_token", String(64), unique=True)
    # The mail server refused mail to this address for good (a 5xx for this recipient while
    # others were accepted): when, and what the server said. Cleared when the address
    # changes or an admin clears it.
    email_bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No Python-side default: tables written by older code (and migration tests) leave it out.
    email_bounce_message: Mapped[str] = mapped_column(String(500), server_default="")
    # The saved case list (models/saved_view.py) the case list opens with; None: "My cases".
    # No foreign key: a deleted view simply stops being the default.
    default_view_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="users", lazy="joined")

    @validates("email")
    def _new_address_has_not_bounced(self, _key: str, value: str) -> str:
        if value != self.email:
            self.email_bounced_at, self.email_bounce_message = None, ""
        return value

    # The key of the sign-in session (a UserSession row) this object was loaded or signed in
    # for; not a column. services.accounts.sessions sets it.
    session_key = None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sign-in to inactive users
        return self.active

    def get_id(self) -> str:
        """What the session and remember cookies carry: the person and their session's key."""
        return f"{self.id}:{self.session_key or ''}"

    def __eq__(self, other: object) -> bool:  # the same person, whichever session they came by
        return self is other or (isinstance(other, User) and self.id is not None and self.id == other.id)

    __hash__ = object.__hash__

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def effective_timezone(self) -> str:
        return self.timezone or self.agency.timezone

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


def password_hash_method() -> str:
    """How new password hashes are made (werkzeug's method string, cost included)."""
    return current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")



class Invitation(db.Model):
    """An admin's invitation to join the agency: the person sets their own password.

    The link's token is never stored: its SHA-256 is, for lookup, and the token itself is
    derived at send time from `token_salt` and the application's secret key, so neither
    the outbox nor a backup holds a working link.
    """

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_agency_id_email", "agency_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20), default="consultant")
    timezone: Mapped[str | None] = mapped_column(String(64))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    token_salt: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The account the invitation became, once accepted.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    agency: Mapped[Agency] = relationship(lazy="joined")
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id], lazy="raise")

    def state(self, now: datetime) -> str:
        """pending, accepted, revoked or expired."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "pending"
