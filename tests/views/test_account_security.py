import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.extensions import db
from caseapp.models import AuditEvent, OutboxMessage, User, utcnow
from caseapp.services.accounts import people
from caseapp.services.accounts import audit
from caseapp.services.appeals import dispatch
from caseapp.core.errors import ValidationFailed
from tests.conftest import PASSWORD, Browser


@pytest.mark.parametrize("weak", ["password123", "qwertyuiop", "Password2024", "letmein2026!", "iloveyou12",
                                  "new@agency-a.example"])  # the last one: their own email
def test_common_and_guessable_passwords_are_refused(world, weak):
    with pytest.raises(ValidationFailed) as error:
        people.create_user(world.agency_a, "new@agency-a.example", "New Person", "consultant", weak)
    assert "password" in error.value.fields


def test_password_change_signs_out_other_sessions_but_not_this_one(app, browser, world):
    phone = Browser(app)
    phone.login(world.consultant_a.email)
    browser.login(world.consultant_a.email)
    response = browser.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": "violet-otter-harbour-9"}, follow_redirects=True)
    assert "Every other session was signed out" in response.get_data(as_text=True)
    assert browser.get("/cases").status_code == 200
    assert phone.get("/cases").status_code == 302
    assert Browser(app).login(world.consultant_a.email, PASSWORD).status_code == 200  # old one refused
    assert Browser(app).login(world.consultant_a.email, "violet-otter-harbour-9").status_code == 302


def test_wrong_current_password_or_weak_new_one_is_refused(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/settings/password", data={"current_password": "nope-nope-nope",
                                                        "new_password": "password123"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "not your current password" in page and "less common password" in page


def test_remember_me_cookie_is_revoked_by_signing_out_everywhere(app, browser, world):
    laptop = Browser(app)
    laptop.client.post("/login", data={"email": world.consultant_a.email, "password": PASSWORD,
                                       "remember": "y", "csrf_token": laptop.csrf_token()})
    remember = laptop.client.get_cookie("remember_token")
    assert remember is not None
    laptop.client.delete_cookie("session")  # the browser closed; the remember cookie stays
    assert laptop.get("/cases").status_code == 200
    browser.login(world.consultant_a.email)
    browser.post("/settings/sign-out-everywhere")
    laptop.client.delete_cookie("session")
    assert laptop.get("/cases").status_code == 302
    assert browser.get("/cases").status_code == 200


def test_idle_session_ends_but_a_remembered_one_does_not(app, world):
    start = datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        plain, kept = Browser(app), Browser(app)
        plain.login(world.consultant_a.email)
        kept.client.post("/login", data={"email": world.admin_a.email, "password": PASSWORD,
                                         "remember": "y", "csrf_token": kept.csrf_token()})
        clock.shift(timedelta(minutes=30))
        assert plain.get("/cases").status_code == 200  # activity renews the idle clock
        clock.shift(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
        response = plain.get("/cases")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert "without activity" in plain.get("/login").get_data(as_text=True)
        assert kept.get("/cases").status_code == 200


def _reset_link(smtp_server) -> str:
    """The link of the reset email, as it arrives: the outbox never holds it."""
    dispatch.run_pass(utcnow())
    text = smtp_server.mailbox.messages[-1].get_body(("plain",)).get_content()
    return re.search(r"http://127.0.0.1:5000(/password/reset/\S+)", text).group(1)


def test_password_reset_by_email_is_single_use(app, browser, world, smtp_server):
    response = browser.client.post("/password/forgot", data={
        "email": world.consultant_a.email, "csrf_token": browser.csrf_token("/password/forgot")},
        follow_redirects=True)
    assert "If that address has an account" in response.get_data(as_text=True)
    link = _reset_link(smtp_server)
    page = browser.get(link).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert browser.client.post(link, data={"password": "short", "csrf_token": token}).status_code == 200
    response = browser.client.post(link, data={"password": "amber-walrus-lantern-4", "csrf_token": token})
    assert response.status_code == 302
    assert Browser(app).login(world.consultant_a.email, "amber-walrus-lantern-4").status_code == 302
    assert browser.get(link).status_code == 404  # used
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(AuditEvent.kind == "password_reset")) == 1


def test_reset_link_expires_and_unknown_addresses_get_the_same_answer(app, browser, world, smtp_server):
    response = browser.client.post("/password/forgot", data={
        "email": "nobody@nowhere.example", "csrf_token": browser.csrf_token("/password/forgot")},
        follow_redirects=True)
    assert "If that address has an account" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(OutboxMessage)) is None
    browser.client.post("/password/forgot", data={"email": world.consultant_a.email,
                                                  "csrf_token": browser.csrf_token("/password/forgot")})
    link = _reset_link(smtp_server)
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=61)):
        assert browser.get(link).status_code == 404
    assert browser.get("/password/reset/made-up-token").status_code == 404


def test_audit_log_records_and_filters(app, browser, world):
    Browser(app).login(world.consultant_a.email, "wrong-password-here")
    consultant = Browser(app)
    consultant.login(world.consultant_a.email)
    assert consultant.get("/admin/users").status_code == 403
    browser.login(world.admin_a.email)
    browser.post(f"/admin/users/{world.consultant_a.id}", data={"name": "Carl Consultant", "role": "admin",
                                                                "timezone": ""})
    page = browser.get("/admin/audit").get_data(as_text=True)
    kinds = re.findall(r'<tr data-kind="([a-z_]+)">', page)
    assert {"sign_in", "sign_in_failed", "refused", "role_change"} <= set(kinds)
    assert "consultant → admin" in page and "GET /admin/users" in page
    filtered = browser.get("/admin/audit?kind=refused").get_data(as_text=True)
    assert set(re.findall(r'<tr data-kind="([a-z_]+)">', filtered)) == {"refused"}
    other = Browser(app)
    other.login(world.admin_b.email)
    assert world.consultant_a.email not in other.get("/admin/audit").get_data(as_text=True)


def test_exports_and_downloads_are_audited(world):
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    from caseapp.services.evidence import files
    from caseapp.services.poa import drafts

    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    drafts.export(world.consultant_a, draft.id, "pdf")
    row = files.upload(world.consultant_a, world.case_a.id,
                          FileStorage(BytesIO(b"%PDF-1.4 invoice"), "invoice.pdf"), "invoice")
    files.open_file(world.consultant_a, row.id)[1].close()
    files.delete(world.admin_a, row.id)
    found = {(e.kind, e.detail) for e in audit.events(world.admin_a)}
    assert {("export", "pdf"), ("download", "invoice.pdf"), ("deletion", "invoice.pdf")} <= found
