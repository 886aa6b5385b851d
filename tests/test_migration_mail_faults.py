"""Migration 0015_mail_faults reopens the follow-ups older versions ended because "every
reminder email was refused", where the case still waits on that submission."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask_migrate import upgrade
from sqlalchemy import insert, select

from caseapp.extensions import db
from caseapp.models import (Agency, AmazonResponse, Case, CaseEvent, Client, OutboxMessage, Reminder,
                            Submission)
from tests.test_migrations import MIGRATIONS, database, migrated_app  # noqa: F401  (fixtures)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
REFUSED = "every reminder email was refused; check the address"


def test_follow_ups_ended_by_a_refused_email_are_reopened(migrated_app):
    upgrade(directory=MIGRATIONS, revision="0014_closed_at")
    ids = {}
    with db.engine.begin() as connection:
        agency = connection.execute(insert(Agency.__table__).values(
            name="Old Agency", timezone="UTC", created_at=T0).returning(Agency.__table__.c.id)).scalar()
        client = connection.execute(insert(Client.__table__).values(
            agency_id=agency, name="Old Client", created_at=T0).returning(Client.__table__.c.id)).scalar()
        for title, status, answered in (("waiting", "submitted", False), ("answered", "more_info_requested", True)):
            case = connection.execute(insert(Case.__table__).values(
                agency_id=agency, client_id=client, title=title, kind="other", reason="other", status=status,
                opened_at=T0, created_at=T0, updated_at=T0).returning(Case.__table__.c.id)).scalar()
            submission = connection.execute(insert(Submission.__table__).values(
                case_id=case, submitted_at=T0, channel="other", amazon_reference="", created_at=T0)
                .returning(Submission.__table__.c.id)).scalar()
            if answered:
                connection.execute(insert(AmazonResponse.__table__).values(
                    submission_id=submission, case_id=case, received_at=T0 + timedelta(hours=60),
                    outcome="more_info_requested", body="", created_at=T0))
            refused = connection.execute(insert(Reminder.__table__).values(
                agency_id=agency, case_id=case, submission_id=submission, sequence=1,
                due_at=T0 + timedelta(hours=48), status="failed", dispatched_at=T0 + timedelta(hours=48),
                recipient="carl@agency.example", cancelled_reason="", created_at=T0)
                .returning(Reminder.__table__.c.id)).scalar()
            connection.execute(insert(OutboxMessage.__table__).values(
                idempotency_key=f"reminder:{refused}:1", agency_id=agency, case_id=case, reminder_id=refused,
                kind="reminder", recipient="carl@agency.example", subject="Follow up", body_text="t",
                body_html="h", status="failed", send_after=T0, attempts=1, last_error="550", created_at=T0))
            repeat = connection.execute(insert(Reminder.__table__).values(
                agency_id=agency, case_id=case, submission_id=submission, sequence=2,
                due_at=T0 + timedelta(hours=72), status="cancelled", recipient="",
                cancelled_reason=REFUSED, created_at=T0)
                .returning(Reminder.__table__.c.id)).scalar()
            ids[title] = (case, refused, repeat)

    upgrade(directory=MIGRATIONS, revision="head")
    db.session.remove()

    case, refused, repeat = ids["waiting"]
    assert db.session.get(Reminder, refused).status == "pending"
    assert (db.session.get(Reminder, repeat).status, db.session.get(Reminder, repeat).cancelled_reason) == ("pending", "")
    # ... and, its email refused, reminder 1 was not done: it is the case's next follow-up
    # again, overdue (0018_undelivered), until the email is retried and delivered.
    assert db.session.get(Reminder, refused).undelivered_at == T0 + timedelta(hours=48)
    assert db.session.get(Case, case).follow_up_due_at == T0 + timedelta(hours=48)
    (event,) = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case)).all()
    assert event.kind == "reminder_reopened" and "reopened" in event.summary

    case, refused, repeat = ids["answered"]  # Amazon replied: nothing to reopen
    assert db.session.get(Reminder, refused).status == "failed"
    assert db.session.get(Reminder, refused).undelivered_at is None
    assert db.session.get(Reminder, repeat).status == "cancelled"
    assert db.session.get(Case, case).follow_up_due_at is None


def test_mail_held_before_the_upgrade_is_not_sent_after_it(migrated_app):
    """Held mail was never sent before 0015 (its reminder counted as sent); now the first pass
    with a server sends held mail, so what was held before the upgrade (reminders of cases
    closed since, old digests) is cancelled, not mailed weeks late."""
    upgrade(directory=MIGRATIONS, revision="0014_closed_at")
    with db.engine.begin() as connection:
        agency = connection.execute(insert(Agency.__table__).values(
            name="Old Agency", timezone="UTC", created_at=T0).returning(Agency.__table__.c.id)).scalar()
        for n, status in enumerate(("held", "sent")):
            connection.execute(insert(OutboxMessage.__table__).values(
                idempotency_key=f"digest:{n}", agency_id=agency, kind="digest", recipient="carl@agency.example",
                subject="Digest", body_text="t", body_html="h", status=status, send_after=T0, attempts=0,
                last_error="", created_at=T0))

    upgrade(directory=MIGRATIONS, revision="head")
    db.session.remove()

    statuses = dict(db.session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status)).all())
    assert statuses == {"digest:0": "cancelled", "digest:1": "sent"}
    held = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == "digest:0"))
    assert "no mail server was configured" in held.last_error
