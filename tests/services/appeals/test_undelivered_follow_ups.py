"""A follow-up whose reminder email was refused for good or is held was not done: nobody was
told. It stays the case's next follow-up, overdue, until its email is delivered (Retry from the
Outbox, a mail server configured) or the follow-up ends; then the repeat is next again.
Against a real SMTP server on loopback (tests/smtp.py)."""
import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.extensions import db
from caseapp.models import Case, Reminder
from caseapp.services.accounts import mail_health
from caseapp.services.appeals import dispatch, followups, submissions
from caseapp.services.cases import records
from tests.conftest import make_user

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
DUE = NOW - timedelta(hours=2)  # reminder 1: submitted 50 h ago, follow-up after 48 h


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def submit(world):
    return submissions.record_submission(
        world.consultant_a, world.case_a.id,
        {"submitted_at": NOW - timedelta(hours=50), "channel": "account_health_appeal"}, now=NOW)


def reminder(sequence: int) -> Reminder:
    db.session.expire_all()
    return db.session.scalar(db.select(Reminder).where(Reminder.sequence == sequence))


def case(world) -> Case:
    db.session.expire_all()
    return db.session.get(Case, world.case_a.id)


def overdue_ids(now) -> set[int]:
    return set(db.session.scalars(db.select(Case.id).where(followups.overdue_sql(now))))


def awaiting_rows(page: str) -> list[tuple[str, str]]:
    return re.findall(r'data-overdue="(yes|no)">\s*<span><a href="/cases/\d+">([^<]+)</a>', page)


def reminder_keys(mailbox) -> list[str]:
    return [m["X-Caseapp-Key"] for m in mailbox.messages if m["X-Caseapp-Key"].startswith("reminder:")]


def assert_overdue_on_reminder_1(world, now):
    c = case(world)
    assert c.follow_up_due_at == DUE == reminder(1).due_at
    assert followups.next_follow_up(c, now).overdue is True
    assert overdue_ids(now) == {c.id}
    assert reminder(2).status == "pending"  # the repeat stays scheduled behind it


def assert_the_repeat_is_next(world, now):
    c = case(world)
    assert reminder(1).status == "sent" and reminder(1).undelivered_at is None
    assert c.follow_up_due_at == reminder(2).due_at == NOW + timedelta(hours=24)
    assert followups.next_follow_up(c, now).overdue is False
    assert overdue_ids(now) == set()


def test_a_refused_reminder_is_overdue_until_retried_and_delivered(world, smtp_server, browser, clock):
    submit(world)
    smtp_server.mailbox.refuse_all(550)
    assert dispatch.run_pass(NOW).failed >= 1  # the reminder (and the admin's mail-problem email)
    assert_overdue_on_reminder_1(world, NOW)
    browser.login(world.consultant_a.email)
    page = browser.get("/cases").get_data(as_text=True)
    assert awaiting_rows(page) == [("yes", "Account suspended")]
    assert "follow-up overdue by 2 h" in page
    dispatch.run_pass(NOW + timedelta(minutes=5))  # nothing sent on its own: still overdue
    assert_overdue_on_reminder_1(world, NOW + timedelta(minutes=5))

    smtp_server.mailbox.accept_all()
    mail_health.retry(world.admin_a, NOW + timedelta(minutes=10))
    assert_overdue_on_reminder_1(world, NOW + timedelta(minutes=10))  # in the outbox again, not sent
    assert dispatch.run_pass(NOW + timedelta(minutes=10)).sent == 1
    assert_the_repeat_is_next(world, NOW + timedelta(minutes=10))
    assert len(reminder_keys(smtp_server.mailbox)) == 1
    clock.move_to(NOW + timedelta(minutes=10))
    page = browser.get("/cases").get_data(as_text=True)
    assert awaiting_rows(page) == [("no", "Account suspended")]
    assert "follow-up due in 23 h" in page


def test_held_mail_is_overdue_until_a_server_sends_it(world, smtp_server, app):
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    submit(world)
    assert dispatch.run_pass(NOW).held == 1
    assert_overdue_on_reminder_1(world, NOW)
    dispatch.run_pass(NOW + timedelta(hours=1))
    assert_overdue_on_reminder_1(world, NOW + timedelta(hours=1))

    app.config["MAIL_SERVER"] = server
    assert dispatch.run_pass(NOW + timedelta(hours=2)).sent == 1
    assert_the_repeat_is_next(world, NOW + timedelta(hours=2))
    assert len(reminder_keys(smtp_server.mailbox)) == 1


def test_a_reply_ends_an_undelivered_follow_up(world, smtp_server):
    submission = submit(world)
    smtp_server.mailbox.refuse_all(550)
    dispatch.run_pass(NOW)
    submissions.record_response(world.consultant_a, submission.id, {"outcome": "other"},
                                now=NOW + timedelta(hours=1))
    c = case(world)
    assert followups.next_follow_up(c, NOW + timedelta(hours=1)).due_at is None
    assert overdue_ids(NOW + timedelta(hours=1)) == set()
    dispatch.run_pass(NOW + timedelta(hours=1))
    assert reminder(1).status == "cancelled" and reminder(1).undelivered_at is None


def test_snoozing_an_undelivered_follow_up_pushes_it_back(world, smtp_server):
    submit(world)
    smtp_server.mailbox.refuse_all(550)
    dispatch.run_pass(NOW)
    snoozed = followups.snooze(world.consultant_a, reminder(2).id, 4, NOW)
    assert snoozed.sequence == 1  # the follow-up that was not done, not its repeat
    c = case(world)
    assert c.follow_up_due_at == NOW + timedelta(hours=4)
    assert followups.next_follow_up(c, NOW).overdue is False
    assert followups.next_follow_up(c, NOW + timedelta(hours=5)).overdue is True


def test_one_recipient_reached_is_a_follow_up_done(world, smtp_server):
    records.update_case(world.consultant_a, world.case_a.id, {"assignee_id": None})
    make_user(world.agency_a, "second@agency-a.example", "admin")
    submit(world)
    smtp_server.mailbox.fail_next(550)  # one admin's copy refused, the other's accepted
    dispatch.run_pass(NOW)
    assert_the_repeat_is_next(world, NOW)


def test_days_without_a_server_stay_overdue_from_the_first_and_end_with_the_newest_sent(world, smtp_server, app):
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    submit(world)
    dispatch.run_pass(NOW)
    dispatch.run_pass(NOW + timedelta(hours=24))  # the repeat is held too
    later = NOW + timedelta(hours=25)
    assert case(world).follow_up_due_at == DUE  # overdue since the first that was not done
    assert followups.next_follow_up(case(world), later).overdue is True

    app.config["MAIL_SERVER"] = server
    assert dispatch.run_pass(later).sent == 1  # only the newest goes out (the first superseded)
    c = case(world)
    assert reminder(2).status == "sent" and reminder(1).undelivered_at is None
    assert c.follow_up_due_at == reminder(3).due_at == NOW + timedelta(hours=48)
    assert followups.next_follow_up(c, later).overdue is False
