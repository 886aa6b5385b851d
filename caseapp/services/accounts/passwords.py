"""Changing a password, and resetting a forgotten one by email (the rules: password_rules)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import select, update

from caseapp.core.errors import ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import PasswordReset, User, utcnow
from caseapp.services.accounts import people, sessions
from caseapp.services.accounts.password_rules import check, hints_for, problem
from caseapp.services.mail import kinds, links, outbox

RESET_VALID_FOR = timedelta(hours=1)


@transactional
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
    end_resets(user, utcnow())


@transactional
def set_by_operator(user: User, new: str) -> None:
    """An operator at the command line sets someone's password (no mail server, a locked-out
    first admin): the same rules as any password; other sessions and reset links end."""
    check(new, hints_for(user))
    user.set_password(new)
    sessions.end_all(user, "password_set_by_operator")
    end_resets(user, utcnow())


def end_resets(user: User, now: datetime) -> None:
    """Every reset link of this user not used yet works no more (the password just changed:
    a link mailed before must not change it again)."""
    db.session.execute(update(PasswordReset)
                       .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(salt: str) -> str:
    """The reset token of a row: derived, so the email can be built at send time (and again
    for a retry) while the database holds only the salt and the token's hash."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"password-reset:" + salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@transactional
def request_reset(email: str, now: datetime | None = None) -> bool:
    """Email a reset link if an active account has this address. Says nothing either way.

    The stored email holds a placeholder, not the link: the delivery pass asks
    `reset_link` for it (see mail/links.py)."""
    now = now or utcnow()
    user = people.find_user(email)
    if user is None or not user.active:
        return False
    salt = secrets.token_hex(16)
    reset = PasswordReset(user_id=user.id, token_hash=_hash(_token(salt)), salt=salt,
                          created_at=now, expires_at=now + RESET_VALID_FOR)
    db.session.add(reset)
    db.session.flush()
    context = dict(person=user, link=links.PLACEHOLDER,
                   minutes=int(RESET_VALID_FOR.total_seconds() // 60))
    outbox.queue("password_reset", user.email, "Reset your caseapp password",
                 render_template("email/password_reset.txt", **context),
                 render_template("email/password_reset.html", **context),
                 key=f"password_reset:{reset.id}", agency_id=user.agency_id, send_after=now,
                 link_ref=str(reset.id))
    return True


def reset_link(link_ref: str, now: datetime) -> str | None:
    """The link of a reset email about to be sent, or None when the reset was used, has
    expired, or its person was deactivated meanwhile (the email is then not sent)."""
    reset = db.session.get(PasswordReset, int(link_ref))
    if reset is None or reset.salt is None or reset.used_at is not None or reset.expires_at <= now:
        return None
    user = db.session.get(User, reset.user_id)
    if user is None or not user.active:
        return None
    return external_url("auth.reset_password", token=_token(reset.salt))


def register_mail_kinds() -> None:
    kinds.register("password_reset", link=reset_link, security=True)


def valid_reset(token: str, now: datetime | None = None) -> PasswordReset | None:
    now = now or utcnow()
    if not token or len(token) > 200:
        return None
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        return None
    user = db.session.get(User, reset.user_id)
    return reset if user is not None and user.active else None


@transactional
def complete_reset(token: str, new: str, now: datetime | None = None) -> User:
    """Set the new password; the link then works no more, nor do the person's other reset
    links or older sessions."""
    now = now or utcnow()
    reset = valid_reset(token, now)
    if reset is None:
        raise ValidationFailed({"token": "This reset link is not valid any more. Ask for a new one."})
    user = db.session.get(User, reset.user_id)
    check(new, hints_for(user))
    user.set_password(new)
    sessions.end_all(user, "password_reset", now)
    end_resets(user, now)  # this one and any other mailed before it
    return user
