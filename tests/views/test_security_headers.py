"""Security headers on every kind of response (pages, errors, redirects, JSON, static
files, evidence files, exports), HSTS only in production outside debug, and templates
free of inline code so the Content-Security-Policy can forbid it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from caseapp import create_app
from caseapp.extensions import db
from caseapp.security import HSTS, PAGE_POLICY, RESOURCE_POLICY
from caseapp.services.accounts import tokens
from caseapp.services.poa import drafts
from config import DevelopmentConfig, ProductionConfig
from tests.services.evidence.test_files import PDF, PNG, upload

SANDBOX_CSP = "default-src 'none'; sandbox"  # set by the evidence views themselves
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(policy: str) -> dict[str, str]:
    parts = (p.strip() for p in policy.split(";") if p.strip())
    return {p.split()[0]: " ".join(p.split()[1:]) for p in parts}


def assert_page_headers(response, url=""):
    headers = response.headers
    policy = directives(headers["Content-Security-Policy"])
    assert headers["Content-Security-Policy"] == PAGE_POLICY, url
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", url
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", url
    assert "unsafe" not in headers["Content-Security-Policy"], url
    assert headers["X-Content-Type-Options"] == "nosniff", url
    assert headers["Referrer-Policy"] == "same-origin", url
    assert headers["X-Frame-Options"] == "DENY", url
    assert "Strict-Transport-Security" not in headers, url  # testing config


def assert_resource_headers(response, url=""):
    headers = response.headers
    assert headers["Content-Security-Policy"] == RESOURCE_POLICY, url
    assert directives(RESOURCE_POLICY)["default-src"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff", url
    assert headers["Referrer-Policy"] == "same-origin", url
    assert headers["X-Frame-Options"] == "DENY", url
    assert "Strict-Transport-Security" not in headers, url


def assert_sandboxed_file_headers(response, url=""):
    headers = response.headers
    assert headers["Content-Security-Policy"] == SANDBOX_CSP, url  # the view's own, kept
    assert headers.getlist("Content-Security-Policy") == [SANDBOX_CSP], url  # not doubled
    assert headers["X-Content-Type-Options"] == "nosniff", url
    assert headers["Referrer-Policy"] == "same-origin", url
    assert headers["X-Frame-Options"] == "SAMEORIGIN", url  # our file page frames the preview
    assert "Strict-Transport-Security" not in headers, url


@pytest.fixture
def signed_in(browser, world):
    browser.login(world.consultant_a.email)
    return browser


# ---------------------------------------------------------------- the policy itself

def test_page_policy_allows_nothing_inline_and_only_our_own_origin():
    policy = directives(PAGE_POLICY)
    assert policy["default-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"  # Bootstrap draws icons as data: SVG backgrounds
    assert policy["frame-src"] == "'self'"  # the evidence file page frames its PDF preview
    assert policy["base-uri"] == "'self'" and policy["form-action"] == "'self'"
    for value in policy.values():
        assert "unsafe" not in value and "*" not in value and "http" not in value


# ---------------------------------------------------------------- pages

def test_signed_out_pages_redirects_and_errors_carry_the_page_headers(browser):
    for url in ("/login", "/password/forgot"):
        page = browser.get(url)
        assert page.status_code == 200 and page.mimetype == "text/html", url
        assert_page_headers(page, url)
    bad_link = browser.get("/password/reset/not-a-token")
    assert bad_link.status_code == 404
    assert_page_headers(bad_link, "/password/reset/not-a-token")

    redirect = browser.get("/cases")
    assert redirect.status_code == 302
    assert redirect.headers["X-Content-Type-Options"] == "nosniff"
    assert redirect.headers["X-Frame-Options"] == "DENY"
    assert redirect.headers["Referrer-Policy"] == "same-origin"

    missing = browser.get("/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert_page_headers(missing, "/no-such-page")


def test_every_signed_in_page_carries_the_page_headers(signed_in, world, app):
    start = signed_in.get(f"/cases/{world.case_a.id}/poa")  # no POA yet: the start page
    assert start.status_code == 200
    assert_page_headers(start, "POA start page")
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    second = drafts.save_version(world.consultant_a, world.case_a.id, {"subject": "Second"})
    row = upload(world, PNG, "listing.png")
    urls = ["/cases", "/clients/", f"/clients/{world.client_a.id}", "/clients/new",
            f"/clients/{world.client_a.id}/edit", "/cases/new", f"/cases/{world.case_a.id}",
            f"/cases/{world.case_a.id}/edit", f"/poa/{draft.id}",
            f"/poa/{second.id}/compare?with={draft.id}", f"/poa/{draft.id}/print",
            f"/evidence/{row.id}", "/settings/", "/cases/999999", "/admin/users"]
    for url in urls:
        response = signed_in.get(url)
        assert response.status_code in (200, 403, 404), url
        assert_page_headers(response, url)


def test_admin_pages_and_a_refusal_carry_the_page_headers(browser, other_browser, world):
    browser.login(world.admin_a.email)
    for url in ("/admin/users", "/admin/agency", "/admin/outbox", "/admin/users/new", "/admin/audit"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert_page_headers(response, url)
    other_browser.login(world.consultant_a.email)
    refused = other_browser.get("/admin/users")
    assert refused.status_code == 403
    assert_page_headers(refused, "/admin/users as consultant")


def test_evidence_file_page_may_frame_its_preview(signed_in, world):
    row = upload(world, PDF, "invoice.pdf")
    page = signed_in.get(f"/evidence/{row.id}")
    assert f'src="/evidence/{row.id}/preview"' in page.get_data(as_text=True)
    assert directives(page.headers["Content-Security-Policy"])["frame-src"] == "'self'"


# ---------------------------------------------------------------- not pages

def test_json_api_carries_the_resource_headers(app, world):
    token = tokens.create(world.consultant_a, "headers")[1]
    client = app.test_client()
    for url, headers, status in [
        ("/api/v1/openapi.json", {}, 200),
        (f"/api/v1/cases/{world.case_a.id}", {"Authorization": f"Bearer {token}"}, 200),
        ("/api/v1/clients", {"Authorization": f"Bearer {token}"}, 200),
        ("/api/v1/clients", {}, 401),
        ("/api/v1/cases/999999", {"Authorization": f"Bearer {token}"}, 404),
    ]:
        with app.app_context():
            response = client.get(url, headers=headers)
        assert response.status_code == status, url
        assert response.mimetype == "application/json", url
        assert_resource_headers(response, url)


def test_static_files_carry_the_resource_headers(browser):
    for url in ("/static/app.css", "/static/evidence-upload.js", "/bootstrap/static/css/bootstrap.min.css",
                "/bootstrap/static/js/bootstrap.min.js"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert_resource_headers(response, url)
        response.close()


def test_evidence_downloads_and_previews_keep_their_own_sandbox_policy(signed_in, world, app):
    image = upload(world, PNG, "listing.png")
    document = upload(world, PDF, "invoice.pdf")
    for url in (f"/evidence/{document.id}/download", f"/evidence/{image.id}/preview",
                f"/evidence/{document.id}/preview", f"/cases/{world.case_a.id}/evidence/bundle"):
        response = signed_in.get(url)
        assert response.status_code == 200, url
        assert_sandboxed_file_headers(response, url)
        response.close()
    token = tokens.create(world.consultant_a, "headers")[1]
    with app.app_context():
        response = app.test_client().get(f"/api/v1/evidence/{document.id}/download",
                                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert_sandboxed_file_headers(response, "API download")
    response.close()


def test_poa_exports_carry_the_resource_headers(signed_in, world):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    for fmt in ("txt", "docx", "pdf"):
        url = f"/poa/{draft.id}/export/{fmt}"
        response = signed_in.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Disposition"].startswith("attachment;"), url
        assert_resource_headers(response, url)


# ---------------------------------------------------------------- HSTS

@pytest.fixture
def make_app(app, tmp_path):
    """Build another app over the test database with a given base configuration."""
    built = []

    def build(base, **settings):
        class Config(base):
            SECRET_KEY = "Zq3vX9-kLrT2wYp8NcB5hJm4sFd7GaQe1UoVi6Ry0Ex"  # production refuses weak ones
            APP_BASE_URL = "https://cases.agency.example"
            SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
            EVIDENCE_DIR = str(tmp_path / "evidence")
            RATELIMIT_ENABLED = False

        for name, value in settings.items():
            setattr(Config, name, value)
        other = create_app(Config)
        built.append(other)
        return other

    yield build
    for other in built:
        with other.app_context():
            db.engine.dispose()


def get(app, url):
    with app.app_context():
        return app.test_client().get(url)


def test_production_sends_hsts_on_every_response(make_app):
    production = make_app(ProductionConfig)
    assert production.config["ENV_NAME"] == "production" and not production.debug
    for url in ("/login", "/api/v1/openapi.json", "/static/app.css", "/no-such-page", "/cases"):
        response = get(production, url)
        assert response.headers["Strict-Transport-Security"] == HSTS, url
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        response.close()
    assert get(production, "/login").headers["Content-Security-Policy"] == PAGE_POLICY


def test_no_hsts_in_debug_testing_or_development(make_app, browser):
    debugging = make_app(ProductionConfig, DEBUG=True)
    assert debugging.debug
    assert "Strict-Transport-Security" not in get(debugging, "/login").headers
    testing = make_app(ProductionConfig, TESTING=True)
    assert "Strict-Transport-Security" not in get(testing, "/login").headers
    development = make_app(DevelopmentConfig)
    assert "Strict-Transport-Security" not in get(development, "/login").headers
    assert "Strict-Transport-Security" not in browser.get("/login").headers  # the testing config


# ---------------------------------------------------------------- templates

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_page_templates_have_no_inline_scripts_or_styles():
    """Emails are not pages (mail clients need inline styles); every other template is."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        if path.relative_to(TEMPLATES).parts[0] == "email":
            continue
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == []


def test_bootstrap_assets_are_served_locally_without_inline_code(browser):
    page = browser.get("/login").get_data(as_text=True)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
    assert scripts, "Bootstrap's scripts are missing"
    for attributes, body in scripts:
        assert body.strip() == ""
        src = re.search(r'src="([^"]+)"', attributes).group(1)
        assert src.startswith(("/static/", "/bootstrap/static/")), src
    for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', page):
        assert href.startswith(("/static/", "/bootstrap/static/")), href
