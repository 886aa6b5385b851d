"""A case's deadlines on its page: add, change, mark met, cancel, open again, pause, resume.

The rules are the service's (services/deadlines/clocks.py); the pages read what a person typed
in their own time zone and hand the service aware moments. Every change is on the timeline.
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks
from caseapp.views.helpers import (deadline_edit_form, new_deadline_form, render_case_page, save_form,
                                   typed_local, viewer_moment)

bp = Blueprint("deadlines", __name__)

DONE = {"met": "Deadline marked met.", "cancelled": "Deadline cancelled.", "open": "Deadline open again."}


def _card(case_id: int):
    return redirect(url_for("cases.detail", case_id=case_id) + "#deadlines-card")


def _added(form) -> dict:
    return {"kind": form.kind.data, "title": form.title.data or "", "note": form.note.data or "",
            "due_at": viewer_moment(form.due_at.data)}


def _changes(form, deadline) -> dict:
    """What the edit form changes: the due time only when it was shown (a paused clock's is not)
    and typed differently from the stored one, so saving a title never moves it by seconds."""
    data = {"title": form.title.data or "", "note": form.note.data or ""}
    if form.due_at.raw_data and form.due_at.data != typed_local(deadline.due_at):
        data["due_at"] = viewer_moment(form.due_at.data)
    return data


@bp.post("/cases/<int:case_id>/deadlines")
@login_required
def add(case_id: int):
    records.get_case(current_user, case_id)  # another agency's case: 404 before anything
    form = new_deadline_form()
    if save_form(form, lambda: clocks.add(current_user, case_id, _added(form))):
        flash("Deadline added.", "success")
        return _card(case_id)
    return render_case_page(case_id, deadline_form=form, status=422)


@bp.post("/deadlines/<int:deadline_id>/edit")
@login_required
def edit(deadline_id: int):
    deadline, case = clocks.get_deadline(current_user, deadline_id)
    form = deadline_edit_form(deadline)
    if save_form(form, lambda: clocks.update(current_user, deadline_id, _changes(form, deadline))):
        flash("Deadline saved.", "success")
        return _card(case.id)
    return render_case_page(case.id, deadline_edit=(deadline_id, form), status=422)


def _act(deadline_id: int, action: Callable[[], object], done: str):
    """A button's change: said in a flash, refused with the reason, back on the card."""
    _, case = clocks.get_deadline(current_user, deadline_id)
    try:
        action()
    except (Conflict, ValidationFailed) as error:
        flash(" ".join(error.fields.values()) or error.message, "danger")
    else:
        flash(done, "success")
    return _card(case.id)


@bp.post("/deadlines/<int:deadline_id>/status")
@login_required
def set_status(deadline_id: int):
    status = request.form.get("status", "")
    return _act(deadline_id, lambda: clocks.update(current_user, deadline_id, {"status": status}),
                DONE.get(status, "Deadline saved."))


@bp.post("/deadlines/<int:deadline_id>/pause")
@login_required
def pause(deadline_id: int):
    return _act(deadline_id, lambda: clocks.pause_by_person(current_user, deadline_id),
                "Clock paused: what was left of it waits until you resume it.")


@bp.post("/deadlines/<int:deadline_id>/resume")
@login_required
def resume(deadline_id: int):
    return _act(deadline_id, lambda: clocks.resume_by_person(current_user, deadline_id),
                "Clock running again with what was left of it.")
