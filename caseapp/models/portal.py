"""The client's side of a case: portal links, document requests and their items, the
agency's checklists, and POA versions shared with the client for approval."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.extensions import db
from caseapp.models.types import UTCDateTime, utcnow

REQUEST_STATUSES = ("open", "fulfilled", "cancelled")
ITEM_STATUSES = ("requested", "uploaded", "accepted", "rejected")
# What the client gives for an item: files, or a written answer.
ITEM_KINDS = ("file", "answer")
SHARE_STATUSES = ("pending", "approved", "changes_requested", "withdrawn")


class PortalLink(db.Model):
    """A client's way into the portal for one case: no account, no password.

    The secret is never stored: the row keeps a random salt and the SHA-256 of the token,
    which is HMAC(SECRET_KEY, salt) (services/portal/links.py), so a mail retried later
    carries the same working link while the outbox and backups hold none. A link works until
    `expires_at` (PORTAL_LINK_DAYS after it was last sent) or until it is revoked.
    """

    __tablename__ = "portal_links"
    __table_args__ = (Index("ix_portal_links_case_id", "case_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    # The client the link was made for; it opens the case only while the case is still that
    # client's (services/portal/links.py). No foreign key: a case moved to another client leaves
    # the old client free to be deleted, and this link dead.
    client_id: Mapped[int]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    token_salt: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


class DocumentRequest(db.Model):
    """What a consultant asked the client for, by when: a document_request deadline."""

    __tablename__ = "document_requests"
    __table_args__ = (
        Index("ix_document_requests_case_id_status", "case_id", "status"),
        # The client reminder pass reads a range of this.
        Index("ix_document_requests_next_client_reminder_at", "next_client_reminder_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # The client asked (the case's client then). No foreign key, as PortalLink's: a case moved
    # to another client keeps the request in its history, and the new client's portal never
    # shows it (services/portal/client.py).
    client_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="open")
    message: Mapped[str] = mapped_column(Text, default="")  # the consultant's words to the client
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("portal_links.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reminders to the client: when the next goes (None: none planned), how many went.
    next_client_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_reminders_sent: Mapped[int] = mapped_column(default=0, server_default="0")
    last_client_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Always wanted with the request: loaded with it, in one more statement per batch of requests.
    items: Mapped[list[DocumentRequestItem]] = relationship(
        lazy="selectin", order_by="DocumentRequestItem.position", back_populates="request")


class DocumentRequestItem(db.Model):
    __tablename__ = "document_request_items"
    __table_args__ = (Index("ix_document_request_items_request_id", "request_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("document_requests.id"))
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(10), default="file")
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(30), default="other")
    status: Mapped[str] = mapped_column(String(20), default="requested")
    answer: Mapped[str] = mapped_column(Text, default="")  # a written answer (kind "answer")
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was last rejected
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    request: Mapped[DocumentRequest] = relationship(lazy="raise", back_populates="items")


class DocumentChecklist(db.Model):
    """An agency's own checklist (an agency that never saved its checklists uses the shipped
    defaults, services/portal/checklists.py). `items`: a list of {kind, title, instructions,
    category}."""

    __tablename__ = "document_checklists"
    __table_args__ = (Index("ix_document_checklists_agency_id_key", "agency_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(30))  # suggested for this reason; None: any
    position: Mapped[int] = mapped_column(default=0)
    items: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PoaShare(db.Model):
    """One POA version shown to the client, and the client's answer to that version only."""

    __tablename__ = "poa_shares"
    __table_args__ = (Index("ix_poa_shares_case_id_shared_at", "case_id", "shared_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    poa_draft_id: Mapped[int] = mapped_column(ForeignKey("poa_drafts.id"))
    client_id: Mapped[int]  # the client it was shown to (as DocumentRequest.client_id)
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    comment: Mapped[str] = mapped_column(Text, default="")  # the client's
    shared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("portal_links.id"))  # the link it answered through
