import pytest

from caseapp import create_app
from caseapp.extensions import db
from caseapp.models import AuditEvent
from caseapp.views.auth import safe_next
from tests.conftest import Browser, latest_reset_path


def test_sign_in_lands_on_my_day_and_cases_stay_in_the_nav(browser, world):
    response = browser.login(world.consultant_a.email)
    assert response.status_code == 302 and response.headers["Location"] == "/my-day"
    page = browser.get("/my-day").get_data(as_text=True)
    assert "<h1 class=\"h3 mb-0\">My day</h1>" in page and 'href="/cases">Cases</a>' in page
    assert browser.get("/").headers["Location"] == "/my-day"
    page = browser.get("/cases").get_data(as_text=True)
    assert "My cases" in page and world.case_a.title in page


def test_wrong_password_is_refused_without_saying_which_part(browser, world):
    response = browser.login(world.consultant_a.email, "wrong-password")
    assert response.status_code == 200
    assert "do not match an active account" in response.get_data(as_text=True)
    assert browser.get("/cases").status_code == 302


def test_pages_need_sign_in_and_come_back_after_it(browser, world):
    response = browser.get(f"/cases/{world.case_a.id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    response = browser.login(world.consultant_a.email, next_url=f"/cases/{world.case_a.id}")
    assert response.headers["Location"] == f"/cases/{world.case_a.id}"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "http:/evil.example", "/%0d%0aSet-Cookie:x", "cases", " /cases",
])
def test_next_never_leaves_the_site(browser, world, target):
    response = browser.login(world.consultant_a.email, next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/my-day" or (location.startswith("/") and not location.startswith("//")
                                    and "evil" not in location)


def test_safe_next_keeps_local_paths_with_query():
    assert safe_next("/cases?status=open&page=2") == "/cases?status=open&page=2"
    assert safe_next("//evil.example") is None
    assert safe_next("/ok\r\nLocation: x") is None


