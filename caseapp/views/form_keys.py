"""The one-time key of every page form (forms.OnceForm), for every POST of the pages.

A form carries a key made when it was rendered. A POST with a key:
- that was already used (within 24 hours, by the same person) does nothing: it goes where
  the first POST went, and says so;
- otherwise runs as usual, and the key is written in the first unit of work the request
  saves (core.transaction.before_next_commit), so the note, submission or file and its key
  are saved together or not at all. A request that saves nothing (a refusal) spends no key.
  When the request ends in a redirect, its address is kept for the repeats. A form shown
  again (after a refusal) carries a new key: each rendering is a new form.

Two clicks racing: the database lets one key be saved once (services/idempotency); the
second request's unit of work fails whole and it answers like a repeat.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, request, url_for
from flask_login import current_user

from caseapp.core import transaction
from caseapp.forms import FORM_KEY
from caseapp.models import utcnow
from caseapp.services import idempotency

REPEATED = "That form was sent twice; it was done once. This is what the first one did."


def _posted_key() -> str | None:
    for name, value in request.form.items(multi=True):
        if name == FORM_KEY or name.endswith("-" + FORM_KEY):
            return value if idempotency.valid_key(value) else None
    return None


def _scope() -> str:
    return f"user:{current_user.id}"


def _same_site_referrer() -> str:
    """Where the form was, when the first answer is not known yet (a race, or no redirect)."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("dashboard.index")


def _repeat(row) -> object:
    flash(REPEATED, "info")
    return redirect(row.location if row is not None and row.location else _same_site_referrer(), code=303)


def register(app: Flask) -> None:
    @app.before_request
    def catch_repeats():
        if request.method != "POST" or request.path.startswith("/api/"):
            return None
        key = _posted_key()
        if key is None or not current_user.is_authenticated:
            return None
        scope = _scope()
        row = idempotency.find(scope, key)
        if row is not None:
            return _repeat(row)
        g.form_key = (scope, key)

        def write_key():
            g.form_key_row = idempotency.claim(scope, key, idempotency.fingerprint(request.path), utcnow())

        transaction.before_next_commit(write_key)
        return None

    @app.after_request
    def remember_where_it_led(response):
        transaction.drop_before_next_commit()
        row = g.pop("form_key_row", None)
        if row is not None and response.status_code in (301, 302, 303, 307, 308) and response.location:
            with transaction.transaction():
                idempotency.remember_answer(row, status_code=303, location=response.location)
        return response

    @app.errorhandler(idempotency.KeyTaken)
    def raced(_error):
        transaction.abandon()
        scope, key = g.get("form_key") or (None, None)
        return _repeat(idempotency.find(scope, key) if scope else None)
