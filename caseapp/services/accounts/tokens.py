"""Creating, listing, revoking and checking API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import ApiToken, User, utcnow
from caseapp.core.errors import NotFound, ValidationFailed
from caseapp.core.transaction import transaction, transactional

PREFIX = "cap_"
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transactional
def create(user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the token text, which is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed({"name": "Give the token a name of 1 to 100 characters, e.g. 'CRM sync'."})
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=_hash(token), prefix=token[:12])
    db.session.add(row)
    db.session.flush()
    return row, token


def for_user(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())))


@transactional
def revoke(user: User, token_id: int) -> ApiToken:
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
    return row


def authenticate(token: str, now: datetime | None = None) -> User | None:
    """The active user behind an active token, or None. Runs on every API request: it opens
    a unit of work only when it notes the token's use (at most once a minute)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        with transaction():
            row.last_used_at = now
    return row.user
