"""A user's own settings: name and time zone, how reminders reach them, the calendar feed.

These pages show the calendar address and, once, a new API token: each view that renders
one is @no_store.
"""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.transaction import transaction
from caseapp.forms import ChangePasswordForm, NotificationForm, ProfileForm
from caseapp.security import no_store
from caseapp.services.accounts import people
from caseapp.services.accounts import tokens
from caseapp.services.accounts import audit
from caseapp.services.appeals import calendar_feed
from caseapp.services.accounts import passwords
from caseapp.services.accounts import sessions
from caseapp.core.errors import DomainError
from caseapp.views.helpers import current_session, show_errors, sign_in, timezone_choices

bp = Blueprint("settings", __name__, url_prefix="/settings")


def _render(form: ProfileForm | None = None, notify_form: NotificationForm | None = None,
            new_token: str | None = None, password_form: ChangePasswordForm | None = None,
            new_calendar_url: str | None = None):
    form = form or ProfileForm(obj=current_user, formdata=None)
    form.timezone.choices = timezone_choices(f"Same as the agency ({current_user.agency.timezone})")
    return render_template("settings/profile.html", form=form,
                           notify_form=notify_form or NotificationForm(obj=current_user, formdata=None),
                           tokens=tokens.for_user(current_user), new_token=new_token,
                           password_form=password_form or ChangePasswordForm(formdata=None),
                           calendar_enabled=calendar_feed.is_enabled(current_user),
                           new_calendar_url=new_calendar_url)


@bp.route("/", methods=["GET", "POST"])
@no_store
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    form.timezone.choices = timezone_choices(f"Same as the agency ({current_user.agency.timezone})")
    if form.validate_on_submit():
        try:
            people.update_own_profile(current_user, form.name.data, form.timezone.data or None)
        except DomainError as error:
            show_errors(form, error)
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("settings.profile"))
    return _render(form)


@bp.post("/notifications")
@no_store
@login_required
def notifications():
    form = NotificationForm()
    try:
        people.update_notifications(current_user, form.notify_each_reminder.data,
                                      form.notify_daily_digest.data, form.quiet_hours_enabled.data,
                                      (form.quiet_start.data or "").strip(),
                                      (form.quiet_end.data or "").strip())
    except DomainError as error:
        show_errors(form, error)
        return _render(notify_form=form), 422
    flash("Reminder settings saved.", "success")
    return redirect(url_for("settings.profile") + "#reminders")


@bp.post("/calendar")
@login_required
def calendar():
    token = calendar_feed.enable(current_user)
    flash("New calendar address created; any earlier address no longer works.", "success")
    # Shown in this response only; it is stored hashed and cannot be shown again.
    return _render(new_calendar_url=calendar_feed.feed_url(token))


@bp.post("/calendar/revoke")
@login_required
def revoke_calendar():
    calendar_feed.revoke(current_user)
    flash("Calendar address revoked.", "success")
    return redirect(url_for("settings.profile") + "#calendar")


@bp.post("/tokens")
@no_store
@login_required
def create_token():
    try:
        _row, token = tokens.create(current_user, request.form.get("name", ""))
    except DomainError as error:
        flash(" ".join(error.fields.values()) or error.message, "danger")
        return redirect(url_for("settings.profile") + "#api-tokens")
    # Shown in this response only; it is stored hashed and cannot be shown again.
    return _render(new_token=token)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    row = tokens.revoke(current_user, token_id)
    flash(f"Token '{row.name}' revoked.", "success")
    return redirect(url_for("settings.profile") + "#api-tokens")


@bp.post("/password")
@no_store
@login_required
def change_password():
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    remember = current_session().remember
    try:
        with transaction():  # the new password, the new session and the audit entry, or none
            passwords.change(user, form.current_password.data, form.new_password.data)
            sign_in(user, remember)  # every session ended; this browser goes on in a new one
            audit.record("password_change", user)
    except DomainError as error:
        show_errors(form, error)
        return _render(password_form=form), 422
    flash("Password changed. Every other session was signed out.", "success")
    return redirect(url_for("settings.profile") + "#password")


@bp.post("/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    user = current_user._get_current_object()
    remember = current_session().remember
    with transaction():
        sessions.end_all(user, "signed_out_everywhere")
        sign_in(user, remember)  # a new session for this browser: a copy of its cookies ends too
    flash("Every other session and remembered device is signed out.", "success")
    return redirect(url_for("settings.profile") + "#password")
