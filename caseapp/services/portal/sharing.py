"""A POA version shown to the client, who approves it or asks for changes.

A share names one version. Versions are never rewritten (services/poa/drafts.py), so an
approval is of exactly the text the client read: editing the POA afterwards makes a new
version, which the client has not approved until it is shared and approved in turn. Sharing a
new version withdraws the case's earlier pending share; the client sees one POA at a time.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from caseapp.core.errors import Conflict
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import Case, PoaDraft, PoaShare, User, utcnow
from caseapp.services.cases import records, timeline
from caseapp.services.deadlines import clocks
from caseapp.services.poa import get_draft
from caseapp.services.portal import links, notify

STATUS_LABELS = {"pending": "Waiting for the client", "approved": "Approved by the client",
                 "changes_requested": "The client asked for changes", "withdrawn": "Replaced by a later version"}


@transactional
def share(actor: User, draft_id: int, now: datetime | None = None) -> PoaShare:
    """Show this POA version to the client and mail them the portal link."""
    now = now or utcnow()
    draft = get_draft(actor, draft_id)
    case = records.get_case(actor, draft.case_id, for_update=True)
    if case.status in clocks.CASE_ENDED:
        raise Conflict("This case has ended; reopen it before sharing a POA with the client.")
    pending = latest_share(case)
    if pending is not None and pending.poa_draft_id == draft.id and pending.status == "pending":
        raise Conflict(f"Version {draft.version} is with the client already.")
    db.session.execute(update(PoaShare).where(PoaShare.case_id == case.id, PoaShare.status == "pending")
                       .values(status="withdrawn"))
    row = PoaShare(agency_id=case.agency_id, case_id=case.id, client_id=case.client_id,
                   poa_draft_id=draft.id, version=draft.version,
                   status="pending", shared_by_id=actor.id, shared_at=now)
    db.session.add(row)
    db.session.flush()
    timeline.record(case, "poa_shared", actor, f"POA version {draft.version} shared with the client for approval",
                    {"share_id": row.id, "poa_draft_id": draft.id, "version": draft.version})
    notify.poa_shared(case, row, actor, now)
    case.updated_at = now
    return row


# Shares shown to the client the case has now: a case moved from another client does not show
# that client's approval as if the new one had given it.

def latest_share(case: Case) -> PoaShare | None:
    return db.session.scalar(select(PoaShare).where(PoaShare.case_id == case.id, PoaShare.client_id == case.client_id)
                             .order_by(PoaShare.shared_at.desc(), PoaShare.id.desc()).limit(1))


def shares_of(case: Case) -> list[PoaShare]:
    return list(db.session.scalars(select(PoaShare).where(PoaShare.case_id == case.id,
                                                          PoaShare.client_id == case.client_id)
                                   .order_by(PoaShare.shared_at.desc(), PoaShare.id.desc()).limit(20)))


def for_draft(case: Case, draft: PoaDraft) -> PoaShare | None:
    """The newest share of exactly this version: what the client said of it."""
    return db.session.scalar(select(PoaShare).where(PoaShare.case_id == case.id,
                                                    PoaShare.client_id == case.client_id,
                                                    PoaShare.poa_draft_id == draft.id)
                             .order_by(PoaShare.id.desc()).limit(1))


def link_of(case: Case, now: datetime):
    return links.live_link(case, now)
