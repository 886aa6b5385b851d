"""Mail that reached caseapp: Amazon's decisions, clients' answers, a consultant's forward.

Every message is kept, whatever it is (services/inbound): filed on its case (matched), waiting
in the agency's triage inbox (unmatched), refused with the reason (refused: no agency could be
told, or nothing in it could be read), or discarded by a person from the triage inbox.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caseapp.extensions import db
from caseapp.models.types import UTCDateTime, utcnow

INBOUND_STATUSES = ("matched", "unmatched", "refused", "discarded")
# How a message found its case (services/inbound/matching.py), or "person": filed by hand.
MATCHED_BY = ("address", "subject", "thread", "amazon_reference", "asin", "seller_id", "sender", "person")
# Who wrote it, as far as caseapp can tell from the sender's address.
SENDER_ROLES = ("amazon", "client", "staff", "other")
# A proposal to record the mail as Amazon's reply: open until a person confirms or dismisses it.
PROPOSAL_STATES = ("proposed", "confirmed", "dismissed")


class InboundMessage(db.Model):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index("ix_inbound_messages_agency_id_status_received_at", "agency_id", "status", "received_at"),
        Index("ix_inbound_messages_case_id_received_at", "case_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Message-ID header as sent (or "<sha256:…>" of its sender, date, subject and text for
    # mail without one). `dedup_key` is it with the agency: the same message is filed once per
    # agency, whichever way it came and however often; a seller's mail to two agencies reaches both.
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    status: Mapped[str] = mapped_column(String(20))
    matched_by: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))  # pipe, imap
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its Date header, when readable
    from_address: Mapped[str] = mapped_column(String(254), default="")
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to_addresses: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    in_reply_to: Mapped[str] = mapped_column(Text, default="")  # In-Reply-To and References, as sent
    sender_role: Mapped[str] = mapped_column(String(10), default="other")
    # Auto-replies and bounces (Auto-Submitted, Precedence, an empty Return-Path): filed, never answered.
    automatic: Mapped[bool] = mapped_column(default=False)
    body_text: Mapped[str] = mapped_column(Text, default="")  # the new text, without the quoted history
    full_text: Mapped[str] = mapped_column(Text, default="")  # the whole text part (or the HTML as text)
    body_html: Mapped[str] = mapped_column(Text, default="")  # the HTML part, sanitised (nh3)
    # What was odd or refused about it, in words a person reads ("no charset: read as latin-1").
    flags: Mapped[list] = mapped_column(JSON, default=list)
    raw_sha256: Mapped[str] = mapped_column(String(64), index=True)  # the raw message, in the evidence storage
    raw_size: Mapped[int] = mapped_column(BigInteger, default=0)
    # Its attachments went through the evidence pipeline: a delivery that died before they
    # did is finished by the next arrival of the same message.
    attachments_done: Mapped[bool] = mapped_column(default=False)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))  # its timeline entry
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # from the triage inbox
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Mail from Amazon: what it seems to say, and the submission it seems to answer.
    proposal: Mapped[str | None] = mapped_column(String(10))
    proposed_outcome: Mapped[str | None] = mapped_column(String(30))
    proposed_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("amazon_responses.id"))  # once confirmed
