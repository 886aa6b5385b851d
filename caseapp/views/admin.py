"""Agency administration: people and agency settings. Admin-only, enforced by the services."""
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.forms import (AgencyCalendarForm, AgencySettingsForm, EmptyForm, InvitationForm, PresetsForm,
                           UserEditForm)
from caseapp.models import AUDIT_KINDS, utcnow
from caseapp.models.submission import OUTBOX_STATUSES
from caseapp.security import no_store
from caseapp.services.accounts import people
from caseapp.services.accounts import audit
from caseapp.services.accounts import invitations
from caseapp.services.accounts import mail_health
from caseapp.services.mail import kinds
from caseapp.services.deadlines import calendar as deadline_calendar
from caseapp.services.deadlines import presets
from caseapp.core.errors import Conflict, DomainError
from caseapp.core.parsing import EARLIEST, LATEST, next_day, parse_date, parse_id
from caseapp.views.helpers import localtime, save_form, show_errors, timezone_choices

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def admins_only():
    people.require_admin(current_user)


@bp.get("/users")
def users():
    return render_template("admin/users.html", users=people.list_users(current_user),
                           invitations=invitations.open_invitations(current_user), now=utcnow())


@bp.route("/users/new", methods=["GET", "POST"])
def invite():
    form = InvitationForm()
    form.timezone.choices = timezone_choices("Same as the agency")
    invitation = form.is_submitted() and save_form(form, lambda: invitations.invite(
        current_user, form.email.data, form.name.data, form.role.data, form.timezone.data or None))
    if invitation:
        flash(f"Invitation sent to {invitation.email}. The link works once, until "
              f"{localtime(invitation.expires_at)}.", "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/invite.html", form=form)


@bp.post("/invitations/<int:invitation_id>/resend")
def resend_invitation(invitation_id: int):
    try:
        invitation = invitations.resend(current_user, invitation_id)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash(f"A new invitation is on its way to {invitation.email}; the earlier link no longer "
              "works.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/invitations/<int:invitation_id>/revoke")
