"""The words of reminder, escalation and digest emails, in the recipient's time zone."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from caseapp.core import timezones
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, Reminder, Submission, User
from caseapp.services.mail import links

ACTION_SALT = "reminder-action"
ACTION_MAX_AGE = 14 * 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=ACTION_SALT)


def action_token(reminder: Reminder, person: User) -> str:
    return _token(reminder.id, person.id)


def _token(reminder_id: int, person_id: int) -> str:
    return _serializer().dumps({"r": reminder_id, "u": person_id})


def action_link_ref(reminder: Reminder, person: User) -> str:
    """What the outbox row keeps to make the snooze/dismiss link when it is sent."""
    return f"{reminder.id}:{person.id}"


def action_link(link_ref: str, _now: datetime) -> str:
    """The snooze/dismiss link of a reminder email about to be sent. Each try signs a fresh
    one; every one works for ACTION_MAX_AGE (the page checks the person and the reminder)."""
    reminder_id, person_id = (int(part) for part in link_ref.split(":"))
    return external_url("submissions.act_from_email", token=_token(reminder_id, person_id))


def read_action_token(token: str) -> tuple[int, int] | None:
    """(reminder id, user id) from a signed email link, or None when forged or expired."""
    try:
        data = _serializer().loads(token, max_age=ACTION_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    return data.get("r"), data.get("u")


def render(reminder: Reminder, case: Case, person: User, kind: str, now: datetime):
    """(subject, text, html) of a reminder or escalation email for one person; the
    snooze/dismiss link is a placeholder, made when the email is sent (`action_link`)."""
    submission = db.session.get(Submission, reminder.submission_id)
    zone = person.effective_timezone
    silent_hours = int((now - submission.submitted_at).total_seconds() // 3600)
    # Mail from Amazon is filed and nobody has recorded it yet (services/inbound sets it):
    # Amazon is not silent, its reply waits on us.
    wrote_local = timezones.format_local(case.amazon_wrote_at, zone) if case.amazon_wrote_at else ""
    context = dict(
        kind=kind, person=person, case=case, client=case.client, asins=case.asins,
        reminder=reminder, silent_hours=silent_hours, amazon_wrote_local=wrote_local,
        submitted_local=timezones.format_local(submission.submitted_at, zone),
        case_url=external_url("cases.detail", case_id=case.id),
        action_url=links.PLACEHOLDER,
    )
    prefix = "Escalation: " if kind == "escalation" else ""
    if wrote_local:
        subject = (f"{prefix}Record Amazon's reply: {case.client.name}, {case.title} "
                   f"(Amazon wrote on {wrote_local})")
    else:
        subject = (f"{prefix}Follow up with Amazon: {case.client.name}, {case.title} "
                   f"(silent {silent_hours} h)")
    return (subject, render_template("email/reminder.txt", **context),
            render_template("email/reminder.html", **context))
