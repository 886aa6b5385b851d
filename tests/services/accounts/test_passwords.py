"""Password resets: the link goes to the person by email and is never stored or shown
anywhere else (the outbox row, the admin Outbox page, a backup); it works, also when the
send was retried; and a reset or a password change kills every older link.

Against the real SMTP server of tests/smtp.py; on SQLite, or PostgreSQL with TEST_DATABASE_URL."""
from __future__ import annotations

import re
import subprocess
import tarfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import OutboxMessage, PasswordReset, utcnow
from caseapp.services.appeals import dispatch
from caseapp.services.ops.backup import DB_MEMBERS, target_database
from tests.conftest import PASSWORD, Browser, make_user

RESET_RE = re.compile(r"http://127\.0\.0\.1:5000(/password/reset/([A-Za-z0-9_\-]+))")
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def ask_reset(app, email: str) -> None:
    visitor = Browser(app)
    response = visitor.client.post("/password/forgot", data={
        "email": email, "csrf_token": visitor.csrf_token("/password/forgot")})
    assert response.status_code == 302


def outbox_rows() -> str:
    """Every value of every outbox row, as the database holds it."""
    db.session.expire_all()
    table = OutboxMessage.__table__
    return "\n".join(" ".join(str(v) for v in row) for row in db.session.execute(select(table)))


def link_in(mail) -> tuple[str, str]:
    """(path, token) of the reset link; the text and the HTML part carry the same one."""
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    match = RESET_RE.search(text)
    assert match, text
    assert f'href="{match.group(0)}"' in html
    return match.group(1), match.group(2)


def reset_with(app, path: str, new_password: str) -> int:
    visitor = Browser(app)
    page = visitor.get(path)
    if page.status_code != 200:
        return page.status_code
    csrf = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    return visitor.client.post(path, data={"password": new_password, "csrf_token": csrf}).status_code


def archive_text(app, tmp_path) -> bytes:
    """The database of a `flask backup` archive as readable bytes (PostgreSQL's custom
    format compresses the data: pg_restore turns it back into SQL)."""
    archive = tmp_path / "backup.tar.gz"
    result = app.test_cli_runner().invoke(args=["backup", "--output", str(archive)])
    assert result.exit_code == 0, result.output
    kind = db.engine.dialect.name
    with tarfile.open(archive) as tar:
        data = tar.extractfile(DB_MEMBERS[kind]).read()
    if kind == "postgresql":
        dump = tmp_path / "dump"
        dump.write_bytes(data)
        data = subprocess.run(["pg_restore", "--data-only", "-f", "-", str(dump)], check=True,
                              capture_output=True, env=target_database().tool_env()).stdout
    assert b"outbox_messages" in data or kind == "sqlite"
    return data


@pytest.fixture(autouse=True)
def _release_connections(app):
    yield
    db.session.remove()
    db.engine.dispose()


def test_an_admin_cannot_read_another_admins_reset_link(app, world, smtp_server, tmp_path):
    second = make_user(world.agency_a, "second@agency-a.example", "admin", "Sid Second")
    attacker = Browser(app)
    attacker.login(world.admin_a.email)
    ask_reset(app, second.email)
    before_sending = outbox_rows()
    page_before = attacker.get("/admin/outbox").get_data(as_text=True)

    assert dispatch.run_pass(utcnow()).sent == 1
    (mail,) = smtp_server.mailbox.to(second.email)
    path, token = link_in(mail)

    page_after = attacker.get("/admin/outbox").get_data(as_text=True)
    for where, seen in (("the outbox row before sending", before_sending),
                        ("the outbox row after sending", outbox_rows()),
                        ("the Outbox page before sending", page_before),
                        ("the Outbox page after sending", page_after)):
        assert token not in seen, where
        assert "/password/reset/" not in seen, where
    # The Outbox still lists it, with no body: status, recipient, subject.
    assert "Reset your caseapp password" in page_after and second.email in page_after
    assert "not shown" in page_after
    assert token.encode() not in archive_text(app, tmp_path)
    # The emailed link works: the page opens and the reset goes through.
    assert reset_with(app, path, "amber-walrus-lantern-4") == 302
    assert Browser(app).login(second.email, "amber-walrus-lantern-4").status_code == 302
    assert Browser(app).get(path).status_code == 404  # single use


def test_a_retried_reset_mail_still_carries_a_working_link(app, world, smtp_server):
    ask_reset(app, world.consultant_a.email)
    now = utcnow()
    smtp_server.mailbox.fail_next(451)
    assert dispatch.run_pass(now).retried == 1
    assert dispatch.run_pass(now + timedelta(minutes=1)).sent == 1
    (mail,) = smtp_server.mailbox.messages
    path, token = link_in(mail)
    assert token not in outbox_rows()
    assert reset_with(app, path, "amber-walrus-lantern-4") == 302


def test_a_reset_mail_sent_twice_after_a_crash_carries_the_same_link(app, world, smtp_server):
    """A dispatcher killed after the server's 250 leaves the message to be sent again when
    its lease runs out: both copies must carry a link that works (the same one)."""
    ask_reset(app, world.consultant_a.email)
    now = utcnow()
    assert dispatch.run_pass(now).sent == 1
    message = db.session.scalar(select(OutboxMessage))
    message.status, message.lease_until = "sending", now  # as if never recorded
    db.session.commit()
    assert dispatch.run_pass(now + timedelta(minutes=1)).sent == 1
    first, second = (link_in(m) for m in smtp_server.mailbox.messages)
    assert first == second and first[1] not in outbox_rows()
    assert reset_with(app, first[0], "amber-walrus-lantern-4") == 302


def test_a_reset_mail_whose_link_was_used_or_expired_is_not_sent(app, world, smtp_server):
    ask_reset(app, world.consultant_a.email)
    assert dispatch.run_pass(utcnow() + timedelta(minutes=61)).sent == 0
    message = db.session.scalar(select(OutboxMessage))
    assert message.status == "cancelled" and "expired" in message.last_error
    assert smtp_server.mailbox.messages == []


def test_older_reset_links_die_when_a_reset_succeeds(app, world, smtp_server):
    ask_reset(app, world.consultant_a.email)
    ask_reset(app, world.consultant_a.email)
    dispatch.run_pass(utcnow())
    (older, _), (newer, _) = (link_in(m) for m in smtp_server.mailbox.messages)
    assert older != newer
    assert reset_with(app, newer, "amber-walrus-lantern-4") == 302
    assert Browser(app).get(older).status_code == 404
    assert reset_with(app, older, "other-heron-meadow-7") == 404
    assert Browser(app).login(world.consultant_a.email, "amber-walrus-lantern-4").status_code == 302


def test_older_reset_links_die_when_the_password_is_changed(app, world, smtp_server):
    ask_reset(app, world.consultant_a.email)
    dispatch.run_pass(utcnow())
    (path, _token), = (link_in(m) for m in smtp_server.mailbox.messages)
    person = Browser(app)
    person.login(world.consultant_a.email)
    response = person.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": "violet-otter-harbour-9"})
    assert response.status_code == 302
    assert Browser(app).get(path).status_code == 404
    assert db.session.scalar(select(PasswordReset.used_at)) is not None
