"""Correcting and withdrawing submissions and Amazon's replies: the case's status, its
follow-ups, closed_at and the timeline are recomputed from what still counts."""
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from caseapp.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from caseapp.extensions import db
from caseapp.models import AmazonResponse, Case, Submission
from caseapp.services.appeals import corrections, dispatch, followups, submissions, workflow
from caseapp.services.cases import records
from tests.conftest import make_user

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def submit(world, hours_ago=10, actor=None, **extra):
    return submissions.record_submission(
        actor or world.consultant_a, world.case_a.id,
        {"submitted_at": NOW - timedelta(hours=hours_ago), "channel": "email", **extra}, now=NOW)


def reply(world, submission, outcome, hours_ago=1, actor=None):
    return submissions.record_response(actor or world.consultant_a, submission.id,
                                       {"outcome": outcome, "received_at": NOW - timedelta(hours=hours_ago)},
                                       now=NOW)


def case(world) -> Case:
    db.session.expire_all()
    return db.session.get(Case, world.case_a.id)


def summaries(world, kind=None):
    return [e.summary for e in records.events(world.consultant_a, world.case_a.id, newest_first=False)
            if kind is None or e.kind == kind]


def pending(world):
    return [(r.submission_id, r.sequence, r.due_at) for r in followups.pending_for_case(world.case_a.id)]


def test_withdrawing_a_reinstated_reply_reopens_the_case_and_its_follow_up(world):
    submission = submit(world, hours_ago=10)  # follow-up due in 38 h
    response = reply(world, submission, "reinstated")
    assert case(world).status == "reinstated" and case(world).closed_at == NOW
    assert pending(world) == []

    corrections.withdraw_response(world.consultant_a, response.id)

    c = case(world)
    assert c.status == "submitted" and c.closed_at is None
    assert c.awaiting_since == submission.submitted_at
    due = submission.submitted_at + timedelta(hours=48)
    assert pending(world) == [(submission.id, 1, due)] and c.follow_up_due_at == due
    assert db.session.get(AmazonResponse, response.id).withdrawn_by_id == world.consultant_a.id
    texts = summaries(world)
    assert "Amazon replied: Reinstated" in texts  # the original entry stays
    assert any(t.startswith("Amazon's reply (Reinstated, received 20 Nov 2026, 14:00 CET) withdrawn by "
                            "Carl Consultant: recorded by mistake") for t in texts)
    assert "Status: Reinstated → Submitted to Amazon" in texts
    # The reply form is offered again: a reply can be recorded once more.
    reply(world, submission, "more_info_requested")
    assert case(world).status == "more_info_requested"


def test_a_withdrawn_reply_whose_follow_up_time_passed_is_chased_from_now(world):
    submission = submit(world, hours_ago=60)  # first follow-up was due 12 h ago
    response = reply(world, submission, "reinstated")
    corrections.withdraw_response(world.consultant_a, response.id)
    assert pending(world) == [(submission.id, 1, NOW)]
    report = dispatch.run_pass(NOW)
    assert report.reminders_due == 1


def test_after_a_reminder_went_out_the_reopened_one_is_the_next_repeat(world):
    submission = submit(world, hours_ago=50)
    dispatch.run_pass(NOW - timedelta(hours=1))  # reminder 1 goes out, the repeat is pending
    response = reply(world, submission, "rejected")
    assert case(world).status == "denied" and pending(world) == []
    corrections.withdraw_response(world.admin_a, response.id)
    assert pending(world) == [(submission.id, 2, NOW - timedelta(hours=1) + timedelta(hours=24))]


def test_correcting_a_reply_outcome_moves_the_case(world):
    submission = submit(world)
    response = reply(world, submission, "reinstated")
    corrections.correct_response(world.consultant_a, response.id, {"outcome": "more_info_requested"})
    c = case(world)
    assert c.status == "more_info_requested" and c.closed_at is None
    assert pending(world) == []  # Amazon did answer: nothing to chase
    assert ("Amazon's reply corrected by Carl Consultant: outcome Reinstated → More information requested"
            in summaries(world))
    corrections.correct_response(world.consultant_a, response.id, {"outcome": "reinstated"})
    assert case(world).status == "reinstated" and case(world).closed_at == NOW


