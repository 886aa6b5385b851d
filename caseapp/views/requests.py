"""Documents from the client, on the case page: ask for them, accept or send back what came,
cancel a request, revoke the portal link. The rules are services/portal's; the card's
template is templates/cases/_document_requests.html.

The portal address is a secret: it is shown once, in the flash after the request is made,
and never again (a repeated POST of the same form shows what the first did, without it).
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.forms import DocumentRequestForm, ItemDecisionForm
from caseapp.models import Case, utcnow
from caseapp.services.cases import clients, records
from caseapp.services.deadlines import clocks
from caseapp.services.portal import checklists, links, requests
from caseapp.views.helpers import render_case_page, save_form, typed_local, viewer_moment

bp = Blueprint("requests", __name__)

DUE_HOUR = 18  # a new request's suggested due time: a week from now, at 18:00 where the viewer is


def _card(case_id: int):
    return redirect(url_for("cases.detail", case_id=case_id) + "#requests-card", code=303)


def request_form(case: Case, formdata: bool = True) -> DocumentRequestForm:
    """The card's "Ask the client for documents" form: the agency's checklists, those for the
    case's reason first; empty (the first checklist ticked, due in a week) with `formdata` False."""
    shown = checklists.for_reason(current_user.agency_id, case.reason)
    if formdata:
        form = DocumentRequestForm(prefix="docreq")
    else:
        due = typed_local(utcnow() + timedelta(days=requests.DEFAULT_DAYS)).replace(hour=DUE_HOUR, minute=0)
        form = DocumentRequestForm(formdata=None, prefix="docreq",
                                   data={"checklist": [shown[0].key] if shown else [], "due_at": due})
    form.checklist.choices = [(c.key, c.name) for c in shown]
    form.shown_checklists = shown
    return form


@bp.app_template_global()
def document_requests_card(case: Case, form: DocumentRequestForm | None = None,
                           decision: tuple[int, ItemDecisionForm] | None = None) -> dict:
    """What the card shows: the case's requests (newest first), each item's files, the portal
    link's state, the form (as typed when it is shown again with its errors)."""
    now = utcnow()
    shown = requests.for_case(case)
    latest = next(iter(links.links_of(case)), None)
    return {"requests": shown, "open": [r for r in shown if r.status == "open"],
            "closed": [r for r in shown if r.status != "open"], "files": requests.files_by_item(shown),
            "link": latest, "link_state": latest.state(now) if latest else None,
            "form": form or request_form(case, formdata=False), "labels": requests.ITEM_LABELS,
            "failed": form is not None, "decision": decision, "ended": case.status in clocks.CASE_ENDED, "now": now}


def _opened_words(opened: requests.Opened, email: str) -> Markup:
    told = (f"An email with the link is on its way to {email}." if opened.mailed else
            "The client has no contact email: send them this link yourself.")
    return Markup('Request sent. {} The client\'s portal link: <code class="portal-url user-select-all">{}</code> '
                  "<strong>Copy it now; it is not shown again.</strong>").format(told, opened.portal_url)


def _open(form: DocumentRequestForm, case_id: int) -> requests.Opened | None:
    return save_form(form, lambda: requests.open_request(
        current_user, case_id, {**form.sent(), "due_at": viewer_moment(form.due_at.data)}), place=form.place)


@bp.post("/cases/<int:case_id>/document-requests")
@login_required
def create(case_id: int):
    case = records.get_case(current_user, case_id)  # another agency's case: 404 before anything
    form = request_form(case)
    opened = _open(form, case_id)
    if opened is None:
        return render_case_page(case_id, extra={"request_form": form}, status=422)
    flash(_opened_words(opened, clients.get_client(current_user, case.client_id).contact_email), "success")
    return _card(case_id)


@bp.post("/document-request-items/<int:item_id>/decide")
@login_required
def decide(item_id: int):
    item, _request, case = requests.get_item(current_user, item_id)
    form = ItemDecisionForm()
    try:
        requests.decide_item(current_user, item_id, form.status.data, form.reason.data)
    except ValidationFailed as error:
        form.reason.errors = [error.fields["reason"]] if "reason" in error.fields else []
        flash(" ".join(m for k, m in error.fields.items() if k != "reason") or error.message, "danger")
        return render_case_page(case.id, extra={"item_decision": (item_id, form)}, status=422)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash(f"Accepted: {item.title}." if form.status.data == "accepted"
              else f"Sent back to the client: {item.title}. They were told why.", "success")
    return _card(case.id)


@bp.post("/document-requests/<int:request_id>/cancel")
@login_required
def cancel(request_id: int):
    _request, case = requests.get_request(current_user, request_id)
    try:
        requests.cancel_request(current_user, request_id)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash("Request cancelled: the client no longer sees it and its deadline is closed.", "success")
    return _card(case.id)


@bp.post("/cases/<int:case_id>/portal-link/revoke")
@login_required
def revoke_link(case_id: int):
    try:
        links.revoke(current_user, case_id)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash("Portal link revoked: it no longer opens the client's page. "
              "The next request or shared POA sends the client a new one.", "success")
    return _card(case_id)