def test_forms_without_csrf_token_are_refused(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.client.post(f"/cases/{world.case_a.id}/status", data={"status": "drafting"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert 'data-status="open"' in page


def test_sign_in_form_itself_needs_csrf(browser, world):
    response = browser.client.post("/login", data={
        "email": world.consultant_a.email, "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert browser.get("/cases").status_code == 302


def test_sign_out_is_a_post(browser, world):
    browser.login(world.consultant_a.email)
    assert browser.get("/logout").status_code == 405
    assert browser.get("/cases").status_code == 200
    assert browser.logout().status_code == 302
    assert browser.get("/cases").status_code == 302


def _from(app, address: str) -> Browser:
    browser = Browser(app)
    browser.client.client.environ_base["REMOTE_ADDR"] = address
    return browser


def test_sign_in_is_throttled_per_address(app, world):
    browser = _from(app, "203.0.113.7")
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for i in range(limit):  # many accounts tried from one address
        assert browser.login(f"guess{i}@agency-a.example", "wrong-password").status_code == 200
    response = browser.login(world.consultant_a.email)  # even the right password waits
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert _from(app, "198.51.100.9").login(world.consultant_a.email).status_code == 302


def test_one_address_failing_at_an_account_is_throttled_there_only(app, world):
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    for _ in range(limit):
        assert _from(app, "203.0.113.7").login(world.consultant_a.email, "wrong-password").status_code == 200
    response = _from(app, "203.0.113.7").login(world.consultant_a.email)  # even the right password waits
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    # The person whose account it is, at another address, is not locked out by those failures.
    assert _from(app, "198.51.100.9").login(world.consultant_a.email).status_code == 302
    assert _from(app, "203.0.113.7").login(world.admin_a.email).status_code == 302  # other accounts there


def test_someone_elses_failures_from_many_addresses_do_not_lock_the_owner_out(app, world):
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    for i in range(3 * limit):  # a guesser spread over many addresses, under the account's ceiling
        assert _from(app, f"192.0.2.{i + 1}").login(world.consultant_a.email, "wrong-password").status_code == 200
    # The owner, at a new address in a browser that never signed in before.
    assert _from(app, "198.51.100.9").login(world.consultant_a.email).status_code == 302


def _ceiling(app) -> int:
    app.config["LOGIN_ACCOUNT_TOTAL_RATE_LIMIT"] = "8 per hour"  # read at each request
    return 8


def test_a_distributed_guesser_meets_a_ceiling_that_a_known_browser_passes(app, world):
    laptop = _from(app, "198.51.100.9")
    assert laptop.login(world.consultant_a.email).status_code == 302
    laptop.logout()
    for i in range(_ceiling(app)):  # every failure from its own address
        assert _from(app, f"192.0.2.{i + 1}").login(world.consultant_a.email, "wrong-password").status_code == 200
    # A browser this account never signed in from waits, right password or not: that is what
    # bounds the guesser, whatever the number of its addresses.
    stranger = _from(app, "192.0.2.100")
    response = stranger.login(world.consultant_a.email)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "reset your password" in response.get_data(as_text=True)
    # The owner's laptop, travelling (a new address), signs in; other accounts are not affected.
    laptop.client.client.environ_base["REMOTE_ADDR"] = "203.0.113.80"
    assert laptop.login(world.consultant_a.email).status_code == 302
    assert _from(app, "192.0.2.101").login(world.admin_a.email).status_code == 302


def test_after_a_reset_by_email_a_new_browser_passes_the_ceiling(app, world):
    for i in range(_ceiling(app)):
        _from(app, f"192.0.2.{i + 1}").login(world.consultant_a.email, "wrong-password")
    phone = _from(app, "198.51.100.20")
    assert phone.login(world.consultant_a.email).status_code == 429
    phone.client.post("/password/forgot", data={"email": world.consultant_a.email,
                                                "csrf_token": phone.csrf_token("/password/forgot")})
    link = _reset_link()
    page = phone.get(link).get_data(as_text=True)
    token = Browser.CSRF_RE.search(page).group(1)
    assert phone.client.post(link, data={"password": "amber-walrus-lantern-4", "csrf_token": token}).status_code == 302
    assert phone.login(world.consultant_a.email, "amber-walrus-lantern-4").status_code == 302


def test_an_ipv6_guesser_gets_one_bucket_for_its_whole_slash_64(app, world):
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    for i in range(limit):  # a new address of the same /64 for every guess
        assert _from(app, f"2001:db8:1:2::{i + 1:x}").login(world.consultant_a.email, "wrong-password").status_code == 200
    assert _from(app, "2001:db8:1:2:ffff::9").login(world.consultant_a.email).status_code == 429
    assert _from(app, "2001:db8:1:3::1").login(world.consultant_a.email).status_code == 302  # another /64


def test_successful_sign_ins_do_not_use_up_the_account_budget(app, world):
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    for i in range(limit + 2):
        assert _from(app, f"192.0.2.{i + 1}").login(world.consultant_a.email).status_code == 302


@pytest.mark.parametrize("storage", ["redis", "memory"])
def test_throttling_counts_live_in_redis_for_every_worker(_schema, world, storage):
    """Failed attempts seen by one worker count in a worker started later, through Redis.

    Each create_app builds a fresh limiter storage, as a new gunicorn worker would; with
    memory:// (the control) the new worker starts from zero.
    """
    import redis

    from caseapp import create_app
    from tests.conftest import skip_or_fail

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.exceptions.ConnectionError:
        skip_or_fail("Redis is not running on 127.0.0.1:6379: shared throttling not tested")

    class Config(_schema):
        RATELIMIT_STORAGE_URI = url if storage == "redis" else "memory://"

    first = create_app(Config)
    limit = int(Config.LOGIN_ACCOUNT_RATE_LIMIT.split()[0])
    for _ in range(limit):
        assert _from(first, "192.0.2.1").login(world.consultant_a.email, "wrong-password").status_code == 200
    later = create_app(Config)
    status = _from(later, "192.0.2.1").login(world.consultant_a.email).status_code
    keys = redis.Redis.from_url(url).keys("*login-account*")
    redis.Redis.from_url(url).flushdb()
    if storage == "redis":
        assert status == 429 and keys
    else:
        assert status == 302 and not keys


def test_deactivated_user_cannot_sign_in_and_is_signed_out(browser, other_browser, world):
    other_browser.login(world.consultant_a.email)
    assert other_browser.get("/cases").status_code == 200
    browser.login(world.admin_a.email)
    browser.post(f"/admin/users/{world.consultant_a.id}/active/0")
    assert other_browser.get("/cases").status_code == 302
    response = other_browser.login(world.consultant_a.email)
    assert "do not match an active account" in response.get_data(as_text=True)


def test_session_cookie_flags(browser, world):
    response = browser.login(world.consultant_a.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_cookies_are_secure_and_production_needs_a_secret(monkeypatch):
    import config

    assert config.ProductionConfig.SESSION_COOKIE_SECURE is True
    assert config.DevelopmentConfig.SESSION_COOKIE_SECURE is False
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        config.ProductionConfig.init_secret()


def _reset_link() -> str:
    return latest_reset_path()


# ---------------------------------------------------------------- behind a reverse proxy

@pytest.fixture
def proxied(_schema, world, tmp_path):
    """The app as gunicorn serves it behind one TLS proxy (TRUSTED_PROXIES=1)."""

    class Config(_schema):
        TRUSTED_PROXIES = "1"  # as the environment gives it
        EVIDENCE_DIR = str(tmp_path / "evidence")

    proxied = create_app(Config)
    yield proxied
    with proxied.app_context():
        db.engine.dispose()


def _via_proxy(app, client_address: str, spoofed: str = "") -> Browser:
    """A browser at `client_address`; the proxy on loopback appends that address to whatever
    X-Forwarded-For the client sent (`spoofed`), as nginx's $proxy_add_x_forwarded_for does."""
    browser = Browser(app)
    browser.client.client.environ_base.update({
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": f"{spoofed}, {client_address}" if spoofed else client_address,
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_REFERER": "https://localhost/login",  # browsers send it; CSRF checks it over https
    })
    return browser


def _addresses(kind: str) -> set[str]:
    return set(db.session.scalars(db.select(AuditEvent.ip).where(AuditEvent.kind == kind)))


def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_bucket(proxied, world):
    limit = int(proxied.config["LOGIN_RATE_LIMIT"].split()[0])
    for i in range(limit):
        attacker = _via_proxy(proxied, "203.0.113.7")
        assert attacker.login(f"guess{i}@agency-a.example", "wrong-password").status_code == 200
    assert _via_proxy(proxied, "203.0.113.7").login(world.consultant_a.email).status_code == 429
    # What the client itself puts in X-Forwarded-For is not believed: the proxy's entry is.
    spoofing = _via_proxy(proxied, "203.0.113.7", spoofed="198.51.100.50")
    assert spoofing.login(world.consultant_a.email).status_code == 429
    colleague = _via_proxy(proxied, "198.51.100.9")
    response = colleague.client.post("/password/forgot", data={
        "email": world.admin_a.email, "csrf_token": colleague.csrf_token("/password/forgot")})
    assert response.status_code == 302
    assert colleague.login(world.consultant_a.email).status_code == 302
    assert colleague.get("/cases").status_code == 200
    assert _addresses("sign_in_failed") == {"203.0.113.7"}
    assert _addresses("sign_in") == {"198.51.100.9"}


def test_without_trusted_proxies_a_forwarded_header_changes_nothing(app, world):
    assert app.config.get("TRUSTED_PROXIES", 0) in (0, "0")  # the default
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for i in range(limit):
        browser = _from(app, "203.0.113.7")
        browser.client.client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{i + 1}"
        assert browser.login(f"guess{i}@agency-a.example", "wrong-password").status_code == 200
    browser = _from(app, "203.0.113.7")
    browser.client.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.77"
    assert browser.login(world.consultant_a.email).status_code == 429
    assert _addresses("sign_in_failed") == {"203.0.113.7"}


@pytest.mark.parametrize("value", ["one", "-1", "1.5"])
def test_trusted_proxies_must_be_a_count(_schema, value):
    class Config(_schema):
        TRUSTED_PROXIES = value

    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        create_app(Config)