def test_a_reply_corrected_to_other_keeps_the_case_submitted_without_follow_up(world):
    submission = submit(world)
    response = reply(world, submission, "rejected")
    corrections.correct_response(world.consultant_a, response.id, {"outcome": "other"})
    c = case(world)
    assert c.status == "submitted" and c.awaiting_since is None and pending(world) == []


def test_withdrawing_the_latest_submission_makes_the_previous_one_live_again(world):
    first = submit(world, hours_ago=30)
    second = submit(world, hours_ago=2)
    assert pending(world)[0][0] == second.id
    corrections.withdraw_submission(world.consultant_a, second.id)
    c = case(world)
    assert c.status == "submitted" and c.awaiting_since == first.submitted_at
    assert pending(world) == [(first.id, 1, first.submitted_at + timedelta(hours=48))]
    assert submissions.submission_count(world.case_a.id) == 1
    assert any(t.startswith("Submission of 20 Nov 2026, 13:00 CET withdrawn by Carl Consultant: "
                            "recorded by mistake") for t in summaries(world))
    assert "Follow-up reminder 1 cancelled: the submission was withdrawn" in summaries(world)


def test_withdrawing_the_only_submission_clears_the_clock_and_the_status(world):
    workflow.change_status(world.consultant_a, world.case_a.id, "drafting")
    submission = submit(world)
    corrections.withdraw_submission(world.consultant_a, submission.id)
    c = case(world)
    assert c.status == "drafting" and c.awaiting_since is None and c.follow_up_due_at is None
    assert pending(world) == []


def test_withdrawing_a_submission_withdraws_its_reply_and_the_previous_decision_returns(world):
    first = submit(world, hours_ago=30)
    reply(world, first, "rejected", hours_ago=20)
    second = submit(world, hours_ago=5)  # resubmitted after the rejection
    reply(world, second, "reinstated")
    corrections.withdraw_submission(world.admin_a, second.id)
    c = case(world)
    assert c.status == "denied" and c.closed_at is None and pending(world) == []
    assert all(r.withdrawn_at for r in db.session.scalars(
        db.select(AmazonResponse).where(AmazonResponse.submission_id == second.id)))


def test_a_persons_own_status_change_is_respected(world):
    submission = submit(world)
    response = reply(world, submission, "reinstated")
    workflow.change_status(world.consultant_a, world.case_a.id, "closed")
    corrections.withdraw_response(world.consultant_a, response.id)
    c = case(world)
    assert c.status == "closed" and c.closed_at is not None  # the person closed it: it stays closed
    assert pending(world) == []


def test_two_corrections_in_turn_replay_from_the_start(world):
    first = submit(world, hours_ago=30)
    rejected = reply(world, first, "rejected", hours_ago=25)
    second = submit(world, hours_ago=20)
    reply(world, second, "more_info_requested", hours_ago=2)
    corrections.withdraw_response(world.consultant_a, rejected.id)
    assert case(world).status == "more_info_requested"
    corrections.withdraw_submission(world.consultant_a, second.id)
    # The first submission stands, unanswered: the case waits on it again.
    c = case(world)
    assert c.status == "submitted" and c.awaiting_since == first.submitted_at
    assert [p[0] for p in pending(world)] == [first.id]


def test_a_correction_the_workflow_cannot_explain_is_refused(world):
    first = submit(world, hours_ago=30)
    rejected = reply(world, first, "rejected", hours_ago=25)
    submit(world, hours_ago=20)
    with pytest.raises(Conflict, match="withdraw or correct that submission first"):
        corrections.correct_response(world.consultant_a, rejected.id, {"outcome": "reinstated"})
    assert db.session.get(AmazonResponse, rejected.id).outcome == "rejected"
    assert case(world).status == "submitted"


