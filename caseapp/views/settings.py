"""A user's own settings."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from caseapp.forms import ProfileForm
from caseapp.services import accounts
from caseapp.services.errors import DomainError
from caseapp.views.helpers import show_errors, timezone_choices

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.route("/", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    form.timezone.choices = timezone_choices(f"Same as the agency ({current_user.agency.timezone})")
    if form.validate_on_submit():
        try:
            accounts.update_own_profile(current_user, form.name.data, form.timezone.data or None)
        except DomainError as error:
            show_errors(form, error)
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("settings.profile"))
    return render_template("settings/profile.html", form=form)
