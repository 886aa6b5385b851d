"""Submissions to Amazon, Amazon's replies, and acting on follow-up reminders."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core import timezones
from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.parsing import whole_number
from caseapp.forms import EmptyForm, SubmissionCorrectionForm
from caseapp.models import utcnow
from caseapp.security import no_store
from caseapp.services.appeals import (calendar_feed, corrections, followup_mail, followups, submissions,
                                      workflow)
from caseapp.services.cases import records
from caseapp.views.helpers import (channel_choices, localtime, viewer_moment, new_submission_form, place_errors,
                                   render_case_page, response_form, typed_errors)

bp = Blueprint("submissions", __name__)


def _checked(check, typed: dict[str, str], *args) -> None:
    """Run a service's check when a field could not even be read, so every error shows at once."""
    try:
        check(*args)
    except ValidationFailed as error:
        raise ValidationFailed({**error.fields, **typed}) from None
    if typed:
        raise ValidationFailed(typed)


@bp.post("/cases/<int:case_id>/submissions")
@login_required
def record(case_id: int):
    form = new_submission_form()
    typed = typed_errors(form)
    chosen = request.form.getlist("evidence_ids")
    try:
        data = {"poa_draft_id": form.poa_draft_id.data or None, "channel": form.channel.data,
                "amazon_reference": form.amazon_reference.data or "", "evidence_ids": chosen,
                "submitted_at": viewer_moment(form.submitted_at.data, "submitted_at")}
        if typed:
            _checked(submissions.check_submission, typed, current_user, case_id, data)
        submission = submissions.record_submission(current_user, case_id, data)
    except ValidationFailed as error:
        # The page again, the form as typed with each error under its field, landing on it.
        place_errors(form, error, typed)
        return render_case_page(case_id, submission_form=form, status=error.status,
                                chosen_evidence={whole_number(i) for i in chosen})
    except Conflict as error:  # the case cannot be submitted now: the page offers no form
        flash(error.message, "danger")
        return redirect(url_for("cases.detail", case_id=case_id) + "#submissions")
    history = followups.history_note(submission, localtime)
    if history:
        flash(history, "warning")
    else:
        flash(f"Submission recorded. Follow-up due {submission_due(submission)}.", "success")
    return redirect(url_for("cases.detail", case_id=case_id) + "#submissions")


def submission_due(submission) -> str:
    due = followups.submission_follow_up(submission, utcnow()).due_at
    return localtime(due) if due else "never"


@bp.post("/submissions/<int:submission_id>/responses")
@login_required
def respond(submission_id: int):
    submission = submissions.get_submission(current_user, submission_id)
    form = response_form()
    typed = typed_errors(form)
    try:
        data = {"outcome": form.outcome.data, "body": form.body.data or "",
                "received_at": viewer_moment(form.received_at.data, "received_at")}
        _checked(submissions.check_response, typed, current_user, submission.id, data)
        if _unconfirmed(data["outcome"]):
            return _confirm_page(submission.case_id, data["outcome"])
        submissions.record_response(current_user, submission.id, data)
    except ValidationFailed as error:
        place_errors(form, error, typed)
        return render_case_page(submission.case_id, reply_form=form, reply_to=submission.id,
                                status=error.status)
    except Conflict as error:  # answered or withdrawn meanwhile: the page offers no form
        flash(error.message, "danger")
        return redirect(url_for("cases.detail", case_id=submission.case_id) + "#submissions")
    flash("Amazon's reply recorded; the follow-ups for that submission stopped.", "success")
    return redirect(url_for("cases.detail", case_id=submission.case_id) + "#submissions")


def _unconfirmed(outcome: str | None) -> bool:
    """An outcome that ends or denies the case, not yet confirmed (the browser asks with
    JavaScript and says so in `confirmed`; without it, this page asks)."""
    return outcome in submissions.CONFIRM_OUTCOMES and request.form.get("confirmed") != "yes"


def _confirm_page(case_id: int, outcome: str):
    fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("confirmed", "csrf_token")]
    return render_template("cases/confirm.html", case=records.get_case(current_user, case_id),
                           question=submissions.CONFIRM_OUTCOMES[outcome], fields=fields,
                           action=request.path, button="Yes, record it")


# ---- corrections: its recorder within a day, admins always ----------------------------------

def _case_url(case_id: int) -> str:
    return url_for("cases.detail", case_id=case_id) + "#submissions"


@bp.route("/submissions/<int:submission_id>/edit", methods=["GET", "POST"])
@login_required
def edit_submission(submission_id: int):
    row = corrections.changeable_submission(current_user, submission_id)
    form = SubmissionCorrectionForm(obj=row) if request.method == "GET" else SubmissionCorrectionForm()
    form.channel.choices = channel_choices()
    if request.method == "GET":
        form.submitted_at.data = _typed_moment(row.submitted_at)
        return _correction_page("cases/submission_form.html", form, row)
    typed = typed_errors(form)
    if form.submitted_at.data is None:
        typed.setdefault("submitted_at", "Give the date and time it went to Amazon.")
    try:
        data = {"channel": form.channel.data, "amazon_reference": form.amazon_reference.data or "",
                "submitted_at": viewer_moment(form.submitted_at.data, "submitted_at")}
        if typed:
            raise ValidationFailed(typed)
        corrections.correct_submission(current_user, submission_id, data)
    except (ValidationFailed, Conflict) as error:
        place_errors(form, error, typed)
        return _correction_page("cases/submission_form.html", form, row, error.status)
    return _saved(row.case_id)


