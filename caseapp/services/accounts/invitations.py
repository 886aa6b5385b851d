"""Invitations: an admin invites a colleague by email; the colleague sets their own password.

Nobody types another person's password, and an admin learns nothing about addresses
outside the agency: inviting an address that already has an account in another agency
looks exactly like any invitation that is never accepted (the mail to that address says
so instead of carrying a link). Only members of the admin's own agency are named as such.

The link works once, until it expires (INVITATION_HOURS, 72 by default) or is revoked.
Its token is never stored: the row keeps a random salt and the token's SHA-256; the token
is HMAC(SECRET_KEY, salt), so the link is rebuilt when the mail is sent and a retried
send carries the same working link, while the outbox and any backup hold none.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from caseapp.core import timezones
from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Invitation, User, utcnow
from caseapp.services.accounts import audit, people
from caseapp.services.mail import kinds, links, outbox

TOKEN_PURPOSE = b"caseapp invitation v1:"


def valid_for() -> timedelta:
    return timedelta(hours=int(current_app.config.get("INVITATION_HOURS", 72)))


def token_for(invitation: Invitation) -> str:
    """The secret part of the invitation's link, derived from its salt; never stored."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, TOKEN_PURPOSE + invitation.token_salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(invitation: Invitation) -> None:
    """A new salt, so every link sent before stops working."""
    invitation.token_salt = secrets.token_urlsafe(24)
    invitation.token_hash = _hash(token_for(invitation))


@transactional
def invite(actor: User, email: str | None, name: str | None, role: str | None,
           timezone: str | None = None,
           now: datetime | None = None) -> Invitation:
    """Invite `email` to the actor's agency and mail the link.

    A pending invitation of the same address is replaced (its link stops working).
    """
    people.require_admin(actor)
    now = now or utcnow()
    wrong = {field: "Must be text." for field, value in
             (("email", email), ("name", name), ("role", role), ("timezone", timezone))
             if value is not None and not isinstance(value, str)}
    if wrong:
        raise ValidationFailed(wrong)
    email, name, role = email or "", name or "", role or ""
    errors = people.validate_person(name, role, timezone, None)
    try:
        email = people.normalise_email(email)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    else:
        member = db.session.scalar(select(User).where(
            User.email == email, User.agency_id == actor.agency_id))
        if member is not None:
            errors["email"] = f"{member.name} ({email}) is already a member of your agency."
    if errors:
        raise ValidationFailed(errors)
    for older in _pending_for(actor.agency_id, email, now):
        older.revoked_at = now
    invitation = Invitation(agency_id=actor.agency_id, email=email, name=name.strip(), role=role,
                            timezone=timezone or None, invited_by_id=actor.id, created_at=now,
                            expires_at=now + valid_for())
    _new_token(invitation)
    db.session.add(invitation)
    db.session.flush()
    _mail(invitation, actor, now)
    audit.record("invitation", actor, target=email, detail=f"invited as {role}")
    return invitation


@transactional
def resend(actor: User, invitation_id: int, now: datetime | None = None) -> Invitation:
    """A new link (the old one stops working) valid for the whole period again."""
    now = now or utcnow()
    invitation = get(actor, invitation_id)
    if invitation.state(now) in ("accepted", "revoked"):
        raise Conflict(f"The invitation of {invitation.email} was {invitation.state(now)}; "
                       "invite the person again instead.")
    _new_token(invitation)
    invitation.expires_at = now + valid_for()
    _mail(invitation, actor, now)
    audit.record("invitation", actor, target=invitation.email, detail="invitation sent again")
    return invitation


@transactional
def revoke(actor: User, invitation_id: int, now: datetime | None = None) -> Invitation:
    now = now or utcnow()
    invitation = get(actor, invitation_id)
    if invitation.state(now) == "accepted":
        raise Conflict(f"{invitation.email} accepted the invitation already; deactivate the "
                       "account instead.")
    if invitation.revoked_at is None:
        invitation.revoked_at = now
        audit.record("invitation", actor, target=invitation.email, detail="invitation revoked")
    return invitation


