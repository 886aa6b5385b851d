"""What the pages of the triage inbox and the case page ask about inbound mail, beside
filing's own list: the nav's figure, a message's attachments, a case's open proposals."""
from __future__ import annotations

from sqlalchemy import select

from caseapp.core import paging
from caseapp.extensions import db
from caseapp.models import Case, Evidence, InboundMessage, User

UNMATCHED_CAP = 99  # the nav shows "99+" above it: one short index range, never the whole table
PROPOSALS_SHOWN = 20


def unmatched_count(actor: User) -> int:
    """How many messages wait in the agency's triage inbox, up to UNMATCHED_CAP + 1: one
    statement over (agency_id, status, received_at)."""
    return message_count(actor, "unmatched", cap=UNMATCHED_CAP)


def message_count(actor: User, status: str, from_id: int | None = None, cap: int = paging.COUNT_CAP) -> int:
    """How many of the agency's messages of `status` there are, or with `from_id` how many
    from that one up (those newer than a page that starts below it): up to
    `cap` + 1, one short range of (agency_id, status, ...)."""
    stmt = select(InboundMessage.id).where(InboundMessage.agency_id == actor.agency_id,
                                           InboundMessage.status == status)
    if from_id is not None:
        stmt = stmt.where(InboundMessage.id >= from_id)
    return paging.capped_count(stmt, cap)


def count_label(count: int) -> str:
    return f"{UNMATCHED_CAP}+" if count > UNMATCHED_CAP else str(count)


def attachments_of(message: InboundMessage) -> list[Evidence]:
    """The evidence the message's attachments became (the caller has checked the agency)."""
    return list(db.session.scalars(select(Evidence).where(Evidence.inbound_message_id == message.id)
                                   .order_by(Evidence.id)))


def proposals_for(case: Case) -> list[InboundMessage]:
    """Amazon's mail on the case nobody has decided on yet, newest first."""
    if case.amazon_wrote_at is None:
        return []
    return list(db.session.scalars(select(InboundMessage).where(
        InboundMessage.case_id == case.id, InboundMessage.proposal == "proposed")
        .order_by(InboundMessage.id.desc()).limit(PROPOSALS_SHOWN)))
