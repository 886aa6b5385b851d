"""The demo data (`flask demo seed`, `make run` on an empty database) tells the deadlines story
in Sam's My day: something overdue, an appeal window closing today, more this week, an agency
clock paused while the client answers, a deadline a person added, and an appeal window that
closed early after Amazon rejected two appeals. Runs on SQLite, or on PostgreSQL with
TEST_DATABASE_URL."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from caseapp.extensions import db
from caseapp.models import Agency, CaseEvent, Deadline, User, utcnow
from caseapp.services.deadlines import clocks
from caseapp.services.ops import demo


def _sam_deadlines(*conditions) -> list[Deadline]:
    sam = db.session.scalar(select(User).where(User.email == "sam@northwind.example"))
    return list(db.session.scalars(select(Deadline).where(Deadline.owner_id == sam.id, *conditions)
                                   .order_by(Deadline.due_at)))


def test_the_demo_gives_sam_a_day_with_every_kind_of_clock(app):
    assert demo.seed_if_empty() is not None
    now = utcnow()
    agency = db.session.scalar(select(Agency))
    assert (agency.country, agency.subdivision) == ("US", "NY")
    zone = ZoneInfo(agency.timezone)
    end_of_today = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), zone)

    overdue = _sam_deadlines(clocks.overdue_sql(now))
    assert [d.kind for d in overdue] == ["agency_sla"]  # the POA promised to Harbor Lane
    today = _sam_deadlines(clocks.running_sql(), Deadline.due_at > now, Deadline.due_at < end_of_today)
    # The appeal window closes in 3 hours (unless the demo is seeded in the last 3 hours of a day).
    if now + timedelta(hours=3) < end_of_today:
        assert "appeal_window" in [d.kind for d in today]
    week = _sam_deadlines(clocks.running_sql(), Deadline.due_at > now,
                          Deadline.due_at <= now + timedelta(days=7))
    assert len(week) >= 4

    paused = _sam_deadlines(Deadline.paused_at.is_not(None))
    assert [(d.clock, d.status) for d in paused] == [("agency", "open")]
    added = _sam_deadlines(Deadline.source == "person")
    assert added and all(d.created_by_id == d.owner_id for d in added)

    closed_early = _sam_deadlines(Deadline.kind == "appeal_window", Deadline.status == "cancelled")
    assert len(closed_early) == 1 and "rejected 2 appeals" in closed_early[0].closed_reason
    # ... and the case's timeline says so, as a person reads it.
    assert db.session.scalar(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == closed_early[0].case_id,
        CaseEvent.summary.like("Appeal window closed early%"))) == 1
