"""Security headers on every response.

Pages get a Content-Security-Policy that allows nothing inline: every script and
stylesheet is a file under /static (the app's own) or /bootstrap/static
(Bootstrap-Flask, served locally). A stored payload that slips past escaping
therefore still cannot run. Responses that are not pages (JSON, files, exports)
get a policy that allows nothing at all.

A view may set its own Content-Security-Policy (the evidence downloads and
previews do: `default-src 'none'; sandbox`); it is kept as the view wrote it.
Such responses are framed by our own file page (the PDF preview), so they get
`X-Frame-Options: SAMEORIGIN` rather than DENY.

HSTS is sent only by the production configuration outside debug and testing: a
laptop on http://127.0.0.1 must not teach the browser to insist on HTTPS.

Cache-Control, when the view set none: pages are `private` (a shared cache must not keep
one person's page for another); a page that shows a secret, or is reached by one (a new API
token, the calendar address, a reset or reminder link, held mail carrying such links), is
`no-store` (not even the browser keeps it, for the next user of the computer to find in its
history); views say so with @no_store. The API answers `no-store` (its blueprint sets it);
files and exports without their own policy are `private`.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, request

# What the pages truly need: scripts and styles from our origin; images from our
# origin plus data: URIs (Bootstrap's CSS draws the navbar toggler and form
# controls with data: SVG backgrounds); the evidence file page frames the PDF
# preview, which comes from our origin.
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

# JSON, files, exports, calendar feeds: nothing in them should ever load or run.
RESOURCE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

HSTS = "max-age=31536000; includeSubDomains"


def no_store(view: Callable) -> Callable:
    """Mark a view whose pages show a secret: they get `Cache-Control: no-store`.

    Put it right under the route decorator, so the function the route registers carries it.
    """
    view.no_store = True
    return view


def cache_control_for(app: Flask, response: Response) -> str:
    if request.path.startswith("/api/"):
        return "no-store"
    if response.mimetype == "text/html":
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        return "no-store" if getattr(view, "no_store", False) else "private"
    return "private"


def policy_for(response: Response) -> str:
    return PAGE_POLICY if response.mimetype == "text/html" else RESOURCE_POLICY


def hsts_enabled(app: Flask) -> bool:
    return (app.config.get("ENV_NAME") == "production"
            and not app.debug and not app.testing)


def register(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        view_policy = "Content-Security-Policy" in headers
        if not view_policy:
            headers["Content-Security-Policy"] = policy_for(response)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        # For browsers without CSP frame-ancestors. A response whose view chose its own
        # policy is a file our pages may frame (the evidence preview).
        headers.setdefault("X-Frame-Options", "SAMEORIGIN" if view_policy else "DENY")
        if hsts_enabled(app):
            headers.setdefault("Strict-Transport-Security", HSTS)
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = cache_control_for(app, response)
        return response
