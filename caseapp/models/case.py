"""A case, its ASINs, its notes and its timeline."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caseapp.extensions import db
from caseapp.models.agency import User
from caseapp.models.client import Client
from caseapp.models.types import UTCDateTime, utcnow

KINDS = ("account_suspension", "listing_deactivation", "other")
REASONS = (
    "policy_violation",
    "customer_complaints",
    "performance_metrics",
    "intellectual_property",
    "other",
)
STATUSES = (
    "open",
    "drafting",
    "submitted",
    "more_info_requested",
    "reinstated",
    "denied",
    "closed",
)
PRIORITIES = ("low", "normal", "high", "urgent")
# Their words, for pages, mail and spreadsheets (caseapp/labels.py gathers them with the
# statuses' words, which the workflow owns).
KIND_LABELS = {
    "account_suspension": "Account suspension",
    "listing_deactivation": "Listing deactivation",
    "other": "Other",
}
REASON_LABELS = {
    "policy_violation": "Policy violation",
    "customer_complaints": "Customer complaints",
    "performance_metrics": "Performance metrics",
    "intellectual_property": "Intellectual property",
    "other": "Other",
}
PRIORITY_LABELS = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        # One index per dashboard filter and sort, found with EXPLAIN on 100,000 cases (bench/).
        Index("ix_cases_agency_id_status_updated_at", "agency_id", "status", "updated_at", "id"),
        # A person's cases of one status in the list's order: the board's columns (issue 18).
        Index("ix_cases_agency_id_assignee_id_status_updated_at", "agency_id", "assignee_id", "status",
              "updated_at", "id"),
        # A reason filter: the status counts and the awaiting-Amazon count read only the index.
        Index("ix_cases_agency_id_reason_status_awaiting_since", "agency_id", "reason", "status",
              "awaiting_since"),
        Index("ix_cases_agency_id_assignee_id_updated_at", "agency_id", "assignee_id", "updated_at", "id"),
        Index("ix_cases_agency_id_updated_at", "agency_id", "updated_at", "id"),
        Index("ix_cases_agency_id_awaiting_since", "agency_id", "awaiting_since"),
        Index("ix_cases_agency_id_amazon_wrote_at", "agency_id", "amazon_wrote_at"),  # My day: Amazon wrote
        Index("ix_cases_agency_id_assignee_id_awaiting_since", "agency_id", "assignee_id",
              "awaiting_since"),
        Index("ix_cases_agency_id_next_deadline_at", "agency_id", "next_deadline_at", "id"),
        Index("ix_cases_agency_id_assignee_id_next_deadline_at", "agency_id", "assignee_id",
              "next_deadline_at", "id"),
        # A reference is one case's within its agency. Cases without one keep NULL, which a
        # unique index lets repeat on both databases (no partial index needed).
        Index("uq_cases_agency_id_reference", "agency_id", "reference", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    # The agency's own name for the case (a spreadsheet's "Case ID"), which a re-import
    # matches on (services/cases/imports.py); None when the case has none, never "".
    reference: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(30))
    # Changed only by services/appeals/workflow.py `set_status`, along its TRANSITIONS table.
    status: Mapped[str] = mapped_column(String(30), default="open")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    amazon_notice: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The moment the case's work ended: set exactly while the status is "reinstated" or
    # "closed", to when the case first reached one of them from another status (closing a
    # reinstated case keeps the moment of the reinstatement), and cleared when it leaves them.
    # Whoever moved it (a person, a submission, Amazon's reply), services/appeals/workflow.py
    # `set_status` keeps it so.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The due time of the case's soonest open, running deadline (any kind, the follow-up
    # included): kept by services/deadlines/clocks.py `refresh_next`, for lists and sorting.
    next_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the latest submission still unanswered by Amazon went out; None when not waiting.
    awaiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Since when a document request of the case has been open (the case waits on the client);
    # None when none is. Kept by services/portal/requests.py.
    waiting_on_client_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When mail from Amazon was filed on the case that nobody has yet recorded as Amazon's
    # reply or dismissed (services/inbound/amazon.py); None when there is none.
    amazon_wrote_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship(lazy="raise")
    assignee: Mapped[User | None] = relationship(lazy="raise")
    asin_rows: Mapped[list[CaseAsin]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="CaseAsin.position"
    )

    @property
    def asins(self) -> list[str]:
        return [row.asin for row in self.asin_rows]

    def __repr__(self) -> str:
        return f"<Case {self.id} {self.status}>"


class CaseAsin(db.Model):
    """One ASIN of a case; a table of its own so a search by ASIN uses an index."""

    __tablename__ = "case_asins"
    __table_args__ = (Index("ix_case_asins_asin", "asin"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    asin: Mapped[str] = mapped_column(String(10), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class Note(db.Model):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    # The body rendered and sanitised when it was saved, by renderer version `rendered_with`
    # (core/markdown.py RENDERER): a case page shows up to 100 notes, and rendering a hostile one
    # costs up to 30 ms, which a page view must not pay again and again.
    body_html: Mapped[str | None] = mapped_column(Text)
    rendered_with: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last edit; None: never


class CaseEvent(db.Model):
    """An entry of the case timeline: what happened, who did it, when."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_id_occurred_at", "case_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(lazy="raise")
