"""Sign-in sessions live on the server: signing out, a password change, "sign out everywhere"
and a deactivation end them there, so a copy of the cookies taken before stops working."""
from datetime import datetime, timedelta, timezone

import time_machine

from caseapp.extensions import db
from caseapp.models import UserSession
from caseapp.services.accounts import people
from tests.conftest import PASSWORD, Browser

NEW_PASSWORD = "violet-otter-harbour-9"


def _remembered(app, email: str) -> Browser:
    browser = Browser(app)
    response = browser.client.post("/login", data={"email": email, "password": PASSWORD, "remember": "y",
                                                   "csrf_token": browser.csrf_token()})
    assert response.status_code == 302
    browser._token = None
    return browser


def _copy(browser: Browser, *names: str) -> Browser:
    """Another browser holding copies of `browser`'s cookies, as someone who took them would."""
    thief = Browser(browser.client.app)
    for name in names or ("session", "remember_token"):
        cookie = browser.client.get_cookie(name)
        if cookie is not None:
            thief.client.set_cookie(name, cookie.value)
    return thief


def _signed_in(browser: Browser) -> bool:
    response = browser.get("/cases")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_copy_of_the_session_cookie_is_signed_out_with_its_session(browser, world):
    browser.login(world.consultant_a.email)
    thief = _copy(browser, "session")
    assert _signed_in(thief)  # the same session, for now
    browser.logout()
    assert not _signed_in(thief)
    assert not _signed_in(browser)


def test_a_copy_of_the_remember_cookie_is_signed_out_with_its_session(app, world):
    laptop = _remembered(app, world.consultant_a.email)
    copy = _copy(laptop, "remember_token")
    assert _signed_in(copy)  # "keep me signed in" works without the session cookie
    response = laptop.logout()
    # The browser is told to drop its remember cookie, and the server refuses it anyway.
    dropped = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")]
    assert dropped and "Expires=Thu, 01 Jan 1970" in dropped[0]
    assert laptop.client.get_cookie("remember_token") is None
    assert not _signed_in(copy)


def test_signing_out_ends_only_that_session(app, world):
    phone, laptop = _remembered(app, world.consultant_a.email), Browser(app)
    laptop.login(world.consultant_a.email)
    laptop.logout()
    assert _signed_in(phone)
    assert _signed_in(_copy(phone, "remember_token"))


def test_a_password_change_ends_every_session_of_the_person(app, browser, world):
    phone = _remembered(app, world.consultant_a.email)
    phone_remember = _copy(phone, "remember_token")
    browser.login(world.consultant_a.email)
    copy_of_this_browser = _copy(browser)
    others = Browser(app)
    others.login(world.admin_a.email)
    response = browser.post("/settings/password", data={"current_password": PASSWORD,
                                                        "new_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert _signed_in(browser)  # the browser that changed it goes on, with a new session
    for stale in (phone, phone_remember, copy_of_this_browser):
        assert not _signed_in(stale)
    assert _signed_in(others)  # another person's session is not touched


def test_signing_out_everywhere_ends_every_other_session(app, browser, world):
    phone = _remembered(app, world.consultant_a.email)
    browser.login(world.consultant_a.email)
    copy_of_this_browser = _copy(browser)
    browser.post("/settings/sign-out-everywhere")
    assert _signed_in(browser)
    assert not _signed_in(phone) and not _signed_in(copy_of_this_browser)


def test_a_reactivated_person_signs_in_afresh(app, browser, world):
    laptop = _remembered(app, world.consultant_a.email)
    copies = _copy(laptop)
    people.set_active(world.admin_a, world.consultant_a.id, False)
    people.set_active(world.admin_a, world.consultant_a.id, True)
    assert not _signed_in(laptop) and not _signed_in(copies)
    assert browser.login(world.consultant_a.email).status_code == 302


def test_a_remember_cookie_replayed_after_its_days_is_refused(app, world):
    start = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        laptop = _remembered(app, world.consultant_a.email)
        value = laptop.client.get_cookie("remember_token").value
        clock.shift(app.config["REMEMBER_COOKIE_DURATION"] - timedelta(hours=1))
        fresh = Browser(app)
        fresh.client.set_cookie("remember_token", value)  # no expiry: a replay ignores it
        assert _signed_in(fresh)
        clock.shift(timedelta(hours=2))
        replay = Browser(app)
        replay.client.set_cookie("remember_token", value)
        assert not _signed_in(replay)


def test_a_copy_of_an_idle_session_stays_signed_out(app, world):
    start = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        browser = Browser(app)
        browser.login(world.consultant_a.email)
        copy = _copy(browser)
        clock.shift(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 2))
        assert not _signed_in(browser)
        assert not _signed_in(copy)


def test_the_session_row_says_where_and_what_for_the_device_list(app, world):
    browser = Browser(app)
    browser.client.client.environ_base.update(REMOTE_ADDR="198.51.100.9",
                                              HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Firefox/140.0")
    browser.client.post("/login", data={"email": world.consultant_a.email, "password": PASSWORD,
                                        "remember": "y", "csrf_token": browser.csrf_token()})
    row = db.session.scalar(db.select(UserSession).where(UserSession.user_id == world.consultant_a.id))
    assert row.remember and row.ended_at is None and row.created_at is not None
    assert row.last_ip == "198.51.100.9" and "Firefox/140.0" in row.user_agent
    cookie = browser.client.get_cookie("session").value + browser.client.get_cookie("remember_token").value
    assert row.key_hash not in cookie  # the server keeps only a hash of what the cookies carry
    browser._token = None
    browser.logout()
    db.session.expire_all()
    row = db.session.get(UserSession, row.id)
    assert row.ended_at is not None and row.end_reason == "signed_out"