def revoke_invitation(invitation_id: int):
    try:
        invitation = invitations.revoke(current_user, invitation_id)
    except Conflict as error:
        flash(error.message, "danger")
    else:
        flash(f"The invitation of {invitation.email} is revoked.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = people.get_user(current_user, user_id)
    form = UserEditForm(obj=user)
    form.timezone.choices = timezone_choices("Same as the agency")
    if form.validate_on_submit():
        try:
            people.update_user(current_user, user.id, form.name.data, form.role.data,
                                 form.timezone.data or None)
        except DomainError as error:
            show_errors(form, error)
        else:
            flash(f"{user.name} saved.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.post("/users/<int:user_id>/active/<int:active>")
def set_active(user_id: int, active: int):
    try:
        user = people.set_active(current_user, user_id, bool(active))
    except Conflict as error:
        flash(error.message, "danger")
    else:
        state = "reactivated" if user.active else "deactivated; their cases keep them as assignee"
        flash(f"{user.name} {state}.", "success")
    return redirect(url_for("admin.users"))


@bp.get("/outbox")
@no_store  # held mail carries reset and reminder links
def outbox():
    status = request.args.get("status", "")
    status = status if status in OUTBOX_STATUSES else ""
    return render_template("admin/outbox.html", messages=people.outbox(current_user, status),
                           status=status, statuses=OUTBOX_STATUSES,
                           security_kinds=kinds.security_kinds(),
                           retention_days=current_app.config["OUTBOX_BODY_RETENTION_DAYS"])


@bp.post("/outbox/<int:message_id>/retry")
def retry_message(message_id: int):
    try:
        (message,) = mail_health.retry(current_user, utcnow(), message_id)
    except Conflict as error:
        flash(error.message, "warning")
    else:
        flash(f"The email to {message.recipient} will be sent again by the next delivery pass "
              "(within a minute while the scheduler runs).", "success")
    return redirect(url_for("admin.outbox", status=request.args.get("status", "")))


@bp.post("/outbox/retry-failed")
def retry_failed():
    moved = mail_health.retry(current_user, utcnow())
    flash(f"{len(moved)} failed email{'' if len(moved) == 1 else 's'} will be sent again by the next "
          "delivery pass." if moved else "There is no failed email to retry.",
          "success" if moved else "info")
    return redirect(url_for("admin.outbox"))


@bp.post("/mail-problem/dismiss")
def dismiss_mail_problem():
    mail_health.dismiss(current_user, utcnow())
    flash("Mail problem dismissed. Failed mail stays listed here.", "info")
    return redirect(url_for("admin.outbox"))


@bp.post("/users/<int:user_id>/bounce/clear")
def clear_bounce(user_id: int):
    user = mail_health.clear_bounce(current_user, user_id)
    flash(f"{user.email} is no longer marked as bouncing.", "success")
    return redirect(url_for("admin.users"))


@bp.get("/audit")
def audit_log():
    kind = request.args.get("kind", "")
    person = request.args.get("person", "")
    day_from, day_to = request.args.get("from", ""), request.args.get("to", "")
    first, last = parse_date(day_from), parse_date(day_to)
    # A day that is no date is left out of the filter and said so beside its field.
    errors = {name: f"Give a date from {EARLIEST:%d %b %Y} to {LATEST:%d %b %Y}, e.g. 2026-11-29."
              for name, text, day in (("from", day_from, first), ("to", day_to, last)) if text and not day}
    zone = ZoneInfo(current_user.effective_timezone)
    since = datetime.combine(first, time(0), zone) if first else None
    until = datetime.combine(next_day(last), time(0), zone) if last else None
    return render_template(
        "admin/audit.html", kinds=AUDIT_KINDS, people=people.list_users(current_user),
        events=audit.events(current_user, kind, parse_id(person), since, until),
        kind=kind, person=person, day_from=day_from, day_to=day_to, errors=errors)


@bp.route("/agency", methods=["GET", "POST"])
def agency():
    agency = current_user.agency
    form = AgencySettingsForm(obj=agency)
    form.timezone.choices = timezone_choices()
    if form.validate_on_submit():
        try:
            people.update_agency_settings(current_user, form.timezone.data, form.follow_up_hours.data)
        except DomainError as error:
            show_errors(form, error)
        else:
            flash("Agency settings saved.", "success")
            return redirect(url_for("admin.agency"))
    return _agency_page(form, _calendar_form(agency, formdata=None))


@bp.post("/agency/calendar")
def agency_calendar():
    form = _calendar_form(current_user.agency)
    data = {name: form[name].data for name in ("country", "subdivision", "working_days", "deadline_lead_hours")}
    if save_form(form, lambda: deadline_calendar.update_calendar(current_user, data)):
        flash("Calendar and reminder settings saved.", "success")
        return redirect(url_for("admin.agency") + "#calendar")
    settings = AgencySettingsForm(formdata=None, obj=current_user.agency)
    settings.timezone.choices = timezone_choices()
    return _agency_page(settings, form)


def _calendar_form(agency, **kwargs) -> AgencyCalendarForm:
    return AgencyCalendarForm(data={"country": agency.country or "", "subdivision": agency.subdivision or "",
                                    "working_days": list(agency.working_days or "12345"),
                                    "deadline_lead_hours": (agency.deadline_lead_hours or "").replace(",", ", ")},
                              **kwargs)


def _agency_page(form, calendar_form, quiet_form=None, domains_form=None, status=200):
    agency = current_user.agency
    quiet_form = quiet_form or ClientQuietHoursForm(formdata=None, obj=agency)
    domains_form = domains_form or AmazonDomainsForm(
        formdata=None, data={"amazon_domains": inbound_settings.shown_text(agency)})
    return render_template("admin/agency.html", form=form, calendar_form=calendar_form, agency=agency,
                           holidays=deadline_calendar.upcoming_holidays(agency),
                           presets=presets.for_agency(agency.id), uses_defaults=presets.uses_defaults(agency.id),
                           quiet_form=quiet_form, checklists=portal_checklists.for_agency(agency.id),
                           checklist_defaults=portal_checklists.uses_defaults(agency.id),
                           domains_form=domains_form, shipped_domains=agency.amazon_domains is None), status


@bp.route("/deadline-presets", methods=["GET", "POST"])
def deadline_presets():
    saved = presets.for_agency(current_user.agency_id)
    form = PresetsForm() if request.method == "POST" else PresetsForm(data=PresetsForm.initial(saved))
    if form.validate_on_submit():
        sent = form.sent_rows()
        try:
            presets.save(current_user, [row for _, row in sent])
        except DomainError as error:
            flash(" ".join([error.message] + form.show_row_errors(error.fields, sent)), "danger")
        else:
            flash(f"Deadline presets saved: {len(sent)} in all. New cases get them from now on.", "success")
            return redirect(url_for("admin.deadline_presets"))
    elif form.is_submitted():
        flash("Please correct the highlighted fields.", "danger")
    return render_template("admin/deadline_presets.html", form=form, agency=current_user.agency,
                           uses_defaults=presets.uses_defaults(current_user.agency_id), post_form=EmptyForm())


@bp.post("/deadline-presets/restore")
def restore_deadline_presets():
    if request.form.get("confirmed") != "yes":
        return render_template("admin/restore_presets_confirm.html", post_form=EmptyForm())
    presets.restore_defaults(current_user)
    flash("caseapp's shipped deadline presets are restored; new cases get them from now on.", "success")
    return redirect(url_for("admin.deadline_presets"))


# ---------------------------------------------------------------- the client portal's settings
# (issue 16): document checklists, the client quiet hours

from caseapp.forms import ChecklistsForm, ClientQuietHoursForm  # noqa: E402
from caseapp.services.portal import checklists as portal_checklists  # noqa: E402
from caseapp.services.portal import settings as portal_settings  # noqa: E402


@bp.route("/checklists", methods=["GET", "POST"])
def checklists():
    saved = portal_checklists.for_agency(current_user.agency_id)
    form = ChecklistsForm() if request.method == "POST" else ChecklistsForm(data=ChecklistsForm.initial(saved))
    if form.validate_on_submit():
        try:
            kept = portal_checklists.save(current_user, form.sent())
        except DomainError as error:
            flash(" ".join([error.message] + form.show_errors(error.fields)), "danger")
        else:
            flash(f"Checklists saved: {len(kept)} in all. New document requests offer them.", "success")
            return redirect(url_for("admin.checklists"))
    elif form.is_submitted():
        flash("Please correct the highlighted fields.", "danger")
    return render_template("admin/checklists.html", form=form, agency=current_user.agency,
                           uses_defaults=portal_checklists.uses_defaults(current_user.agency_id))


@bp.post("/checklists/restore")
def restore_checklists():
    if request.form.get("confirmed") != "yes":
        return render_template("admin/restore_checklists_confirm.html", post_form=EmptyForm())
    portal_checklists.restore_defaults(current_user)
    flash("caseapp's shipped checklists are restored; new document requests offer them.", "success")
    return redirect(url_for("admin.checklists"))


@bp.post("/agency/client-quiet-hours")
def client_quiet_hours():
    form = ClientQuietHoursForm()
    if save_form(form, lambda: portal_settings.update_client_quiet_hours(
            current_user, form.client_quiet_start.data, form.client_quiet_end.data)):
        flash("Client quiet hours saved: no reminder mail goes to a client in them.", "success")
        return redirect(url_for("admin.agency") + "#client-quiet-hours")
    settings = AgencySettingsForm(formdata=None, obj=current_user.agency)
    settings.timezone.choices = timezone_choices()
    return _agency_page(settings, _calendar_form(current_user.agency, formdata=None), quiet_form=form)


# ---- email in (issue 17): Amazon's sender domains -----------------------------------------------

from caseapp.forms import AmazonDomainsForm  # noqa: E402
from caseapp.services.inbound import settings as inbound_settings  # noqa: E402


@bp.post("/agency/amazon-domains")
def amazon_domains():
    form = AmazonDomainsForm()
    if save_form(form, lambda: inbound_settings.update_amazon_domains(current_user, form.amazon_domains.data)):
        flash("Amazon's sender domains saved: mail from them proposes “record as Amazon's reply”.", "success")
        return redirect(url_for("admin.agency") + "#amazon-domains")
    settings = AgencySettingsForm(formdata=None, obj=current_user.agency)
    settings.timezone.choices = timezone_choices()
    return _agency_page(settings, _calendar_form(current_user.agency, formdata=None), domains_form=form, status=422)
