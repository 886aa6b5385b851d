"""The client portal: one case of one client, reached by the link in the client's mail.

No account, no session, no cookie: the link's token in the address is the only key, so the
forms carry no CSRF token (a forger would need the token itself) and the blueprint is exempt
from CSRFProtect. Pages are never stored (no-store) and never sent as a referrer. Changes are
rate limited per link (PORTAL_RATE_LIMIT, one budget for all of a link's changes). What the
client sees and may do is services/portal/client.py's.

A portal page never shows the staff navigation, a sign-in prompt or "back to your cases". A bad
link is a plain 404, a closed one a 410 that says whom to ask. A body over the size limit and a
server error are the app's handlers' first (the 413 handler reads the rest of the body, so that
the browser sees the answer) and are re-dressed as portal pages in `_private`.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from caseapp.core.errors import Conflict, DomainError, ValidationFailed
from caseapp.extensions import csrf, limiter
from caseapp.security import no_store
from caseapp.services.evidence.file_types import ALLOWED_TYPES_TEXT
from caseapp.services.portal import LinkClosed, client

bp = Blueprint("portal", __name__, url_prefix="/portal")
csrf.exempt(bp)

# What the page says after a change (a redirect names one of these, never free text).
DONE = {"sent": "Thank you: your files are with us. We will check them and tell you if anything is missing.",
        "answered": "Thank you: your answer is with us.",
        "message": "Your message is with us. We will answer by email.",
        "approved": "Thank you: you approved the plan.",
        "changes": "Thank you: we will change the plan and share it with you again."}
NOT_FOUND = ("Open it again from the email we sent you, and check that the whole link was copied. "
             "If it still does not work, reply to that email and ask for a new one.")
TOO_FAST = "You have sent a lot through this page in a short time. Please wait a while and try again later."


def _link_key() -> str:
    token = (request.view_args or {}).get("token", "")
    return "portal:" + hashlib.sha256(token.encode()).hexdigest()


def _limit() -> str:
    return current_app.config["PORTAL_RATE_LIMIT"]


changes_limit = limiter.shared_limit(_limit, scope="portal", key_func=_link_key)


def _where() -> str:
    """Where on the page an error of this request is shown: beside the field it is about."""
    args = request.view_args or {}
    if "item_id" in args:
        return f"item-{args['item_id']}"
    return {"portal.poa": "poa", "portal.message": "message"}.get(request.endpoint, "page")


def _typed() -> dict:
    """What the client typed, shown again when the page comes back with an error."""
    args, form = request.view_args or {}, request.form
    typed = {name: form[name] for name in ("message", "comment") if name in form}
    if request.endpoint == "portal.answer" and "answer" in form:
        typed[f"answer-{args['item_id']}"] = form["answer"]
    return typed


def _plain(status: int, title: str, message: str, back: bool = False):
    """A page of its own: no case shown (the link may be wrong), at most a way back to it."""
    g.portal_page = True
    token = (request.view_args or {}).get("token") if back else None
    return render_template("portal/error.html", title=title, message=message,
                           back_url=url_for("portal.home", token=token) if token else None), status


def _page(token: str, errors: dict | None = None, status: int = 200, refused: dict | None = None,
          saved: dict | None = None):
    view = client.page(token)
    g.portal_page = True
    return render_template("portal/home.html", view=view, token=token, errors=errors or {},
                           refused=refused or {}, saved=saved or {}, form=_typed(),
                           accepted_types=ALLOWED_TYPES_TEXT,
                           done=DONE.get(request.args.get("done", ""))), status


def _again(status: int, message: str):
    """The portal page again with `message` where this request's error belongs; a plain page
    when the link itself does not open."""
    try:
        return _page(request.view_args["token"], errors={_where(): message}, status=status)
    except LinkClosed as error:
        return _closed(error)
    except DomainError:
        return _plain(404, "This link does not work", NOT_FOUND)


@bp.after_request
def _private(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Cache-Control"] = "no-store"
    if response.status_code in (413, 500) and not g.get("portal_page"):
        limit = current_app.config["MAX_UPLOAD_MB"]
        again = (_again(413, f"What you chose is larger than the {limit} MB limit, so nothing was sent. "
                              "Send fewer files at a time, or smaller ones (a PDF rather than a photo of "
                              "each page), and try again.")
                 if response.status_code == 413 and "token" in (request.view_args or {})
                 else _plain(response.status_code, "That did not work",
                             "Something went wrong on our side. Please try again in a few minutes.",
                             back=True))
        response.set_data(again[0])
        response.status_code = again[1]
    # No cookie: every page put a CSRF secret in the session as it rendered (for the staff
    # navigation's sign-out form), which would start a session for the client. Nothing here
    # changes a session; a signed-in person's stays as it came.
    session.modified = False
    return response


@bp.errorhandler(LinkClosed)
def _closed(error: LinkClosed):
    g.portal_page = True
    return render_template("portal/closed.html", **client.closed_link_page(error)), 410


@bp.errorhandler(DomainError)
def _refused(error: DomainError):
    if error.status == 404:
        return _plain(404, "This link does not work", NOT_FOUND)
    return _again(error.status, error.message)


@bp.errorhandler(404)
def _not_found(error):
    return _plain(404, "This link does not work", NOT_FOUND)


@bp.errorhandler(429)
def _too_fast(error):
    return _again(429, TOO_FAST)


def _after(token: str, action, done: str, fields: tuple[str, ...] = ()):
    """Do `action`; back to the page with what was done, or with the error beside its field."""
    try:
        action()
    except ValidationFailed as error:
        where = _where()
        errors = {where if name in fields else name: text for name, text in error.fields.items()}
        return _page(token, errors=errors, status=422)
    except Conflict as error:
        return _page(token, errors={_where(): str(error)}, status=409)
    return redirect(url_for("portal.home", token=token, done=done, _anchor="top"), 303)


@bp.get("/<token>")
@no_store
def home(token: str):
    return _page(token)


@bp.post("/<token>/items/<int:item_id>/files")
@no_store
@changes_limit
def upload(token: str, item_id: int):
    try:
        result = client.upload(token, item_id, request.files.getlist("files"))
    except ValidationFailed as error:
        return _page(token, errors={_where(): error.fields.get("files", str(error))}, status=422)
    except Conflict as error:
        return _page(token, errors={_where(): str(error)}, status=409)
    if result.refused:
        return _page(token, refused={_where(): result.refused}, saved={_where(): result.saved},
                     status=200 if result.saved else 422)
    return redirect(url_for("portal.home", token=token, done="sent", _anchor="top"), 303)


@bp.post("/<token>/items/<int:item_id>/answer")
@no_store
@changes_limit
def answer(token: str, item_id: int):
    return _after(token, lambda: client.answer(token, item_id, request.form.get("answer")), "answered",
                  fields=("answer",))


@bp.post("/<token>/message")
@no_store
@changes_limit
def message(token: str):
    return _after(token, lambda: client.message(token, request.form.get("message")), "message")


@bp.post("/<token>/poa/<int:share_id>")
@no_store
@changes_limit
def poa(token: str, share_id: int):
    decision = request.form.get("decision")
    return _after(token, lambda: client.answer_poa(token, share_id, decision, request.form.get("comment")),
                  "approved" if decision == "approve" else "changes")
