"""Follow-up reminders end to end through the dispatch pass, against a real SMTP server."""
from datetime import datetime, timedelta, timezone

import pytest

from caseapp.extensions import db
from caseapp.models import Case, OutboxMessage, Reminder
from caseapp.services.accounts import people
from caseapp.services.cases import records
from caseapp.services.appeals import workflow
from caseapp.services.appeals import dispatch
from caseapp.services.mail import delivery
from caseapp.services.appeals import followups
from caseapp.services.appeals import submissions
from caseapp.core.errors import Conflict
from tests.conftest import make_case, make_user

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def submit(world, case=None, hours_ago=49, **extra):
    case = case or world.case_a
    return submissions.record_submission(
        world.consultant_a, case.id,
        {"submitted_at": NOW - timedelta(hours=hours_ago), "channel": "account_health_appeal", **extra},
        now=NOW)


def kinds(world, case=None):
    return [e.kind for e in records.events(world.consultant_a, (case or world.case_a).id, newest_first=False)]


def test_submission_schedules_follow_up_after_the_agencys_hours(world):
    people.update_agency_settings(world.admin_a, "Europe/Berlin", 36)
    submission = submit(world, hours_ago=1)
    (reminder,) = followups.pending_for_case(world.case_a.id)
    assert reminder.due_at == submission.submitted_at + timedelta(hours=36)
    case = db.session.get(Case, world.case_a.id)
    assert case.status == "submitted" and case.follow_up_due_at == reminder.due_at


def test_due_reminder_is_emailed_to_the_assignee_with_the_facts(world, smtp_server):
    people.update_own_profile(world.consultant_a, "Carl Consultant", "Asia/Tokyo")
    records.update_case(world.consultant_a, world.case_a.id, {"asins": "B07XJ8C8F5 B08N5WRWNW"})
    submit(world, hours_ago=49)
    report = dispatch.run_pass(NOW)
    assert (report.reminders_due, report.sent) == (1, 1)
    (mail,) = smtp_server.mailbox.messages
    assert mail["To"] == world.consultant_a.email
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for expected in ("Harbor Lane Home Goods", "Account suspended", "B07XJ8C8F5, B08N5WRWNW",
                     "18 Nov 2026, 22:00 JST", "49 hours", f"/cases/{world.case_a.id}"):
        assert expected in text
    assert "Harbor Lane Home Goods" in html and "<strong>49 hours</strong>" in html
    assert "reminder_sent" in kinds(world)


def test_unassigned_case_goes_to_the_admins(world, smtp_server):
    records.update_case(world.consultant_a, world.case_a.id, {"assignee_id": None})
    second_admin = make_user(world.agency_a, "second@agency-a.example", "admin")
    submit(world)
    dispatch.run_pass(NOW)
    assert sorted(m["To"] for m in smtp_server.mailbox.messages) == sorted(
        [world.admin_a.email, second_admin.email])


def test_missed_reminder_is_sent_once_when_the_scheduler_returns(world, smtp_server):
    submit(world, hours_ago=24 * 6)  # due 4 days ago; four repeat intervals missed
    first = dispatch.run_pass(NOW)
    assert first.sent == 1
    for minute in range(1, 4):
        assert dispatch.run_pass(NOW + timedelta(minutes=minute)).sent == 0
    assert len(smtp_server.mailbox.messages) == 1
    (pending,) = [r for r in followups.pending_for_case(world.case_a.id)]
    assert pending.sequence == 2 and pending.due_at == NOW + timedelta(hours=24)
    assert dispatch.run_pass(NOW + timedelta(hours=24)).sent == 1


def test_reply_cancels_further_reminders(world, smtp_server):
    submission = submit(world)
    dispatch.run_pass(NOW)
    submissions.record_response(world.consultant_a, submission.id,
                                {"outcome": "more_info_requested", "body": "Send invoices"},
                                now=NOW + timedelta(hours=1))
    assert followups.pending_for_case(world.case_a.id) == []
    assert dispatch.run_pass(NOW + timedelta(days=5)).sent == 0
    assert len(smtp_server.mailbox.messages) == 1
    case = db.session.get(Case, world.case_a.id)
    assert case.status == "more_info_requested" and case.follow_up_due_at is None
    assert "reminder_cancelled" in kinds(world)


