"""A fault in the mail never closes a deadline: a refused (5xx) or failed reminder leaves the
deadline open, says so on the case's timeline, sits in the Outbox where Retry sends it once,
and tells the admins through the agency's mail problem; held mail goes out once a server
exists, only the newest reminder of the deadline. Against a real SMTP server (tests/smtp.py)."""
from datetime import datetime, timedelta, timezone

from caseapp.extensions import db
from caseapp.models import Deadline, MailProblem, OutboxMessage
from caseapp.services.accounts import mail_health
from caseapp.services.appeals import dispatch
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
TITLE = "Send the POA to the client"


def add(world, days=5):
    return clocks.add(world.consultant_a, world.case_a.id,
                      {"title": TITLE, "due_at": NOW + timedelta(days=days)}, now=NOW)


def summaries(world) -> list[str]:
    return [e.summary for e in records.events(world.consultant_a, world.case_a.id, newest_first=False)]


def deadline_keys(mailbox) -> list[str]:
    return [m["X-Caseapp-Key"] for m in mailbox.messages if m["X-Caseapp-Key"].startswith("deadline:")]


def still_open(deadline_id: int) -> Deadline:
    db.session.expire_all()
    deadline = db.session.get(Deadline, deadline_id)
    assert deadline.status == "open" and deadline.paused_at is None
    assert deadline.next_alert_at is not None  # its next reminders are still scheduled
    return deadline


def outbox_row(status: str) -> OutboxMessage:
    db.session.expire_all()
    return db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "deadline",
                                                          OutboxMessage.status == status))


LEAD = NOW + timedelta(days=2)  # 72 h before a deadline due in 5 days


def test_a_refused_deadline_reminder_keeps_it_open_and_retry_sends_it_once(world, smtp_server):
    deadline = add(world)
    smtp_server.mailbox.fail_next(550)
    report = dispatch.run_pass(LEAD)
    assert (report.deadline_reminders_due, report.failed) == (1, 1)
    still_open(deadline.id)
    failed = [s for s in summaries(world) if "not delivered" in s]
    assert len(failed) == 1
    assert failed[0].startswith(f"Reminder for deadline {TITLE} to {world.consultant_a.email}")
    assert "550" in failed[0] and "still open" in failed[0] and "retry" in failed[0]
    # In the Outbox, failed, with the server's words; not re-sent on its own.
    message = outbox_row("failed")
    assert message.deadline_id == deadline.id and "550" in message.last_error
    assert dispatch.run_pass(LEAD + timedelta(minutes=5)).sent == 0
    # The admins hear of it through the agency's mail problem, once.
    problem = mail_health.open_problem(world.admin_a)
    assert problem is not None and world.consultant_a.email in problem.detail
    told = [m for m in smtp_server.mailbox.to(world.admin_a.email)
            if m["X-Caseapp-Key"].startswith("mail_problem:")]
    assert len(told) == 1 and "Outbox" in told[0].get_body(("plain",)).get_content()

    (moved,) = mail_health.retry(world.admin_a, LEAD + timedelta(minutes=10))
    assert moved.id == message.id
    assert dispatch.run_pass(LEAD + timedelta(minutes=10)).sent == 1
    assert dispatch.run_pass(LEAD + timedelta(minutes=11)).sent == 0
    assert deadline_keys(smtp_server.mailbox) == [f"deadline:{deadline.id}:1:{world.consultant_a.id}"]
    assert f"Reminder for deadline {TITLE} emailed to {world.consultant_a.email}" in summaries(world)
    assert mail_health.open_problem(world.admin_a) is None  # no failed mail left
    # and the next reminder (24 h before) goes when it falls due, once
    assert dispatch.run_pass(NOW + timedelta(days=4)).sent == 1
    assert deadline_keys(smtp_server.mailbox)[1:] == [f"deadline:{deadline.id}:2:{world.consultant_a.id}"]
    still_open(deadline.id)


