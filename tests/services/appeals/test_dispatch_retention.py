"""Sent mail's bodies are cleared OUTBOX_BODY_RETENTION_DAYS after sending, by the dispatch
pass; the Outbox says so. Mail not (yet) delivered keeps its body."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from caseapp.extensions import db
from caseapp.models import OutboxMessage
from caseapp.services.appeals import dispatch
from caseapp.services.mail import delivery
from caseapp.services.appeals import submissions
from tests.conftest import Browser

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def messages() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_sent_bodies_are_cleared_after_the_retention_period_and_not_before(app, world, smtp_server):
    app.config["OUTBOX_BODY_RETENTION_DAYS"] = 30
    submission = submissions.record_submission(world.consultant_a, world.case_a.id, {
        "submitted_at": NOW - timedelta(hours=49), "channel": "account_health_appeal"}, now=NOW)
    assert dispatch.run_pass(NOW).sent == 1
    # Amazon answers: no more follow-ups, so the sent one is the only message.
    submissions.record_response(world.consultant_a, submission.id, {"outcome": "other", "body": "x"},
                                now=NOW + timedelta(hours=1))
    failed = OutboxMessage(idempotency_key="failed:1", agency_id=world.agency_a.id, kind="digest",
                           recipient="x@agency-a.example", subject="Refused", body_text="kept text",
                           body_html="<p>kept</p>", status="failed", created_at=NOW, send_after=NOW)
    db.session.add(failed)
    db.session.commit()

    dispatch.run_pass(NOW + timedelta(days=30) - timedelta(minutes=1))
    sent, kept = messages()
    assert "Harbor Lane Home Goods" in sent.body_text and sent.body_cleared_at is None

    later = NOW + timedelta(days=30, minutes=1)
    dispatch.run_pass(later)
    sent, kept = messages()
    assert (sent.body_text, sent.body_html) == ("", "") and sent.body_cleared_at == later
    assert sent.subject and sent.recipient == world.consultant_a.email  # the listing stays
    assert (kept.body_text, kept.body_cleared_at) == ("kept text", None)

    admin = Browser(app)
    admin.login(world.admin_a.email)
    page = admin.get("/admin/outbox").get_data(as_text=True)
    assert "cleared" in page and "30 days after it was sent" in page


def test_clearing_reads_only_the_bodies_still_to_clear(app, world):
    """The pass runs every minute: its query must be a range of an index that holds only
    the sent bodies not yet cleared, not a walk through every message ever sent."""
    statement = delivery.bodies_to_clear(NOW, 500)
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "postgresql":
        # On an almost empty table the planner rightly prefers a scan; forbid it, so the
        # plan shows whether the index can serve the query at all.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")))
    else:
        plan = " ".join(str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    db.session.rollback()
    assert "ix_outbox_messages_bodies_to_clear" in plan, plan