def test_resubmission_supersedes_the_earlier_reminders(world, smtp_server):
    first = submit(world, hours_ago=30)
    second = submit(world, hours_ago=2)
    pending = followups.pending_for_case(world.case_a.id)
    assert [r.submission_id for r in pending] == [second.id]
    cancelled = db.session.scalars(db.select(Reminder).where(Reminder.submission_id == first.id)).all()
    assert [r.status for r in cancelled] == ["cancelled"]
    assert "superseded" in cancelled[0].cancelled_reason
    assert submissions.submission_count(world.case_a.id) == 2


def test_closing_the_case_cancels_its_reminders(world):
    submit(world, hours_ago=2)
    workflow.change_status(world.consultant_a, world.case_a.id, "closed")
    assert followups.pending_for_case(world.case_a.id) == []


def test_reinstated_reply_closes_the_case_as_won(world):
    submission = submit(world)
    submissions.record_response(world.consultant_a, submission.id, {"outcome": "reinstated"},
                                now=NOW)
    case = db.session.get(Case, world.case_a.id)
    assert case.status == "reinstated" and case.closed_at == NOW


def test_smtp_4xx_is_retried_with_backoff_then_delivered(world, smtp_server):
    submit(world)
    smtp_server.mailbox.fail_next(451, count=2)
    assert dispatch.run_pass(NOW).retried == 1
    message = db.session.scalar(db.select(OutboxMessage))
    assert message.status == "pending" and message.send_after == NOW + timedelta(minutes=1)
    assert dispatch.run_pass(NOW + timedelta(seconds=30)).retried == 0  # not yet
    assert dispatch.run_pass(NOW + timedelta(minutes=1)).retried == 1
    db.session.refresh(message)
    assert message.send_after == NOW + timedelta(minutes=3)
    assert dispatch.run_pass(NOW + timedelta(minutes=3)).sent == 1
    assert len(smtp_server.mailbox.messages) == 1
    (reminder,) = db.session.scalars(db.select(Reminder).where(Reminder.sequence == 1)).all()
    assert reminder.status == "sent"


def test_smtp_5xx_marks_the_mail_failed_and_keeps_the_follow_up(world, smtp_server):
    submit(world)
    smtp_server.mailbox.fail_next(550)
    report = dispatch.run_pass(NOW)
    assert report.failed == 1
    assert dispatch.run_pass(NOW + timedelta(hours=1)).failed == 0  # not tried again on its own
    (reminder,) = db.session.scalars(db.select(Reminder).where(Reminder.sequence == 1)).all()
    assert reminder.status == "pending"  # handed to the mail, not delivered
    events = {e.kind: e for e in records.events(world.consultant_a, world.case_a.id)}
    assert "550" in events["reminder_failed"].summary
    assert "reminder_cancelled" not in events  # the server's refusal ends no follow-up
    message = db.session.scalar(db.select(OutboxMessage))
    assert message.status == "failed" and message.attempts == 1
    assert dispatch.run_pass(NOW + timedelta(days=1)).reminders_due == 1  # the repeat goes out
    assert [m["X-Caseapp-Key"].split(":")[0] for m in smtp_server.mailbox.messages].count("reminder") == 1


def test_without_a_mail_server_mail_is_held_in_the_outbox(world, app):
    app.config["MAIL_SERVER"] = None
    submit(world)
    report = dispatch.run_pass(NOW)
    assert report.held == 1
    message = db.session.scalar(db.select(OutboxMessage))
    assert message.status == "held" and "Harbor Lane" in message.body_text
    event = records.events(world.consultant_a, world.case_a.id)[0]
    assert "not emailed" in event.summary and "no mail server is configured" in event.summary


def test_third_follow_up_escalates_to_the_admins(world, smtp_server):
    submit(world)
    moment = NOW
    for _ in range(3):
        dispatch.run_pass(moment)
        moment += timedelta(hours=24)
    to_admin = smtp_server.mailbox.to(world.admin_a.email)
    assert len(smtp_server.mailbox.to(world.consultant_a.email)) == 3
    assert len(to_admin) == 1 and to_admin[0]["Subject"].startswith("Escalation:")
    assert "reminder_escalated" in kinds(world)


def test_quiet_hours_hold_a_night_reminder_until_the_morning(world, smtp_server):
    people.update_own_profile(world.consultant_a, "Carl Consultant", "Europe/Berlin")
    world.consultant_a.quiet_hours_enabled = True
    db.session.commit()
    night = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)  # 23:00 in Berlin
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": night - timedelta(hours=48)}, now=night)
    assert dispatch.run_pass(night).sent == 0
    assert dispatch.run_pass(night + timedelta(hours=8)).sent == 0  # 07:00 Berlin
    assert dispatch.run_pass(night + timedelta(hours=9)).sent == 1  # 08:00 Berlin


