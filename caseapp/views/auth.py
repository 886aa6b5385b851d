"""Sign-in, sign-out, idle sessions, and resetting a forgotten password.

Throttling sign-in (Flask-Limiter, counted in RATELIMIT_STORAGE_URI):
- LOGIN_RATE_LIMIT: every attempt from one address, whatever the account.
- LOGIN_ACCOUNT_RATE_LIMIT: failed attempts at one account from one address. That address
  then waits, right password or not; the account's owner at any other address does not, so
  five bad passwords no longer lock a known account for everybody.
- LOGIN_ACCOUNT_TOTAL_RATE_LIMIT: failed attempts at one account from every address together,
  counted and enforced only for browsers that never signed in to that account. This is what
  bounds a guesser with many addresses: at the default of 100 an hour, 2,400 guesses a day
  however many addresses it has, against passwords of 10^8 guesses or more (zxcvbn score 3),
  i.e. a century on average. While a guesser keeps an account over that ceiling, the owner
  still signs in from any browser that signed in to the account before (a signed "known
  device" cookie names it), and from a new one after resetting the password by email, which
  marks that browser known. Slowing answers down instead of refusing them was not chosen:
  a sleeping request holds a gunicorn worker, so a guesser could stall the site with it.
"Address" is the client's address (behind a proxy: see TRUSTED_PROXIES), an IPv6 one by its
/64: one subscriber usually holds a whole /64, and rotating through it must not give fresh
buckets.
"""
import hashlib
import ipaddress
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, login_required, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer

from caseapp.core.transaction import transaction
from caseapp.extensions import limiter
from caseapp.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm
from caseapp.security import no_store
from caseapp.services.accounts import people
from caseapp.services.accounts import audit
from caseapp.services.accounts import passwords
from caseapp.services.accounts import sessions
from caseapp.core.errors import ValidationFailed
from caseapp.views.helpers import current_session, forget_browser_session, show_errors, sign_in

bp = Blueprint("auth", __name__)

KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_DAYS = 365
KNOWN_DEVICE_ACCOUNTS = 10  # a shared office computer: the last ten people who signed in on it
CEILING_MESSAGE = (
    "This account has had many failed sign-ins from elsewhere, so browsers that have not signed "
    "in to it before must wait. Sign in from a browser you used before, wait and try again, or "
    "reset your password by email (\u201cForgot your password?\u201d): this browser can then sign in.")


def load_user(identity: str):
    """The user of a session or remember cookie while its server-side session is open."""
    found = sessions.find(identity)
    if found is None:
        return None
    user, row = found
    reason = sessions.lapsed(row)
    if reason:
        g.lapsed_session = (row, reason)  # ended, with a word to the person, before the view
        return None
    g.user_session = row
    return user


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or any(ord(ch) < 32 for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# ---------------------------------------------------------------- throttling

def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _account_total_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_TOTAL_RATE_LIMIT"]


def _client() -> str:
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _email() -> str:
    return people.email_key(request.form.get("email"))[:254]


def _account_address_key() -> str:
    return f"login-account:{_email()}|{_client()}"


def _account_key() -> str:
    return "login-account-total:" + _email()


def _failed(response) -> bool:
    """Only failed attempts count against an account: a successful sign-in redirects."""
    return response.status_code != 302


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="caseapp-known-device")


def _account_tag(email: str) -> str:
    return hashlib.sha256(people.email_key(email).encode()).hexdigest()[:24]


def _known_accounts() -> list[str]:
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return []
    try:
        tags = _device_serializer().loads(raw, max_age=KNOWN_DEVICE_DAYS * 86400)
    except BadData:
        return []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _known_device() -> bool:
    """Has this browser signed in to (or reset the password of) the account being tried?"""
    return _account_tag(_email()) in _known_accounts()


def _mark_known_device(response, email: str):
    tag = _account_tag(email)
    tags = [tag] + [t for t in _known_accounts() if t != tag][:KNOWN_DEVICE_ACCOUNTS - 1]
    response.set_cookie(KNOWN_DEVICE_COOKIE, _device_serializer().dumps(tags),
                        max_age=KNOWN_DEVICE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


# ---------------------------------------------------------------- views

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], key_func=_client)
@limiter.limit(_account_limit, methods=["POST"], key_func=_account_address_key, deduct_when=_failed)
@limiter.limit(_account_total_limit, methods=["POST"], key_func=_account_key, deduct_when=_failed,
               exempt_when=_known_device, error_message=CEILING_MESSAGE)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("days.my_day"))
    form = LoginForm()
    if request.method == "GET":
        form.email.data = request.args.get("email", "")[:254]  # e.g. after accepting an invitation
    if form.validate_on_submit():
        user = people.authenticate(form.email.data, form.password.data)
        if user is not None:
            remember = bool(form.remember.data)
            session.clear()  # a fresh session: nothing from before sign-in carries over
            with transaction():
                sign_in(user, remember)
                audit.record("sign_in", user, detail="remember me" if remember else "")
            response = redirect(safe_next(request.args.get("next")) or url_for("days.my_day"))
            return _mark_known_device(response, user.email)
        known = people.find_user(form.email.data)
        with transaction():
            audit.record("sign_in_failed", known, target=(form.email.data or "")[:200],
                         agency_id=known.agency_id if known else None)
        flash("That email and password do not match an active account.", "danger")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user = current_user._get_current_object()
    with transaction():
        sessions.end(current_session(), "signed_out")
        audit.record("sign_out", user)
    forget_browser_session()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@no_store
@limiter.limit(_address_limit, methods=["POST"], key_func=_client)
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
@no_store
@limiter.limit(_address_limit, methods=["POST"], key_func=_client)
def reset_password(token: str):
    if passwords.valid_reset(token) is None:
        return render_template("errors/error.html", status=404, title="Link not valid",
                               message="This reset link was used already, has expired, or is "
                                       "wrong. Ask for a new one from the sign-in page."), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            with transaction():
                user = passwords.complete_reset(token, form.password.data)
                audit.record("password_reset", user)
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash("Your password is changed; other sessions were signed out. Please sign in.", "success")
            # Whoever opened the link reads the account's mail: this browser may sign in even
            # while the account is over its ceiling of failed sign-ins.
            return _mark_known_device(redirect(url_for("auth.login")), user.email)
    return render_template("auth/reset.html", form=form)


def register_idle_timeout(app: Flask) -> None:
    @app.before_request
    def keep_server_sessions():
        """Note the use of a signed-in session; end one that ran out of time, with a word."""
        if request.path.startswith(("/api/", "/static/", "/bootstrap/", "/portal/")):
            return None  # the portal is the client's: a staff session is none of its business
        if current_user.is_authenticated:
            sessions.touch(current_session(), request.remote_addr or "")
            return None
        lapsed = g.pop("lapsed_session", None)
        if lapsed is not None:
            row, reason = lapsed
            sessions.end(row, reason)
            forget_browser_session()
            if reason == "idle":
                flash("You were signed out after a while without activity.", "info")
            else:
                flash("Your sign-in has expired. Please sign in again.", "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if "_user_id" in session:
            logout_user()  # a session that ended elsewhere: drop it, and the remember cookie
        return None
