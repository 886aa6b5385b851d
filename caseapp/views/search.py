"""Search everywhere: the results page and the nav's quick-jump box (services/cases/search.py)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.services.cases import search as finder

bp = Blueprint("search", __name__)


def hit_url(hit: finder.Hit) -> str:
    if hit.kind == "client":
        return url_for("clients.detail", client_id=hit.object_id)
    if hit.kind == "email":
        return url_for("inbound.detail", inbound_id=hit.object_id)
    if hit.kind == "poa":
        return url_for("poa.editor", draft_id=hit.object_id)
    anchor = {"note": f"note-{hit.object_id}", "submission": "submissions"}.get(hit.kind)
    return url_for("cases.detail", case_id=hit.case_id, _anchor=anchor)


@bp.get("/search")
@login_required
def results():
    query = request.args.get("q", "")[:finder.MAX_QUERY]
    hits = finder.search(current_user, query)
    target = finder.jump_target(query, hits) if request.args.get("jump") else None
    if target is not None:
        return redirect(hit_url(target))
    return render_template("search/results.html", query=query, hits=hits, hit_url=hit_url,
                           limit=finder.LIMIT, start=finder.START, stop=finder.STOP)
