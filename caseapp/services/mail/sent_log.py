"""Recording a message the mail server accepted: the message sent, its reminder sent, and
"Follow-up reminder N emailed to ..." on the case's timeline, in one transaction.

This runs once per email, right after the server's 250, so it is written for speed: one
database connection kept for the whole delivery (on PostgreSQL a pool checkout per message
also pinged the server and rolled back on return), statements built once, and on the
tables rather than the ORM classes (none of these rows is held in the session). On
PostgreSQL the three writes are one statement with data-modifying CTEs, run on its own
(autocommit; a single statement is atomic): one round trip instead of five with BEGIN and
COMMIT. SQLite, which has no such CTEs and no round trips, runs the three in a transaction.

The outcome is the same as `dispatch._resolve(message, "sent", ...)`, which loads every row.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, text, update

from caseapp.extensions import db
from caseapp.models import CaseEvent, OutboxMessage, Reminder, utcnow
from caseapp.models.types import UTCDateTime

SUMMARY = "Follow-up reminder {sequence} emailed to {recipient}"
SUMMARY_LIMIT = 500

_outbox, _reminders, _events = OutboxMessage.__table__, Reminder.__table__, CaseEvent.__table__
_MARK_MESSAGE_SENT = (
    update(_outbox).where(_outbox.c.id == bindparam("message_id"))
    .values(status="sent", sent_at=bindparam("now", type_=UTCDateTime()), lease_until=None, last_error="")
    .returning(_outbox.c.reminder_id, _outbox.c.kind, _outbox.c.recipient, _outbox.c.case_id))
_MARK_REMINDER_SENT = (
    update(_reminders)
    .where(_reminders.c.id == bindparam("reminder_id"), _reminders.c.status == "pending")
    .values(status="sent", sent_at=bindparam("now", type_=UTCDateTime()))
    .returning(_reminders.c.sequence, _reminders.c.submission_id))
_RECORD_SENT_EVENT = insert(_events).values(
    kind="reminder_sent", actor_id=None, case_id=bindparam("case_id"),
    occurred_at=bindparam("occurred_at", type_=UTCDateTime()), summary=bindparam("summary"),
    data=bindparam("data", type_=_events.c.data.type))

# The same three writes for PostgreSQL, in one statement. A reminder that is no longer
# pending (a reply cancelled it meanwhile) is left alone and gets no timeline entry.
_RECORD_SENT_POSTGRESQL = text("""
WITH message AS (
    UPDATE outbox_messages
    SET status = 'sent', sent_at = :now, lease_until = NULL, last_error = ''
    WHERE id = :message_id
    RETURNING reminder_id, kind, recipient, case_id
), reminder AS (
    UPDATE reminders
    SET status = 'sent', sent_at = :now
    FROM message
    WHERE reminders.id = message.reminder_id AND message.kind = 'reminder'
      AND reminders.status = 'pending'
    RETURNING reminders.id, reminders.sequence, reminders.submission_id,
              message.case_id, message.recipient
)
INSERT INTO case_events (case_id, kind, occurred_at, actor_id, summary, data)
SELECT case_id, 'reminder_sent', :occurred_at, NULL,
       left('Follow-up reminder ' || sequence || ' emailed to ' || recipient, :limit),
       json_build_object('reminder_id', id, 'submission_id', submission_id)
FROM reminder
""").bindparams(bindparam("now", type_=UTCDateTime()), bindparam("occurred_at", type_=UTCDateTime()))


class SentLog:
    def __init__(self):
        self._connection = None

    def record(self, message_id: int, now: datetime) -> None:
        if self._connection is None:
            self._connection = db.engine.connect()
            if self._connection.dialect.name == "postgresql":
                self._connection = self._connection.execution_options(isolation_level="AUTOCOMMIT")
        connection = self._connection
        if connection.dialect.name == "postgresql":
            connection.execute(_RECORD_SENT_POSTGRESQL, {
                "message_id": message_id, "now": now, "occurred_at": utcnow(), "limit": SUMMARY_LIMIT})
            return
        try:
            sent = connection.execute(_MARK_MESSAGE_SENT, {"message_id": message_id, "now": now}).one()
            reminder = None
            if sent.reminder_id is not None and sent.kind == "reminder":
                reminder = connection.execute(
                    _MARK_REMINDER_SENT, {"reminder_id": sent.reminder_id, "now": now}).one_or_none()
            if reminder is not None:
                connection.execute(_RECORD_SENT_EVENT, {
                    "case_id": sent.case_id, "occurred_at": utcnow(),
                    "summary": SUMMARY.format(sequence=reminder.sequence,
                                              recipient=sent.recipient)[:SUMMARY_LIMIT],
                    "data": {"reminder_id": sent.reminder_id, "submission_id": reminder.submission_id}})
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
