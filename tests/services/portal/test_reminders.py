"""Reminders to the client (services/portal/reminders.py): 48 h before the due time, at it,
then daily while overdue for at most 7 days; never two within 24 h; none while everything
is with the consultant; none in the agency's client quiet hours; a revoked link stops them."""
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from caseapp.extensions import db
from caseapp.models import CaseEvent, DocumentRequest, OutboxMessage, PortalLink
from caseapp.services.portal import client, links, reminders, requests
from tests.services.portal.conftest import NOW, ask, new_case, pdf, token_of

BERLIN = ZoneInfo("Europe/Berlin")


def reminder_mail(request_id=None):
    db.session.expire_all()
    query = db.session.query(OutboxMessage).filter(OutboxMessage.idempotency_key.like("portal:reminder:%"))
    if request_id is not None:
        query = query.filter(OutboxMessage.idempotency_key.like(f"portal:reminder:{request_id}:%"))
    return query.order_by(OutboxMessage.id).all()


def run_hourly(start, hours):
    """The dispatch pass as the scheduler runs it, every hour for `hours` hours."""
    for h in range(hours):
        reminders.dispatch_due(start + timedelta(hours=h, minutes=1))


def test_48h_before_at_due_then_daily_for_seven_days_and_then_no_more(world, case):
    opened = ask(world, case)
    due = opened.request.due_at
    run_hourly(NOW, 24 * 14)
    sent = [m.send_after for m in reminder_mail()]
    assert sent == [due - timedelta(hours=48) + timedelta(minutes=1), due + timedelta(minutes=1)] + [
        due + timedelta(days=k, minutes=1) for k in range(1, 8)]
    request = db.session.get(DocumentRequest, opened.request.id)
    assert request.client_reminders_sent == 9 and request.next_client_reminder_at is None
    overdue = reminder_mail()[-1]
    assert overdue.subject.startswith("Overdue:") and reminder_mail()[0].subject.startswith("Reminder:")
    assert "Invoice" in overdue.body_text and "Supplier" in overdue.body_text
    events = db.session.query(CaseEvent).filter_by(case_id=case.id, kind="document_reminder").count()
    assert events == 9


def test_a_request_due_within_a_day_gets_no_reminder_within_24_hours_of_its_own_mail(world, case):
    opened = ask(world, case, days=0.5)  # due 12 hours after it was asked
    run_hourly(NOW, 24 * 3)
    sent = [m.send_after for m in reminder_mail()]
    assert sent and sent[0] >= NOW + timedelta(hours=24)
    assert all(b - a >= timedelta(hours=24) for a, b in zip(sent, sent[1:]))
    assert opened.mailed


def test_no_reminder_in_the_clients_quiet_hours_the_mail_waits_for_their_end(world, case):
    # due 22:30 in Berlin: every reminder point falls in the agency's client quiet hours (20-8)
    due_local = datetime(2026, 11, 26, 22, 30, tzinfo=BERLIN)
    ask(world, case, due_at=due_local.isoformat())
    run_hourly(NOW, 24 * 16)
    sent = [m.send_after for m in reminder_mail()]
    assert len(sent) >= 5
    for moment in sent:
        local = moment.astimezone(BERLIN).time()
        assert time(8, 0) <= local < time(20, 0), moment
    assert all(b - a >= timedelta(hours=24) for a, b in zip(sent, sent[1:])), sent
    first = reminder_mail()[0]
    assert first.send_after == datetime(2026, 11, 25, 8, 0, tzinfo=BERLIN)  # the morning after 48 h before


