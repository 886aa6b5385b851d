"""Claiming rows so that two dispatcher processes never work on the same one.

PostgreSQL: `FOR UPDATE SKIP LOCKED`: each process takes rows nobody else holds.
SQLite: `BEGIN IMMEDIATE` takes the database's single write lock up front, so a second
process waits (busy timeout) and then sees the rows the first one already changed.
Either way the claim lasts until the caller commits or rolls back, so a process that
dies mid-way releases its rows untouched.
"""
from sqlalchemy import Select, text

from caseapp.extensions import db


def claim(stmt: Select, limit: int) -> list:
    """Start a transaction and return up to `limit` rows of `stmt`, locked for this transaction."""
    if db.session().in_transaction():
        db.session.commit()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("BEGIN IMMEDIATE"))
        return list(db.session.scalars(stmt.limit(limit)))
    return list(db.session.scalars(stmt.with_for_update(skip_locked=True).limit(limit)))
