"""Error pages for the browser and JSON errors for the API, chosen by path."""
from flask import Flask, current_app, g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException, UnsupportedMediaType
from werkzeug.wsgi import LimitedStream

from caseapp.core import parsing
from caseapp.core import transaction
from caseapp.core.errors import DomainError
from caseapp.services.accounts import audit

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "validation_error", 429: "rate_limited",
}


FORM_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, message: str, code: str | None = None, fields=None,
               existing_id: int | None = None):
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message}}
    if fields:
        body["error"]["fields"] = fields
    if existing_id is not None:
        body["error"]["existing_id"] = existing_id
    return jsonify(body), status


def _refusal(request_) -> str | None:
    """Why the request's text or JSON body cannot be taken, or None.

    Text: every name and value of the query string, the form and the path (an uploaded
    file's name is cleaned instead, see services/evidence/filenames.py). A JSON body, on any path,
    signed in or not, must be UTF-8 without NUL bytes, and is measured for depth before it
    is parsed; its keys and strings are then checked like the rest, without recursion.
    """
    texts = [*request_.args.keys(), *request_.args.values(), *request_.form.keys(),
             *request_.form.values(),
             *(v for v in (request_.view_args or {}).values() if isinstance(v, str))]
    if request_.is_json:
        raw = request_.get_data(cache=True)
        if b"\x00" in raw:
            return "Text may not contain NUL characters; send JSON as UTF-8 text."
        if parsing.json_depth_exceeds(raw):
            return f"The JSON body is nested more than {parsing.MAX_JSON_DEPTH} levels deep."
        texts.extend(parsing.json_texts(request_.get_json(silent=True)))
    for text in texts:
        problem = parsing.text_problem(text)
        if problem:
            return f"Text may not contain {problem}: they cannot be stored."
    return None


def _audit_refusal(message: str) -> None:
    """A 403 is someone trying what their role does not allow: worth an admin's eye."""
    actor = getattr(g, "api_user", None) or (current_user._get_current_object()
                                             if current_user.is_authenticated else None)
    if actor is None:
        return
    transaction.abandon()  # nothing of the refused request is kept, only the entry about it
    with transaction.transaction():
        audit.record("refused", actor, target=f"{request.method} {request.path}"[:200], detail=message)


# Reading at most this many times the body limit to let the client see a 413.
DRAIN_FACTOR = 4


def _discard_body() -> None:
    """Read and drop the rest of a refused (too large) body.

    A server that closes the connection with request bytes still unread makes the client
    see a connection reset instead of the 413 page; nothing is parsed from it any more.
    """
    request.__dict__["form"] = ImmutableMultiDict()
    request.__dict__["files"] = ImmutableMultiDict()
    environ = request.environ
    budget = DRAIN_FACTOR * (current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    if "wsgi.input_terminated" in environ:
        source = environ["wsgi.input"]  # the server ends it where the body ends
    elif request.content_length is None or request.content_length > budget:
        return
    elif "stream" in request.__dict__:
        source = request.__dict__["stream"]  # parsing began: it knows how much is left
    else:
        source = LimitedStream(environ["wsgi.input"], request.content_length)
    try:
        while budget > 0:
            chunk = source.read(min(budget, 64 * 1024))
            if not chunk:
                break
            budget -= len(chunk)
    except (OSError, HTTPException):
        pass  # the client went away, or the stream refuses to read further: nothing to save


def register(app: Flask) -> None:
    def refuse_unstorable_text():
        """NUL characters and lone surrogates are never meaningful text, and cannot be stored;
        a JSON body nested deeper than any field needs would exhaust the parser's stack.
        The pages take forms only: Flask-WTF would read a JSON body as the form's fields."""
        message = _refusal(request)
        if message is None:
            if request.is_json and request.method in FORM_METHODS and not wants_json():
                raise UnsupportedMediaType("The pages take forms, not JSON; the JSON API is at /api/v1.")
            return None
        if wants_json():
            return json_error(400, message, "bad_request")
        return render_template("errors/error.html", status=400, title="Not accepted",
                               message=message), 400

    # First of all the hooks: the CSRF check and the rate limits read the body too.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unstorable_text)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = "The form expired or was sent from another site. Go back, reload the page and try again."
        if wants_json():
            return json_error(400, message, "csrf_failed")
        return render_template("errors/error.html", status=400, title="Form not accepted",
                               message=message), 400

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        if error.status == 403:
            _audit_refusal(error.message)
        if wants_json():
            return json_error(error.status, error.message, error.code, error.fields,
                              error.existing[1] if error.existing else None)
        return render_template("errors/error.html", status=error.status, title="Not possible",
                               message=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            404: "There is nothing here. It may have been removed, or the link is wrong.",
            403: "Your role does not allow this.",
            413: (f"The upload is larger than the {app.config['MAX_UPLOAD_MB']} MB limit, so "
                  "nothing was saved. Send fewer files at a time, or make the file smaller (for "
                  "example a PDF export instead of a scan) and try again."),
            429: "Too many attempts. Please wait a minute and try again.",
        }
        titles = {413: "Upload too large"}
        message = messages.get(error.code, error.description)
        if error.code >= 500:
            # The page reads the signed-in user: not through a transaction the failure broke.
            transaction.abandon()
        if isinstance(error, RateLimitExceeded) and error.limit.error_message:
            message = error.description  # a limit that says why, and what the person can do
        if error.code == 403:
            _audit_refusal(message)
        if error.code == 413:
            _discard_body()
        if wants_json():
            response, status = json_error(error.code, message)
        else:
            response = app.response_class(
                render_template("errors/error.html", status=error.code,
                                title=titles.get(error.code, error.name), message=message),
                mimetype="text/html")
            status = error.code
        response.status_code = status
        for name, value in error.get_headers():  # Allow on 405, Retry-After on 429, ...
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response
