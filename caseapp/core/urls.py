"""Links that leave the app (mail, feeds): built from the URL map, rooted at APP_BASE_URL.

`external_url("cases.detail", case_id=7)` is `url_for(..., _external=True)` with the host,
scheme and path prefix of APP_BASE_URL instead of the request's (as Indico's app.py derives
SERVER_NAME from its BASE_URL). So it works where there is no request (the scheduler, the
command line), a link mailed from a request carries the configured address rather than
whatever Host header the request came with, and a renamed route breaks at once (a
BuildError) instead of mailing a link that answers 404.
"""
from __future__ import annotations

import ipaddress
import os
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


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})


def local_base_url(host: str, port: int) -> str:
    """The address a development server on HOST and PORT answers at, for APP_BASE_URL when it
    is not set: `--port 8000` mails links to port 8000. A server listening on every address
    (0.0.0.0) is reached at 127.0.0.1 on this machine; others need APP_BASE_URL set."""
    host = host.strip()
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    try:
        if ipaddress.ip_address(host.strip("[]")).version == 6:
            host = f"[{host.strip('[]')}]"
    except ValueError:
        pass  # a name such as localhost
    return f"http://{host}:{port}"


def follow_server(app, host: str, port: int) -> str:
    """APP_BASE_URL for a development server on HOST and PORT: the address it serves at,
    unless APP_BASE_URL was set in the environment. Returns the base URL in force."""
    if not os.environ.get("APP_BASE_URL"):
        app.config["APP_BASE_URL"] = local_base_url(host, port)
    return app.config["APP_BASE_URL"]
