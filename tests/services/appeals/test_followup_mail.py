"""The snooze/dismiss link of a reminder acts as its recipient without a sign-in: it is put
into the email on the wire only, never into the stored outbox row or the admin Outbox page."""
from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import OutboxMessage
from caseapp.services.appeals import dispatch
from caseapp.services.appeals import submissions
from caseapp.services.mail.links import PLACEHOLDER
from tests.conftest import Browser

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
ACTION_RE = re.compile(r"http://127\.0\.0\.1:5000(/reminders/act/([A-Za-z0-9_.\-]+))")


def stored_bodies() -> str:
    db.session.expire_all()
    return "\n".join(m.body_text + m.body_html for m in db.session.scalars(select(OutboxMessage)))


def action_link(mail) -> str:
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    match = ACTION_RE.search(text)
    assert match, text
    assert f'href="{html_lib.escape(match.group(0))}"' in html
    assert PLACEHOLDER not in text and PLACEHOLDER not in html
    return match.group(1)


def test_action_links_are_only_in_the_delivered_mail_and_work(app, world, smtp_server):
    submissions.record_submission(world.consultant_a, world.case_a.id, {
        "submitted_at": NOW - timedelta(hours=49), "channel": "account_health_appeal"}, now=NOW)
    moment = NOW
    for _ in range(3):  # the third follow-up escalates to the admins
        dispatch.run_pass(moment)
        moment += timedelta(hours=24)
    assert "/reminders/act/" not in stored_bodies()
    assert PLACEHOLDER in stored_bodies()

    admin = Browser(app)
    admin.login(world.admin_a.email)
    outbox = admin.get("/admin/outbox").get_data(as_text=True)
    assert "/reminders/act/" not in outbox
    assert "personal link, added when sent" in outbox

    (escalation,) = smtp_server.mailbox.to(world.admin_a.email)
    links = [action_link(m) for m in smtp_server.mailbox.to(world.consultant_a.email)]
    links.append(action_link(escalation))
    assert len(set(links)) == 4
    for path in links:
        page = Browser(app).get(path)
        assert page.status_code == 200 and "Account suspended" in page.get_data(as_text=True)
