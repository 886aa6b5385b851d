"""Submissions to Amazon, Amazon's replies, and acting on follow-up reminders."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.parsing import whole_number
from caseapp.forms import EmptyForm, ResponseForm, SubmissionForm
from caseapp.models import User, utcnow
from caseapp.security import no_store
from caseapp.services.appeals import calendar_feed, followup_mail, followups, submissions
from caseapp.views.helpers import localtime

bp = Blueprint("submissions", __name__)


def local_moment(value: datetime | None, person: User) -> datetime | None:
    """A naive date and time typed in a form, read in the person's own time zone.

    A time the clocks skip (spring forward) does not exist there; it is refused rather
    than silently moved. A repeated autumn hour is read as its first occurrence.
    """
    if value is None:
        return None
    zone = ZoneInfo(person.effective_timezone)
    moment = value.replace(tzinfo=zone)
    if moment.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != value:
        raise ValidationFailed({"submitted_at": f"{value:%d %b %Y %H:%M} does not exist in "
                                f"{person.effective_timezone}: the clocks change then."})
    return moment


def _errors_flash(error: ValidationFailed | Conflict) -> None:
    flash(" ".join([error.message, *error.fields.values()]), "danger")


@bp.post("/cases/<int:case_id>/submissions")
@login_required
def record(case_id: int):
    form = SubmissionForm()
    if form.submitted_at.raw_data and form.submitted_at.raw_data[0] and form.submitted_at.data is None:
        flash("Submitted at: give a date and time such as 2026-11-29 14:30.", "danger")
        return redirect(url_for("cases.detail", case_id=case_id) + "#submissions")
    try:
        data = {"poa_draft_id": form.poa_draft_id.data or None, "channel": form.channel.data,
                "amazon_reference": form.amazon_reference.data or "",
                "evidence_ids": request.form.getlist("evidence_ids"),
                "submitted_at": local_moment(form.submitted_at.data, current_user)}
        submission = submissions.record_submission(current_user, case_id, data)
    except (ValidationFailed, Conflict) as error:
        _errors_flash(error)
    else:
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
    form = ResponseForm()
    if form.received_at.raw_data and form.received_at.raw_data[0] and form.received_at.data is None:
        flash("Received at: give a date and time such as 2026-11-29 14:30.", "danger")
        return redirect(url_for("cases.detail", case_id=submission.case_id) + "#submissions")
    try:
        data = {"outcome": form.outcome.data, "body": form.body.data or "",
                "received_at": local_moment(form.received_at.data, current_user)}
        submissions.record_response(current_user, submission.id, data)
    except (ValidationFailed, Conflict) as error:
        _errors_flash(error)
    else:
        flash("Amazon's reply recorded; the follow-ups for that submission stopped.", "success")
    return redirect(url_for("cases.detail", case_id=submission.case_id) + "#submissions")


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
