import pytest

from caseapp.views.auth import safe_next
from tests.conftest import Browser


def test_sign_in_lands_on_my_cases(browser, world):
    response = browser.login(world.consultant_a.email)
    assert response.status_code == 302 and response.headers["Location"] == "/cases"
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
    assert location == "/cases" or (location.startswith("/") and not location.startswith("//")
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


def test_failed_sign_ins_are_throttled_per_account_from_any_address(app, world):
    limit = int(app.config["LOGIN_ACCOUNT_RATE_LIMIT"].split()[0])
    for i in range(limit):  # a slow, distributed guess at one account
        assert _from(app, f"192.0.2.{i + 1}").login(world.consultant_a.email, "wrong-password").status_code == 200
    response = _from(app, "192.0.2.200").login(world.consultant_a.email)
    assert response.status_code == 429
    assert _from(app, "192.0.2.201").login(world.admin_a.email).status_code == 302  # others unaffected


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
    for i in range(limit):
        assert _from(first, f"192.0.2.{i + 1}").login(world.consultant_a.email, "wrong-password").status_code == 200
    later = create_app(Config)
    status = _from(later, "192.0.2.99").login(world.consultant_a.email).status_code
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
