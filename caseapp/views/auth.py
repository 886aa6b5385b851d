"""Sign-in, sign-out, idle sessions, and resetting a forgotten password."""
import time
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, login_required, login_user, logout_user

from caseapp.extensions import db, limiter
from caseapp.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm
from caseapp.models import User
from caseapp.services import accounts, audit, passwords
from caseapp.services.errors import ValidationFailed
from caseapp.services.parsing import parse_id
from caseapp.views.helpers import show_errors

bp = Blueprint("auth", __name__)


def load_user(user_id: str):
    """The user of a session or remember-me cookie, if its session version is still current."""
    raw_id, _, version = user_id.partition(":")
    user_id = parse_id(raw_id)
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.active or version != str(user.session_version):
        return None
    return user


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or any(ord(ch) < 32 for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _account_key() -> str:
    return "login-account:" + (request.form.get("email") or "").strip().lower()[:254]


def _failed(response) -> bool:
    """Only failed attempts count against an account: a successful sign-in redirects."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
@limiter.limit(_account_limit, methods=["POST"], key_func=_account_key, deduct_when=_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session: nothing from before sign-in carries over
            login_user(user, remember=form.remember.data)
            session["remembered"] = bool(form.remember.data)
            session["seen"] = int(time.time())
            audit.record("sign_in", user, detail="remember me" if form.remember.data else "")
            return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
        known = accounts.find_user(form.email.data)
        audit.record("sign_in_failed", known, target=(form.email.data or "")[:200],
                     agency_id=known.agency_id if known else None)
        flash("That email and password do not match an active account.", "danger")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    audit.record("sign_out", current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        passwords.request_reset(form.email.data)
        # The same answer whether or not the address has an account.
        flash("If that address has an account, a link to reset the password is on its way. "
              "It works once, for an hour.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def reset_password(token: str):
    if passwords.valid_reset(token) is None:
        return render_template("errors/error.html", status=404, title="Link not valid",
                               message="This reset link was used already, has expired, or is "
                                       "wrong. Ask for a new one from the sign-in page."), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = passwords.complete_reset(token, form.password.data)
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            audit.record("password_reset", user)
            flash("Your password is changed; other sessions were signed out. Please sign in.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)


def register_idle_timeout(app: Flask) -> None:
    @app.before_request
    def end_idle_sessions():
        """A session not kept with "keep me signed in" ends after SESSION_IDLE_MINUTES idle."""
        if request.path.startswith(("/api/", "/static/", "/bootstrap/")) or not current_user.is_authenticated:
            return None
        now = int(time.time())
        idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
        if not session.get("remembered") and now - session.get("seen", now) > idle:
            logout_user()
            session.clear()
            flash("You were signed out after a while without activity.", "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if now - session.get("seen", 0) >= 60:  # refresh the cookie at most once a minute
            session["seen"] = now
        return None
