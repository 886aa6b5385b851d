"""The client portal: one case of one client, reached by the link in the client's mail.

No account, no session, no cookie: the link's token in the address is the only key, so the
forms carry no CSRF token (a forger would need the token itself) and the blueprint is exempt
from CSRFProtect. Pages are never stored (no-store) and never sent as a referrer. Changes are
rate limited per link (PORTAL_RATE_LIMIT). What the client sees and may do is
services/portal/client.py's.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.extensions import csrf, limiter
from caseapp.security import no_store
from caseapp.services.portal import LinkClosed, client

bp = Blueprint("portal", __name__, url_prefix="/portal")
csrf.exempt(bp)

# What the page says after a change (a redirect names one of these, never free text).
DONE = {"sent": "Thank you: your files are with us.", "answered": "Thank you for your answer.",
        "message": "Your message is with us.", "approved": "Thank you: you approved the plan.",
        "changes": "Thank you: we will change the plan and share it again."}


def _link_key() -> str:
    token = (request.view_args or {}).get("token", "")
    return "portal:" + hashlib.sha256(token.encode()).hexdigest()


def _limit() -> str:
    return current_app.config["PORTAL_RATE_LIMIT"]


@bp.after_request
def _private(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.errorhandler(LinkClosed)
def _closed(error: LinkClosed):
    return render_template("portal/closed.html", **client.closed_link_page(error)), 410


def _page(token: str, errors: dict | None = None, refused: list | None = None, status: int = 200,
          form: dict | None = None):
    view = client.page(token)
    return render_template("portal/home.html", view=view, token=token, errors=errors or {},
                           refused=refused or [], form=form or {}, done=DONE.get(request.args.get("done", ""))), status


def _after(token: str, action, done: str, form: dict | None = None):
    try:
        action()
    except ValidationFailed as error:
        return _page(token, errors=error.fields, status=422, form=form)
    except Conflict as error:
        return _page(token, errors={"page": str(error)}, status=409, form=form)
    return redirect(url_for("portal.home", token=token, done=done, _anchor="top"), 303)


@bp.get("/<token>")
@no_store
def home(token: str):
    return _page(token)


@bp.post("/<token>/items/<int:item_id>/files")
@no_store
@limiter.limit(_limit, key_func=_link_key)
def upload(token: str, item_id: int):
    try:
        result = client.upload(token, item_id, request.files.getlist("files"))
    except ValidationFailed as error:
        return _page(token, errors={f"item-{item_id}": error.fields.get("files", str(error))}, status=422)
    except Conflict as error:
        return _page(token, errors={f"item-{item_id}": str(error)}, status=409)
    if result.refused:
        return _page(token, refused=result.refused, status=200 if result.saved else 422,
                     errors={f"item-{item_id}": "Some files were not taken: see why above."})
    return redirect(url_for("portal.home", token=token, done="sent", _anchor="top"), 303)


@bp.post("/<token>/items/<int:item_id>/answer")
@no_store
@limiter.limit(_limit, key_func=_link_key)
def answer(token: str, item_id: int):
    text = request.form.get("answer")
    return _after(token, lambda: client.answer(token, item_id, text), "answered",
                  form={f"answer-{item_id}": text or ""})


@bp.post("/<token>/message")
@no_store
@limiter.limit(_limit, key_func=_link_key)
def message(token: str):
    body = request.form.get("message")
    return _after(token, lambda: client.message(token, body), "message", form={"message": body or ""})


@bp.post("/<token>/poa/<int:share_id>")
@no_store
@limiter.limit(_limit, key_func=_link_key)
def poa(token: str, share_id: int):
    decision, comment = request.form.get("decision"), request.form.get("comment")
    return _after(token, lambda: client.answer_poa(token, share_id, decision, comment),
                  "approved" if decision == "approve" else "changes", form={"comment": comment or ""})



