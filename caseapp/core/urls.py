"""Links that leave the app (mail, feeds): built from the URL map, rooted at APP_BASE_URL.

`external_url("cases.detail", case_id=7)` is `url_for(..., _external=True)` with the host,
scheme and path prefix of APP_BASE_URL instead of the request's (as Indico's app.py derives
SERVER_NAME from its BASE_URL). So it works where there is no request (the scheduler, the
command line), a link mailed from a request carries the configured address rather than
whatever Host header the request came with, and a renamed route breaks at once (a
BuildError) instead of mailing a link that answers 404.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    """The absolute URL of `endpoint`; raises werkzeug's BuildError when no route fits."""
    app = current_app._get_current_object()
    base = urlsplit(app.config["APP_BASE_URL"])
    adapter = app.url_map.bind(base.netloc, script_name=base.path.rstrip("/") or "/",
                               url_scheme=base.scheme or "http")
    app.inject_url_defaults(endpoint, values)
    return adapter.build(endpoint, values, force_external=True)
