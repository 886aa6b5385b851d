"""Deadlines: every clock a case runs on, and the agency's presets that start them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column

from caseapp.extensions import db
from caseapp.models.types import UTCDateTime, utcnow

DEADLINE_KINDS = (
    "amazon_follow_up",  # from a submission: the follow-up of the reminder rules (Reminder rows)
    "amazon_reply_due",  # Amazon asked for something by a date ("within N days")
    "appeal_window",
    "account_health_warning",
    "document_request",
    "funds_release",
    "inventory_removal",
    "agency_sla",
    "custom",
)
DEADLINE_STATUSES = ("open", "met", "missed", "cancelled")
CLOCKS = ("amazon", "agency")
# Where a deadline came from.
SOURCES = ("notice", "submission", "reply", "document_request", "person")
PRESET_UNITS = ("hours", "days", "business_days")


class Deadline(db.Model):
    """One clock of a case: a due time, an owner (the case's assignee), a status, a source.

    Amazon clocks count calendar time and never pause. Agency clocks may count business days
    of the agency's calendar and pause: while paused, `remaining_seconds` holds what was left
    (business or calendar seconds; negative, in calendar seconds, for a clock already overdue)
    and `due_at` the moment it was due when it paused; resuming counts the remainder from then
    (services/deadlines/clocks.py).

    The kind amazon_follow_up mirrors the follow-up of one submission (services/appeals/
    followups.py keeps it): its reminders are the Reminder rows, so `next_alert_at` stays None.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        # My day and GET /deadlines: the open deadlines of an agency or of one person, soonest first.
        Index("ix_deadlines_agency_id_status_due_at", "agency_id", "status", "due_at", "id"),
        Index("ix_deadlines_agency_id_owner_id_status_due_at", "agency_id", "owner_id", "status",
              "due_at", "id"),
        Index("ix_deadlines_case_id_status_due_at", "case_id", "status", "due_at"),
        Index("ix_deadlines_source", "source", "source_id"),
        # Only deadlines with a reminder still to send: the dispatch pass reads a range of this.
        Index("ix_deadlines_next_alert_at", "next_alert_at",
              sqlite_where=text("next_alert_at IS NOT NULL"),
              postgresql_where=text("next_alert_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # The case's assignee, kept in step by services/cases/records.py `_assign`; None: unassigned
    # (the agency's admins are told).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    clock: Mapped[str] = mapped_column(String(10), default="amazon")
    business_days: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="open")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remaining_seconds: Mapped[float | None]
    # Who paused it: "client" (the case waits on the client: their answer resumes it) or
    # "person" (paused by hand: only a person resumes it). "" while running.
    paused_for: Mapped[str] = mapped_column(String(10), default="", server_default="")
    source: Mapped[str] = mapped_column(String(30), default="person")
    source_id: Mapped[int | None]
    preset_id: Mapped[int | None] = mapped_column(ForeignKey("deadline_presets.id", ondelete="SET NULL"))
    # Hours before the due time at which reminders go, e.g. "72,24"; then one when due and one
    # a day while overdue (services/deadlines/alerts.py).
    lead_hours: Mapped[str] = mapped_column(String(50), default="72,24")
    next_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alerts_sent: Mapped[int] = mapped_column(default=0)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_reason: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def __repr__(self) -> str:
        return f"<Deadline {self.id} {self.kind} {self.status}>"


class DeadlinePreset(db.Model):
    """Which deadline a new case of the agency gets: for a case kind and reason (None: any),
    `amount` `unit` after the notice date. An agency with no rows uses the shipped defaults
    (services/deadlines/presets.py DEFAULTS); saving its presets page writes all of its rows."""

    __tablename__ = "deadline_presets"
    __table_args__ = (Index("ix_deadline_presets_agency_id_position", "agency_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    position: Mapped[int] = mapped_column(default=0)
    case_kind: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int]
    unit: Mapped[str] = mapped_column(String(20), default="days")
    clock: Mapped[str] = mapped_column(String(10), default="amazon")
    # None: the agency's default lead hours.
    lead_hours: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
