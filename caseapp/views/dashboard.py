"""The dashboard: the cases a user works on, filtered, searched and counted."""
from collections.abc import Mapping
from dataclasses import replace

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.models import REASONS, STATUSES, utcnow
from caseapp.core.errors import NotFound, ValidationFailed
from caseapp.core.transaction import transaction
from caseapp.forms import SavedViewForm
from caseapp.services.cases import records, saved_views
from caseapp.services.sheets import exports
from caseapp.services.cases import clients
from caseapp.services.cases.records import SORTS, CaseFilters
from caseapp.core.paging import BadCursor
from caseapp.core.parsing import parse_id
from caseapp.views.helpers import PAGE_SIZES, export_response, filters_from_args

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


def _list_args() -> tuple[Mapping, object]:
    """The list's arguments and the saved view they come from: `?view=` (under what the link
    itself adds), or on a bare /cases the person's default view."""
    args = request.args  # read name by name (filters_from_args), as tests/views/test_hostile_input.py sees
    view = None
    if "view" in args:
        view = saved_views.get(current_user, parse_id(args.get("view")))
    elif not args:
        view = saved_views.default_of(current_user)
    if view is None:
        return args, None
    return {**view.args, **{k: v for k, v in args.items() if k != "view"}}, view


@bp.route("/cases")
@login_required
def index():
    args, view = _list_args()
    return _list_page(filters_from_args(args), view)


def _list_page(f: CaseFilters, view=None, save_form: SavedViewForm | None = None, status: int = 200):
    client_name = ""
    if f.client_id:
        try:
            client_name = clients.get_client(current_user, f.client_id).name
        except NotFound:
            if view is None:
                raise
            # A saved view of a client deleted since: the view still opens, for every client.
            flash(f"The client of the view “{view.name}” no longer exists; showing every client.", "warning")
            f = replace(f, client_id=None)
    awaiting, awaiting_total = records.awaiting_amazon(current_user, f)
    return render_template(
        "dashboard/index.html",
        view=view,
        saved_views=saved_views.visible(current_user),
        save_form=save_form or SavedViewForm(formdata=None, shared=view.shared if view else False,
                                             name=view.name if view and view.owner_id == current_user.id else ""),
        page_sizes=PAGE_SIZES,
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
        filtered_client_name=client_name,
        people=records.assignee_choices(current_user, include_inactive=True),
    ), status


@bp.post("/cases/views")
@login_required
def save_view():
    """Save the list's filters (the form's hidden fields) under a name; the same name again
    updates that view. A refused name comes back beside the field, the list as it was."""
    form, f = SavedViewForm(), filters_from_args(request.form)
    if not form.validate():
        return _list_page(f, save_form=form, status=422)
    try:
        with transaction():
            view = saved_views.save(current_user, form.name.data, f.as_args(page=None),
                                    form.shared.data, form.make_default.data)
            view_id, name = view.id, view.name
    except ValidationFailed as error:
        form.name.errors = [error.fields.get("name", error.message)]
        return _list_page(f, save_form=form, status=422)
    flash(f"Saved the view “{name}”.", "success")
    return redirect(url_for("dashboard.index", view=view_id))


@bp.post("/cases/views/<int:view_id>/delete")
@login_required
def delete_view(view_id: int):
    with transaction():
        saved_views.delete(current_user, view_id)
    flash("View deleted.", "success")
    return redirect(url_for("dashboard.index", assignee="me"))


@bp.post("/cases/views/<int:view_id>/default")
@login_required
def default_view(view_id: int):
    with transaction():
        saved_views.set_default(current_user, view_id)
    flash("The case list now opens with this view.", "success")
    return redirect(url_for("dashboard.index", view=view_id))


@bp.post("/cases/views/default/clear")
@login_required
def clear_default_view():
    with transaction():
        saved_views.set_default(current_user, None)
    flash("The case list opens with your cases again.", "success")
    return redirect(url_for("dashboard.index", assignee="me"))


@bp.route("/cases/export")
@login_required
def export():
    """The list as filtered, every case of it, as CSV or XLSX (the list's Export buttons)."""
    return export_response(*exports.export(current_user, filters_from_args(request.args),
                                           request.args.get("format", "csv")))
