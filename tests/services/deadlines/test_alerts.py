"""Deadline reminders through the dispatch pass, against a real SMTP server."""
from datetime import datetime, timedelta, timezone

from caseapp.extensions import db
from caseapp.models import Deadline, OutboxMessage
from caseapp.services.appeals import corrections, dispatch, submissions
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def add(world, days, **extra):
    return clocks.add(world.consultant_a, world.case_a.id,
                      {"title": "Send the POA to the client", "due_at": NOW + timedelta(days=days), **extra},
                      now=NOW)


def subjects(smtp_server):
    return [m["Subject"] for m in smtp_server.mailbox.messages]


def test_a_lead_reminder_goes_once_then_the_next_is_scheduled(world, smtp_server):
    deadline = add(world, 5)
    assert dispatch.run_pass(NOW).deadline_reminders_due == 0
    at = NOW + timedelta(days=2)  # 72 h before
    report = dispatch.run_pass(at)
    assert (report.deadline_reminders_due, report.sent) == (1, 1)
    assert dispatch.run_pass(at + timedelta(minutes=1)).deadline_reminders_due == 0
    (mail,) = smtp_server.mailbox.messages
    assert mail["To"] == world.consultant_a.email
    assert "Send the POA to the client due in 3 days" in mail["Subject"]
    assert "Harbor Lane Home Goods" in mail.get_body(("plain",)).get_content()
    assert db.session.get(Deadline, deadline.id).next_alert_at == NOW + timedelta(days=4)
    kinds = [e.summary for e in records.events(world.consultant_a, world.case_a.id, newest_first=False)]
    assert any(s.startswith("Reminder for deadline Send the POA to the client emailed to") for s in kinds)


def test_reminders_missed_while_nothing_ran_go_out_once(world, smtp_server):
    add(world, 5)
    report = dispatch.run_pass(NOW + timedelta(days=9))  # 4 days overdue; nothing ran since
    assert (report.deadline_reminders_due, report.sent) == (1, 1)
    assert "overdue by 4 days" in subjects(smtp_server)[0]


def test_an_overdue_amazon_clock_is_escalated_to_the_admins(world, smtp_server):
    add(world, 1, kind="appeal_window", title="Appeal window")
    dispatch.run_pass(NOW + timedelta(days=1, hours=1))
    to = sorted(m["To"] for m in smtp_server.mailbox.messages)
    assert to == sorted([world.consultant_a.email, world.admin_a.email])
    assert any(s.startswith("Escalation: Appeal window") for s in subjects(smtp_server))


def test_mail_of_a_deadline_met_before_it_went_out_is_withdrawn(world, smtp_server):
    world.consultant_a.quiet_hours_enabled = True  # 20:00-08:00 Berlin: mail waits till morning
    deadline = add(world, 1 + 1 / 24)  # its 24-hours-before reminder is due at 15:00 UTC today
    night = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)
    assert dispatch.run_pass(night).deadline_reminders_due == 1
    assert db.session.query(OutboxMessage).one().status == "pending"  # waiting for 08:00
    clocks.update(world.consultant_a, deadline.id, {"status": "met"}, now=night)
    dispatch.run_pass(night + timedelta(hours=12))
    assert smtp_server.mailbox.messages == []
    assert {m.status for m in db.session.query(OutboxMessage)} <= {"cancelled"}


def test_a_second_rejection_closes_the_appeal_window_and_says_so_in_mail(world, smtp_server):
    window = add(world, 17, kind="appeal_window", title="Appeal window")
    for hours in (10, 5):
        submission = submissions.record_submission(
            world.consultant_a, world.case_a.id,
            {"submitted_at": NOW - timedelta(hours=hours), "channel": "account_health_appeal"}, now=NOW)
        submissions.record_response(world.consultant_a, submission.id,
                                    {"outcome": "rejected", "received_at": NOW}, now=NOW)
    db.session.refresh(window)
    assert window.status == "cancelled" and "rejected 2 appeals" in window.closed_reason
    dispatch.run_pass(NOW)
    closed = [m for m in smtp_server.mailbox.messages if "Appeal window closed early" in m["Subject"]]
    assert sorted(m["To"] for m in closed) == sorted([world.consultant_a.email, world.admin_a.email])
    summaries = [e.summary for e in records.events(world.consultant_a, world.case_a.id, newest_first=False)]
    assert any(s.startswith("Appeal window closed early") for s in summaries)


def test_withdrawing_the_second_rejection_opens_the_appeal_window_again(world, smtp_server):
    window = add(world, 17, kind="appeal_window", title="Appeal window")
    replies = []
    for hours in (10, 5):
        submission = submissions.record_submission(
            world.consultant_a, world.case_a.id,
            {"submitted_at": NOW - timedelta(hours=hours), "channel": "account_health_appeal"}, now=NOW)
        replies.append(submissions.record_response(world.consultant_a, submission.id,
                                                   {"outcome": "rejected", "received_at": NOW}, now=NOW))
    assert db.session.get(Deadline, window.id).status == "cancelled"
    corrections.withdraw_response(world.consultant_a, replies[1].id, now=NOW)
    window = db.session.get(Deadline, window.id)
    assert window.status == "open" and window.closed_reason == ""
