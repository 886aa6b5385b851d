"""The dashboard: the cases a user works on, filtered, searched and counted."""
from dataclasses import replace

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.models import REASONS, STATUSES, utcnow
from caseapp.services.cases import records
from caseapp.services.sheets import exports
from caseapp.services.cases import clients
from caseapp.services.cases.records import SORTS, CaseFilters
from caseapp.core.paging import BadCursor
from caseapp.views.helpers import export_response, filters_from_args

bp = Blueprint("dashboard", __name__)
# More clients than this and the filter list would outweigh the page itself.
CLIENT_LIST_LIMIT = 200


def _page_of_cases(f: CaseFilters):
    try:
        return records.list_cases(current_user, f)
    except BadCursor:
        # A mangled or outdated "Next" link: the first page beats an error.
        flash("That page link no longer fits this list; here is its first page.", "warning")
        return records.list_cases(current_user, replace(f, after="", before="", page=1))


@bp.route("/")
def root():
    return redirect(url_for("days.my_day"))  # where people land: what to do today


@bp.route("/cases")
@login_required
def index():
    f = filters_from_args(request.args)
    awaiting, awaiting_total = records.awaiting_amazon(current_user, f)
    return render_template(
        "dashboard/index.html",
        filters=f,
        awaiting=awaiting,
        awaiting_total=awaiting_total,
        now=utcnow(),
        page=_page_of_cases(f),
        counts=records.status_counts(current_user, f),
        statuses=STATUSES,
        reasons=REASONS,
        sorts=SORTS,
        client_choices=clients.client_choices(current_user, limit=CLIENT_LIST_LIMIT),
        filtered_client_name=clients.get_client(current_user, f.client_id).name if f.client_id else "",
        people=records.assignee_choices(current_user, include_inactive=True),
    )


@bp.route("/cases/export")
@login_required
def export():
    """The list as filtered, every case of it, as CSV or XLSX (the list's Export buttons)."""
    return export_response(*exports.export(current_user, filters_from_args(request.args),
                                           request.args.get("format", "csv")))
