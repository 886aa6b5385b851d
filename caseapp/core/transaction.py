"""The one place caseapp commits: a unit of work around a request, a command or a job.

Services add and flush; they never commit. Whoever starts the work (a view, an API
resource, a CLI command, a scheduler job) opens it with

    with transaction():
        cases.update(...)
        workflow.set_status(...)

and the whole block is saved or, when anything in it raises, nothing of it is. A block
inside another joins the outer one: nothing is saved until the outermost ends (there are
no savepoints; SQLite's driver cannot nest them reliably). So an inner block that raises
spoils the outer one: if the outer block catches the error and carries on, its end rolls
back and raises PartlyFailed instead of saving half of the failed step. A public service function that
changes data is decorated with `@transactional`, which opens a unit of work when the
caller has none, so a service called alone (from the shell, a test, a script) still saves.

This follows Indico's `RH.process` (commit once after the handler, roll back on error) and
Cosmic Python's unit of work. The only other commits in the code are the documented
per-batch commits of mail delivery (`services/mail/delivery.py`), which lease rows across
processes and must make each lease visible before the slow SMTP conversation.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from caseapp.extensions import db

_DEPTH = "caseapp.transaction.depth"
_AFTER = "caseapp.transaction.after_commit"
_ABANDON = "caseapp.transaction.abandon"
_UNDO = "caseapp.transaction.on_rollback"
_DOOMED = "caseapp.transaction.doomed"
_NEXT = "caseapp.transaction.before_next_commit"

F = TypeVar("F", bound=Callable)


def _session() -> Session:
    return db.session()


def active() -> bool:
    """True inside a unit of work."""
    return _session().info.get(_DEPTH, 0) > 0


@contextmanager
def transaction() -> Iterator[Session]:
    """Open a unit of work, or join the one already open. The outermost block commits when
    it ends normally and rolls back when it raises (or when `abandon()` was called)."""
    session = _session()
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield session
    except BaseException:
        session.info[_DEPTH] = depth
        if depth == 0:
            _end(session, commit=False)
        else:  # the outer block may catch this, but what the inner one did is half done
            session.info[_DOOMED] = True
        raise
    session.info[_DEPTH] = depth
    if depth == 0:
        if session.info.get(_DOOMED):
            _end(session, commit=False)
            raise PartlyFailed("A step of this unit of work failed and was caught; nothing was saved.")
        _end(session, commit=not session.info.get(_ABANDON, False))


class PartlyFailed(RuntimeError):
    """An inner unit of work raised, the outer one caught it and ended normally: saving the
    rest would keep half of the failed step, so nothing is saved (a bug in the caller)."""


def _end(session: Session, *, commit: bool) -> None:
    callbacks = session.info.pop(_AFTER, [])
    undo = session.info.pop(_UNDO, [])
    session.info.pop(_ABANDON, None)
    session.info.pop(_DOOMED, None)
    if commit:
        try:
            _run(session.info.pop(_NEXT, []))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            _run(undo)
            raise
        _run(callbacks)
    else:
        db.session.rollback()
        _run(undo)


def _run(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


def transactional(function: F) -> F:
    """Run a service function inside a unit of work (its caller's, or a new one)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with transaction():
            return function(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the current unit of work has been saved (never when it is rolled
    back): for what lies outside the database, such as removing a stored file."""
    if not active():
        raise RuntimeError("after_commit() needs an open transaction()")
    _session().info.setdefault(_AFTER, []).append(callback)


def before_next_commit(callback: Callable[[], None]) -> None:
    """Run `callback` inside the next unit of work that is saved, just before it is saved, as
    part of it (a unit of work rolled back leaves it waiting for the next). A POST's one-time
    key is written so, with the first thing the request saves (services/idempotency). If the
    callback raises, that unit of work is rolled back and the error goes to its caller."""
    _session().info.setdefault(_NEXT, []).append(callback)


def drop_before_next_commit() -> None:
    """Forget the callbacks no unit of work has run (at the end of a request)."""
    _session().info.pop(_NEXT, None)


def on_rollback(callback: Callable[[], None]) -> None:
    """Run `callback` if the current unit of work is rolled back (never when it is saved):
    to undo what was done outside the database, such as a file stored for a failed upload."""
    if not active():
        raise RuntimeError("on_rollback() needs an open transaction()")
    _session().info.setdefault(_UNDO, []).append(callback)


def abandon() -> None:
    """Roll back at the end of the current unit of work instead of committing; outside one,
    throw away what the session holds now (an error page after a failed request)."""
    session = _session()
    if active():
        session.info[_ABANDON] = True
    else:
        for key in (_AFTER, _UNDO, _DOOMED):
            session.info.pop(key, None)
        session.rollback()


def ping() -> None:
    """Ask the database for one row and end the read at once (the health check)."""
    session = _session()
    try:
        session.execute(text("SELECT 1"))
    finally:
        session.rollback()
