"""A fault in the mail never stops a case's clock: every path (5xx, 4xx, held, server down)
ends with the follow-up still open and visible, and delivered, once, when a server accepts
it. Against a real SMTP server on loopback (tests/smtp.py)."""
from datetime import datetime, timedelta, timezone

import pytest

from caseapp.extensions import db
from caseapp.models import Case, OutboxMessage, Reminder, User
from caseapp.services.appeals import dispatch, followups, submissions
from caseapp.services.cases import records
from tests.conftest import make_user
from tests.smtp import free_port

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


class mail_health:  # noqa: N801 - imported when used, so each test here fails on its own on code without it
    @staticmethod
    def retry(*args):
        from caseapp.services.accounts import mail_health as module
        return module.retry(*args)

    @staticmethod
    def open_problem(actor):
        from caseapp.services.accounts import mail_health as module
        return module.open_problem(actor)

    @staticmethod
    def dismiss(*args):
        from caseapp.services.accounts import mail_health as module
        return module.dismiss(*args)


def submit(world, hours_ago=49):
    return submissions.record_submission(
        world.consultant_a, world.case_a.id,
        {"submitted_at": NOW - timedelta(hours=hours_ago), "channel": "account_health_appeal"}, now=NOW)


def summaries(world) -> list[str]:
    return [e.summary for e in records.events(world.consultant_a, world.case_a.id, newest_first=False)]


def reminder(sequence: int = 1) -> Reminder:
    db.session.expire_all()
    return db.session.scalar(db.select(Reminder).where(Reminder.sequence == sequence))


def assert_clock_visible(world, now, undelivered=True):
    """The follow-up stays open. A reminder email refused for good or held was not done: the
    case's next follow-up is that reminder, overdue (undelivered); mail still waiting for a
    server that is down is on its way, and the repeat is next."""
    db.session.expire_all()
    case = db.session.get(Case, world.case_a.id)
    assert case.status == "submitted"
    assert db.session.scalar(db.select(Reminder).where(Reminder.sequence == 2)).status == "pending"
    expected = reminder(1).due_at if undelivered else NOW + timedelta(hours=24)
    assert case.follow_up_due_at == expected
    assert followups.next_follow_up(case, now).overdue is undelivered
    clock = submissions.clock(case, now)
    assert clock.silent_hours is not None and clock.next_due_at is not None
    assert not any("cancelled" in s for s in summaries(world))


def reminder_keys(mailbox) -> list[str]:
    return [m["X-Caseapp-Key"] for m in mailbox.messages if m["X-Caseapp-Key"].startswith("reminder:")]


def test_a_refused_reminder_keeps_the_follow_up_open_and_retry_sends_it_once(world, smtp_server):
    submit(world)
    smtp_server.mailbox.fail_next(550)
    assert dispatch.run_pass(NOW).failed == 1
    assert reminder().status == "pending"
    assert_clock_visible(world, NOW + timedelta(hours=1))
    failed = [s for s in summaries(world) if "not delivered" in s]
    assert len(failed) == 1 and "550" in failed[0] and "still open" in failed[0]
    assert dispatch.run_pass(NOW + timedelta(minutes=5)).sent == 0  # not re-sent on its own

    (moved,) = mail_health.retry(world.admin_a, NOW + timedelta(minutes=10))
    assert dispatch.run_pass(NOW + timedelta(minutes=10)).sent == 1
    assert dispatch.run_pass(NOW + timedelta(minutes=11)).sent == 0
    assert reminder_keys(smtp_server.mailbox) == [f"reminder:{reminder().id}:{world.consultant_a.id}"]
    assert reminder().status == "sent"
    assert f"Follow-up reminder 1 emailed to {world.consultant_a.email}" in summaries(world)
    # and the repeat goes out when it falls due
    assert dispatch.run_pass(NOW + timedelta(hours=24)).sent == 1
    assert len(set(reminder_keys(smtp_server.mailbox))) == len(reminder_keys(smtp_server.mailbox)) == 2


def test_a_4xx_that_never_clears_keeps_the_clock_and_is_retried(world, smtp_server):
    submit(world)
    smtp_server.mailbox.fail_next(451, count=8)
    moment = NOW
    for attempt in range(8):
        dispatch.run_pass(moment)
        moment += timedelta(minutes=2 ** attempt)
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    assert message.status == "failed" and "8 tries" in message.last_error
    assert reminder().status == "pending"
    assert_clock_visible(world, moment)
    mail_health.retry(world.admin_a, moment, message.id)
    assert dispatch.run_pass(moment).sent >= 1
    assert len(reminder_keys(smtp_server.mailbox)) == 1 and reminder().status == "sent"


