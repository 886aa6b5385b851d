"""Password rules, changing a password, and resetting a forgotten one by email."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import select
from zxcvbn import zxcvbn

from caseapp.extensions import db
from caseapp.models import OutboxMessage, PasswordReset, User, utcnow
from caseapp.services import sessions
from caseapp.services.errors import ValidationFailed

MIN_LENGTH = 10
MIN_STRENGTH = 3  # zxcvbn's score: 3 means about 10^8 guesses or more
RESET_VALID_FOR = timedelta(hours=1)


def problem(password: str, hints: tuple[str, ...] = ()) -> str | None:
    """Why this password is refused, or None. `hints` are words about the person (email, name)."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    if len(password) > 200:
        return "A password can have at most 200 characters."
    result = zxcvbn(password[:100], user_inputs=[h for h in hints if h])
    if result["score"] < MIN_STRENGTH:
        warning = result["feedback"].get("warning") or "It is too easy to guess."
        return f"{warning.rstrip('.')}. Choose a less common password, e.g. a few unrelated words."
    return None


def check(password: str, hints: tuple[str, ...] = (), field: str = "password") -> None:
    message = problem(password, hints)
    if message:
        raise ValidationFailed({field: message})


def hints_for(user: User) -> tuple[str, ...]:
    return (user.email, user.email.split("@")[0], user.name, user.agency.name)


def change(user: User, current: str, new: str) -> None:
    """Set a new password; every session of the person ends, the caller's own included
    (the view opens a fresh one for the browser that changed it)."""
    errors = {}
    if not user.check_password(current or ""):
        errors["current_password"] = "That is not your current password."
    message = problem(new, hints_for(user))
    if message:
        errors["new_password"] = message
    if errors:
        raise ValidationFailed(errors)
    user.set_password(new)
    sessions.end_all(user, "password_changed")
    db.session.commit()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(email: str, now: datetime | None = None) -> bool:
    """Email a reset link if an active account has this address. Says nothing either way."""
    now = now or utcnow()
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.active:
        return False
    token = secrets.token_urlsafe(32)
    db.session.add(PasswordReset(user_id=user.id, token_hash=_hash(token), created_at=now,
                                 expires_at=now + RESET_VALID_FOR))
    link = f"{current_app.config['APP_BASE_URL'].rstrip('/')}/password/reset/{token}"
    context = dict(person=user, link=link, minutes=int(RESET_VALID_FOR.total_seconds() // 60))
    db.session.add(OutboxMessage(
        idempotency_key=f"password_reset:{_hash(token)[:32]}", agency_id=user.agency_id,
        kind="password_reset", recipient=user.email, subject="Reset your caseapp password",
        body_text=render_template("email/password_reset.txt", **context),
        body_html=render_template("email/password_reset.html", **context), send_after=now))
    db.session.commit()
    return True


def valid_reset(token: str, now: datetime | None = None) -> PasswordReset | None:
    now = now or utcnow()
    if not token or len(token) > 200:
        return None
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        return None
    user = db.session.get(User, reset.user_id)
    return reset if user is not None and user.active else None


def complete_reset(token: str, new: str, now: datetime | None = None) -> User:
    """Set the new password; the link then works no more, nor do older sessions."""
    now = now or utcnow()
    reset = valid_reset(token, now)
    if reset is None:
        raise ValidationFailed({"token": "This reset link is not valid any more. Ask for a new one."})
    user = db.session.get(User, reset.user_id)
    check(new, hints_for(user))
    reset.used_at = now
    user.set_password(new)
    sessions.end_all(user, "password_reset", now)
    db.session.commit()
    return user
