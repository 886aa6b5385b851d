"""closed_at: the moment the case's work ended, on every existing case

Before this revision a person's status move set closed_at only for "closed", Amazon's
reply set it for "reinstated" too, and closing a reinstated case overwrote the moment of
the reinstatement. Now (services/appeals/workflow.py) closed_at is set exactly while the
status is reinstated or closed: the moment the case first reached one of the two from any
other status. This revision rewrites every case to that rule from its timeline:
- a case in another status has no closed_at;
- a reinstated or closed case gets the time of its last "status_changed" entry that moved
  it from another status into reinstated or closed; without one (a case older than its
  timeline), it keeps the closed_at it has, or else its last update.
Data only; the downgrade leaves the values (the old rule cannot be told from them).

Revision ID: 0014_closed_at
Revises: 0013_note_html
Create Date: 2026-12-01 12:10:00

"""
from alembic import op
import sqlalchemy as sa

from caseapp.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0014_closed_at'
down_revision = '0013_note_html'
branch_labels = None
depends_on = None

ENDED = ("reinstated", "closed")
BATCH = 500

cases = sa.table(
    "cases", sa.column("id", sa.Integer), sa.column("status", sa.String),
    sa.column("closed_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()))
events = sa.table(
    "case_events", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
    sa.column("kind", sa.String), sa.column("occurred_at", UTCDateTime()), sa.column("data", sa.JSON))


def _ended_at(connection, case_ids: list[int]) -> dict:
    """case id -> when its work last ended, by its timeline (cases without an entry absent)."""
    found = {}
    rows = connection.execute(
        sa.select(events.c.case_id, events.c.occurred_at, events.c.data)
        .where(events.c.kind == "status_changed", events.c.case_id.in_(case_ids))
        .order_by(events.c.case_id, events.c.occurred_at, events.c.id))
    for case_id, occurred_at, data in rows:
        data = data or {}
        if data.get("to") in ENDED and data.get("from") not in ENDED:
            found[case_id] = occurred_at  # the latest such entry wins: rows come oldest first
    return found


def upgrade():
    connection = op.get_bind()
    connection.execute(cases.update().where(cases.c.status.not_in(ENDED), cases.c.closed_at.is_not(None))
                       .values(closed_at=None))
    ended = connection.execute(
        sa.select(cases.c.id, cases.c.closed_at, cases.c.updated_at)
        .where(cases.c.status.in_(ENDED)).order_by(cases.c.id)).all()
    for start in range(0, len(ended), BATCH):
        batch = ended[start:start + BATCH]
        moments = _ended_at(connection, [row.id for row in batch])
        for row in batch:
            moment = moments.get(row.id) or row.closed_at or row.updated_at
            if moment != row.closed_at:
                connection.execute(cases.update().where(cases.c.id == row.id).values(closed_at=moment))


def downgrade():
    pass
