"""Shared parts of the JSON API: the blueprint, token sign-in, body and query parsing."""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from typing import Any, Callable

from flask import Blueprint, current_app, g, make_response, request, url_for
from werkzeug.exceptions import Unauthorized, UnsupportedMediaType

from caseapp.extensions import csrf, limiter
from caseapp.models import utcnow
from caseapp.services import idempotency
from caseapp.services.accounts import tokens
from caseapp.core import parsing
from caseapp.core.errors import Conflict, DomainError, ValidationFailed
from caseapp.core.transaction import abandon, transaction

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _request_fingerprint() -> str:
    """The method, path and body, read the way the endpoint reads them: JSON by its value (key
    order and spacing do not matter), a multipart upload by its fields and the files' bytes
    (not by the boundary a client picks anew for each request), anything else as sent."""
    parts: list[bytes | str] = [request.method, request.path]
    if request.is_json:
        value = request.get_json(silent=True)
        parts.append(json.dumps(value, sort_keys=True, separators=(",", ":")) if value is not None
                     else request.get_data(cache=True))
    elif request.mimetype == "multipart/form-data":
        for name, value in sorted(request.form.items(multi=True)):
            parts += ["form", name, value]
        for name, file in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            stream = file.stream
            digest = hashlib.sha256()
            for chunk in iter(lambda: stream.read(64 * 1024), b""):
                digest.update(chunk)
            stream.seek(0)
            parts += ["file", name, file.filename or "", digest.hexdigest()]
    else:
        parts.append(request.get_data(cache=True))
    return idempotency.fingerprint(*parts)


# Secrets an answer may show once (a document request's portal link, which the database keeps
# only hashed) are not kept in the stored answer: it holds a marker naming the secret, and a
# replay builds the secret again (null when it no longer works). Builders are registered by kind.
# The marker is signed, so a text someone typed into another field is never taken for one.
SECRET_BUILDERS: dict[str, Callable[[str], str | None]] = {}
_MARKER = re.compile(r'"\[withheld:([a-z_]+):([0-9]+):([0-9a-f]{32})\]"')


def _marker_signature(kind: str, ref: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"api withheld secret:{kind}:{ref}".encode(), hashlib.sha256).hexdigest()[:32]


def withhold(kind: str, ref: int, secret: str) -> None:
    """This answer shows `secret`; a copy kept for Idempotency-Key replays holds a marker instead."""
    if kind not in SECRET_BUILDERS:
        raise RuntimeError(f"no secret builder is registered for {kind!r}")
    g.setdefault("api_withheld", []).append((kind, ref, secret))


def _kept_body(text: str) -> str:
    for kind, ref, secret in g.pop("api_withheld", ()):
        marker = f"[withheld:{kind}:{ref}:{_marker_signature(kind, str(ref))}]"
        text = text.replace(json.dumps(secret), json.dumps(marker))
        text = text.replace(secret, "[withheld]")  # anywhere else it showed: never stored
    return text


def _refilled(text: str) -> str:
    def build(match: re.Match) -> str:
        kind, ref, signature = match.groups()
        if kind not in SECRET_BUILDERS or not hmac.compare_digest(signature, _marker_signature(kind, ref)):
            return match[0]
        return json.dumps(SECRET_BUILDERS[kind](ref))
    return _MARKER.sub(build, text)


def _replay(row):
    response = current_app.response_class(_refilled(row.body or ""), status=row.status_code,
                                          content_type=row.content_type or "application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def honours_idempotency_key(view):
    """Any POST of the API: the same Idempotency-Key from the same token within 24 hours
    answers the first answer again and changes nothing; with another body it is a 422.

    The key is written in the unit of work of the POST's effect, with the answer, so both
    are saved or neither is; a refused request (an error answer) saves no key. Another
    token's key is another key."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not idempotency.valid_key(key):
            raise BadRequest(f"The Idempotency-Key header must be 1 to {idempotency.keys.MAX_KEY} "
                             "printable ASCII characters, without spaces.",
                             {IDEMPOTENCY_HEADER: "Not a usable key."})
        scope = "token:" + hashlib.sha256(_bearer().encode()).hexdigest()[:32]
        fingerprint = _request_fingerprint()
        try:
            with transaction():
                row = idempotency.find(scope, key)
                if row is None:
                    row = idempotency.claim(scope, key, fingerprint, utcnow())
                    response = make_response(view(*args, **kwargs))
                    if response.status_code < 400:
                        idempotency.remember_answer(
                            row, status_code=response.status_code, content_type=response.content_type,
                            body=_kept_body(response.get_data(as_text=True)))
                    else:
                        abandon()  # an error answered: nothing saved, the key stays unused
                    return response
        except idempotency.KeyTaken:
            row = idempotency.find(scope, key)  # the request that saved it first
            if row is None or row.status_code is None:
                raise Conflict("A request with this Idempotency-Key is still being handled; "
                               "try again in a moment.") from None
        if row.fingerprint != fingerprint:
            raise ValidationFailed(
                {IDEMPOTENCY_HEADER: "Already used, within the last 24 hours, for a request with "
                                     "another body or path."},
                "This Idempotency-Key belongs to another request; use a new key for a new request.")
        return _replay(row)
    return wrapper


class ApiBlueprint(Blueprint):
    """The API's blueprint: every POST route it gets honours Idempotency-Key."""

    def add_url_rule(self, rule, endpoint=None, view_func=None, provide_automatic_options=None,
                     **options):
        if view_func is not None and "POST" in (options.get("methods") or ()):
            view_func = honours_idempotency_key(view_func)
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **options)


bp = ApiBlueprint("api", __name__, url_prefix="/api/v1")
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


def moment_arg(name: str):
    """The query parameter `name` as an ISO 8601 moment with its offset, None when absent, or a 422."""
    raw = request.args.get(name)
    if raw is None:
        return None
    parsed = parsing.parse_moment(raw)
    if parsed is None:
        raise ValidationFailed({name: "Give an ISO 8601 date and time with an offset, e.g. "
                                      "2026-11-29T14:30:00+01:00 (in a URL, + is %2B)."},
                               "Invalid query parameter.")
    return parsed


def texts(data: dict[str, Any], limits: dict[str, int]) -> None:
    """A 422 naming each field of `data` in `limits` that is neither null nor a text of at most
    that many characters, counted as sent (before any trimming)."""
    wrong = {}
    for name, limit in limits.items():
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            wrong[name] = "Must be text."
        elif value is not None and len(value) > limit:
            wrong[name] = f"At most {limit:,} characters."
    if wrong:
        raise ValidationFailed(wrong)


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

