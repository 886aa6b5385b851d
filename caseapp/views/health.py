"""`GET /healthz` for load balancers and monitors: is this process able to reach its database?"""
import logging

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from caseapp.core import transaction
from caseapp.extensions import limiter

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
@limiter.exempt  # probed every few seconds by every balancer; a 429 would read as "down"
def healthz():
    try:
        transaction.ping()  # one row, and the read ends at once
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", exc)
        response = jsonify(status="unavailable", error="database unreachable")
        response.status_code = 503
    else:
        response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
