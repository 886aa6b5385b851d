"""`GET /healthz` for load balancers and monitors: is this process able to reach its database?"""
import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from caseapp.extensions import db, limiter

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
@limiter.exempt  # probed every few seconds by every balancer; a 429 would read as "down"
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("health check: database unreachable: %s", exc)
        response = jsonify(status="unavailable", error="database unreachable")
        response.status_code = 503
    else:
        db.session.rollback()  # end the read transaction; nothing to keep
        response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
