"""Template filters, globals and small view helpers."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, flash, has_request_context
from flask_login import current_user
from flask_wtf import FlaskForm

from caseapp import labels
from caseapp.forms import EmptyForm
from caseapp.services import markdown_text, timezones
from caseapp.services.cases import COUNT_CAP
from caseapp.services.errors import DomainError


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


def timezone_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(name, name.replace("_", " ")) for name in timezones.all_names()]
    return ([("", blank)] if blank is not None else []) + choices


def register(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(localdate)
    app.add_template_filter(label)
    app.add_template_filter(capped)
    app.add_template_global(COUNT_CAP, "count_cap")
    app.add_template_filter(markdown_text.render, "markdown")
    app.add_template_global(labels.STATUS_COLOURS, "status_colours")

    @app.context_processor
    def inject():
        if not has_request_context():  # emails rendered by the scheduler
            return {}
        # formdata=None: only its CSRF field is rendered (sign-out...), so it must not parse the
        # request body, which on a 413 page is the very body that was refused.
        return {"post_form": EmptyForm(formdata=None), "viewer_timezone": viewer_timezone}
