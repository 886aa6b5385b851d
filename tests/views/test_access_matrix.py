"""Every route × signed out / consultant / admin, generated from the URL map.

Signed out: the sign-in page (HTML) or 401 (API). A consultant on an admin-only action: 403.
Everyone else gets past the door (no 403, and never a 5xx). Another agency's objects are
covered by test_tenancy.py. A route added later is in the matrix without anyone remembering;
an admin-only one must be listed in ADMIN_ONLY, or the consultant row fails.
"""
import pytest

from tests.conftest import Browser
from tests.views.test_tenancy import HARMFUL_FORM, ID_ARGUMENTS, NO_OBJECT_ENDPOINTS, OTHER_ARGUMENTS

# Reachable without signing in, by design.
PUBLIC = {"auth.login", "auth.forgot_password", "auth.reset_password", "submissions.act_from_email",
          "submissions.calendar", "health.healthz", "api.openapi", "invitations.accept",
          "dashboard.root"}  # a redirect to /my-day, which then asks for sign-in
ADMIN_ONLY_PREFIXES = ("admin.",)
ADMIN_ONLY = {"clients.delete", "evidence.delete", "api.client_delete", "api.invitation_create"}


def _is_admin_only(endpoint: str) -> bool:
    return endpoint.startswith(ADMIN_ONLY_PREFIXES) or endpoint in ADMIN_ONLY


def _requests(app, world):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NO_OBJECT_ENDPOINTS or rule.endpoint in PUBLIC:
            continue
        if rule.endpoint.startswith("portal."):
            continue  # public by link (no sign-in, no role): its matrix is in test_portal.py
        values = {arg: ID_ARGUMENTS[arg](world) if arg in ID_ARGUMENTS else OTHER_ARGUMENTS[arg]
                  for arg in rule.arguments}
        url = rule.build(values)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def _send(browser: Browser, method: str, url: str, token: str | None = None):
    if url.startswith("/api/"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return browser.client.open(url, method=method, headers=headers,
                                   json=None if method in ("GET", "DELETE") else {})
    if method == "GET":
        return browser.get(url)
    signed_in = token is not None
    data = dict(HARMFUL_FORM, csrf_token=browser.csrf_token("/settings/" if signed_in else "/login"))
    return browser.client.post(url, data=data)


def test_signed_out_is_sent_to_sign_in_or_refused(app, world):
    stranger = Browser(app)
    seen = 0
    for endpoint, method, url in _requests(app, world):
        response = _send(stranger, method, url)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url)
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], \
                (method, url, response.status_code)
        seen += 1
    assert seen > 40


@pytest.mark.parametrize("role", ["consultant", "admin"])
def test_roles_get_what_their_role_allows(app, world, role):
    from caseapp.services.accounts import tokens

    person = world.consultant_a if role == "consultant" else world.admin_a
    browser = Browser(app)
    browser.login(person.email)
    ID_ARGUMENTS["token_id"](world)  # the token the revoke route gets, so not the matrix's own
    token = tokens.create(person, "matrix")[1]
    refused = []
    for endpoint, method, url in _requests(app, world):
        if endpoint == "auth.logout":
            continue  # would end the session the matrix runs in
        response = _send(browser, method, url, token)
        assert response.status_code < 500, (method, url, response.status_code)
        if response.status_code == 403:
            refused.append(endpoint)
        elif role == "consultant":
            assert not _is_admin_only(endpoint), f"{method} {url}: admin-only, answered {response.status_code}"
        if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
            browser.login(person.email)  # an action (e.g. a password change) may have ended it
            token = tokens.create(person, "matrix again")[1]
    if role == "admin":
        assert refused == []
    else:
        assert refused and all(_is_admin_only(e) for e in refused)
