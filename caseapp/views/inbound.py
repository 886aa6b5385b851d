"""Email in, what a person sees and does: the triage inbox (file a message on a case, or
discard it), a message's page, and the case page's "Amazon wrote" card (record the mail as
Amazon's reply in one click, with a corrected outcome or submission, or say it is not).
The rules are services/inbound's; the card's template is templates/cases/_inbound.html.
"""
from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core import mailtags
from caseapp.core.paging import COUNT_CAP
from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.parsing import parse_id
from caseapp.forms import FileMessageForm, ProposalFixForm
from caseapp.models import Case, InboundMessage
from caseapp.models.inbound import INBOUND_STATUSES
from caseapp.services.appeals import submissions
from caseapp.services.cases import records
from caseapp.services.inbound import amazon, client_mail, filing, inbox
from caseapp.views.helpers import outcome_choices, place_errors, render_case_page

bp = Blueprint("inbound", __name__)

PER_PAGE = 50
STATUS_TABS = (("unmatched", "Waiting"), ("matched", "Filed"), ("refused", "Refused"), ("discarded", "Discarded"))
_CASE_NUMBER = re.compile(r"^\s*(?:case\s*)?#?\s*(\d{1,12})(?:-[a-z2-7]{8})?\s*$", re.IGNORECASE)


def _status() -> str:
    status = request.args.get("status", "unmatched")
    return status if status in INBOUND_STATUSES else "unmatched"


def _inbox_page(file_forms: dict[int, FileMessageForm] | None = None, status_code: int = 200):
    status = _status()
    before = parse_id(request.args.get("before"))
    rows = filing.list_messages(current_user, status, PER_PAGE + 1, before)
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    forms = {r.id: FileMessageForm(formdata=None, prefix=f"file-{r.id}") for r in rows if r.status != "matched"}
    forms.update(file_forms or {})
    newer = inbox.message_count(current_user, status, before) if before else 0
    return render_template("inbound/inbox.html", rows=rows, status=status, tabs=STATUS_TABS, forms=forms,
                           next_before=rows[-1].id if more and rows else None, before=before,
                           total=inbox.message_count(current_user, status),
                           first=newer + 1 if newer <= COUNT_CAP else None), status_code


@bp.get("/inbox")
@login_required
def inbox_page():
    return _inbox_page()


@bp.get("/inbound/<int:inbound_id>")
@login_required
def detail(inbound_id: int):
    row = filing.get_message(current_user, inbound_id)
    case = _case_of(row)
    form = FileMessageForm(formdata=None, prefix=f"file-{row.id}")
    return render_template("inbound/message.html", row=row, case=case, form=form,
                           attachments=inbox.attachments_of(row),
                           offer=client_mail.offer(current_user, row.id) if case else None)


@bp.post("/inbound/<int:inbound_id>/attach")
@login_required
def attach(inbound_id: int):
    """A file of a client's mail answers an item of the case's open document request."""
    filing.get_message(current_user, inbound_id)  # another agency's message: 404 before anything
    try:
        row = client_mail.attach_to_item(current_user, parse_id(request.form.get("evidence_id")) or 0,
                                         parse_id(request.form.get("item_id")) or 0)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash(f"Attached {row.filename} to the requested item: accept it or send it back on the case page.",
              "success")
    return redirect(url_for("inbound.detail", inbound_id=inbound_id), code=303)


def _case_of(row: InboundMessage) -> Case | None:
    if row.case_id is None:
        return None
    return records.get_case(current_user, row.case_id)


@bp.post("/inbound/<int:inbound_id>/file")
@login_required
def file(inbound_id: int):
    filing.get_message(current_user, inbound_id)  # another agency's message: 404 before anything
    form = FileMessageForm(prefix=f"file-{inbound_id}")
    found = _CASE_NUMBER.match(form.case_number.data or "")
    case_id = parse_id(found.group(1)) if found else None
    try:
        if case_id is None:
            raise ValidationFailed({"case_number": "Give the case's number, as in its address: /cases/1234."})
        try:
            row = filing.file_to_case(current_user, inbound_id, case_id)
        except NotFound:
            raise ValidationFailed({"case_number": f"Your agency has no case {case_id}."}) from None
    except (ValidationFailed, Conflict) as error:
        place_errors(form, error)
        form.failed = True
        return _back_with(inbound_id, form, error.status)
    flash(f"Filed on case {row.case_id}: it is on the case's timeline, its attachments in its evidence.", "success")
    return redirect(url_for("cases.detail", case_id=row.case_id) + "#timeline", code=303)


def _back_with(inbound_id: int, form: FileMessageForm, status_code: int):
    if request.form.get("from") == "message":
        row = filing.get_message(current_user, inbound_id)
        case = _case_of(row)
        return render_template("inbound/message.html", row=row, case=case, form=form,
                               attachments=inbox.attachments_of(row),
                               offer=client_mail.offer(current_user, row.id) if case else None), status_code
    return _inbox_page({inbound_id: form}, status_code)


