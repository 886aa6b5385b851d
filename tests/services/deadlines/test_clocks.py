"""The deadline engine: presets on a new case, the follow-up as a deadline, business days,
pausing, and what ends a clock."""
from datetime import datetime, timedelta, timezone

import pytest

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.extensions import db
from caseapp.models import Case, Deadline
from caseapp.services.appeals import submissions
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks, presets

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)  # a Friday


def open_case(world, **fields):
    data = {"client_id": world.client_a.id, "title": "Account suspended", "kind": "account_suspension",
            "reason": "customer_complaints", "asins": ["B07XJ8C8F5"], "opened_at": NOW, **fields}
    return presets.open_case(world.consultant_a, data, now=NOW)


def deadlines(case):
    return {d.kind: d for d in db.session.query(Deadline).filter_by(case_id=case.id)}


def test_a_new_suspension_gets_the_shipped_presets_from_its_notice_date(world):
    case = open_case(world, amazon_notice="Please provide the documents within thirty (30) days.")
    found = deadlines(case)
    assert found["appeal_window"].due_at == NOW + timedelta(days=17)
    assert found["funds_release"].due_at == NOW + timedelta(days=60)
    assert found["inventory_removal"].due_at == NOW + timedelta(days=30)
    assert found["amazon_reply_due"].due_at == NOW + timedelta(days=30)
    # Five business days from a Friday afternoon in Berlin: the next Friday, same wall time.
    assert found["agency_sla"].due_at == NOW + timedelta(days=7)
    assert found["agency_sla"].clock == "agency" and found["appeal_window"].clock == "amazon"
    assert "account_health_warning" not in found  # shipped, but off
    assert db.session.get(Case, case.id).next_deadline_at == NOW + timedelta(days=7)
    summaries = [e.summary for e in records.events(world.consultant_a, case.id, newest_first=False)]
    assert any("Appeal window" in s and "07 Dec 2026" in s for s in summaries)


def test_a_listing_case_gets_only_the_presets_for_any_kind(world):
    case = open_case(world, kind="listing_deactivation")
    assert set(deadlines(case)) == {"agency_sla"}


def test_saved_presets_replace_the_defaults_and_every_bad_field_is_named(world):
    with pytest.raises(ValidationFailed) as bad:
        presets.save(world.admin_a, [{"kind": "appeal_window", "amount": "0", "unit": "days"},
                                     {"kind": "funds_release", "amount": "3", "unit": "business_days",
                                      "clock": "amazon"}])
    assert set(bad.value.fields) == {"presets-0-amount", "presets-1-unit"}
    presets.save(world.admin_a, [{"kind": "appeal_window", "title": "Appeal", "amount": "10",
                                  "unit": "days", "case_kind": "", "reason": "intellectual_property"}])
    assert set(deadlines(open_case(world, reason="intellectual_property"))) == {"appeal_window"}
    assert deadlines(open_case(world, reason="customer_complaints")) == {}


def test_the_follow_up_is_a_deadline_that_amazons_reply_meets(world):
    submission = submissions.record_submission(
        world.consultant_a, world.case_a.id,
        {"submitted_at": NOW - timedelta(hours=1), "channel": "account_health_appeal"}, now=NOW)
    follow_up = deadlines(world.case_a)["amazon_follow_up"]
    case = db.session.get(Case, world.case_a.id)
    assert follow_up.status == "open" and follow_up.source_id == submission.id
    assert follow_up.due_at == case.follow_up_due_at == case.next_deadline_at
    submissions.record_response(world.consultant_a, submission.id,
                                {"outcome": "more_info_requested", "received_at": NOW}, now=NOW)
    db.session.refresh(follow_up)
    assert follow_up.status == "met" and follow_up.met_at == NOW
    assert db.session.get(Case, world.case_a.id).next_deadline_at is None


def test_a_person_cannot_move_the_follow_up_by_hand(world):
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW, "channel": "email"}, now=NOW)
    follow_up = deadlines(world.case_a)["amazon_follow_up"]
    with pytest.raises(Conflict):
        clocks.update(world.consultant_a, follow_up.id, {"status": "met"}, now=NOW)


def test_add_edit_meet_and_reopen_are_on_the_timeline(world):
    with pytest.raises(ValidationFailed) as bad:
        clocks.add(world.consultant_a, world.case_a.id, {"kind": "nonsense", "due_at": "tomorrow"}, now=NOW)
    assert set(bad.value.fields) == {"kind", "due_at"}
    deadline = clocks.add(world.consultant_a, world.case_a.id,
                          {"kind": "custom", "title": "Call the client", "due_at": "2026-11-23T09:00:00+01:00"},
                          now=NOW)
    assert deadline.due_at == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    clocks.update(world.consultant_a, deadline.id, {"due_at": "2026-11-24T09:00:00+01:00"}, now=NOW)
    clocks.update(world.consultant_a, deadline.id, {"status": "met"}, now=NOW)
    assert deadline.status == "met" and deadline.met_at == NOW and deadline.next_alert_at is None
    clocks.update(world.consultant_a, deadline.id, {"status": "open"}, now=NOW)
    assert deadline.status == "open" and deadline.met_at is None
    kinds = [e.kind for e in records.events(world.consultant_a, world.case_a.id, newest_first=False)]
    assert kinds.count("deadline_changed") == 3 and "deadline_added" in kinds


