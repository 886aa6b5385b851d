"""POA drafts: the editor with its review, versions, comparison, final mark and exports."""
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from caseapp.forms import PoaForm
from caseapp.models import PoaDraft
from caseapp.services.cases import clients, records
from caseapp.services.poa import drafts
from caseapp.services.poa import diff
from caseapp.services.poa import render
from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.parsing import parse_id
from caseapp.services.poa.content import LIST_SECTIONS, SECTIONS
from caseapp.services.poa import links as poa_links
from caseapp.services.portal import links as portal_links
from caseapp.services.portal import sharing
from caseapp.views.helpers import export_response, show_errors

bp = Blueprint("poa", __name__)

# [case id, version]: the version whose editor's text the last save took, told once to the
# editor's script (static/poa-editor.js) so that it forgets the copy it kept in the browser.
SAVED_FROM = "poa_saved_from"


@bp.get("/cases/<int:case_id>/poa")
@login_required
def for_case(case_id: int):
    latest = drafts.latest(current_user, case_id)
    if latest is not None:
        return redirect(url_for("poa.editor", draft_id=latest.id))
    case = records.get_case(current_user, case_id)
    return render_template("poa/start.html", case=case)


@bp.post("/cases/<int:case_id>/poa/start")
@login_required
def start(case_id: int):
    draft, started = drafts.open_or_start(current_user, case_id)
    if started:
        flash(f"Version {draft.version} started from the starter for this case. "
              "Fill in every [bracketed] blank; the review lists what is left.", "success")
    else:
        flash(f"This case already has a POA: here is its latest version, v{draft.version}.", "info")
    return redirect(url_for("poa.editor", draft_id=draft.id))


def _form_for(draft: PoaDraft) -> PoaForm:
    form = PoaForm(formdata=None)
    for key, _label in SECTIONS:
        value = getattr(draft, key)
        form[key].data = "\n".join(value) if key in LIST_SECTIONS else value
    return form


def _render_editor(draft: PoaDraft, form: PoaForm, status: int = 200, saved_from: int | None = None):
    case = records.get_case(current_user, draft.case_id)
    return render_template(
        "poa/editor.html", case=case, draft=draft, form=form, saved_from=saved_from,
        unsaved=status != 200,  # the text sent back with its errors is not saved yet
        findings=drafts.review(current_user, draft.id),
        versions=drafts.versions(current_user, case.id),
        draft_evidence=poa_links.for_draft(current_user, draft.id),
        share=sharing.for_draft(case, draft), share_labels=sharing.STATUS_LABELS,
        version_shares={s.poa_draft_id: s for s in reversed(sharing.shares_of(case))},
    ), status


@bp.get("/poa/<int:draft_id>")
@login_required
def editor(draft_id: int):
    draft = drafts.get_draft(current_user, draft_id)
    saved = session.pop(SAVED_FROM, None)
    saved_from = saved[1] if isinstance(saved, list) and saved[:1] == [draft.case_id] else None
    return _render_editor(draft, _form_for(draft), saved_from=saved_from)


@bp.post("/poa/<int:draft_id>")
@login_required
def save(draft_id: int):
    base = drafts.get_draft(current_user, draft_id)
    form = PoaForm()
    try:
        saved = drafts.save(current_user, base.case_id, form.data)
    except ValidationFailed as error:
        show_errors(form, error)
        return _render_editor(base, form, status=422)
    if not saved.created:
        flash(f"No changes to save: the text is version {saved.draft.version}'s already.", "info")
    else:
        flash(f"Saved as version {saved.draft.version}.", "success")
    session[SAVED_FROM] = [base.case_id, base.version]  # the text kept in the browser is saved
    return redirect(url_for("poa.editor", draft_id=saved.draft.id))


@bp.post("/poa/<int:draft_id>/final")
@login_required
def mark_final(draft_id: int):
    try:
        draft = drafts.mark_final(current_user, draft_id, accept_errors=request.form.get("confirmed") == "yes")
    except drafts.OpenReviewErrors as error:
        # Without JavaScript (or when the review changed since the page was shown), ask here.
        return render_template("poa/final_confirm.html", draft=error.draft, errors=error.errors,
                               case=records.get_case(current_user, error.draft.case_id))
    except Conflict as error:
        flash(error.message, "warning")
    else:
        flash(f"Version {draft.version} is now the final one.", "success")
    return redirect(url_for("poa.editor", draft_id=draft_id))


@bp.post("/poa/<int:draft_id>/share")
@login_required
def share(draft_id: int):
    """Show this version to the client on their portal page, for approval (services/portal/sharing)."""
    draft = drafts.get_draft(current_user, draft_id)
    try:
        shared = sharing.share(current_user, draft_id)
    except Conflict as error:
        flash(error.message, "warning")
        return redirect(url_for("poa.editor", draft_id=draft_id) + "#share-card", code=303)
    case = records.get_case(current_user, draft.case_id)
    email = clients.get_client(current_user, case.client_id).contact_email
    if email:
        flash(f"Version {shared.version} shared: an email asking the client to approve it is on its way "
              f"to {email}.", "success")
    else:
        flash(Markup("Version {} shared, but the client has no contact email: send them their portal link "
                     '<code class="portal-url user-select-all">{}</code> yourself. '
                     "<strong>Copy it now; it is not shown again.</strong>").format(
            shared.version, portal_links.url_for_link(portal_links.live_link(case, shared.shared_at))), "warning")
    return redirect(url_for("poa.editor", draft_id=draft_id) + "#share-card", code=303)


@bp.get("/poa/<int:draft_id>/compare")
@login_required
def compare(draft_id: int):
    right = drafts.get_draft(current_user, draft_id)
    other = parse_id(request.args.get("with"))
    if other is None:
        flash("Choose a version to compare with.", "warning")
        return redirect(url_for("poa.editor", draft_id=draft_id))
    left = drafts.get_draft(current_user, other)
    if left.case_id != right.case_id:
        flash("Only versions of the same case can be compared.", "warning")
        return redirect(url_for("poa.editor", draft_id=draft_id))
    if left.version > right.version:
        left, right = right, left
    return render_template(
        "poa/compare.html", case=records.get_case(current_user, right.case_id), left=left, right=right,
        sections=diff.compare(drafts.content_of(left), drafts.content_of(right)),
        versions=drafts.versions(current_user, right.case_id))


@bp.get("/poa/<int:draft_id>/export/<fmt>")
@login_required
def export(draft_id: int, fmt: str):
    return export_response(*drafts.export(current_user, draft_id, fmt,
                                          with_evidence=request.args.get("evidence") == "1"))


@bp.get("/poa/<int:draft_id>/print")
@login_required
def print_view(draft_id: int):
    draft = drafts.get_draft(current_user, draft_id)
    case = records.get_case(current_user, draft.case_id)
    return render_template("poa/print.html", case=case, draft=draft,
                           blocks=render.print_blocks(drafts.content_of(draft)))
