"""Evidence files of a case, and which POA version (and corrective action) each one backs.

The bytes live in the evidence storage under their SHA-256 (see
services/evidence/storage.py); a row only names them. Several rows may share a blob.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.extensions import db
from caseapp.models.agency import User
from caseapp.models.types import UTCDateTime, utcnow

# Who brought the file in: a person of the agency, the client through the portal, or mail.
SOURCES = ("staff", "client", "email")

CATEGORIES = (
    "invoice",
    "supplier_letter",
    "screenshot",
    "customer_correspondence",
    "listing_change",
    "other",
)


class Evidence(db.Model):
    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_case_id_uploaded_at", "case_id", "uploaded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # BigInteger: MAX_UPLOAD_MB is a setting, and 2 GiB would overflow an INTEGER.
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(255))  # the safe display name, never a path
    category: Mapped[str] = mapped_column(String(30), default="other")
    description: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(10), default="staff", server_default="staff")
    # The document request item a client's file answers (services/portal).
    request_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_request_items.id"), index=True)
    # The mail it came attached to (source "email", services/inbound).
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), index=True)

    uploaded_by: Mapped[User | None] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<Evidence {self.id} {self.filename!r}>"


class PoaEvidenceLink(db.Model):
    """An evidence file backing one POA version: the whole plan, or one corrective action.

    One link per file and version; `action_index` is the position (from 0) in that
    version's corrective actions, or None for the POA as a whole. Versions are never
    rewritten, so the index keeps pointing at the same text.
    """

    __tablename__ = "poa_evidence_links"

    poa_draft_id: Mapped[int] = mapped_column(
        ForeignKey("poa_drafts.id", ondelete="CASCADE"), primary_key=True)
    evidence_id: Mapped[int] = mapped_column(
        ForeignKey("evidence.id", ondelete="CASCADE"), primary_key=True, index=True)
    action_index: Mapped[int | None]
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    evidence: Mapped[Evidence] = relationship(lazy="raise")