def test_a_4xx_is_retried_with_backoff_and_sent_once(world, smtp_server):
    deadline = add(world)
    smtp_server.mailbox.fail_next(451, count=2)
    assert dispatch.run_pass(LEAD).retried == 1
    message = outbox_row("pending")
    moment = message.send_after
    assert message.attempts == 1 and moment > LEAD  # waits before trying again
    assert dispatch.run_pass(LEAD).sent == 0  # not before its time
    assert dispatch.run_pass(moment).retried == 1
    later = outbox_row("pending").send_after
    assert later - moment > moment - LEAD  # backing off
    assert dispatch.run_pass(later).sent == 1
    assert deadline_keys(smtp_server.mailbox) == [f"deadline:{deadline.id}:1:{world.consultant_a.id}"]
    assert not any("not delivered" in s for s in summaries(world))
    still_open(deadline.id)


def test_a_4xx_that_never_clears_fails_shows_and_keeps_the_deadline(world, smtp_server):
    deadline = add(world)
    smtp_server.mailbox.fail_next(451, count=8)
    moment = LEAD
    for attempt in range(8):
        dispatch.run_pass(moment)
        moment += timedelta(minutes=2 ** attempt)
    message = outbox_row("failed")
    assert message is not None and "8 tries" in message.last_error
    still_open(deadline.id)
    assert any("not delivered" in s and "still open" in s for s in summaries(world))
    assert mail_health.open_problem(world.admin_a).kind == "mail"
    mail_health.retry(world.admin_a, moment, message.id)
    dispatch.run_pass(moment)
    assert deadline_keys(smtp_server.mailbox) == [f"deadline:{deadline.id}:1:{world.consultant_a.id}"]


def test_held_deadline_mail_goes_out_once_a_server_is_set(world, smtp_server, app):
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    deadline = add(world)
    assert dispatch.run_pass(LEAD).held == 1
    assert dispatch.run_pass(LEAD + timedelta(minutes=1)).held == 0  # held once, not every pass
    still_open(deadline.id)
    held = [s for s in summaries(world) if "not emailed" in s]
    assert held == [f"Reminder for deadline {TITLE} not emailed to {world.consultant_a.email}: "
                    "no mail server is configured; it will be sent once one is"]
    assert not any("emailed to" in s and "not emailed" not in s for s in summaries(world))

    app.config["MAIL_SERVER"] = server
    assert dispatch.run_pass(LEAD + timedelta(hours=2)).sent == 1
    assert dispatch.run_pass(LEAD + timedelta(hours=3)).sent == 0
    assert deadline_keys(smtp_server.mailbox) == [f"deadline:{deadline.id}:1:{world.consultant_a.id}"]
    assert summaries(world).count(f"Reminder for deadline {TITLE} emailed to {world.consultant_a.email}") == 1


def test_mail_held_for_days_sends_only_the_newest_reminder_of_the_deadline(world, smtp_server, app):
    """Held from 72 h before until two days overdue: five reminders queued (72 h, 24 h, due,
    overdue by 1 day, by 2 days); a server then sends the newest alone."""
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    deadline = add(world)
    for moment in (LEAD, NOW + timedelta(days=4), NOW + timedelta(days=5),
                   NOW + timedelta(days=6), NOW + timedelta(days=7)):
        assert dispatch.run_pass(moment + timedelta(minutes=1)).held == 1
    app.config["MAIL_SERVER"] = server

    report = dispatch.run_pass(NOW + timedelta(days=7, hours=2))

    assert report.sent == 1
    (mail,) = [m for m in smtp_server.mailbox.messages if m["X-Caseapp-Key"].startswith("deadline:")]
    assert mail["X-Caseapp-Key"] == f"deadline:{deadline.id}:5:{world.consultant_a.id}"
    assert "overdue by 2 days" in mail["Subject"]
    db.session.expire_all()
    statuses = sorted(db.session.scalars(db.select(OutboxMessage.status)
                                         .where(OutboxMessage.kind == "deadline")))
    assert statuses == ["cancelled"] * 4 + ["sent"]
    superseded = [s for s in summaries(world) if "only the newest goes out" in s]
    assert len(superseded) == 4 and all(TITLE in s for s in superseded)
    still_open(deadline.id)
    assert dispatch.run_pass(NOW + timedelta(days=7, hours=3)).sent == 0


def test_held_mail_of_a_deadline_met_meanwhile_is_never_sent(world, smtp_server, app):
    server = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = None
    deadline = add(world)
    dispatch.run_pass(LEAD)
    clocks.update(world.consultant_a, deadline.id, {"status": "met"}, now=LEAD + timedelta(hours=1))
    app.config["MAIL_SERVER"] = server
    dispatch.run_pass(LEAD + timedelta(hours=2))
    assert deadline_keys(smtp_server.mailbox) == []
    assert outbox_row("cancelled") is not None