def test_held_mail_is_not_counted_as_sent_and_goes_out_once_a_server_is_set(world, smtp_server, app):
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    submit(world)
    assert dispatch.run_pass(NOW).held == 1
    assert dispatch.run_pass(NOW + timedelta(minutes=1)).held == 0  # held once, not every pass
    assert reminder().status == "pending"
    assert_clock_visible(world, NOW + timedelta(minutes=1))
    held = [s for s in summaries(world) if "not emailed" in s]
    assert held == [f"Follow-up reminder 1 not emailed to {world.consultant_a.email}: no mail server "
                    "is configured; it will be sent once one is"]
    assert not any("emailed to" in s and "not emailed" not in s for s in summaries(world))

    app.config["MAIL_SERVER"] = server
    assert dispatch.run_pass(NOW + timedelta(hours=2)).sent == 1
    assert dispatch.run_pass(NOW + timedelta(hours=3)).sent == 0
    assert len(reminder_keys(smtp_server.mailbox)) == 1
    assert reminder().status == "sent"
    assert f"Follow-up reminder 1 emailed to {world.consultant_a.email}" in summaries(world)


def test_held_mail_withdrawn_before_a_server_is_set_is_never_sent(world, smtp_server, app):
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    submission = submit(world)
    dispatch.run_pass(NOW)
    submissions.record_response(world.consultant_a, submission.id, {"outcome": "other"},
                                now=NOW + timedelta(hours=1))
    app.config["MAIL_SERVER"] = server
    dispatch.run_pass(NOW + timedelta(hours=2))
    assert reminder_keys(smtp_server.mailbox) == []
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "reminder"))
    assert message.status == "cancelled"


def test_a_server_that_is_down_is_a_server_problem_and_the_mail_waits(world, smtp_server, app):
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = free_port()  # nothing listens
    submit(world)
    report = dispatch.run_pass(NOW)
    assert report.failed == 0 and "unusable" in report.server_error
    assert reminder().status == "pending"
    assert_clock_visible(world, NOW, undelivered=False)
    problem = mail_health.open_problem(world.admin_a)
    assert problem.kind == "server" and "cannot be used" in problem.detail
    assert db.session.get(User, world.consultant_a.id).email_bounced_at is None  # not the address

    app.config["MAIL_PORT"] = port
    dispatch.run_pass(NOW + timedelta(minutes=5))
    assert len(reminder_keys(smtp_server.mailbox)) == 1 and reminder().status == "sent"
    assert mail_health.open_problem(world.admin_a) is None  # the server takes mail again


def unassigned_with_two_admins(world):
    records.update_case(world.consultant_a, world.case_a.id, {"assignee_id": None})
    return make_user(world.agency_a, "second@agency-a.example", "admin")


def test_a_5xx_for_one_recipient_while_others_are_accepted_marks_that_address(world, smtp_server):
    second = unassigned_with_two_admins(world)
    submit(world)
    smtp_server.mailbox.fail_next(550)  # one admin's copy
    dispatch.run_pass(NOW)
    db.session.expire_all()
    (reached,) = [m["To"] for m in smtp_server.mailbox.messages if m["X-Caseapp-Key"].startswith("reminder:")]
    refused, works = ((world.admin_a.id, second.id) if reached == second.email
                      else (second.id, world.admin_a.id))
    bounced = db.session.get(User, refused)
    assert bounced.email_bounced_at == NOW and "550" in bounced.email_bounce_message
    assert db.session.get(User, works).email_bounced_at is None
    # The mail problem is told to the admin whose address works, once.
    told = [m["X-Caseapp-Key"].split(":")[0] for m in smtp_server.mailbox.messages]
    assert told.count("mail_problem") == 1
    assert smtp_server.mailbox.to(bounced.email) == []


def test_a_refused_mailbox_marks_the_address_even_alone(world, smtp_server):
    smtp_server.mailbox.refuse(world.consultant_a.email)
    submit(world)
    dispatch.run_pass(NOW)
    person = db.session.get(User, world.consultant_a.id)
    db.session.refresh(person)
    assert person.email_bounced_at == NOW and "mailbox unavailable" in person.email_bounce_message
    assert mail_health.open_problem(world.admin_a).kind == "mail"
    assert_clock_visible(world, NOW)
    # A new address is a new start.
    person.email = "carl.new@agency-a.example"
    db.session.commit()
    assert person.email_bounced_at is None and person.email_bounce_message == ""