def get(actor: User, invitation_id: int) -> Invitation:
    people.require_admin(actor)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.agency_id != actor.agency_id:
        raise NotFound("No such invitation.")
    return invitation


def open_invitations(actor: User, now: datetime | None = None) -> list[Invitation]:
    """Invitations not accepted nor revoked, newest first (expired ones too: they can be resent)."""
    people.require_admin(actor)
    return list(db.session.scalars(
        select(Invitation).where(Invitation.agency_id == actor.agency_id,
                                 Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .options(joinedload(Invitation.invited_by)).order_by(Invitation.created_at.desc())))


def _pending_for(agency_id: int, email: str, now: datetime) -> list[Invitation]:
    return list(db.session.scalars(select(Invitation).where(
        Invitation.agency_id == agency_id, Invitation.email == email,
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at > now)))


def find_valid(token: str, now: datetime | None = None) -> Invitation | None:
    """The pending invitation this link's token opens, or None."""
    now = now or utcnow()
    if not token or len(token) > 200:
        return None
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if invitation is None or invitation.state(now) != "pending":
        return None
    return invitation


@transactional
def accept(token: str, name: str, password: str, now: datetime | None = None) -> User:
    """Create the invited person's account with the password they chose; the link then dies."""
    now = now or utcnow()
    invitation = find_valid(token, now)
    if invitation is None:
        raise ValidationFailed({"token": "This invitation is not valid any more. Ask for a new one."})
    if db.session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
        raise ValidationFailed({"token": f"{invitation.email} has a caseapp account already: "
                                         "sign in with it, or ask to be invited at another address."})
    name = name if isinstance(name, str) else ""
    password = password if isinstance(password, str) else ""  # missing: "at least 10 characters"
    errors = people.validate_person(name, invitation.role, invitation.timezone, password,
                                      (invitation.email, name, invitation.agency.name))
    if errors:
        raise ValidationFailed(errors)
    user = User(agency_id=invitation.agency_id, email=invitation.email, name=name.strip(),
                role=invitation.role, timezone=invitation.timezone)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    invitation.accepted_at, invitation.user_id = now, user.id
    audit.record("invitation_accepted", user, target=invitation.email,
                 detail=f"joined as {invitation.role}")
    return user


def _mail(invitation: Invitation, actor: User, now: datetime) -> None:
    """Queue the invitation mail. To an address that has an account (in another agency: a
    member of this one was refused above) it says so instead of carrying a link; kind,
    subject and recipient are the same, so the Outbox shows an admin no difference."""
    has_account = db.session.scalar(select(User.id).where(User.email == invitation.email)) is not None
    template = "email/invitation_existing" if has_account else "email/invitation"
    context = dict(invitation=invitation, inviter=actor, link=links.PLACEHOLDER,
                   expires=timezones.format_local(invitation.expires_at,
                                                  invitation.timezone or invitation.agency.timezone))
    outbox.queue(
        "invitation", invitation.email, f"Join {invitation.agency.name} on caseapp",
        render_template(template + ".txt", **context), render_template(template + ".html", **context),
        key=f"invitation:{invitation.id}:{invitation.token_hash[:16]}",
        agency_id=invitation.agency_id, send_after=now,
        link_ref=None if has_account else f"{invitation.id}:{invitation.token_hash[:16]}")


def invitation_link(link_ref: str, now: datetime) -> str | None:
    """The link of an invitation email about to be sent, or None when that invitation was
    accepted, revoked, sent again with a new link, or has expired (the email is then not sent)."""
    invitation_id, _, token_hash = link_ref.partition(":")
    invitation = db.session.get(Invitation, int(invitation_id))
    if (invitation is None or invitation.state(now) != "pending"
            or not invitation.token_hash.startswith(token_hash)):
        return None
    return external_url("invitations.accept", token=token_for(invitation))


def register_mail_kinds() -> None:
    kinds.register("invitation", link=invitation_link, security=True)