def test_digest_only_consultant_gets_one_digest_at_eight(world, smtp_server):
    person = world.consultant_a
    person.notify_each_reminder, person.notify_daily_digest = False, True
    db.session.commit()
    other = make_case(person, world.client_a, title="Second case")
    submit(world, hours_ago=60)
    submit(world, case=other, hours_ago=10)
    early = datetime(2026, 11, 21, 6, 30, tzinfo=timezone.utc)  # 07:30 Berlin
    dispatch.run_pass(early)
    assert smtp_server.mailbox.messages == []
    assert dispatch.run_pass(early + timedelta(hours=1)).sent == 1
    assert dispatch.run_pass(early + timedelta(hours=2)).sent == 0
    (digest,) = smtp_server.mailbox.messages
    text = digest.get_body(("plain",)).get_content()
    assert text.index("Account suspended") < text.index("Second case")  # longest silence first
    # The reminder went to the digest at 06:30, so its repeat is next, as on the dashboard;
    # the digest is this consultant's reminder, and says the follow-up fell due.
    assert "FOLLOW-UP OVERDUE" not in text
    assert "[FOLLOW-UP DUE]" in text
    assert "Follow-up 1 fell due 20 Nov 2026, 03:00 CET: follow up with Amazon now" in text
    assert "Next follow-up 22 Nov 2026, 07:30 CET (due in 23 h)" in text


def test_snooze_and_dismiss(world, smtp_server):
    submit(world, hours_ago=47)
    (reminder,) = followups.pending_for_case(world.case_a.id)
    followups.snooze(world.consultant_a, reminder.id, 24, NOW)
    assert dispatch.run_pass(NOW + timedelta(hours=2)).sent == 0
    assert dispatch.run_pass(NOW + timedelta(hours=25)).sent == 1
    (repeat,) = followups.pending_for_case(world.case_a.id)[-1:]
    followups.dismiss(world.consultant_a, repeat.id)
    assert dispatch.run_pass(NOW + timedelta(days=5)).sent == 0
    assert {"reminder_snoozed", "reminder_cancelled"} <= set(kinds(world))
    with pytest.raises(Conflict):
        followups.snooze(world.consultant_a, repeat.id, 24, NOW)


def test_unreachable_mail_server_fails_nothing_and_keeps_the_mail(world, app):
    from tests.smtp import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nothing listens
    submit(world)
    for i in range(2):
        submit(world, case=make_case(world.consultant_a, world.client_a, title=f"More {i}"))
    report = dispatch.run_pass(NOW)
    assert report.failed == 0 and "unusable" in report.server_error
    messages = db.session.scalars(db.select(OutboxMessage)).all()
    assert [(m.kind, m.status, m.attempts) for m in messages] == [("reminder", "pending", 0)] * 3 + [
        ("mail_problem", "pending", 0)]  # the batch given back, and the admin told when it can be


def test_a_hostile_title_does_not_block_other_mail(world, smtp_server):
    case = db.session.get(Case, world.case_a.id)  # as old data or another writer might leave it
    case.title = "Line one\nBcc: victim@x.example " + "x" * 160
    world.client_a.name = "Harbor Lane " + "y" * 180  # subject well over 300 characters
    db.session.commit()
    other = make_case(world.consultant_a, world.client_a, title="Innocent case")
    submit(world)
    submit(world, case=other)
    assert dispatch.run_pass(NOW).sent == 2
    subjects = [m["Subject"] for m in smtp_server.mailbox.messages]
    assert all("\n" not in s and len(s) <= 300 for s in subjects)
    assert all(m["Bcc"] is None for m in smtp_server.mailbox.messages)


def test_after_the_email_the_deadline_is_the_repeat_not_overdue(world, smtp_server):
    submit(world)
    dispatch.run_pass(NOW)
    case = db.session.get(Case, world.case_a.id)
    db.session.refresh(case)
    assert case.follow_up_due_at == NOW + timedelta(hours=24)