def test_none_while_everything_is_with_the_consultant_and_again_after_a_send_back(world, case):
    opened = ask(world, case)
    token, (invoice, supplier) = token_of(opened), opened.request.items
    client.upload(token, invoice.id, [pdf()], now=NOW + timedelta(hours=1))
    client.answer(token, supplier.id, "Acme Ltd", now=NOW + timedelta(hours=1))
    assert db.session.get(DocumentRequest, opened.request.id).next_client_reminder_at is None
    due = opened.request.due_at
    run_hourly(NOW, 24 * 7)
    assert reminder_mail() == []
    # The consultant sends the invoice back two days after the due date: the client is mailed
    # the reason, and no reminder follows at once (the 48-hour one is long past).
    rejected_at = due + timedelta(days=2, hours=3)
    requests.decide_item(world.consultant_a, invoice.id, "rejected", "Cropped.", now=rejected_at)
    request = db.session.get(DocumentRequest, opened.request.id)
    assert request.next_client_reminder_at >= rejected_at + timedelta(hours=24)
    reminders.dispatch_due(rejected_at + timedelta(minutes=5))
    assert reminder_mail() == []
    run_hourly(rejected_at, 24 * 3)
    sent = reminder_mail()
    assert sent and sent[0].send_after >= rejected_at + timedelta(hours=24)
    assert "Invoice" in sent[0].body_text and "sent back" in sent[0].body_text
    assert "Supplier" not in sent[0].body_text  # answered and waiting for the consultant


def test_a_revoked_link_stops_the_reminders(world, case):
    opened = ask(world, case)
    links.revoke(world.consultant_a, case.id, now=NOW + timedelta(hours=1))
    run_hourly(NOW, 24 * 8)
    assert reminder_mail() == []
    assert db.session.query(CaseEvent).filter_by(case_id=case.id, kind="document_reminder_skipped").count() == 1
    assert db.session.query(PortalLink).filter_by(case_id=case.id).count() == 1  # no new link behind them
    assert db.session.get(DocumentRequest, opened.request.id).next_client_reminder_at is None


def test_an_expired_link_gets_a_fresh_one_and_revoking_that_one_stops_them(app, world, case):
    app.config["PORTAL_LINK_DAYS"] = 2
    opened = ask(world, case)
    first_point = opened.request.due_at - timedelta(hours=47)
    assert opened.link.expires_at < first_point
    reminders.dispatch_due(first_point)
    (mail,) = reminder_mail()
    assert int(mail.link_ref) != opened.link.id
    fresh = db.session.get(PortalLink, int(mail.link_ref))
    assert fresh.state(first_point) == "active"
    url = links.build_for_mail(mail.link_ref, first_point)
    assert client.page(url.rsplit("/", 1)[1], now=first_point).case_title == case.title
    # The consultant revokes the fresh link: the request's first link (expired) must not
    # let the next reminder make yet another one.
    links.revoke(world.consultant_a, case.id, now=first_point + timedelta(hours=1))
    run_hourly(first_point, 24 * 4)
    assert len(reminder_mail()) == 1
    assert db.session.query(PortalLink).filter_by(case_id=case.id).count() == 2


def test_two_dispatchers_at_once_queue_each_reminder_exactly_once(app, world, case):
    opened = [ask(world, new_case(world, title=f"Case {i}")) for i in range(12)]
    moment = opened[0].request.due_at - timedelta(hours=47)
    barrier = threading.Barrier(2)
    counts, errors = [], []

    def dispatcher():
        with app.app_context():
            try:
                barrier.wait(10)
                counts.append(reminders.dispatch_due(moment))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(counts) == 12
    mail = reminder_mail()
    assert len(mail) == 12 and len({m.idempotency_key for m in mail}) == 12
    db.session.expire_all()
    assert {db.session.get(DocumentRequest, o.request.id).client_reminders_sent for o in opened} == {1}


def test_a_send_back_after_the_link_expired_still_tells_the_client_with_a_fresh_link(app, world, case):
    app.config["PORTAL_LINK_DAYS"] = 2
    opened = ask(world, case)
    invoice = opened.request.items[0]
    client.upload(token_of(opened), invoice.id, [pdf()], now=NOW)
    later = NOW + timedelta(days=3)
    requests.decide_item(world.consultant_a, invoice.id, "rejected", "Wrong supplier", now=later)
    (mail,) = db.session.query(OutboxMessage).filter(
        OutboxMessage.idempotency_key.like(f"portal:rejected:{invoice.id}:%")).all()
    assert "Wrong supplier" in mail.body_text
    url = links.build_for_mail(mail.link_ref, later)
    assert url is not None and client.page(url.rsplit("/", 1)[1], now=later).case_title == case.title
