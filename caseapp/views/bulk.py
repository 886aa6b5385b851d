"""Bulk actions on the case list: apply one to the ticked cases or to every case the list's
filters match, see what moved and what was refused, undo the last one (services/sheets/bulk)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import Conflict, DomainError
from caseapp.core.parsing import parse_id
from caseapp.models import PRIORITIES, REASONS, STATUSES
from caseapp.services.cases.records import SORTS, CaseFilters
from caseapp.services.sheets import bulk

bp = Blueprint("bulk", __name__, url_prefix="/cases/bulk")


@bp.app_context_processor
def choices():
    """The bulk bar's choices on the case list (templates/dashboard/index.html)."""
    return {"bulk_priorities": PRIORITIES, "bulk_cap": bulk.MAX_CASES}


def _filters(form) -> CaseFilters:
    """The list's filters, carried in the bulk form's hidden fields. (The list reads the same
    ones from its query string: views/dashboard.py filters_from_args.)"""
    assignee = form.get("assignee", "me")
    if assignee not in ("me", "all", "none"):
        assignee = str(parse_id(assignee) or "me")
    return CaseFilters(status=form.get("status", "") if form.get("status") in STATUSES else "",
                       client_id=parse_id(form.get("client_id")), assignee=assignee,
                       reason=form.get("reason", "") if form.get("reason") in REASONS else "",
                       q=form.get("q", "")[:200],
                       sort=form.get("sort", "updated") if form.get("sort") in SORTS else "updated")


def _value(form) -> str:
    """The value select's options are "<action>:<value>"; one for another action is refused."""
    action, _, value = form.get("value", "").partition(":")
    return value if action == form.get("action") else form.get("value", "")


@bp.post("")
@login_required
def apply():
    f = _filters(request.form)
    matching = request.form.get("scope") == "matching"
    try:
        result = bulk.apply(current_user, request.form.get("action", ""), _value(request.form),
                            case_ids=None if matching else request.form.getlist("case_id"),
                            filters=f if matching else None)
    except DomainError as error:
        flash(error.message, "danger")
        return redirect(url_for("dashboard.index", **f.as_args(page=None)))
    return redirect(url_for("bulk.result", bulk_id=result.bulk.id))


@bp.get("/<int:bulk_id>")
@login_required
def result(bulk_id: int):
    return render_template("bulk/result.html", report=bulk.report(current_user, bulk_id))


@bp.post("/<int:bulk_id>/undo")
@login_required
def undo(bulk_id: int):
    try:
        done = bulk.undo(current_user, bulk_id)
        flash(f"Undone: {done.undone_count} case{'' if done.undone_count == 1 else 's'} put back.", "success")
    except Conflict as error:
        flash(error.message, "danger")
    return redirect(url_for("bulk.result", bulk_id=bulk_id))