def test_reply_also_stops_mail_held_for_quiet_hours(world, smtp_server):
    admin = world.admin_a
    admin.quiet_hours_enabled, admin.quiet_start, admin.quiet_end = True, "00:00", "23:59"
    db.session.commit()
    submission = submit(world)
    for day in range(3):
        dispatch.run_pass(NOW + timedelta(days=day))
    held = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "escalation"))
    assert held.status == "pending"
    submissions.record_response(world.consultant_a, submission.id, {"outcome": "other"},
                                now=NOW + timedelta(days=2, hours=1))
    db.session.refresh(held)
    assert held.status == "cancelled"


def test_second_reply_is_refused_and_closed_case_stays_closed(world):
    from caseapp.core.errors import Conflict

    submission = submit(world, hours_ago=5)
    workflow.change_status(world.consultant_a, world.case_a.id, "closed")
    submissions.record_response(world.consultant_a, submission.id, {"outcome": "rejected"}, now=NOW)
    assert db.session.get(Case, world.case_a.id).status == "closed"
    with pytest.raises(Conflict, match="already recorded"):
        submissions.record_response(world.consultant_a, submission.id, {"outcome": "reinstated"}, now=NOW)


def test_an_older_submission_entered_late_does_not_supersede_the_newer(world):
    newer = submit(world, hours_ago=2)
    submit(world, hours_ago=24 * 7)
    pending = followups.pending_for_case(world.case_a.id)
    assert [r.submission_id for r in pending] == [newer.id]


def test_snooze_works_after_a_reminder_went_out(world, smtp_server):
    submit(world)
    dispatch.run_pass(NOW)
    sent = db.session.scalar(db.select(Reminder).where(Reminder.sequence == 1))
    upcoming = followups.snooze(world.consultant_a, sent.id, 24, NOW + timedelta(hours=1))
    assert upcoming.sequence == 2 and upcoming.due_at == NOW + timedelta(hours=48)


def test_both_channels_off_is_refused(world):
    from caseapp.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        people.update_notifications(world.consultant_a, False, False, False, "20:00", "08:00")
    assert "notify_each_reminder" in error.value.fields


def test_reminder_counts_as_sent_when_one_admin_gets_it(world, smtp_server):
    records.update_case(world.consultant_a, world.case_a.id, {"assignee_id": None})
    make_user(world.agency_a, "second@agency-a.example", "admin")
    submit(world)
    smtp_server.mailbox.fail_next(550)  # the first admin's address is refused
    dispatch.run_pass(NOW)
    reminder = db.session.scalar(db.select(Reminder).where(Reminder.sequence == 1))
    assert reminder.status == "sent"
    assert [m["X-Caseapp-Key"].split(":")[0] for m in smtp_server.mailbox.messages].count("reminder") == 1
    assert "reminder_failed" in kinds(world)


def test_mail_of_a_dead_dispatcher_is_not_sent_after_amazon_replied(world, smtp_server):
    """A message leased by a dispatcher that died waits for its lease; if Amazon replied
    meanwhile, the retry drops it instead of chasing an answered submission."""
    submission = submit(world)
    dispatch.dispatch_due(NOW, dispatch.PassReport())  # queued, not yet sent
    message = db.session.scalar(db.select(OutboxMessage))
    message.status, message.lease_until = "sending", NOW + delivery.LEASE  # then the process died
    message.attempts = 1
    db.session.commit()
    submissions.record_response(world.consultant_a, submission.id, {"outcome": "other"},
                                now=NOW + timedelta(minutes=1))
    report = dispatch.run_pass(NOW + delivery.LEASE + timedelta(minutes=1))
    assert report.sent == 0 and smtp_server.mailbox.messages == []
    db.session.refresh(message)
    assert message.status == "cancelled"
    # The dead dispatcher may have got it out: the outbox must not claim it never went.
    assert "may already have delivered it" in message.last_error


def second_case(world):
    case = make_case(world.consultant_a, world.client_a, title="Late shipment rate", asins="")
    submit(world, case=case)
    return case


def test_a_reminder_whose_mail_cannot_be_written_does_not_stop_the_others(world, smtp_server, monkeypatch):
    broken = second_case(world)
    submit(world)
    render = dispatch.followup_mail.render

    def render_or_break(reminder, case, *args):
        if case.id == broken.id:
            raise ValueError("template exploded")
        return render(reminder, case, *args)

    monkeypatch.setattr(dispatch.followup_mail, "render", render_or_break)
    report = dispatch.run_pass(NOW)
    assert (report.reminders_due, report.sent, report.failed) == (1, 1, 1)
    # The subject ends with the case tag (core/mailtags.py) after the words.
    assert "Account suspended (silent 49 h) [Case " in [m["Subject"] for m in smtp_server.mailbox.messages][0]
    assert "reminder_failed" in kinds(world, broken) and "reminder_sent" in kinds(world)
    failed = db.session.scalar(db.select(Reminder).where(Reminder.case_id == broken.id))
    assert failed.status == "failed"
    assert db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.case_id == broken.id)) is None


