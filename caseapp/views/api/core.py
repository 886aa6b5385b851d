"""Shared parts of the JSON API: the blueprint, token sign-in, body and query parsing."""
from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, current_app, g, request, url_for
from werkzeug.exceptions import Unauthorized, UnsupportedMediaType

from caseapp.extensions import csrf, limiter
from caseapp.services.accounts import tokens
from caseapp.core import parsing
from caseapp.core.errors import DomainError, ValidationFailed

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
PUBLIC_ENDPOINTS = {"api.openapi"}
MAX_PER_PAGE = 100


class BadRequest(DomainError):
    code = "bad_request"
    status = 400


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def rate_limit_key() -> str:
    """Limits count per token (hashed), falling back to the address for requests without one."""
    token = _bearer()
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    repeated = sorted(name for name in request.args if len(request.args.getlist(name)) > 1)
    if repeated:
        raise ValidationFailed({name: "Given more than once." for name in repeated},
                               "Each query parameter may be given once.")
    user = tokens.authenticate(_bearer())
    if user is None:
        error = Unauthorized("A valid API token is required: send 'Authorization: Bearer <token>'.")
        error.www_authenticate = None
        raise error
    g.api_user = user
    return None


@bp.after_request
def no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def user():
    return g.api_user


def body(allowed: set[str]) -> dict[str, Any]:
    """The JSON object sent, or a 415/400/422 error; unknown fields are refused by name."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed({name: "Unknown field." for name in unknown},
                               "The body has fields this endpoint does not take.")
    return data


def moment(data: dict[str, Any], field: str) -> None:
    """Replace an ISO 8601 text in data[field] by a datetime, or raise a 422 naming the field."""
    if field not in data or data[field] is None:
        data.pop(field, None)
        return
    parsed = parsing.parse_moment(data[field])
    if parsed is None:
        raise ValidationFailed({field: "Give an ISO 8601 date and time with an offset, "
                                       "e.g. 2026-11-29T14:30:00+01:00, between the years "
                                       f"{parsing.EARLIEST.year} and {parsing.LATEST.year}."})
    data[field] = parsed


def int_arg(name: str, default: int | None = None, minimum: int = 1, maximum: int = parsing.MAX_ID):
    raw = request.args.get(name)
    if raw is None:
        return default
    number = parsing.whole_number(raw, minimum, maximum)
    if number is None:
        raise ValidationFailed({name: f"Must be a whole number from {minimum} to {maximum:,}, "
                                      "in the digits 0-9."}, "Invalid query parameter.")
    return number


def page_args() -> tuple[int, int]:
    return int_arg("page", 1, maximum=parsing.MAX_PAGE), int_arg("per_page", 50, maximum=MAX_PER_PAGE)


def listing(items: list, pagination, endpoint: str, **values) -> dict:
    args = {k: v for k, v in request.args.items() if k not in ("page", "after", "before")}
    nxt = None
    if pagination.has_next:
        nxt = url_for(endpoint, _external=True, **values, **args, **pagination.next_args)
    return {"items": items, "next": nxt}


def rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


limiter.limit(rate_limit, key_func=rate_limit_key)(bp)

