"""Bulk actions on the case list: apply one to the ticked cases or to every case the list's
filters match, see what moved and what was refused, undo the last one (services/sheets/bulk)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import Conflict, DomainError
from caseapp.models import PRIORITIES
from caseapp.services.sheets import bulk
from caseapp.views.helpers import filters_from_args

bp = Blueprint("bulk", __name__, url_prefix="/cases/bulk")


@bp.app_context_processor
def choices():
    """The bulk bar's choices on the case list (templates/dashboard/index.html)."""
    return {"bulk_priorities": PRIORITIES, "bulk_cap": bulk.MAX_CASES}


def _value(form) -> str:
    """The value select's options are "<action>:<value>"; one for another action is refused."""
    action, _, value = form.get("value", "").partition(":")
    return value if action == form.get("action") else form.get("value", "")


@bp.post("")
@login_required
def apply():
    f = filters_from_args(request.form)  # the list's filters, in the form's hidden fields
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
