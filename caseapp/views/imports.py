"""Bring a spreadsheet in from the browser: upload, check the columns and every row, fix the
mapping, import all or nothing (services/sheets/uploads.py around services/cases/imports.py)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import ValidationFailed
from caseapp.services.cases import imports
from caseapp.services.sheets import uploads

bp = Blueprint("imports", __name__)


def _mapping(headers: list[str]) -> dict[str, str | None]:
    """The mapping chosen on the page: one select per column, by its position."""
    return {header: request.form.get(f"map-{i}") or None for i, header in enumerate(headers)}


def _page(checked: uploads.Checked, status: int = 200):
    return render_template("imports/check.html", checked=checked, field_names=imports.FIELD_NAMES,
                           shown=50), status


@bp.get("/import")
@login_required
def start(errors: dict | None = None, status: int = 200):
    kind = request.args.get("kind", "cases")
    return render_template("imports/start.html", kind=kind if kind in imports.IMPORT_KINDS else "cases",
                           errors=errors or {}, max_rows=imports.MAX_ROWS), status


@bp.post("/import")
@login_required
def upload():
    try:
        token = uploads.save(current_user, request.form.get("kind", ""), request.files.get("file"))
    except ValidationFailed as error:
        return start(error.fields, 422)
    checked = uploads.check(current_user, token)
    return _page(checked, 200 if checked.plan and checked.plan.ok else 422)


@bp.post("/import/<token>/check")
@login_required
def check(token: str):
    checked = uploads.check(current_user, token, _mapping(uploads.headers(current_user, token)))
    return _page(checked, 200 if checked.plan and checked.plan.ok else 422)


@bp.post("/import/<token>/apply")
@login_required
def apply(token: str):
    checked = uploads.apply(current_user, token, _mapping(uploads.headers(current_user, token)))
    if checked.plan is None or not checked.plan.applied:
        return _page(checked, 422)
    flash(f"Imported {checked.filename}: {checked.plan.summary()}.", "success")
    return redirect(url_for("dashboard.index", assignee="all") if checked.kind == "cases"
                    else url_for("clients.index"))
