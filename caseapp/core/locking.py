"""Claiming rows so that two dispatcher processes never work on the same one.

PostgreSQL: `FOR UPDATE SKIP LOCKED`: each process takes rows nobody else holds.
SQLite: `BEGIN IMMEDIATE` takes the database's single write lock before reading, so a
second process waits (busy timeout) and then sees what the first one committed.
Either way the claim lasts until the caller commits or rolls back, so a process that
dies mid-way releases its rows untouched.
"""
from sqlalchemy import Select, text

from caseapp.extensions import db


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def write_lock() -> None:
    """On SQLite, take the write lock now, before the reads a change depends on.

    Python's sqlite3 only starts a real transaction at the first write, so reads made
    before it could be stale by the time the write happens; `BEGIN IMMEDIATE` closes that
    gap. A no-op when this connection already holds a write transaction, and on PostgreSQL,
    where `SELECT ... FOR UPDATE` does the job.
    """
    if not is_sqlite():
        return
    raw = db.session.connection().connection.dbapi_connection
    if not raw.in_transaction:
        db.session.execute(text("BEGIN IMMEDIATE"))


def for_update(stmt: Select, of) -> Select:
    """`stmt` made to lock the row of `of` it finds (a case), for a change of it or of what
    hangs on it. SQLite: the write lock first, before the reads the change depends on.
    PostgreSQL: FOR NO KEY UPDATE, so rows that only point at it (timeline, reminders) can
    still be written meanwhile; a plain FOR UPDATE deadlocked with the mail dispatcher. And
    the locked row's values, not those the session loaded before."""
    write_lock()
    return stmt.with_for_update(of=of, key_share=True).execution_options(populate_existing=True)


def claim(stmt: Select, limit: int, of=None) -> list:
    """Start a transaction and return up to `limit` rows of `stmt`, locked for this transaction."""
    if db.session().in_transaction():
        db.session.commit()
    if is_sqlite():
        write_lock()
        return list(db.session.scalars(stmt.limit(limit)))
    return list(db.session.scalars(stmt.with_for_update(skip_locked=True, of=of).limit(limit)))
