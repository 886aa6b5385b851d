"""What a change to a deadline does to its reminders and clocks: a rename keeps a reminder due
and a snooze, a move withdraws mail that says the old time, a pause keeps overdue time, the
appeal window closes, reopens and closes again, and stays shut on a reinstated case."""
from datetime import datetime, timedelta, timezone

from caseapp.extensions import db
from caseapp.models import Case, Deadline, OutboxMessage
from caseapp.services.appeals import corrections, dispatch, submissions
from caseapp.services.deadlines import clocks

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def add(world, days, **extra):
    return clocks.add(world.consultant_a, world.case_a.id,
                      {"title": "Send the POA", "due_at": NOW + timedelta(days=days), **extra}, now=NOW)


def reject(world, hours_ago):
    submission = submissions.record_submission(
        world.consultant_a, world.case_a.id,
        {"submitted_at": NOW - timedelta(hours=hours_ago), "channel": "account_health_appeal"}, now=NOW)
    return submissions.record_response(world.consultant_a, submission.id,
                                       {"outcome": "rejected", "received_at": NOW}, now=NOW)


def test_a_note_edited_when_a_reminder_is_due_keeps_that_reminder(world, smtp_server):
    deadline = add(world, 2)
    due = NOW + timedelta(days=1)  # its 24-hours-before reminder
    clocks.update(world.consultant_a, deadline.id, {"note": "called the client"}, now=due + timedelta(seconds=30))
    assert dispatch.run_pass(due + timedelta(minutes=1)).deadline_reminders_due == 1


def test_a_note_edited_after_a_snooze_keeps_the_snooze(world):
    deadline = add(world, 5)
    at = NOW + timedelta(days=2)
    clocks.snooze_reminder(world.consultant_a, deadline.id, 48, now=at - timedelta(minutes=5))
    snoozed = db.session.get(Deadline, deadline.id).next_alert_at
    clocks.update(world.consultant_a, deadline.id, {"note": "called the client"}, now=at - timedelta(minutes=4))
    assert db.session.get(Deadline, deadline.id).next_alert_at == snoozed


def test_moving_a_deadline_withdraws_mail_that_names_the_old_time(world, smtp_server):
    world.consultant_a.quiet_hours_enabled = True  # 20:00-08:00 in Berlin: mail waits
    deadline = add(world, 1 + 8 / 24)
    night = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)
    assert dispatch.run_pass(night).deadline_reminders_due == 1
    clocks.update(world.consultant_a, deadline.id, {"due_at": NOW + timedelta(days=20)},
                  now=night + timedelta(hours=1))
    dispatch.run_pass(night + timedelta(hours=10))
    assert smtp_server.mailbox.messages == []
    assert db.session.scalar(db.select(OutboxMessage.status)) == "cancelled"


def test_pausing_an_overdue_clock_keeps_it_overdue(world):
    deadline = add(world, 1, kind="agency_sla")
    later = NOW + timedelta(days=4)
    clocks.pause_by_person(world.consultant_a, deadline.id, now=later)
    clocks.resume_by_person(world.consultant_a, deadline.id, now=later + timedelta(hours=5))
    deadline = db.session.get(Deadline, deadline.id)
    assert clocks.Clock(deadline, later + timedelta(hours=5)).relative == "overdue by 3 days"


def test_the_appeal_window_closes_again_after_a_correction_reopened_it(world, smtp_server):
    window = add(world, 17, kind="appeal_window", title="Appeal window")
    replies = [reject(world, 10), reject(world, 5)]
    corrections.withdraw_response(world.consultant_a, replies[1].id, now=NOW)
    assert db.session.get(Deadline, window.id).status == "open"
    reject(world, 1)  # a third appeal rejected: two count again
    assert db.session.get(Deadline, window.id).status == "cancelled"
    dispatch.run_pass(NOW)
    notices = [m for m in smtp_server.mailbox.to(world.consultant_a.email)
               if "Appeal window closed early" in m["Subject"]]
    assert len(notices) == 2
    assert "closed early: closed early" not in notices[0].get_body(("plain",)).get_content()


def test_a_reinstatement_by_correction_leaves_the_window_shut(world):
    window = add(world, 17, kind="appeal_window", title="Appeal window")
    replies = [reject(world, 10), reject(world, 5)]
    corrections.correct_response(world.consultant_a, replies[1].id, {"outcome": "reinstated"}, now=NOW)
    assert db.session.get(Case, world.case_a.id).status == "reinstated"
    assert db.session.get(Deadline, window.id).status != "open"
