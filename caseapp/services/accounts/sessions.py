"""Sign-in sessions kept on the server, one row per sign-in of one browser.

Flask's session cookie is signed, not stored: on its own it stays valid for as long as it
says, whatever happens on the server, and so does Flask-Login's "keep me signed in" cookie.
Both cookies therefore carry `<user id>:<key>` (User.get_id), where the key is a random
secret naming a UserSession row, and a request is signed in only while that row is open.
Signing out ends the row, so a copy of either cookie taken before signs nobody in; a
password change, a reset, "sign out everywhere" and a deactivation end every row of the
person. The row is found by the key's SHA-256 (unique index) in the same query that loads
the user, so a signed-in request costs one indexed lookup, as before.

A session without "keep me signed in" ends after SESSION_IDLE_MINUTES without a request;
one with it ends REMEMBER_DAYS after sign-in, as its cookie does, even when the cookie is
replayed by someone ignoring its expiry.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from caseapp.core.transaction import transaction, transactional
from caseapp.extensions import db
from caseapp.models import User, UserSession, utcnow
from caseapp.core.parsing import parse_id

# Writing last_seen_at on every request would turn each read into a write; once a minute
# is enough for the idle timeout and for showing a person where they are signed in.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transactional
def start(user: User, remember: bool, address: str, user_agent: str,
          now: datetime | None = None) -> UserSession:
    """Open a session for `user` in this browser; `user.get_id()` then names it."""
    now = now or utcnow()
    key = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, key_hash=_hash(key), remember=remember, created_at=now,
                      created_ip=address[:64], last_seen_at=now, last_ip=address[:64],
                      user_agent=user_agent[:300])
    db.session.add(row)
    db.session.flush()
    user.session_key = key
    return row


def find(identity: str) -> tuple[User, UserSession] | None:
    """The active user and open session a cookie's identity names, or None. One query."""
    raw_id, _, key = (identity or "").partition(":")
    user_id = parse_id(raw_id)
    if user_id is None or not key or len(key) > 100:
        return None  # e.g. an identity from before sessions were kept on the server
    found = db.session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.key_hash == _hash(key))).first()
    if found is None:
        return None
    row, user = found
    if row.ended_at is not None or user.id != user_id or not user.active:
        return None
    user.session_key = key
    return user, row


def lapsed(row: UserSession, now: datetime | None = None) -> str | None:
    """"idle" or "expired" when the session has run out of time, else None."""
    now = now or utcnow()
    if row.remember:
        return "expired" if now - row.created_at >= current_app.config["REMEMBER_COOKIE_DURATION"] else None
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    return "idle" if now - row.last_seen_at > idle else None


def touch(row: UserSession, address: str, now: datetime | None = None) -> None:
    """Note that the session was used just now, from `address` (at most once a minute).
    Runs before every signed-in request: it opens a unit of work only when it writes."""
    now = now or utcnow()
    if now - row.last_seen_at < TOUCH_EVERY:
        return
    with transaction():
        row.last_seen_at, row.last_ip = now, address[:64]


@transactional
def end(row: UserSession, reason: str, now: datetime | None = None) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = now or utcnow(), reason


def end_all(user: User, reason: str, now: datetime | None = None) -> None:
    """End every open session of `user`, in the caller's unit of work."""
    db.session.execute(
        update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow(), end_reason=reason))