@bp.post("/inbound/<int:inbound_id>/discard")
@login_required
def discard(inbound_id: int):
    try:
        filing.discard(current_user, inbound_id)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash("Discarded: it is kept under “Discarded” and can still be filed on a case.", "success")
    return redirect(url_for("inbound.inbox_page"), code=303)


# ---- the case page's "Amazon wrote" card ----------------------------------------------------

def fix_form(message: InboundMessage, case_submissions, formdata: bool = False) -> ProposalFixForm:
    prefix = f"fix-{message.id}"
    if formdata:
        form = ProposalFixForm(prefix=prefix)
    else:
        form = ProposalFixForm(formdata=None, prefix=prefix, data={
            "outcome": message.proposed_outcome or "",
            "submission_id": str(message.proposed_submission_id or "")})
    form.outcome.choices = outcome_choices()
    form.submission_id.choices = [("", "Choose…")] + [
        (str(s.id), f"Submitted {s.submitted_at:%d %b %Y}" + (f" · {s.amazon_reference}" if s.amazon_reference else ""))
        for s in case_submissions if s.withdrawn_at is None]
    return form


@bp.app_template_global()
def inbound_card(case: Case, case_submissions, fixing: tuple[int, ProposalFixForm] | None = None) -> dict:
    """What the case page shows of Amazon's mail nobody has decided on, each with its proposal and the correction form (as typed, when refused)."""
    proposals = inbox.proposals_for(case)
    forms = {m.id: fix_form(m, case_submissions) for m in proposals}
    if fixing is not None:
        forms[fixing[0]] = fixing[1]
    return {"proposals": proposals, "forms": forms,
            "submissions": {s.id: s for s in case_submissions}, "confirm": submissions.CONFIRM_OUTCOMES,
            "outcome_labels": submissions.OUTCOME_LABELS, "fixing": fixing[0] if fixing else None}


@bp.app_template_global()
def case_inbound_address(case: Case) -> str | None:
    return mailtags.case_address(case.id)


@bp.app_template_global()
def unmatched_badge() -> str:
    """The nav's figure beside "Inbox": the agency's messages waiting in the triage inbox (one
    capped indexed count), "" when none."""
    if not current_user.is_authenticated:
        return ""
    count = inbox.unmatched_count(current_user)
    return inbox.count_label(count) if count else ""


def _card_url(case_id: int, anchor: str = "amazon-wrote") -> str:
    return url_for("cases.detail", case_id=case_id) + "#" + anchor


@bp.post("/inbound/<int:inbound_id>/confirm")
@login_required
def confirm(inbound_id: int):
    row = filing.get_message(current_user, inbound_id)
    if row.case_id is None:
        raise NotFound("No such message.")
    corrected = "outcome" in request.form or f"fix-{inbound_id}-outcome" in request.form
    form = None
    data = {}
    if corrected:
        form = fix_form(row, submissions.submissions_for_case(row.case_id), formdata=True)
        data = {"outcome": form.outcome.data, "submission_id": form.submission_id.data}
    outcome = data.get("outcome") or row.proposed_outcome
    if outcome in submissions.CONFIRM_OUTCOMES and request.form.get("confirmed") != "yes":
        fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("confirmed", "csrf_token")]
        return render_template("cases/confirm.html", case=_case_of(row), fields=fields, action=request.path,
                               question=submissions.CONFIRM_OUTCOMES[outcome], button="Yes, record it")
    try:
        response = amazon.confirm(current_user, inbound_id, data)
    except ValidationFailed as error:
        if form is None:
            form = fix_form(row, submissions.submissions_for_case(row.case_id))
        place_errors(form, error)
        return render_case_page(row.case_id, extra={"inbound_fixing": (inbound_id, form)}, status=422)
    except Conflict as error:
        flash(error.message, "danger")
        return redirect(_card_url(row.case_id, "timeline"), code=303)
    flash(f"Recorded as Amazon's reply: {submissions.OUTCOME_LABELS.get(response.outcome, response.outcome)}. "
          "The follow-ups for that submission stopped.", "success")
    return redirect(_card_url(row.case_id, "submissions"), code=303)


@bp.post("/inbound/<int:inbound_id>/dismiss")
@login_required
def dismiss(inbound_id: int):
    row = filing.get_message(current_user, inbound_id)
    try:
        amazon.dismiss(current_user, inbound_id)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash("Not recorded as Amazon's reply. The mail stays on the timeline.", "success")
    return redirect(_card_url(row.case_id or 0, "timeline") if row.case_id else url_for("inbound.inbox_page"),
                    code=303)
