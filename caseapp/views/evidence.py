"""Evidence files: upload on the case page, a page per file with its preview, downloads,
the case's bundle, and linking files to a POA version from the editor."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from caseapp.core.errors import Conflict, DomainError, ValidationFailed
from caseapp.forms import EvidenceEditForm, UploadForm
from caseapp.models import Evidence
from caseapp.services.cases import records
from caseapp.services.evidence import files as evidence
from caseapp.services.evidence.filenames import content_disposition
from caseapp.services.poa import bundle as poa_bundle
from caseapp.services.poa import links as poa_links
from caseapp.views.helpers import (SANDBOX_HEADERS, existing_link, render_case_page, send_file_row,
                                   show_errors, upload_form)

bp = Blueprint("evidence", __name__)


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if size >= 10 else f"{size:.1f} {unit}"
    return ""  # not reached


@bp.app_template_filter("evidence_type")
def evidence_type(content_type: str) -> str:
    return evidence.TYPE_LABELS.get(content_type, content_type)


@bp.app_template_filter("evidence_category")
def evidence_category(category: str) -> str:
    return evidence.CATEGORY_LABELS.get(category, category)


@bp.app_template_global()
def evidence_upload_form() -> UploadForm:
    return upload_form(formdata=None)


# ---------------------------------------------------------------- upload

@bp.post("/cases/<int:case_id>/evidence")
@login_required
def upload(case_id: int):
    form = upload_form()
    try:
        result = evidence.upload_many(current_user, case_id, form.files.data,
                                      form.category.data, form.description.data)
    except ValidationFailed as error:
        show_errors(form, error)
        return _case_page(case_id, form, error.status)
    if result.saved:
        names = ", ".join(row.filename for row in result.saved)
        flash(f"Uploaded {names}." if len(result.saved) == 1
              else f"Uploaded {len(result.saved)} files: {names}.", "success")
    already = [(name, error) for name, error in result.refused if isinstance(error, evidence.AlreadyAttached)]
    refused = [(name, error) for name, error in result.refused if (name, error) not in already]
    for name, error in already:  # not a mistake: the file is there, under its first name
        flash(Markup("{}: {}").format(name, error.message) + existing_link(error, "the file"), "info")
    if refused:
        for name, error in refused:
            flash(f"{name}: {error.message}", "danger")
        return _case_page(case_id, form, refused[0][1].status)
    return redirect(url_for("cases.detail", case_id=case_id) + "#evidence", code=303)


def _case_page(case_id: int, form: UploadForm, status: int):
    """The case page again, the category and description kept (a browser cannot refill files)."""
    return render_case_page(case_id, evidence_form=form, status=status)


# ---------------------------------------------------------------- one file

def _file_page(row: Evidence, form: EvidenceEditForm, status: int = 200):
    return render_template(
        "evidence/detail.html", row=row, form=form,
        case=records.get_case(current_user, row.case_id),
        links=poa_links.links_of(current_user, row.id),
        previewable=evidence.is_previewable(row),
    ), status


@bp.get("/evidence/<int:evidence_id>")
@login_required
def detail(evidence_id: int):
    row = evidence.get(current_user, evidence_id)
    return _file_page(row, EvidenceEditForm(formdata=None, obj=row))


@bp.post("/evidence/<int:evidence_id>/edit")
@login_required
def edit(evidence_id: int):
    row = evidence.get(current_user, evidence_id)
    form = EvidenceEditForm()
    try:
        evidence.update(current_user, row.id, form.description.data, form.category.data)
    except ValidationFailed as error:
        show_errors(form, error)
        return _file_page(row, form, status=error.status)
    flash("File details saved.", "success")
    return redirect(url_for("evidence.detail", evidence_id=row.id), code=303)


@bp.post("/evidence/<int:evidence_id>/delete")
@login_required
def delete(evidence_id: int):
    gone = evidence.delete(current_user, evidence_id)
    flash(f"Deleted {gone.filename}.", "success")
    return redirect(url_for("cases.detail", case_id=gone.case_id) + "#evidence", code=303)


@bp.get("/evidence/<int:evidence_id>/download")
@login_required
def download(evidence_id: int):
    row, stream = evidence.open_file(current_user, evidence_id)
    return send_file_row(row, stream, as_attachment=True)


@bp.get("/evidence/<int:evidence_id>/preview")
@login_required
def preview(evidence_id: int):
    row, stream = evidence.open_file(current_user, evidence_id, preview=True)
    return send_file_row(row, stream, as_attachment=False)


@bp.get("/cases/<int:case_id>/evidence/bundle")
@login_required
def bundle(case_id: int):
    result = poa_bundle.bundle(current_user, case_id, all_files=request.args.get("files") == "all")
    response = send_file(result.file, mimetype="application/zip")
    response.headers["Content-Disposition"] = content_disposition(result.filename)
    response.headers.update(SANDBOX_HEADERS)
    return response


# ---------------------------------------------------------------- links to a POA version

def _back_to_editor(draft_id: int):
    return redirect(url_for("poa.editor", draft_id=draft_id) + "#evidence", code=303)


def _flash_refusal(error: DomainError) -> None:
    # After the redirect nothing is highlighted: say what was wrong, not "see the fields".
    flash(" ".join(error.fields.values()) or error.message, "danger")


@bp.post("/poa/<int:draft_id>/evidence")
@login_required
def link(draft_id: int):
    try:
        poa_links.link(current_user, draft_id, request.form.get("link-evidence_id"),
                      request.form.get("link-action_index"))
    except (ValidationFailed, Conflict) as error:
        _flash_refusal(error)
    else:
        flash("File linked to this version.", "success")
    return _back_to_editor(draft_id)


@bp.post("/poa/<int:draft_id>/evidence/<int:evidence_id>/unlink")
@login_required
def unlink(draft_id: int, evidence_id: int):
    try:
        poa_links.unlink(current_user, draft_id, evidence_id)
    except Conflict as error:
        _flash_refusal(error)
    else:
        flash("File unlinked from this version.", "success")
    return _back_to_editor(draft_id)


@bp.post("/poa/<int:draft_id>/evidence/copy")
@login_required
def copy_links(draft_id: int):
    try:
        added = poa_links.copy_links(current_user, draft_id)
    except Conflict as error:
        _flash_refusal(error)
    else:
        flash(f"Copied {added} link{'' if added == 1 else 's'} from the earlier version.", "success")
    return _back_to_editor(draft_id)