def test_a_refused_escalation_opens_one_problem_and_the_deadline_stays_open(world, smtp_server):
    deadline = clocks.add(world.consultant_a, world.case_a.id,
                          {"kind": "appeal_window", "title": "Appeal window",
                           "due_at": NOW + timedelta(days=1)}, now=NOW)
    smtp_server.mailbox.refuse(world.admin_a.email)
    dispatch.run_pass(NOW + timedelta(days=1, hours=1))  # overdue: the admin is told too
    still_open(deadline.id)
    assert smtp_server.mailbox.to(world.consultant_a.email)  # the assignee's copy went
    assert db.session.scalar(db.select(db.func.count(MailProblem.id))) == 1
    assert mail_health.open_problem(world.admin_a).kind == "mail"
    assert any(s.startswith(f"Reminder for deadline Appeal window to {world.admin_a.email} not delivered")
               for s in summaries(world))


def test_a_reminder_that_cannot_be_written_is_said_and_the_others_still_go(world, smtp_server):
    """Odd data (a time zone that no longer exists, left by an old import) breaks one
    person's email: that reminder is said on its case, the deadline stays open, and every
    other reminder of the pass, and of the passes after, goes out."""
    from sqlalchemy import text

    from tests.conftest import make_case, make_user

    dora = make_user(world.agency_a, "dora@agency-a.example")
    other = make_case(dora, world.client_a, title="Dora's case", assignee_id=dora.id)
    broken = add(world)
    fine = clocks.add(dora, other.id, {"title": "Dora's clock", "due_at": NOW + timedelta(days=5)}, now=NOW)
    db.session.execute(text("UPDATE users SET timezone = 'Mars/Olympus_Mons' WHERE id = :id"),
                       {"id": world.consultant_a.id})
    db.session.commit()
    report = dispatch.run_pass(LEAD)
    assert report.failed == 1 and report.sent == 1
    assert deadline_keys(smtp_server.mailbox) == [f"deadline:{fine.id}:1:{dora.id}"]
    said = [s for s in summaries(world) if "could not be prepared" in s]
    assert len(said) == 1 and TITLE in said[0] and "still open" in said[0]
    still_open(broken.id)
    assert dispatch.run_pass(LEAD + timedelta(minutes=5)).failed == 0  # said once, not every pass
    db.session.execute(text("UPDATE users SET timezone = NULL WHERE id = :id"), {"id": world.consultant_a.id})
    db.session.commit()
    dispatch.run_pass(NOW + timedelta(days=4))  # its next reminder goes as usual
    assert f"deadline:{broken.id}:2:{world.consultant_a.id}" in deadline_keys(smtp_server.mailbox)


def test_an_admin_sees_the_refused_deadline_email_and_retries_it_from_the_outbox(
        browser, world, smtp_server):
    """The same path as a person walks it: the banner, the Outbox row, Retry, and the case
    page that says what became of the reminder."""
    import time_machine

    deadline = add(world)
    smtp_server.mailbox.fail_next(550)
    with time_machine.travel(LEAD, tick=False):
        dispatch.run_pass(LEAD)
        message = outbox_row("failed")
        browser.login(world.admin_a.email)
        outbox = browser.get("/admin/outbox?status=failed").get_data(as_text=True)
        assert 'id="mail-problem"' in outbox and "550" in outbox
        assert f'action="/admin/outbox/{message.id}/retry' in outbox
        assert f"{TITLE} due in 3 days" in outbox  # the email's subject
        case_page = browser.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
        assert "not delivered" in case_page and "The deadline is still open" in case_page
        page = browser.post(f"/admin/outbox/{message.id}/retry", follow_redirects=True).get_data(as_text=True)
        assert "will be sent again" in page and 'id="mail-problem"' not in page
        assert browser.post(f"/admin/outbox/{message.id}/retry").status_code == 302  # a second click: nothing
        dispatch.run_pass(LEAD + timedelta(minutes=1))
        dispatch.run_pass(LEAD + timedelta(minutes=2))
    assert deadline_keys(smtp_server.mailbox) == [f"deadline:{deadline.id}:1:{world.consultant_a.id}"]
    still_open(deadline.id)