def test_a_reminder_whose_rows_the_database_refuses_does_not_stop_the_others(world, smtp_server, monkeypatch):
    """The batch is written in one flush; when that fails it is redone reminder by reminder."""
    broken = second_case(world)
    submit(world)
    message = dispatch._queue

    def message_without_recipient(reminder, case, *args):
        made = message(reminder, case, *args)
        if case.id == broken.id:
            made.recipient = None  # NOT NULL: refused by the database at the flush
        return made

    monkeypatch.setattr(dispatch, "_queue", message_without_recipient)
    report = dispatch.run_pass(NOW)
    assert (report.reminders_due, report.sent, report.failed) == (1, 1, 1)
    assert [m["To"] for m in smtp_server.mailbox.messages] == [world.consultant_a.email]
    assert "reminder_failed" in kinds(world, broken)
    # Both cases still have a next follow-up only if their reminder went out.
    assert db.session.get(Case, broken.id).follow_up_due_at is None
    assert db.session.get(Case, world.case_a.id).follow_up_due_at is not None


def test_a_sent_reminder_is_on_the_timeline_with_whom_it_went_to(world, smtp_server):
    submission = submit(world)
    dispatch.run_pass(NOW)
    reminder = db.session.scalar(db.select(Reminder).where(Reminder.sequence == 1))
    assert (reminder.status, reminder.sent_at) == ("sent", NOW)
    (event,) = [e for e in records.events(world.consultant_a, world.case_a.id) if e.kind == "reminder_sent"]
    assert event.summary == f"Follow-up reminder 1 emailed to {world.consultant_a.email}"
    assert event.data == {"reminder_id": reminder.id, "submission_id": submission.id}
    message = db.session.scalar(db.select(OutboxMessage))
    assert (message.status, message.sent_at, message.lease_until) == ("sent", NOW, None)


def test_a_failed_recording_leaves_only_that_message_to_its_lease(world, smtp_server, monkeypatch):
    """The database refuses to record one sent message: the one sent beside it is still
    recorded, those not yet tried are given back, and only the unrecorded one goes out again."""
    from sqlalchemy.exc import OperationalError

    from caseapp.services.mail import sent_log

    for i in range(4):
        submit(world, case=make_case(world.consultant_a, world.client_a, title=f"Case {i}", asins=""))
    record, calls = sent_log.SentLog.record, []

    def locked_once(self, message_id, kind, now):
        calls.append(message_id)
        if len(calls) == 1:
            raise OperationalError("UPDATE outbox_messages", {}, Exception("database is locked"))
        return record(self, message_id, kind, now)

    monkeypatch.setattr(sent_log.SentLog, "record", locked_once)
    with pytest.raises(OperationalError):
        dispatch.run_pass(NOW)
    db.session.rollback()
    statuses = [m.status for m in db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id))]
    assert statuses == ["sending", "sent", "pending", "pending"]
    assert len(smtp_server.mailbox.messages) == 2

    dispatch.run_pass(NOW + delivery.LEASE + timedelta(minutes=1))
    keys = [m["X-Caseapp-Key"] for m in smtp_server.mailbox.messages]
    first = db.session.get(OutboxMessage, calls[0]).idempotency_key
    assert len(set(keys)) == 4 and len(keys) == 5 and keys.count(first) == 2  # only that one twice


def test_a_pass_that_lost_its_lease_does_not_give_the_message_back(world, smtp_server):
    """Another pass took over a message whose lease ran out; the first pass must leave it be."""
    submit(world)
    dispatch.dispatch_due(NOW, dispatch.PassReport())
    message = db.session.scalar(db.select(OutboxMessage))
    theirs = NOW + timedelta(minutes=7)
    message.status, message.lease_until, message.attempts = "sending", theirs, 1
    db.session.commit()
    delivery.release([message.id], NOW + delivery.LEASE)  # our old lease, long run out
    delivery.record_failure(message.id, "retry", "451 try later", NOW + delivery.LEASE, NOW,
                            dispatch.PassReport())
    db.session.refresh(message)
    assert (message.status, message.lease_until, message.attempts) == ("sending", theirs, 1)
