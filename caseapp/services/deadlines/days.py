"""My day: a person's open, running deadlines that are overdue or due within the week."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from caseapp.extensions import db
from caseapp.models import Case, Deadline, User
from caseapp.services.deadlines import clocks

WEEK = timedelta(days=7)
LIMIT = 200


@dataclass
class MyDay:
    rows: list[tuple[Deadline, Case]]


def my_day(actor: User, now: datetime) -> MyDay:
    stmt = (select(Deadline, Case).join(Case, Case.id == Deadline.case_id)
            .where(Deadline.agency_id == actor.agency_id, Deadline.owner_id == actor.id,
                   clocks.running_sql(), Deadline.due_at < now + WEEK)
            .options(joinedload(Case.client))
            .order_by(Deadline.due_at, Deadline.id).limit(LIMIT))
    return MyDay(list(db.session.execute(stmt).tuples()))