@bp.post("/submissions/<int:submission_id>/withdraw")
@login_required
def withdraw_submission(submission_id: int):
    row = corrections.changeable_submission(current_user, submission_id)
    if request.form.get("confirmed") != "yes":
        return _withdraw_page(row.case_id, "Withdraw this submission? It no longer counts for the "
                              "case's status and follow-ups; the timeline keeps it.")
    return _done(corrections.withdraw_submission, row.case_id, "Submission withdrawn.", submission_id)


@bp.route("/responses/<int:response_id>/edit", methods=["GET", "POST"])
@login_required
def edit_response(response_id: int):
    row = corrections.changeable_response(current_user, response_id)
    form = response_form(obj=row) if request.method == "GET" else response_form()
    form.received_at.description = "In your time zone."
    if request.method == "GET":
        form.received_at.data = _typed_moment(row.received_at)
        return _correction_page("cases/response_form.html", form, row)
    typed = typed_errors(form)
    if form.received_at.data is None:
        typed.setdefault("received_at", "Give the date and time Amazon's reply came.")
    try:
        data = {"outcome": form.outcome.data, "body": form.body.data or "",
                "received_at": viewer_moment(form.received_at.data, "received_at")}
        if typed:
            raise ValidationFailed(typed)
        if _unconfirmed(data["outcome"]) and data["outcome"] != row.outcome:
            return _confirm_page(row.case_id, data["outcome"])
        corrections.correct_response(current_user, response_id, data)
    except (ValidationFailed, Conflict) as error:
        place_errors(form, error, typed)
        return _correction_page("cases/response_form.html", form, row, error.status)
    return _saved(row.case_id)


@bp.post("/responses/<int:response_id>/withdraw")
@login_required
def withdraw_response(response_id: int):
    row = corrections.changeable_response(current_user, response_id)
    if request.form.get("confirmed") != "yes":
        return _withdraw_page(row.case_id, "Withdraw Amazon's reply? The submission is waiting on "
                              "Amazon again, and its follow-ups resume; the timeline keeps the reply.")
    return _done(corrections.withdraw_response, row.case_id, "Amazon's reply withdrawn.", response_id)


def _typed_moment(moment: datetime) -> datetime:
    """A stored moment as the person types it: their own time zone, no offset."""
    return timezones.to_local(moment, current_user.effective_timezone).replace(tzinfo=None)


def _correction_page(template: str, form, row, status: int = 200):
    return render_template(template, form=form, row=row,
                           case=records.get_case(current_user, row.case_id)), status


def _withdraw_page(case_id: int, question: str):
    return render_template("cases/confirm.html", case=records.get_case(current_user, case_id),
                           question=question, fields=[], action=request.path, button="Withdraw")


def _done(withdraw, case_id: int, message: str, row_id: int):
    try:
        withdraw(current_user, row_id)
    except Conflict as error:
        flash(error.message, "danger")
        return redirect(_case_url(case_id))
    return _saved(case_id, message)


def _saved(case_id: int, message: str = "Correction saved.") -> Response:
    case = records.get_case(current_user, case_id)
    flash(f"{message} The case's status and follow-ups were recomputed: it is now "
          f"{workflow.LABELS[case.status]}.", "success")
    return redirect(_case_url(case_id))


@bp.post("/reminders/<int:reminder_id>/snooze")
@login_required
def snooze(reminder_id: int):
    hours = whole_number(request.form.get("hours")) or 0  # not a number: refused as not a choice
    try:
        followups.snooze(current_user, reminder_id, hours, utcnow())
    except Conflict as error:
        flash(error.message, "warning")
    else:
        flash(f"Reminder snoozed for {hours} hours.", "success")
    case_id = followups.case_of_reminder(current_user, reminder_id)
    return redirect(url_for("cases.detail", case_id=case_id) + "#submissions")


@bp.post("/reminders/<int:reminder_id>/dismiss")
@login_required
def dismiss(reminder_id: int):
    try:
        followups.dismiss(current_user, reminder_id)
    except Conflict as error:
        flash(error.message, "warning")
    else:
        flash("No more follow-up reminders for this submission.", "success")
    return redirect(url_for("cases.detail", case_id=followups.case_of_reminder(current_user, reminder_id)))


@bp.route("/reminders/act/<token>", methods=["GET", "POST"])
@no_store  # reached by a signed link: its address is the secret
def act_from_email(token: str):
    """The link in a reminder email: signed, so it works without signing in; acts only on POST."""
    ids = followup_mail.read_action_token(token)
    found = followups.acted_on_from_email(*ids) if ids else None
    if found is None:
        abort(404)
    person, reminder, case = found
    form = EmptyForm()
    done = None
    if form.validate_on_submit():
        action = request.form.get("action", "")
        hours = whole_number(action.removeprefix("snooze-")) if action.startswith("snooze-") else None
        try:
            if action == "dismiss":
                followups.dismiss(person, reminder.id)
                done = "No more follow-up reminders for this submission."
            elif hours is not None:
                followups.snooze(person, reminder.id, hours, utcnow())
                done = f"Snoozed for {hours} hours."
            else:
                abort(400)
        except Conflict as error:
            done = error.message
    return render_template("reminders/act.html", reminder=reminder, case=case, person=person,
                           done=done, choices=followups.SNOOZE_CHOICES,
                           active=followups.has_pending(reminder.submission_id))


@bp.get("/calendar/<token>.ics")
def calendar(token: str):
    person = calendar_feed.owner_of(token)
    return Response(calendar_feed.render(person), mimetype="text/calendar",
                    headers={"Content-Disposition": 'inline; filename="caseapp-follow-ups.ics"',
                             "Cache-Control": "private, max-age=300"})
