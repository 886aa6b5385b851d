"""Agencies, users and sign-in. Admin-only rules are enforced here, not in templates."""
from __future__ import annotations

import re
import secrets
from datetime import datetime

from flask import current_app
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from caseapp.extensions import db
from caseapp.models import ROLES, Agency, User
from caseapp.models.agency import password_hash_method
from caseapp.core import timezones
from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.services.accounts import audit, password_rules, sessions
from caseapp.services.accounts.roles import require_admin
from caseapp.services.mail import outbox as mail_outbox


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed({"email": str(exc)}) from None


@transactional
def create_agency(name: str, timezone: str = "UTC", follow_up_hours: int | None = None) -> Agency:
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = "An agency needs a name."
    if not timezones.is_valid(timezone):
        errors["timezone"] = f"'{timezone}' is not a time zone name such as Europe/Berlin."
    if errors:
        raise ValidationFailed(errors)
    if db.session.scalar(select(Agency.id).where(func.lower(Agency.name) == name.lower())):
        raise Conflict(f"An agency named '{name}' already exists.")
    agency = Agency(name=name, timezone=timezone, follow_up_hours=follow_up_hours)
    db.session.add(agency)
    db.session.flush()
    return agency


def get_agency_by_name(name: str) -> Agency:
    agency = db.session.scalar(select(Agency).where(func.lower(Agency.name) == name.strip().lower()))
    if agency is None:
        raise NotFound(f"No agency named '{name}'.")
    return agency


@transactional
def update_agency_settings(actor: User, timezone: str, follow_up_hours: int | None) -> Agency:
    require_admin(actor)
    errors = {}
    if not timezones.is_valid(timezone):
        errors["timezone"] = f"'{timezone}' is not a time zone name such as Europe/Berlin."
    if follow_up_hours is not None and not 1 <= follow_up_hours <= 720:
        errors["follow_up_hours"] = "Follow-up hours must be between 1 and 720."
    if errors:
        raise ValidationFailed(errors)
    agency = actor.agency
    agency.timezone = timezone
    agency.follow_up_hours = follow_up_hours
    db.session.flush()
    return agency


MAX_NAME_CHARS = 120


def validate_person(name: str, role: str, timezone: str | None, password: str | None,
                    hints: tuple[str, ...] = ()) -> dict:
    """The problems with a person's fields, by field name (empty when there are none)."""
    errors = {}
    if not (name or "").strip():
        errors["name"] = "Please give the person's name."
    elif len(name.strip()) > MAX_NAME_CHARS:
        errors["name"] = f"At most {MAX_NAME_CHARS} characters."
    if role not in ROLES:
        errors["role"] = f"Role must be one of: {', '.join(ROLES)}."
    if timezone and not timezones.is_valid(timezone):
        errors["timezone"] = f"'{timezone}' is not a time zone name such as Europe/Berlin."
    if password is not None:
        message = password_rules.problem(password, hints)
        if message:
            errors["password"] = message
    return errors


@transactional
def create_user(
    agency: Agency,
    email: str,
    name: str,
    role: str,
    password: str,
    timezone: str | None = None,
    actor: User | None = None,
) -> User:
    """Create a user in `agency`. `actor` is None only for the command line."""
    if actor is not None:
        require_admin(actor)
        agency = actor.agency
    errors = validate_person(name, role, timezone, password, (email, name, agency.name))
    try:
        email = normalise_email(email)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    else:
        if db.session.scalar(select(User.id).where(User.email == email)):
            errors["email"] = f"{email} already has an account."
    if errors:
        raise ValidationFailed(errors)
    user = User(
        agency_id=agency.id, email=email, name=name.strip(), role=role, timezone=timezone or None
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def list_users(actor: User) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.agency_id == actor.agency_id).order_by(User.name)
        )
    )


def get_user(actor: User, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.agency_id != actor.agency_id:
        raise NotFound("No such user.")
    return user


def _admin_count(agency_id: int) -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(
            User.agency_id == agency_id, User.role == "admin", User.active.is_(True)
        )
    )


@transactional
def update_user(actor: User, user_id: int, name: str, role: str, timezone: str | None) -> User:
    require_admin(actor)
    user = get_user(actor, user_id)
    errors = validate_person(name, role, timezone, None)
    if errors:
        raise ValidationFailed(errors)
    if user.role == "admin" and role != "admin" and _admin_count(user.agency_id) <= 1:
        raise Conflict("The agency needs at least one active admin.")
    if role != user.role:
        audit.record("role_change", actor, target=user.email, detail=f"{user.role} → {role}")
    user.name, user.role, user.timezone = name.strip(), role, timezone or None
    db.session.flush()
    return user


