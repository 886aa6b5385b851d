"""Writing entries on a case timeline."""
from __future__ import annotations

from typing import Any

from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, User, utcnow


def record(case: Case, kind: str, actor: User | None, summary: str,
           data: dict[str, Any] | None = None) -> CaseEvent:
    """Add an event to the session; the caller's transaction commits it with the change."""
    event = CaseEvent(
        case_id=case.id,
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        summary=summary[:500],
        data=data or {},
        occurred_at=utcnow(),
    )
    db.session.add(event)
    return event
