"""Fixtures: an app on a fresh database (SQLite, or PostgreSQL via TEST_DATABASE_URL),
a test client with a signed-in helper, and factories for test data."""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from caseapp import create_app
from caseapp.extensions import db
from caseapp.services.accounts import people
from caseapp.services.cases import records
from caseapp.services.cases import clients
from config import TestingConfig

PASSWORD = "correct-horse-battery"
STRICT = os.environ.get("CASEAPP_STRICT_TESTS") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop without the service; under CI (CASEAPP_STRICT_TESTS=1) a skip is a failure."""
    if STRICT:
        pytest.fail(f"{reason} (CASEAPP_STRICT_TESTS=1 forbids skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def _schema(database_url):
    """Create the tables once per run; each test then empties them."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    return Config


def _empty_tables() -> None:
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(_schema, tmp_path):
    class Config(_schema):
        EVIDENCE_DIR = str(tmp_path / "evidence")

    app = create_app(Config)
    with app.app_context():
        _empty_tables()
        yield app
        db.session.remove()
        db.engine.dispose()  # each test's engine would keep its connections until collected


class _FreshContextClient:
    """Runs each request in an app context of its own, as a real server does.

    The `app` fixture keeps a context open for the test's own service calls; without
    this, requests would share its `g` (and its cached CSRF token) and its session.
    """

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def open(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.open(*args, **kwargs)

    def get(self, *args, **kwargs):
        return self.open(*args, method="GET", **kwargs)

    def post(self, *args, **kwargs):
        return self.open(*args, method="POST", **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


class Browser:
    """The test client plus sign-in and CSRF handling, as a user's browser would do it."""

    CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

    def __init__(self, app):
        self.client = _FreshContextClient(app)
        self._token = None

    def csrf_token(self, page: str = "/login") -> str:
        if self._token is None:
            html = self.client.get(page).get_data(as_text=True)
            match = self.CSRF_RE.search(html)
            assert match, f"no CSRF token on {page}"
            self._token = match.group(1)
        return self._token

    def login(self, email: str, password: str = PASSWORD, next_url: str | None = None):
        self._token = None
        url = "/login" + (f"?next={next_url}" if next_url else "")
        response = self.client.post(url, data={
            "email": email, "password": password, "csrf_token": self.csrf_token()})
        self._token = None  # the session is renewed on sign-in
        return response

    def logout(self):
        response = self.client.post("/logout", data={"csrf_token": self.csrf_token("/settings/")})
        self._token = None
        return response

    def get(self, url: str, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token("/settings/"))
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def browser(app) -> Browser:
    return Browser(app)


@pytest.fixture
def other_browser(app) -> Browser:
    return Browser(app)


@dataclass
class World:
    """Two agencies with an admin and a consultant each, and a client and case in agency A."""

    agency_a: object
    agency_b: object
    admin_a: object
    consultant_a: object
    admin_b: object
    consultant_b: object
    client_a: object
    case_a: object


def make_user(agency, email, role="consultant", name=None, timezone=None):
    return people.create_user(agency, email, name or email.split("@")[0].title(), role,
                                PASSWORD, timezone)


def make_client(actor, **fields):
    data = {"name": "Harbor Lane Home Goods", "seller_id": "A1B2C3D4E5F6G7", "marketplace": "US"}
    if "seller_id" not in fields and clients.same_seller(actor, data["seller_id"]) is not None:
        # A seller ID is one client's in an agency: another client gets one of its own.
        data["seller_id"] = f"A1B2C3D4{secrets.token_hex(3).upper()}"
    data.update(fields)
    return clients.create_client(actor, data)


def make_case(actor, client, **fields):
    data = {"client_id": client.id, "title": "Account suspended", "kind": "account_suspension",
            "reason": "customer_complaints", "asins": ["B07XJ8C8F5"]}
    data.update(fields)
    return records.create_case(actor, data)


@pytest.fixture
def world(app) -> World:
    agency_a = people.create_agency("Agency A", "Europe/Berlin")
    agency_b = people.create_agency("Agency B", "America/New_York")
    admin_a = make_user(agency_a, "admin@agency-a.example", "admin", "Ada Admin")
    consultant_a = make_user(agency_a, "consultant@agency-a.example", "consultant", "Carl Consultant")
    admin_b = make_user(agency_b, "admin@agency-b.example", "admin", "Bea Admin")
    consultant_b = make_user(agency_b, "consultant@agency-b.example", "consultant", "Ben Consultant")
    client_a = make_client(consultant_a)
    case_a = make_case(consultant_a, client_a)
    return World(agency_a, agency_b, admin_a, consultant_a, admin_b, consultant_b, client_a, case_a)


def pytest_terminal_summary(terminalreporter):
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        terminalreporter.write_line(f"database: PostgreSQL ({url.rsplit('@', 1)[-1]})")
    else:
        terminalreporter.write_line(
            "database: SQLite only. PostgreSQL was not tested in this run; set "
            "TEST_DATABASE_URL=postgresql+psycopg://USER@HOST/DB to run the suite there too.")


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on loopback; the app's MAIL_* settings point at it."""
    from tests.smtp import SmtpServer

    server = SmtpServer().start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False,
                      MAIL_USE_SSL=False, MAIL_DEFAULT_SENDER="caseapp@agency.example")
    yield server
    server.stop()


def latest_reset_path() -> str:
    """The path of the newest password reset link, as the delivery pass makes it when it
    sends the email (the stored email holds a placeholder, never the link)."""
    from caseapp.models import OutboxMessage, utcnow
    from caseapp.services.accounts import passwords

    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "password_reset")
                                .order_by(OutboxMessage.id.desc()))
    link = passwords.reset_link(message.link_ref, utcnow())
    return "/password/" + link.split("/password/", 1)[1]


def sign_in(page, email: str) -> None:
    """Sign in through the login page in a browser test (Playwright's page), and wait until
    a signed-in page (with its sign-out form) is shown."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("form[action=\"/logout\"]")).to_be_attached()
