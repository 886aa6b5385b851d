"""Writing entries on a case timeline."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert

from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, User, utcnow

GATHERING = "timeline_gathering"  # session.info: the entries `gathered` holds back


def record(case: Case, kind: str, actor: User | None, summary: str,
           data: dict[str, Any] | None = None) -> CaseEvent | None:
    """Add an event to the session; the caller's transaction commits it with the change.
    Within `gathered` the entry is held back and written with the others (None returned)."""
    values = dict(case_id=case.id, kind=kind, actor_id=actor.id if actor is not None else None,
                  summary=summary[:500], data=data or {}, occurred_at=utcnow())
    held = db.session.info.get(GATHERING)
    if held is not None:
        held.append(values)
        return None
    event = CaseEvent(**values)
    db.session.add(event)
    return event


@contextmanager
def gathered() -> Iterator[None]:
    """While the block runs, `record` holds its entries back; they are written at the end in
    one INSERT, in the order recorded. For writers of many cases at once (an import's batch:
    six entries a case would be six statements a case on SQLite, which cannot batch inserts
    that return ids) that do not read their entries back within the block. Nested, the
    outermost block writes. Nothing is written when the block raises."""
    session = db.session()
    if GATHERING in session.info:
        yield
        return
    held: list[dict[str, Any]] = []
    session.info[GATHERING] = held
    try:
        yield
    finally:
        session.info.pop(GATHERING, None)
    if held:
        session.execute(insert(CaseEvent), held)