def test_a_corrected_submission_time_moves_its_follow_up(world):
    submission = submit(world, hours_ago=10)
    corrections.correct_submission(world.consultant_a, submission.id,
                                   {"submitted_at": NOW - timedelta(hours=30), "channel": "other",
                                    "amazon_reference": "CASE-9"})
    due = NOW - timedelta(hours=30) + timedelta(hours=48)
    assert pending(world) == [(submission.id, 1, due)] and case(world).follow_up_due_at == due
    row = db.session.get(Submission, submission.id)
    assert (row.channel, row.amazon_reference) == ("other", "CASE-9")
    assert ("Submission of 20 Nov 2026, 05:00 CET corrected by Carl Consultant: submitted at "
            "20 Nov 2026, 05:00 CET → 19 Nov 2026, 09:00 CET; channel Email → Other; "
            "reference none → CASE-9") in summaries(world)


def test_a_backdated_submission_corrected_to_the_latest_takes_over_the_follow_up(world):
    newer = submit(world, hours_ago=5)
    older = submit(world, hours_ago=40)  # entered late: history, no follow-up
    assert [p[0] for p in pending(world)] == [newer.id]
    corrections.correct_submission(world.consultant_a, older.id, {"submitted_at": NOW - timedelta(hours=1)})
    assert pending(world) == [(older.id, 1, NOW + timedelta(hours=47))]


def test_a_submission_cannot_move_after_its_reply(world):
    submission = submit(world, hours_ago=10)
    reply(world, submission, "rejected", hours_ago=5)
    with pytest.raises(ValidationFailed) as refused:
        corrections.correct_submission(world.consultant_a, submission.id,
                                       {"submitted_at": NOW - timedelta(hours=2)})
    assert "submission must be before it" in refused.value.fields["submitted_at"]


def test_who_may_correct(world, clock):
    submission = submit(world)
    with pytest.raises(NotFound):
        corrections.withdraw_submission(world.admin_b, submission.id)
    other = make_user(world.agency_a, "other@agency-a.example")  # a colleague, consultant
    with pytest.raises(Forbidden):
        corrections.withdraw_submission(other, submission.id)
    clock.shift(timedelta(hours=25))
    with pytest.raises(Forbidden):  # the author, after a day
        corrections.correct_submission(world.consultant_a, submission.id, {"channel": "other"})
    corrections.correct_submission(world.admin_a, submission.id, {"channel": "other"})  # admins: always
    corrections.withdraw_submission(world.admin_a, submission.id)
    with pytest.raises(Conflict):
        corrections.withdraw_submission(world.admin_a, submission.id)
    with pytest.raises(Conflict):
        submissions.record_response(world.admin_a, submission.id, {"outcome": "rejected"})


def test_a_dismissed_follow_up_is_not_reopened(world):
    submission = submit(world)
    (reminder,) = followups.pending_for_case(world.case_a.id)
    followups.dismiss(world.consultant_a, reminder.id)
    response = reply(world, submission, "reinstated")
    corrections.withdraw_response(world.consultant_a, response.id)
    assert case(world).status == "submitted" and pending(world) == []


def test_a_time_given_to_the_minute_of_the_same_minute_is_no_correction(world):
    """The correction form shows times to the minute: saving it with only the outcome changed
    must not report the time as corrected too (it was 10:53:27, the form sends 10:53)."""
    submission = submit(world, hours_ago=10)
    response = submissions.record_response(world.consultant_a, submission.id,
                                           {"outcome": "other", "received_at": NOW - timedelta(seconds=33)},
                                           now=NOW)
    to_the_minute = response.received_at.replace(second=0, microsecond=0)

    corrections.correct_response(world.consultant_a, response.id,
                                 {"outcome": "more_info_requested", "received_at": to_the_minute})

    corrected = summaries(world, "reply_corrected")
    assert len(corrected) == 1 and "outcome Other → More information requested" in corrected[0]
    assert "received" not in corrected[0]
    assert db.session.get(AmazonResponse, response.id).received_at == NOW - timedelta(seconds=33)
