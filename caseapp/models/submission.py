"""Submissions to Amazon, Amazon's replies, follow-up reminders and the mail outbox."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.extensions import db
from caseapp.models.agency import User
from caseapp.models.types import UTCDateTime, utcnow

CHANNELS = ("account_health_appeal", "notification_reply", "email", "other")
OUTCOMES = ("reinstated", "rejected", "more_info_requested", "other")
REMINDER_STATUSES = ("pending", "sent", "cancelled", "failed")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "held", "cancelled")


class Submission(db.Model):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    poa_draft_id: Mapped[int | None] = mapped_column(ForeignKey("poa_drafts.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(30))
    amazon_reference: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Withdrawn: recorded by mistake. The row stays (the timeline refers to it) but no longer
    # counts for the case's status, its follow-ups or its clock (services/appeals/corrections.py).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    recorded_by: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[recorded_by_id])


class AmazonResponse(db.Model):
    __tablename__ = "amazon_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # As for a submission; a withdrawn submission's replies are withdrawn with it.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Reminder(db.Model):
    """One follow-up due for a submission. Repeats are new rows with the next sequence number."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_status_due_at", "status", "due_at"),
        Index("ix_reminders_agency_id_status", "agency_id", "status"),
        # A case's next follow-up without walking every pending reminder.
        Index("ix_reminders_case_id_status_due_at", "case_id", "status", "due_at"),
        # Only the reminders whose mail failed or is held: the pass's sweep of those since
        # delivered or ended (dispatch.settle_delivered) reads this, however many reminders exist.
        Index("ix_reminders_undelivered", "undelivered_at",
              sqlite_where=text("undelivered_at IS NOT NULL"),
              postgresql_where=text("undelivered_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    sequence: Mapped[int] = mapped_column(default=1)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # Set when the dispatcher has turned the reminder into outbox mail (it is then not picked again).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when its reminder email failed for good or is held (no mail server) while it is
    # pending: nobody was told, so it counts as the case's next follow-up again (overdue)
    # until the email is delivered or the follow-up ends (followups.refresh_deadlines).
    undelivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipient: Mapped[str] = mapped_column(String(1000), default="")
    cancelled_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(db.Model):
    """Mail waiting to go out, sent, failed, or held when no mail server is configured.

    The idempotency key is unique: whatever crashes or runs twice, one logical email
    (a reminder to one person, one day's digest) is one row and is sent at most once
    by the delivery pass.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_send_after", "status", "send_after"),
        # Only the sent messages whose body is still kept: the retention pass reads a range of
        # it every minute, and it stays as small as OUTBOX_BODY_RETENTION_DAYS of mail. The
        # status leads, though constant, so SQLite's planner prefers it to the index above.
        Index("ix_outbox_messages_bodies_to_clear", "status", "sent_at",
              sqlite_where=text("status = 'sent' AND body_cleared_at IS NULL"),
              postgresql_where=text("status = 'sent' AND body_cleared_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"), index=True)
    # The deadline a "deadline" reminder email is about. No foreign key: SQLite cannot add one
    # to an existing table without rebuilding it, and other tables refer to this one.
    deadline_id: Mapped[int | None] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(30))  # reminder, escalation, digest
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # The bodies hold services/mail/links.PLACEHOLDER where a secret link goes (a password
    # reset, a reminder's snooze/dismiss page): the link is made when the message is sent,
    # from `link_ref`, and never stored. Emptied OUTBOX_BODY_RETENTION_DAYS after sending.
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # What the kind's link builder needs to make the link (a reset's id; reminder and person
    # ids): never a secret. None: the bodies are sent as they are.
    link_ref: Mapped[str | None] = mapped_column(String(100))
    # The local part of the Message-ID it is sent with (services/mail/smtp.py): a reply's
    # In-Reply-To or References names it, and so finds the case (services/inbound).
    message_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    body_cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    send_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    # While a dispatcher is sending it (status "sending"); after this moment another may retry.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


MAIL_PROBLEM_KINDS = ("server", "mail")


class MailProblem(db.Model):
    """Something the agency's admins must hear of: the mail server refuses or cannot be
    reached ("server"), or some of the agency's mail failed for good ("mail"). One open row
    per agency at most (closed_at NULL): further failures update it, and its admins are
    mailed once per row. Closed by a Retry that leaves no failed mail, a dismissal, or (a
    server problem) the server accepting mail again."""

    __tablename__ = "mail_problems"
    __table_args__ = (Index("ix_mail_problems_agency_id_closed_at", "agency_id", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(1000), default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_why: Mapped[str] = mapped_column(String(200), default="")


class SubmissionEvidence(db.Model):
    """An evidence file that went to Amazon with a submission."""

    __tablename__ = "submission_evidence"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True)
    evidence_id: Mapped[int] = mapped_column(
        ForeignKey("evidence.id", ondelete="CASCADE"), primary_key=True, index=True)
