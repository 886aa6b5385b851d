"""reminders.undelivered_at: a reminder whose email failed for good or is held

Such a reminder counts as the case's next follow-up again (overdue) until its email is
delivered or the follow-up ends (services/appeals/dispatch.py, followups.refresh_deadlines).
A partial index holds only those reminders.

Revision ID: 0018_undelivered
Revises: 0017_idempotency
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

import caseapp.models.types


# revision identifiers, used by Alembic.
revision = '0018_undelivered'
down_revision = '0017_idempotency'
branch_labels = None
depends_on = None

WHERE = "undelivered_at IS NOT NULL"


def upgrade():
    # Plain ADD COLUMN (no batch rebuild of `reminders`, which outbox_messages references:
    # see 0016_corrections).
    op.add_column('reminders', sa.Column('undelivered_at', caseapp.models.types.UTCDateTime(timezone=True),
                                         nullable=True))
    op.create_index('ix_reminders_undelivered', 'reminders', ['undelivered_at'], unique=False,
                    sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))
    # Reminders already waiting on mail that failed or is held count as undelivered now.
    op.execute(
        "UPDATE reminders SET undelivered_at = dispatched_at "
        "WHERE status = 'pending' AND dispatched_at IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM outbox_messages m WHERE m.reminder_id = reminders.id "
        "AND m.kind = 'reminder' AND m.status IN ('failed', 'held'))")
    op.execute(
        "UPDATE cases SET follow_up_due_at = ("
        "SELECT min(r.due_at) FROM reminders r WHERE r.case_id = cases.id AND r.status = 'pending' "
        "AND (r.dispatched_at IS NULL OR r.undelivered_at IS NOT NULL)) "
        "WHERE id IN (SELECT case_id FROM reminders WHERE undelivered_at IS NOT NULL)")


def downgrade():
    op.drop_index('ix_reminders_undelivered', table_name='reminders')
    # The column is dropped in place (SQLite 3.35+), again without a rebuild.
    op.drop_column('reminders', 'undelivered_at')
