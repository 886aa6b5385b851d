"""Migration 0014_closed_at rewrites closed_at of existing cases to its one meaning (the moment
the case's work ended, services/appeals/workflow.py) from their timelines."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask_migrate import upgrade
from sqlalchemy import insert, select

from caseapp.extensions import db
from caseapp.models import Agency, Case, CaseEvent, Client
from tests.test_migrations import MIGRATIONS, database, migrated_app  # noqa: F401  (fixtures)

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)


def _at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def test_closed_at_is_set_exactly_while_the_work_has_ended(migrated_app):
    upgrade(directory=MIGRATIONS, revision="0013_note_html")
    # status, closed_at as older versions left it, and the status moves on its timeline
    cases = {
        "reinstated_by_a_person": ("reinstated", None, [(1, "open", "drafting"), (2, "drafting", "submitted"),
                                                          (5, "submitted", "reinstated")]),
        "reinstated_then_closed": ("closed", _at(9), [(2, "drafting", "submitted"),
                                                      (5, "submitted", "reinstated"),
                                                      (9, "reinstated", "closed")]),
        "reopened_after_a_reinstatement": ("open", _at(5), [(5, "submitted", "reinstated"),
                                                            (9, "reinstated", "closed"), (10, "closed", "open")]),
        "closed_twice": ("closed", _at(3), [(3, "open", "closed"), (4, "closed", "open"), (7, "open", "closed")]),
        "denied_after_a_reinstatement_by_hand": ("denied", _at(5), [(5, "submitted", "reinstated"),
                                                                    (6, "reinstated", "denied")]),
        "closed_without_a_timeline": ("closed", None, []),
        "still_open": ("open", None, []),
    }
    ids = {}
    with db.engine.begin() as connection:
        agency = connection.execute(insert(Agency.__table__).values(
            name="Old Agency", timezone="UTC", created_at=T0).returning(Agency.__table__.c.id)).scalar()
        client = connection.execute(insert(Client.__table__).values(
            agency_id=agency, name="Old Client", created_at=T0).returning(Client.__table__.c.id)).scalar()
        for title, (status, closed_at, moves) in cases.items():
            ids[title] = connection.execute(insert(Case.__table__).values(
                agency_id=agency, client_id=client, title=title, kind="other", reason="other",
                status=status, closed_at=closed_at, opened_at=T0, created_at=T0,
                updated_at=_at(20)).returning(Case.__table__.c.id)).scalar()
            for day, before, after in moves:
                connection.execute(insert(CaseEvent.__table__).values(
                    case_id=ids[title], kind="status_changed", occurred_at=_at(day),
                    summary=f"Status: {before} → {after}", data={"from": before, "to": after}))

    upgrade(directory=MIGRATIONS, revision="head")
    db.session.remove()

    found = dict(db.session.execute(select(Case.title, Case.closed_at)).all())
    assert found == {
        "reinstated_by_a_person": _at(5),
        "reinstated_then_closed": _at(5),  # the work ended at the reinstatement
        "reopened_after_a_reinstatement": None,
        "closed_twice": _at(7),
        "denied_after_a_reinstatement_by_hand": None,
        "closed_without_a_timeline": _at(20),  # its last update: the best the database knows
        "still_open": None,
    }
