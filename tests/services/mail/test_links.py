"""The delivery pass never sends a placeholder in place of a secret link: a message whose
kind has no registered link builder fails, saying why, instead of going out broken."""
from __future__ import annotations

from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import OutboxMessage, utcnow
from caseapp.services.appeals import dispatch
from caseapp.services.mail.links import PLACEHOLDER


def test_a_link_nobody_can_make_is_not_sent_as_a_placeholder(app, world, smtp_server):
    now = utcnow()
    db.session.add(OutboxMessage(
        idempotency_key="welcome:1", agency_id=world.agency_a.id, kind="welcome",
        recipient="new@agency-a.example", subject="You are invited", link_ref="1",
        body_text=f"Set your password: {PLACEHOLDER}", body_html=f'<a href="{PLACEHOLDER}">set</a>',
        send_after=now))
    db.session.commit()
    report = dispatch.run_pass(now)
    assert report.failed == 1
    assert smtp_server.mailbox.to("new@agency-a.example") == []
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "welcome"))
    assert message.status == "failed" and "welcome" in message.last_error
