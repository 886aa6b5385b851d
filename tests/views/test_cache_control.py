"""Cache-Control, generated from the URL map: every page is `private` (no shared cache keeps
it), and a page that shows a secret (an API token, the calendar address, a reset or reminder
link, held mail with such links) is `no-store` (not even the browser's cache keeps it)."""
import re

import pytest

from caseapp.extensions import db
from caseapp.models import Reminder
from caseapp.services.accounts import passwords
from caseapp.services.poa import drafts
from caseapp.services.appeals import followup_mail
from tests.conftest import Browser, latest_reset_path
from tests.views.test_access_matrix import PUBLIC
from tests.views.test_tenancy import ID_ARGUMENTS, NO_OBJECT_ENDPOINTS, OTHER_ARGUMENTS, _reminder

# Pages that show a secret, or are reached by one (the token is in their address).
NO_STORE = {"settings.profile", "auth.forgot_password", "auth.reset_password", "admin.outbox",
            "invitations.accept",
            "submissions.act_from_email",
            "portal.home"}  # the client's portal: the link's token is its address


def _pages(app, world):
    for rule in app.url_map.iter_rules():
        if (rule.endpoint in NO_OBJECT_ENDPOINTS or rule.rule.startswith("/api/")
                or "GET" not in rule.methods):
            continue
        values = {arg: ID_ARGUMENTS[arg](world) if arg in ID_ARGUMENTS else OTHER_ARGUMENTS[arg]
                  for arg in rule.arguments}
        yield rule.endpoint, rule.build(values)[1]


@pytest.fixture
def secrets(app, world):
    """Secrets the pages may show: a calendar address, and mail holding a reset link."""
    admin = Browser(app)
    admin.login(world.admin_a.email)
    page = admin.post("/settings/calendar").get_data(as_text=True)
    calendar_token = re.search(r"/calendar/([A-Za-z0-9_\-]+)\.ics", page).group(1)
    passwords.request_reset(world.admin_a.email)  # held in the outbox: no mail server
    db.session.expire_all()
    reset_token = latest_reset_path().rsplit("/", 1)[1]
    return admin, [calendar_token, reset_token]


def test_every_page_is_private_and_pages_with_secrets_are_not_stored(app, world, secrets):
    admin, known_secrets = secrets
    assert all(known_secrets)
    stranger = Browser(app)
    checked = []
    for endpoint, url in _pages(app, world):
        for who, browser in (("admin", admin), ("signed out", stranger)):
            if who == "signed out" and endpoint not in PUBLIC:
                continue
            response = browser.get(url)
            if response.mimetype != "text/html":
                response.close()
                continue
            body = response.get_data(as_text=True)
            shown = [s for s in known_secrets if s in body]
            expected = "no-store" if endpoint in NO_STORE or shown else "private"
            assert response.headers.get("Cache-Control") == expected, (who, url, shown)
            assert endpoint in NO_STORE or not shown, f"{url} shows a secret: add it to NO_STORE"
            checked.append((who, url, expected))
    assert ("admin", "/settings/", "no-store") in checked and ("admin", "/admin/outbox", "no-store") in checked
    assert ("signed out", "/login", "private") in checked
    assert len(checked) > 25


def test_the_page_showing_a_new_api_token_is_not_stored(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/settings/tokens", data={"name": "CRM sync"})
    assert response.status_code == 200
    assert re.search(r'value="cap_[^"]+"', response.get_data(as_text=True))
    assert response.headers["Cache-Control"] == "no-store"


def test_reset_and_reminder_links_open_pages_that_are_not_stored(app, browser, world):
    passwords.request_reset(world.consultant_a.email)
    page = browser.get(latest_reset_path())
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    reminder = db.session.get(Reminder, _reminder(world))
    act = browser.get(f"/reminders/act/{followup_mail.action_token(reminder, world.consultant_a)}")
    assert act.status_code == 200 and act.headers["Cache-Control"] == "no-store"


def test_files_and_feeds_keep_their_own_or_become_private(app, browser, world):
    browser.login(world.consultant_a.email)
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    export = browser.get(f"/poa/{draft.id}/export/txt")
    assert export.status_code == 200 and export.headers["Cache-Control"] == "private"
    evidence_id = ID_ARGUMENTS["evidence_id"](world)
    download = browser.get(f"/evidence/{evidence_id}/download")
    assert download.headers["Cache-Control"] == "private, no-store"  # the view's own
    download.close()
    assert browser.get("/healthz").headers["Cache-Control"] == "no-store"
    static = browser.get("/static/app.css")
    assert static.headers["Cache-Control"] == "no-cache"  # Flask's own: revalidate with the ETag
    static.close()
    assert browser.get("/api/v1/openapi.json").headers["Cache-Control"] == "no-store"
