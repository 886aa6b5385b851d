"""Error pages for the browser and JSON errors for the API, chosen by path."""
import re
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import HTTPException, UnsupportedMediaType
from werkzeug.wsgi import LimitedStream

from caseapp.core import parsing
from caseapp.core import transaction
from caseapp.core.errors import DomainError
from caseapp.services.accounts import audit
from caseapp.views.helpers import render_case_page, upload_form

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


HEAD_BYTES = 64 * 1024


def _discard_body() -> bytes:
    """Read and drop the rest of a refused (too large) body; return its first bytes (up to
    64 KB), from which the text fields sent before the files can still be read.

    A server that closes the connection with request bytes still unread makes the client
    see a connection reset instead of the 413 page; nothing else is parsed from it.
    """
    request.__dict__["form"] = ImmutableMultiDict()
    request.__dict__["files"] = ImmutableMultiDict()
    environ = request.environ
    budget = DRAIN_FACTOR * (current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    if "wsgi.input_terminated" in environ:
        source = environ["wsgi.input"]  # the server ends it where the body ends
    elif request.content_length is None or request.content_length > budget:
        return b""
    elif "stream" in request.__dict__:
        source = request.__dict__["stream"]  # parsing began: it knows how much is left
    else:
        source = LimitedStream(environ["wsgi.input"], request.content_length)
    head = b""
    try:
        while budget > 0:
            chunk = source.read(min(budget, 64 * 1024))
            if not chunk:
                break
            if len(head) < HEAD_BYTES:
                head += chunk[:HEAD_BYTES - len(head)]
            budget -= len(chunk)
    except (OSError, HTTPException):
        pass  # the client went away, or the stream refuses to read further: nothing to save
    return head


def text_fields_before_files(head: bytes, boundary: str) -> MultiDict:
    """The complete text parts at the start of a multipart body, up to its first file: what a
    refused upload's form said (its category and description) besides the files."""
    found = MultiDict()
    if not boundary:
        return found
    parts = head.split(b"--" + boundary.encode("latin-1"))
    for part in parts[1:-1]:  # the last one may be cut off: only parts a boundary closes
        headers, _, value = part.partition(b"\r\n\r\n")
        disposition = next((line for line in headers.split(b"\r\n")
                            if line.lower().startswith(b"content-disposition:")), b"")
        if b"filename=" in disposition:
            break
        name = re.search(rb'name="([^"]*)"', disposition)
        if name:
            found.add(name.group(1).decode("utf-8", "replace"),
                      value.removesuffix(b"\r\n").decode("utf-8", "replace"))
    return found


def _upload_page_again(head: bytes, message: str):
    """The case page again after an upload over the limit: the category and description the
    form sent before its files, the message beside the file field. None when that page
    cannot be shown (not the person's case, not signed in)."""
    if request.endpoint != "evidence.upload" or not current_user.is_authenticated:
        return None
    form = upload_form(formdata=text_fields_before_files(head, request.mimetype_params.get("boundary", "")))
    limit = current_app.config["MAX_UPLOAD_MB"]
    form.files.errors = [f"The upload is larger than the {limit} MB limit. Choose the files again: "
                         "fewer at a time, or smaller ones. The category and description are kept."]
    flash(f"Upload too large. {message}", "danger")
    try:
        return render_case_page(request.view_args["case_id"], evidence_form=form, status=413)
    except DomainError:
        transaction.abandon()
        return None


def _same_site_referrer() -> str | None:
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return None


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
        head = _discard_body() if error.code == 413 else b""
        again = None if wants_json() or error.code != 413 else _upload_page_again(head, message)
        if wants_json():
            response, status = json_error(error.code, message)
        elif again is not None:
            response, status = app.response_class(again[0], mimetype="text/html"), again[1]
        else:
            response = app.response_class(
                render_template("errors/error.html", status=error.code,
                                title=titles.get(error.code, error.name), message=message,
                                back_url=_same_site_referrer() if error.code == 413 else None),
                mimetype="text/html")
            status = error.code
        response.status_code = status
        for name, value in error.get_headers():  # Allow on 405, Retry-After on 429, ...
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response
