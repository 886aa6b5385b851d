"""A case: open, view with its timeline, edit, move along the workflow, notes."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.forms import CaseForm, NoteForm
from caseapp.models import Case
from caseapp.services.appeals import workflow
from caseapp.services.cases import clients, records
from caseapp.services.deadlines import presets
from caseapp.views.helpers import people_choices, render_case_page, save_form, show_errors

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _case_form(case: Case | None = None) -> CaseForm:
    form = CaseForm(obj=case) if case is not None else CaseForm()
    form.client_id.choices = [("", "Choose a client")] + [
        (str(cid), name) for cid, name in clients.client_choices(current_user)]
    form.assignee_id.choices = people_choices(case)
    if request.method == "GET":
        if case is None:
            form.client_id.data = request.args.get("client_id", "")
            form.assignee_id.data = str(current_user.id)
        else:
            form.client_id.data = str(case.client_id)
            form.assignee_id.data = str(case.assignee_id or "")
            form.asins.data = "\n".join(case.asins)
            form.opened_at.data = case.opened_at.astimezone(
                ZoneInfo(current_user.effective_timezone)).date()
    return form


def _case_data(form: CaseForm, case: Case | None = None) -> dict:
    data = {name: form[name].data for name in (
        "client_id", "title", "kind", "reason", "priority", "assignee_id", "asins", "amazon_notice")}
    day = form.opened_at.data if request.form.get("opened_at") else None
    zone = ZoneInfo(current_user.effective_timezone)
    if day and (case is None or case.opened_at.astimezone(zone).date() != day):
        # A notice date means the start of that day where the consultant is.
        data["opened_at"] = datetime.combine(day, time(0, 0), zone)
    return data


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = _case_form()
    case = form.is_submitted() and save_form(form, lambda: presets.open_case(current_user, _case_data(form)))
    if case:
        flash("Case opened.", "success")
        return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("cases/form.html", form=form, case=None)


@bp.get("/<int:case_id>")
@login_required
def detail(case_id: int):
    return render_case_page(case_id)


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
@login_required
def edit(case_id: int):
    case = records.get_case(current_user, case_id)
    form = _case_form(case)
    if form.is_submitted() and save_form(form, lambda: records.update_case(current_user, case.id,
                                                                           _case_data(form, case))):
        flash("Case saved.", "success")
        return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("cases/form.html", form=form, case=case)


@bp.post("/<int:case_id>/status")
@login_required
def change_status(case_id: int):
    target = request.form.get("status", "")
    try:
        case = workflow.change_status(current_user, case_id, target)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash(f"Status is now {workflow.LABELS[case.status]}.", "success")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/<int:case_id>/assignee")
@login_required
def assign(case_id: int):
    try:
        records.update_case(current_user, case_id, {"assignee_id": request.form.get("assignee_id", "")})
    except ValidationFailed as error:
        flash(" ".join([error.message, *error.fields.values()]), "danger")
    else:
        flash("Assignee saved.", "success")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/<int:case_id>/notes")
@login_required
def add_note(case_id: int):
    form = NoteForm()
    try:
        records.add_note(current_user, case_id, form.body.data)
    except ValidationFailed as error:
        # Show the page again with the text kept, so nothing typed is lost.
        show_errors(form, error)
        return render_case_page(case_id, note_form=form, status=422)
    flash("Note added.", "success")
    return redirect(url_for("cases.detail", case_id=case_id) + "#timeline")


def _note_url(case_id: int, note_id: int | None = None) -> str:
    return url_for("cases.detail", case_id=case_id) + (f"#note-{note_id}" if note_id else "#timeline")


@bp.route("/notes/<int:note_id>/edit", methods=["GET", "POST"])
@login_required
def edit_note(note_id: int):
    note = records.changeable_note(current_user, note_id)
    form = NoteForm(obj=note) if request.method == "GET" else NoteForm()
    status = 200
    if request.method == "POST":
        try:
            records.edit_note(current_user, note_id, form.body.data)
        except ValidationFailed as error:
            show_errors(form, error)  # the typed text stays in the box
            status = 422
        else:
            flash("Note saved.", "success")
            return redirect(_note_url(note.case_id, note_id))
    case = records.get_case(current_user, note.case_id)
    return render_template("cases/note_form.html", form=form, note=note, case=case), status


@bp.post("/notes/<int:note_id>/delete")
@login_required
def delete_note(note_id: int):
    if request.form.get("confirmed") != "yes":
        # Without JavaScript the button lands here: ask on a page of its own.
        note = records.changeable_note(current_user, note_id)
        case = records.get_case(current_user, note.case_id)
        return render_template("cases/note_delete.html", note=note, case=case)
    case_id = records.delete_note(current_user, note_id)
    flash("Note deleted. The timeline keeps a record of it.", "success")
    return redirect(_note_url(case_id))
