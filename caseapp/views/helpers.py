"""Template filters, globals and small view helpers."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, flash, g, has_request_context, request, session
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm

from caseapp import labels
from caseapp.forms import EmptyForm
from caseapp.models import User, UserSession
from caseapp.services.cases import records
from caseapp.core import markdown
from caseapp.services.accounts import sessions
from caseapp.core import timezones
from caseapp.services.cases.records import COUNT_CAP
from caseapp.core.errors import DomainError


def viewer_timezone() -> str:
    if current_user.is_authenticated:
        return current_user.effective_timezone
    return "UTC"


def localtime(moment: datetime | None, with_zone: bool = True) -> str:
    return timezones.format_local(moment, viewer_timezone(), with_zone)


def localdate(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return timezones.to_local(moment, viewer_timezone()).strftime("%d %b %Y")


def capped(count: int) -> str:
    """A count from a capped COUNT: above the cap it reads "1,000+"."""
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


def label(value: str | None, vocabulary: str) -> str:
    if value is None:
        return ""
    return labels.ALL[vocabulary].get(value, value)


def show_errors(form: FlaskForm, error: DomainError) -> None:
    """Put a service's field errors beside the fields of the form, the rest in a flash."""
    unplaced = []
    for name, message in error.fields.items():
        if name in form._fields:
            form._fields[name].errors = list(form._fields[name].errors or []) + [message]
        else:
            unplaced.append(message)
    flash(" ".join([error.message] + unplaced), "danger")


def sign_in(user: User, remember: bool) -> UserSession:
    """Open a server-side session for this browser and put it in the session cookie (and the
    remember cookie with `remember`)."""
    row = sessions.start(user, remember, request.remote_addr or "", request.user_agent.string)
    login_user(user, remember=remember)
    g.user_session = row
    return row


def current_session() -> UserSession | None:
    """The server-side session of the signed-in browser (set by the user loader)."""
    return g.get("user_session") if current_user.is_authenticated else None


def forget_browser_session() -> None:
    """Empty the session cookie and have the browser drop its remember cookie.

    In this order: Flask-Login's logout_user marks the remember cookie for deletion in the
    session, which clearing the session afterwards would undo.
    """
    session.clear()
    logout_user()
    g.pop("user_session", None)


def timezone_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(name, name.replace("_", " ")) for name in timezones.all_names()]
    return ([("", blank)] if blank is not None else []) + choices


def register(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(localdate)
    app.add_template_filter(label)
    app.add_template_filter(capped)
    app.add_template_global(COUNT_CAP, "count_cap")
    app.add_template_filter(markdown.render, "markdown")
    app.add_template_filter(records.note_html, "note_html")
    app.add_template_global(labels.STATUS_COLOURS, "status_colours")

    @app.context_processor
    def inject():
        if not has_request_context():  # emails rendered by the scheduler
            return {}
        # formdata=None: only its CSRF field is rendered (sign-out...), so it must not parse the
        # request body, which on a 413 page is the very body that was refused.
        return {"post_form": EmptyForm(formdata=None), "viewer_timezone": viewer_timezone}
