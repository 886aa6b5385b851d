"""Browser-test fixtures: the app served by a live werkzeug server in a thread, and a
Playwright page driving Debian's chromium (never a downloaded browser)."""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import skip_or_fail

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so the page fixture knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve the test's app (same Config, same database, tables already emptied) on a free port.

    Each request in the server thread pushes its own app context and so gets its own
    SQLAlchemy session; what the test committed (the `world` fixture, for one) is visible
    to it because both use the same database — the SQLite file or the PostgreSQL database.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def _chromium():
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"chromium not installed at {CHROMIUM}: browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(_chromium, live_server, request):
    """A fresh browser context (no cookies) with base_url set to the live server.

    On failure a full-page screenshot goes to test-artifacts/<test name>.png.
    """
    context = _chromium.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
                     for when in ("setup", "call"))
        if failed:
            artifacts = Path(request.config.rootpath) / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            try:
                page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
                (artifacts / f"{name}.html").write_text(page.content())
            except Exception as error:  # a crashed page must not hide the real failure
                print(f"could not save a screenshot: {error}")
        context.close()
