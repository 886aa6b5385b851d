"""Recording a message the mail server accepted, with what its owner records beside it (a
follow-up reminder marked sent and "Follow-up reminder N emailed to ..." on the case's
timeline), in one transaction: the delivery pass's documented per-message write.

This runs once per email, right after the server's 250, so it is written for speed: one
database connection kept for the whole delivery (on PostgreSQL a pool checkout per message
also pinged the server and rolled back on return), statements built once per kind, and on
the tables rather than the ORM classes (none of these rows is held in the session). On
PostgreSQL the writes are one statement with data-modifying CTEs, run on its own
(autocommit; a single statement is atomic): one round trip instead of five with BEGIN and
COMMIT. SQLite, which has no such CTEs and no round trips, runs them in a transaction
committed here: with delivery.py's batch commits, the only commits outside
core.transaction.

The owner's share comes from its kind's `after_sent` (kinds.py); a kind without one gets
the message's own UPDATE alone. The outcome is the same as `outbox.resolve(message,
"sent", ...)`, which loads every row and calls the kind's `on_outcome`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text, update

from caseapp.extensions import db
from caseapp.models import OutboxMessage, utcnow
from caseapp.models.types import UTCDateTime
from caseapp.services.mail import kinds

SUMMARY_LIMIT = 500  # what a timeline summary holds; passed to the owner's SQL as :limit

_outbox = OutboxMessage.__table__
_MARK_MESSAGE_SENT = (
    update(_outbox).where(_outbox.c.id == bindparam("message_id"))
    .values(status="sent", sent_at=bindparam("now", type_=UTCDateTime()), lease_until=None, last_error="")
    .returning(_outbox.c.id, _outbox.c.reminder_id, _outbox.c.kind, _outbox.c.recipient,
               _outbox.c.case_id, _outbox.c.deadline_id))
_MESSAGE_CTE_POSTGRESQL = """
WITH message AS (
    UPDATE outbox_messages
    SET status = 'sent', sent_at = :now, lease_until = NULL, last_error = ''
    WHERE id = :message_id
    RETURNING id, reminder_id, kind, recipient, case_id, deadline_id
)"""


class SentLog:
    def __init__(self):
        self._connection = None
        self._statements: dict[str, object] = {}

    def _postgresql_statement(self, after: kinds.AfterSent):
        statement = self._statements.get(after.postgresql)
        if statement is None:
            statement = text(_MESSAGE_CTE_POSTGRESQL + after.postgresql).bindparams(
                bindparam("now", type_=UTCDateTime()), bindparam("occurred_at", type_=UTCDateTime()))
            self._statements[after.postgresql] = statement
        return statement

    def record(self, message_id: int, kind: str, now: datetime) -> None:
        if self._connection is None:
            self._connection = db.engine.connect()
            if self._connection.dialect.name == "postgresql":
                self._connection = self._connection.execution_options(isolation_level="AUTOCOMMIT")
        connection = self._connection
        entry = kinds.get(kind)
        after = entry.after_sent if entry is not None else None
        if connection.dialect.name == "postgresql":
            if after is None:
                connection.execute(_MARK_MESSAGE_SENT, {"message_id": message_id, "now": now})
            else:
                connection.execute(self._postgresql_statement(after), {
                    "message_id": message_id, "now": now, "occurred_at": utcnow(),
                    "limit": SUMMARY_LIMIT})
            return
        try:
            sent = connection.execute(_MARK_MESSAGE_SENT, {"message_id": message_id, "now": now}).one()
            if after is not None:
                after.sqlite(connection, sent, now)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
