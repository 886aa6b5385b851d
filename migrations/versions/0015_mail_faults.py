"""mail faults: bouncing addresses on users, and the mail problems admins are told of

A failed reminder email no longer ends a case's follow-ups; instead the agency's admins are
told (a banner on every page, one email per problem) and an address the mail server refuses
is marked on its person. Existing rows get no bounce and no open problem.

Data: the follow-ups older versions ended because "every reminder email was refused" are
reopened where the case still waits on that submission (status submitted, the case's latest
submission, no reply): the cancelled repeat is pending again (due at once if its time has
passed: the next dispatch pass sends it, once), the refused reminder is pending again (so a
Retry of its email counts it sent), the case's next follow-up is set, and the timeline says
so. The downgrade leaves them open.

Revision ID: 0015_mail_faults
Revises: 0014_closed_at
Create Date: 2026-12-01 15:00:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from caseapp.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0015_mail_faults'
down_revision = '0014_closed_at'
branch_labels = None
depends_on = None


REFUSED = "every reminder email was refused; check the address"

reminders = sa.table(
    "reminders", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
    sa.column("submission_id", sa.Integer), sa.column("sequence", sa.Integer),
    sa.column("due_at", UTCDateTime()), sa.column("status", sa.String),
    sa.column("dispatched_at", UTCDateTime()), sa.column("cancelled_reason", sa.String))
cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("status", sa.String),
                 sa.column("follow_up_due_at", UTCDateTime()))
submissions = sa.table("submissions", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                       sa.column("submitted_at", UTCDateTime()))
responses = sa.table("amazon_responses", sa.column("id", sa.Integer), sa.column("submission_id", sa.Integer))
outbox = sa.table("outbox_messages", sa.column("reminder_id", sa.Integer), sa.column("kind", sa.String),
                  sa.column("status", sa.String), sa.column("last_error", sa.String))
HELD_BEFORE = ("not sent: kept while no mail server was configured, before caseapp sent held mail "
               "once a server was set (what it said is weeks old)")
events = sa.table(
    "case_events", sa.column("case_id", sa.Integer), sa.column("kind", sa.String),
    sa.column("occurred_at", UTCDateTime()), sa.column("actor_id", sa.Integer),
    sa.column("summary", sa.String), sa.column("data", sa.JSON))


def _reopen_refused_follow_ups(connection) -> None:
    now = datetime.now(timezone.utc)
    ended = connection.execute(
        sa.select(reminders.c.id, reminders.c.case_id, reminders.c.submission_id, reminders.c.sequence)
        .where(reminders.c.status == "cancelled", reminders.c.cancelled_reason == REFUSED)
        .order_by(reminders.c.submission_id, reminders.c.sequence)).all()
    by_submission: dict[tuple[int, int], list] = {}
    for row in ended:
        by_submission.setdefault((row.case_id, row.submission_id), []).append(row)
    for (case_id, submission_id), rows in by_submission.items():
        status = connection.execute(sa.select(cases.c.status).where(cases.c.id == case_id)).scalar()
        latest = connection.execute(
            sa.select(submissions.c.id).where(submissions.c.case_id == case_id)
            .order_by(submissions.c.submitted_at.desc(), submissions.c.id.desc()).limit(1)).scalar()
        answered = connection.execute(sa.select(responses.c.id).where(
            responses.c.submission_id == submission_id).limit(1)).scalar()
        if status != "submitted" or latest != submission_id or answered is not None:
            continue
        connection.execute(reminders.update().where(reminders.c.id.in_([r.id for r in rows]))
                           .values(status="pending", cancelled_reason=""))
        connection.execute(reminders.update().where(
            reminders.c.submission_id == submission_id, reminders.c.status == "failed",
            reminders.c.dispatched_at.is_not(None),
            reminders.c.id.in_(sa.select(outbox.c.reminder_id).where(outbox.c.kind == "reminder")))
            .values(status="pending"))
        for row in rows:
            connection.execute(events.insert().values(
                case_id=case_id, kind="reminder_reopened", occurred_at=now, actor_id=None,
                summary=f"Follow-up reminder {row.sequence} reopened: a refused email no longer "
                        "ends the follow-ups",
                data={"reminder_id": row.id, "submission_id": submission_id}))
        due = connection.execute(sa.select(sa.func.min(reminders.c.due_at)).where(
            reminders.c.case_id == case_id, reminders.c.status == "pending",
            reminders.c.dispatched_at.is_(None))).scalar()
        connection.execute(cases.update().where(cases.c.id == case_id).values(follow_up_due_at=due))


def upgrade():
    # add_column outside batch mode: SQLite adds a column in place, without rebuilding the
    # users table that every other table refers to.
    op.add_column("users", sa.Column("email_bounced_at", UTCDateTime(), nullable=True))
    op.add_column("users", sa.Column("email_bounce_message", sa.String(length=500),
                                     server_default="", nullable=False))
    op.create_table(
        "mail_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_why", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_mail_problems_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_problems")),
    )
    op.create_index("ix_mail_problems_agency_id_closed_at", "mail_problems", ["agency_id", "closed_at"])
    _reopen_refused_follow_ups(op.get_bind())
    # Until now held mail was never sent, and its reminder counted as sent. The first pass with
    # a server now sends held mail: without this, reminders and digests kept for months (of
    # cases closed since) would go out at once.
    op.get_bind().execute(outbox.update().where(outbox.c.status == "held")
                          .values(status="cancelled", last_error=HELD_BEFORE))


def downgrade():
    op.drop_index("ix_mail_problems_agency_id_closed_at", table_name="mail_problems")
    op.drop_table("mail_problems")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email_bounce_message")
        batch_op.drop_column("email_bounced_at")