def test_a_5xx_for_every_recipient_is_a_server_problem_not_an_address(world, smtp_server):
    unassigned_with_two_admins(world)
    submit(world)
    smtp_server.mailbox.refuse_all(554)
    dispatch.run_pass(NOW)
    db.session.expire_all()
    assert db.session.scalars(db.select(User).where(User.email_bounced_at.is_not(None))).all() == []
    problem = mail_health.open_problem(world.admin_a)
    assert problem.kind == "server" and "every recipient" in problem.detail
    assert_clock_visible(world, NOW)
    smtp_server.mailbox.accept_all()
    mail_health.retry(world.admin_a, NOW + timedelta(minutes=5))
    dispatch.run_pass(NOW + timedelta(minutes=5))
    assert len(reminder_keys(smtp_server.mailbox)) == 2  # one per admin, once
    assert reminder().status == "sent"


def test_admins_are_mailed_once_per_problem(world, smtp_server):
    submit(world)
    smtp_server.mailbox.fail_next(550)
    dispatch.run_pass(NOW)
    smtp_server.mailbox.fail_next(550)
    dispatch.run_pass(NOW + timedelta(hours=24))  # the repeat is refused too: the same problem
    told = [m for m in smtp_server.mailbox.to(world.admin_a.email)
            if m["X-Caseapp-Key"].startswith("mail_problem:")]
    assert len(told) == 1 and "Outbox" in told[0].get_body(("plain",)).get_content()
    from caseapp.models import MailProblem

    assert db.session.scalar(db.select(db.func.count(MailProblem.id))) == 1
    mail_health.dismiss(world.admin_a, NOW + timedelta(hours=25))
    assert mail_health.open_problem(world.admin_a) is None
    smtp_server.mailbox.refuse(world.consultant_a.email)  # (the admin's escalation goes through)
    dispatch.run_pass(NOW + timedelta(hours=48))  # a new problem after the dismissal
    told = [m for m in smtp_server.mailbox.to(world.admin_a.email)
            if m["X-Caseapp-Key"].startswith("mail_problem:")]
    assert len(told) == 2


def test_retry_all_ends_the_problem_and_another_agencys_mail_cannot_be_retried(world, smtp_server):
    from caseapp.core.errors import NotFound

    submit(world)
    smtp_server.mailbox.fail_next(550)
    dispatch.run_pass(NOW)
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.status == "failed"))
    with pytest.raises(NotFound):
        mail_health.retry(world.admin_b, NOW, message.id)
    db.session.refresh(message)
    assert message.status == "failed"
    assert [m.id for m in mail_health.retry(world.admin_a, NOW)] == [message.id]
    assert mail_health.open_problem(world.admin_a) is None


def test_mail_held_for_days_sends_only_the_newest_reminder_once_a_server_is_set(world, smtp_server, app):
    """Three days without a mail server leave a held reminder for every repeat, and from the
    third an escalation too: the first pass with a server sends the newest reminder, not a
    burst of "silent 49 h", "73 h", "97 h" and their escalations."""
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    submit(world)
    for day in range(4):
        dispatch.run_pass(NOW + timedelta(hours=24 * day + 1))
    app.config["MAIL_SERVER"] = server

    report = dispatch.run_pass(NOW + timedelta(hours=80))

    assert report.sent == 2  # reminder 4 to the consultant, and its escalation to the admin
    assert reminder_keys(smtp_server.mailbox) == [f"reminder:{reminder(4).id}:{world.consultant_a.id}"]
    assert [m["X-Caseapp-Key"] for m in smtp_server.mailbox.messages if m["X-Caseapp-Key"].startswith(
        "escalation:")] == [f"escalation:{reminder(4).id}:{world.admin_a.id}"]
    assert [reminder(n).status for n in (1, 2, 3, 4)] == ["cancelled", "cancelled", "cancelled", "sent"]
    superseded = [s for s in summaries(world) if "so only reminder 4 goes out" in s]
    assert len(superseded) == 3
    db.session.expire_all()
    assert db.session.get(Case, world.case_a.id).follow_up_due_at == reminder(5).due_at  # the repeat, still open
    assert dispatch.run_pass(NOW + timedelta(hours=81)).sent == 0
