"""The portal's mail on the wire: the dispatch pass (appeals/dispatch.run_pass) delivers the
request and its reminders to a real SMTP server with a working link filled in, which the
database never holds; mail that is no longer true by the time it can go is withdrawn."""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from caseapp.extensions import db
from caseapp.models import OutboxMessage
from caseapp.services.appeals import dispatch
from caseapp.services.mail import links as mail_links
from caseapp.services.portal import client, links, requests
from tests.services.portal.conftest import NOW, ask, pdf, token_of
from tests.services.portal.test_links import every_stored_value

BERLIN = ZoneInfo("Europe/Berlin")
LINK = re.compile(r"https?://\S+/portal/([A-Za-z0-9_-]+)")


def texts(mail):
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


def test_the_request_and_its_reminder_reach_the_client_with_a_working_link(world, case, smtp_server):
    opened = ask(world, case, message="Hello from Carl")
    report = dispatch.run_pass(NOW + timedelta(minutes=1))
    assert report.sent == 1
    (mail,) = smtp_server.mailbox.to("seller@example.com")
    text, html = texts(mail)
    assert "Hello from Carl" in text and "Invoice" in text and "Supplier" in html
    assert mail_links.PLACEHOLDER not in text and mail_links.PLACEHOLDER not in html
    token = LINK.search(text).group(1)
    assert token == token_of(opened) and f"/portal/{token}" in html
    assert client.page(token, now=NOW + timedelta(minutes=2)).case_title == case.title

    point = opened.request.due_at - timedelta(hours=47)
    report = dispatch.run_pass(point)
    assert report.client_reminders_due == 1
    reminder = smtp_server.mailbox.to("seller@example.com")[-1]
    assert reminder["Subject"].startswith("Reminder: documents for your Amazon case")
    rtext, _ = texts(reminder)
    assert LINK.search(rtext).group(1) == token
    client.message(token, "On it", now=point)
    assert client.page(token, now=point).requests
    dispatch.run_pass(point + timedelta(minutes=1))
    (notice,) = [m for m in smtp_server.mailbox.to(world.consultant_a.email)
                 if m["Subject"].startswith("Message from the client")]
    assert "On it" in texts(notice)[0] and token not in texts(notice)[0]

    rows = db.session.query(OutboxMessage).filter_by(kind="portal").all()
    assert {r.status for r in rows} == {"sent"} and len(rows) == 2
    for row in rows:
        assert token not in (row.body_text or "") and token not in (row.body_html or "")
    for table, value in every_stored_value():
        assert token not in value, f"the portal token is stored in {table}"


def test_a_reminder_held_by_quiet_hours_is_withdrawn_when_the_client_sends_everything(world, case, smtp_server):
    due = datetime(2026, 11, 26, 22, 30, tzinfo=BERLIN)  # 48 h before is 22:30, in the quiet hours
    opened = ask(world, case, due_at=due.isoformat())
    dispatch.run_pass(NOW + timedelta(minutes=1))  # the request itself
    night = due - timedelta(hours=47)
    assert dispatch.run_pass(night).client_reminders_due == 1
    (held,) = db.session.query(OutboxMessage).filter(OutboxMessage.idempotency_key.like("portal:reminder:%")).all()
    assert held.status == "pending" and held.send_after == datetime(2026, 11, 25, 8, 0, tzinfo=BERLIN)
    token, (invoice, supplier) = token_of(opened), opened.request.items
    client.upload(token, invoice.id, [pdf()], now=night + timedelta(minutes=10))
    client.answer(token, supplier.id, "Acme", now=night + timedelta(minutes=11))
    dispatch.run_pass(datetime(2026, 11, 25, 8, 5, tzinfo=BERLIN))
    assert len(smtp_server.mailbox.to("seller@example.com")) == 1  # the request only
    db.session.expire_all()
    held = db.session.get(OutboxMessage, held.id)
    assert held.status == "cancelled" and "sent everything" in held.last_error


def test_mail_of_a_cancelled_request_or_a_revoked_link_is_not_sent(world, case, smtp_server):
    opened = ask(world, case)
    requests.cancel_request(world.consultant_a, opened.request.id, now=NOW + timedelta(minutes=1))
    dispatch.run_pass(NOW + timedelta(minutes=2))
    assert smtp_server.mailbox.to("seller@example.com") == []  # "we need these" for a request cancelled
    second = ask(world, case, now=NOW + timedelta(minutes=3))
    links.revoke(world.consultant_a, case.id, now=NOW + timedelta(minutes=4))
    dispatch.run_pass(NOW + timedelta(minutes=5))
    assert smtp_server.mailbox.to("seller@example.com") == []
    db.session.expire_all()
    mail = {m.idempotency_key: m for m in db.session.query(OutboxMessage).filter_by(kind="portal")}
    assert {k: m.status for k, m in mail.items()} == {f"portal:request:{opened.request.id}": "cancelled",
                                                      f"portal:request:{second.request.id}": "cancelled"}
    assert "cancelled" in mail[f"portal:request:{opened.request.id}"].last_error


def test_reminders_queued_while_mail_could_not_go_arrive_as_one_not_a_burst(world, case, smtp_server):
    from caseapp.services.portal import reminders
    opened = ask(world, case)
    due = opened.request.due_at
    for moment in (due - timedelta(hours=47), due + timedelta(minutes=1), due + timedelta(days=1, minutes=1)):
        assert reminders.dispatch_due(moment) == 1  # queued; nothing delivered them (server down)
    dispatch.run_pass(due + timedelta(days=1, minutes=5))
    sent = [m for m in smtp_server.mailbox.to("seller@example.com") if "documents for your Amazon case" in m["Subject"]]
    assert len(sent) == 1 and sent[0]["Subject"].startswith("Overdue:")
    db.session.expire_all()
    statuses = [m.status for m in db.session.query(OutboxMessage).filter(
        OutboxMessage.idempotency_key.like("portal:reminder:%")).order_by(OutboxMessage.id)]
    assert statuses == ["cancelled", "cancelled", "sent"]
