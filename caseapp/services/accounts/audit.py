"""The audit log: who did what security-relevant thing, from where, and when."""
from __future__ import annotations

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from caseapp.extensions import db
from caseapp.models import AUDIT_KINDS, AuditEvent, User, utcnow
from caseapp.services.accounts.roles import require_admin


def _ip() -> str:
    return (request.remote_addr or "")[:64] if has_request_context() else "command line"


def record(kind: str, actor: User | None, target: str = "", detail: str = "",
           agency_id: int | None = None) -> AuditEvent:
    """Add an audit event to the caller's unit of work, which saves it with what it records
    (or, when that fails, drops it with the rest). It never commits: a caller with nothing
    else to save opens `with transaction():` around it."""
    event = AuditEvent(kind=kind, actor_id=actor.id if actor else None,
                       agency_id=agency_id if agency_id is not None else (actor.agency_id if actor else None),
                       ip=_ip(), target=target[:200], detail=detail[:500], occurred_at=utcnow())
    db.session.add(event)
    return event


def events(actor: User, kind: str = "", person_id: int | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 200):
    require_admin(actor)
    stmt = select(AuditEvent).where(AuditEvent.agency_id == actor.agency_id)
    if kind in AUDIT_KINDS:
        stmt = stmt.where(AuditEvent.kind == kind)
    if person_id:
        stmt = stmt.where(AuditEvent.actor_id == person_id)
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return list(db.session.scalars(stmt.options(joinedload(AuditEvent.actor))
                                   .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
                                   .limit(limit)))