def test_another_agencys_deadline_is_not_found(world):
    deadline = clocks.add(world.consultant_a, world.case_a.id, {"due_at": NOW + timedelta(days=1)}, now=NOW)
    with pytest.raises(Exception) as missing:
        clocks.update(world.consultant_b, deadline.id, {"status": "met"}, now=NOW)
    assert getattr(missing.value, "status", None) == 404


def test_pausing_keeps_what_was_spent_in_business_days(world):
    case = open_case(world)
    sla = deadlines(case)["agency_sla"]  # due next Friday 15:00 Berlin
    monday = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # one business day spent
    clocks.pause_by_person(world.consultant_a, sla.id, now=monday)
    assert sla.paused and sla.remaining_seconds == 4 * 86400 and sla.next_alert_at is None
    assert db.session.get(Case, case.id).next_deadline_at != sla.due_at  # paused: not the next
    thursday = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)
    clocks.resume_by_person(world.consultant_a, sla.id, now=thursday)
    # Four business days from Thursday 15:00: Fri, Mon, Tue, Wed -> Wednesday 15:00 Berlin.
    assert sla.due_at == datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc)


def test_amazon_clocks_never_pause(world):
    appeal = deadlines(open_case(world))["appeal_window"]
    with pytest.raises(Conflict, match="never pause"):
        clocks.pause_by_person(world.consultant_a, appeal.id, now=NOW)


def test_reminders_go_before_when_due_then_daily(world):
    deadline = clocks.add(world.consultant_a, world.case_a.id, {"due_at": NOW + timedelta(days=10)}, now=NOW)
    assert deadline.next_alert_at == NOW + timedelta(days=10, hours=-72)
    assert clocks.alert_points(deadline, NOW + timedelta(days=9)) == NOW + timedelta(days=10)
    assert clocks.alert_points(deadline, NOW + timedelta(days=10, hours=5)) == NOW + timedelta(days=11)


def test_reinstatement_meets_the_appeal_window_and_cancels_the_rest(world):
    case = open_case(world)
    later = NOW + timedelta(days=61)
    submission = submissions.record_submission(world.consultant_a, case.id,
                                               {"submitted_at": later, "channel": "email"}, now=later)
    submissions.record_response(world.consultant_a, submission.id,
                                {"outcome": "reinstated", "received_at": later}, now=later)
    found = deadlines(case)
    assert found["appeal_window"].status == "met"
    assert found["funds_release"].status == "missed"  # it was overdue already
    assert all(d.status != "open" for d in found.values())


def test_a_resubmission_supersedes_the_follow_up_of_the_one_before(world):
    first = submissions.record_submission(world.consultant_a, world.case_a.id,
                                          {"submitted_at": NOW - timedelta(hours=5), "channel": "email"}, now=NOW)
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": NOW, "channel": "email"}, now=NOW)
    old = db.session.scalar(db.select(Deadline).where(Deadline.source_id == first.id))
    assert old.status == "cancelled" and old.closed_reason == "superseded by a new submission"
    assert db.session.scalar(db.select(db.func.count(Deadline.id)).where(
        Deadline.case_id == world.case_a.id, Deadline.kind == "amazon_follow_up", Deadline.status == "open")) == 1


def test_a_document_request_deadline_follows_its_request_not_a_hand_edit(world):
    from caseapp.services.portal import requests as portal_requests

    case = open_case(world)
    opened = portal_requests.open_request(world.consultant_a, case.id, {"checklist": "identity"}, now=NOW)
    deadline = db.session.get(Deadline, opened.request.deadline_id)
    for change in ({"status": "met"}, {"due_at": (NOW + timedelta(days=30)).isoformat()}):
        with pytest.raises(Conflict, match="follows its document request"):
            clocks.update(world.consultant_a, deadline.id, change, now=NOW)
    assert clocks.update(world.consultant_a, deadline.id, {"title": "Seller's papers"}, now=NOW).title == "Seller's papers"
    assert db.session.get(Deadline, deadline.id).status == "open"


def test_the_clients_answer_resumes_only_the_clocks_the_wait_paused(world):
    from caseapp.services.portal import requests as portal_requests

    case = open_case(world)
    sla = deadlines(case)["agency_sla"]
    clocks.pause_by_person(world.consultant_a, sla.id, now=NOW)  # paused by hand, for its own reason
    opened = portal_requests.open_request(world.consultant_a, case.id, {"checklist": "identity"}, now=NOW)
    # A promise made while the case waits on the client waits too.
    later = clocks.add(world.consultant_a, case.id, {"kind": "agency_sla", "title": "Call the client back",
                                                      "due_at": (NOW + timedelta(days=3)).isoformat()}, now=NOW)
    assert db.session.get(Deadline, later.id).paused_at == NOW
    portal_requests.cancel_request(world.consultant_a, opened.request.id, now=NOW + timedelta(hours=5))
    assert db.session.get(Deadline, later.id).paused_at is None
    assert db.session.get(Deadline, later.id).due_at == NOW + timedelta(days=3, hours=5)
    assert db.session.get(Deadline, sla.id).paused_at == NOW  # still paused: a person resumes it