@transactional
def set_active(actor: User, user_id: int, active: bool) -> User:
    """Deactivate or reactivate a user. Their cases stay assigned to them."""
    require_admin(actor)
    user = get_user(actor, user_id)
    if not active and user.id == actor.id:
        raise Conflict("You cannot deactivate your own account.")
    if not active and user.role == "admin" and _admin_count(user.agency_id) <= 1:
        raise Conflict("The agency needs at least one active admin.")
    if user.active != active:
        audit.record("deactivation", actor, target=user.email,
                     detail="deactivated" if not active else "reactivated")
    if not active:  # a later reactivation must not bring the old sessions back
        sessions.end_all(user, "deactivated")
    user.active = active
    db.session.flush()
    return user


@transactional
def update_own_profile(user: User, name: str, timezone: str | None) -> User:
    errors = validate_person(name, user.role, timezone, None)
    if errors:
        raise ValidationFailed(errors)
    user.name, user.timezone = name.strip(), timezone or None
    db.session.flush()
    return user


# One stand-in hash per hashing method, made once per process on first use.
_STAND_IN_HASHES: dict[str, str] = {}


def _stand_in_hash() -> str:
    """A hash of a random password, made the way real ones are (same method and cost)."""
    method = password_hash_method()
    if method not in _STAND_IN_HASHES:
        _STAND_IN_HASHES[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    return _STAND_IN_HASHES[method]


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (never says which part was wrong).

    Checking a password is the slow part of a sign-in (scrypt: about a tenth of a second).
    Without an account to check against, the password is checked against a stand-in hash
    of the same cost, so the time an answer takes does not tell which emails have accounts.
    """
    user = find_user(email)
    if user is None or not user.active:
        check_password_hash(_stand_in_hash(), password or "")
        return None
    return user if user.check_password(password or "") else None


_CLOCK_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits: the dispatcher parses it


@transactional
def update_notifications(user: User, each_reminder: bool, daily_digest: bool,
                         quiet_hours: bool, quiet_start: str, quiet_end: str) -> User:
    errors = {}
    for field, value in (("quiet_start", quiet_start), ("quiet_end", quiet_end)):
        if not isinstance(value, str) or not _CLOCK_RE.fullmatch(value):
            errors[field] = "Use a 24-hour time such as 20:00."
    if not errors and quiet_start == quiet_end:
        errors["quiet_end"] = "Quiet hours must end at another time than they start."
    if not each_reminder and not daily_digest:
        errors["notify_each_reminder"] = ("Keep at least one: an email per reminder, or the daily "
                                          "digest. Otherwise follow-ups would reach nobody.")
    if errors:
        raise ValidationFailed(errors)
    user.notify_each_reminder = each_reminder
    user.notify_daily_digest = daily_digest
    user.quiet_hours_enabled = quiet_hours
    user.quiet_start, user.quiet_end = quiet_start, quiet_end
    db.session.flush()
    return user


def outbox(actor: User, status: str = "", limit: int = 200):
    """The agency's outgoing mail, newest first: what was held, failed, or is waiting."""
    require_admin(actor)
    return mail_outbox.for_agency(actor.agency_id, status, limit)


def active_admins(agency_ids: set[int]) -> dict[int, list[User]]:
    """Agency id -> its active admins, by id: who is mailed when nobody else can be."""
    admins: dict[int, list[User]] = {agency_id: [] for agency_id in agency_ids}
    if agency_ids:
        for admin in db.session.scalars(select(User).where(
                User.agency_id.in_(agency_ids), User.role == "admin", User.active.is_(True))
                .order_by(User.id)):
            admins[admin.agency_id].append(admin)
    return admins


def follow_up_hours(agency: Agency) -> int:
    """How long Amazon may stay silent before a follow-up: the agency's own setting, else the
    deployment's FOLLOW_UP_HOURS."""
    return agency.follow_up_hours or current_app.config["FOLLOW_UP_HOURS"]


def email_key(raw: str | None) -> str:
    """The form of an address that accounts are found by: trimmed and in lower case. Stored
    addresses went through normalise_email, which also lower-cases them, so an address typed
    as it was stored is found. Sign-in, its throttling and password resets all use this."""
    return (raw or "").strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email_key(email)))


def quiet_hours_end(person: User, now: datetime) -> datetime:
    """`now`, or the end of the person's quiet hours when `now` falls inside them."""
    if not person.quiet_hours_enabled:
        return now
    return timezones.quiet_until(now, person.effective_timezone, person.quiet_start, person.quiet_end)
