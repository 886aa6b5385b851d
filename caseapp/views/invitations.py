"""Accepting an invitation: the invited person chooses their own password."""
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from caseapp.core.transaction import transaction
from caseapp.extensions import limiter
from caseapp.forms import AcceptInvitationForm
from caseapp.security import no_store
from caseapp.services.accounts import audit
from caseapp.services.accounts import invitations
from caseapp.services.accounts import sessions
from caseapp.core.errors import ValidationFailed
from caseapp.views.helpers import current_session, forget_browser_session, show_errors

bp = Blueprint("invitations", __name__)


def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@no_store  # its address is the invitation's secret
@limiter.limit(_address_limit, methods=["POST"])
def accept(token: str):
    invitation = invitations.find_valid(token)
    if invitation is None:
        return render_template("errors/error.html", status=404, title="Invitation not valid",
                               message="This invitation link was used already, has expired, was "
                                       "revoked, or is wrong. Ask the person who invited you to "
                                       "send it again."), 404
    form = AcceptInvitationForm(data={"name": invitation.name})
    if form.validate_on_submit():
        try:
            user = invitations.accept(token, form.name.data, form.password.data)
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            if current_user.is_authenticated:  # someone else's session on this browser
                signed_in = current_user._get_current_object()
                with transaction():
                    sessions.end(current_session(), "signed_out")
                    audit.record("sign_out", signed_in)
                forget_browser_session()
            flash(f"Welcome to {invitation.agency.name}. Sign in with {user.email} and your new "
                  "password.", "success")
            return redirect(url_for("auth.login", email=user.email))
    return render_template("auth/invitation.html", form=form, invitation=invitation)
