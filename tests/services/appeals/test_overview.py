"""The case page's content, gathered in one place (services/appeals/overview.py)."""
from datetime import datetime, timedelta, timezone

import pytest

from caseapp.core.errors import NotFound
from caseapp.services.appeals import overview, submissions, workflow
from caseapp.services.cases import records

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def test_the_overview_of_a_submitted_case(world):
    actor, case = world.consultant_a, world.case_a
    records.add_note(actor, case.id, "Called the seller.")
    submission = submissions.record_submission(actor, case.id, {"submitted_at": NOW - timedelta(hours=50)},
                                               now=NOW)
    view = overview.case_overview(actor, case.id, NOW)
    assert view.case.id == case.id and view.case.status == "submitted"
    assert [s.id for s in view.submission_list] == [submission.id]
    assert [r.submission_id for r in view.pending_reminders] == [submission.id]
    assert view.clock.silent_hours == 50 and view.clock.overdue
    assert view.status_moves == workflow.allowed_moves("submitted") and view.submittable
    (note,) = view.notes.values()
    assert note.body == "Called the seller." and view.changeable_notes == {note.id}
    assert {u.id for u in view.people} == {world.admin_a.id, world.consultant_a.id}
    assert not view.more_events


def test_the_timeline_is_cut_at_its_limit_unless_asked_for_whole(world):
    actor, case = world.consultant_a, world.case_a
    for number in range(3):
        records.add_note(actor, case.id, f"Note {number}")
    cut = overview.case_overview(actor, case.id, NOW, timeline_limit=2)
    assert len(cut.events) == 2 and cut.more_events
    whole = overview.case_overview(actor, case.id, NOW, timeline_limit=None)
    assert len(whole.events) == 5 and not whole.more_events  # created, assigned, three notes


def test_a_reinstated_case_takes_no_submission(world):
    actor, case = world.consultant_a, world.case_a
    for status in ("drafting", "submitted", "reinstated"):
        workflow.change_status(actor, case.id, status)
    view = overview.case_overview(actor, case.id, NOW)
    assert not view.submittable and view.status_moves == ("closed",)


def test_another_agencys_case_has_no_overview(world):
    with pytest.raises(NotFound):
        overview.case_overview(world.admin_b, world.case_a.id, NOW)
