import inspect
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import caseapp
from caseapp.models import STATUSES
from caseapp.services.cases import records
from caseapp.services.appeals import submissions, workflow
from caseapp.core.errors import Conflict, ValidationFailed
from tests.conftest import make_case

ALLOWED = {
    ("open", "drafting"), ("open", "closed"),
    ("drafting", "submitted"), ("drafting", "open"), ("drafting", "closed"),
    ("submitted", "more_info_requested"), ("submitted", "reinstated"), ("submitted", "denied"),
    ("submitted", "drafting"), ("submitted", "closed"),
    ("more_info_requested", "drafting"), ("more_info_requested", "submitted"),
    ("more_info_requested", "closed"),
    ("reinstated", "closed"),
    ("denied", "drafting"), ("denied", "closed"),
    ("closed", "open"),
}
EVERY_PAIR = [(a, b) for a in STATUSES for b in STATUSES]


@pytest.mark.parametrize("current,target", EVERY_PAIR)
def test_every_move_is_allowed_or_refused_with_a_reason(current, target):
    if (current, target) in ALLOWED:
        workflow.check_move(current, target)
    else:
        with pytest.raises(Conflict) as refused:
            workflow.check_move(current, target)
        message = refused.value.message
        assert workflow.LABELS[target] in message
        assert ":" in message or "already" in message  # the reason follows the refusal


def test_reinstated_from_open_explains_that_a_submission_comes_first():
    with pytest.raises(Conflict, match="only reinstate a case that was submitted"):
        workflow.check_move("open", "reinstated")


@pytest.mark.parametrize("target", ["won", {}, None, 3])
def test_unknown_status_is_refused_as_invalid_input(target):
    with pytest.raises(ValidationFailed) as error:
        workflow.check_move("open", target)
    assert "Choose one of" in error.value.fields["status"]


def _walk(actor, case, *statuses):
    for status in statuses:
        workflow.change_status(actor, case.id, status)


def test_closing_sets_closed_at_and_reopening_clears_it(world):
    actor, case = world.consultant_a, world.case_a
    closed = workflow.change_status(actor, case.id, "closed")
    assert closed.closed_at is not None
    reopened = workflow.change_status(actor, case.id, "open")
    assert reopened.closed_at is None and reopened.status == "open"


def test_refused_move_changes_nothing(world):
    actor, case = world.consultant_a, world.case_a
    before = len(records.events(actor, case.id))
    with pytest.raises(Conflict):
        workflow.change_status(actor, case.id, "reinstated")
    assert records.get_case(actor, case.id).status == "open"
    assert len(records.events(actor, case.id)) == before


def test_full_path_to_reinstatement_is_on_the_timeline(world):
    actor, case = world.consultant_a, world.case_a
    _walk(actor, case, "drafting", "submitted", "reinstated", "closed")
    moves = [(e.data["from"], e.data["to"]) for e in records.events(actor, case.id, newest_first=False)
             if e.kind == "status_changed"]
    assert moves == [("open", "drafting"), ("drafting", "submitted"),
                     ("submitted", "reinstated"), ("reinstated", "closed")]


# ---- one table, one set_status (issue 13) ----------------------------------------------------

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def _submit(world, hours_ago=1):
    return submissions.record_submission(
        world.consultant_a, world.case_a.id,
        {"submitted_at": NOW - timedelta(hours=hours_ago), "channel": "account_health_appeal"}, now=NOW)


def _reply(world, submission, outcome, at=NOW):
    submissions.record_response(world.consultant_a, submission.id, {"outcome": outcome}, now=at)


def _case(world):
    return records.get_case(world.consultant_a, world.case_a.id)


def test_the_status_form_offers_exactly_a_persons_moves():
    for status in STATUSES:
        offered = set(workflow.allowed_moves(status))
        assert offered == {target for current, target in ALLOWED if current == status}
        assert set(workflow.allowed_moves(status, workflow.PERSON)) == offered


def test_a_case_reinstated_by_a_person_gets_closed_at_as_by_amazons_reply(world):
    actor = world.consultant_a
    _walk(actor, world.case_a, "drafting", "submitted")
    workflow.change_status(actor, world.case_a.id, "reinstated", now=NOW)
    by_person = _case(world)
    assert by_person.status == "reinstated" and by_person.closed_at == NOW

    other = make_case(actor, world.client_a, title="Second suspension")
    submission = submissions.record_submission(actor, other.id, {"submitted_at": NOW - timedelta(hours=2)},
                                               now=NOW)
    submissions.record_response(actor, submission.id, {"outcome": "reinstated"}, now=NOW)
    by_amazon = records.get_case(actor, other.id)
    assert by_amazon.status == "reinstated" and by_amazon.closed_at == NOW


def test_closing_a_reinstated_case_keeps_when_its_work_ended(world):
    submission = _submit(world)
    _reply(world, submission, "reinstated")
    workflow.change_status(world.consultant_a, world.case_a.id, "closed", now=NOW + timedelta(days=3))
    case = _case(world)
    assert case.status == "closed" and case.closed_at == NOW
    workflow.change_status(world.consultant_a, world.case_a.id, "open", now=NOW + timedelta(days=4))
    assert _case(world).closed_at is None


def test_amazon_denying_a_case_marked_reinstated_by_hand_clears_closed_at(world):
    submission = _submit(world)
    workflow.change_status(world.consultant_a, world.case_a.id, "reinstated", now=NOW)
    _reply(world, submission, "rejected")
    case = _case(world)
    assert case.status == "denied" and case.closed_at is None


def test_a_submission_on_an_open_case_is_a_move_of_the_table(world):
    assert workflow.may_move("open", "submitted", workflow.SUBMISSION)
    assert not workflow.may_move("open", "submitted", workflow.PERSON)
    workflow.check_move("open", "submitted", workflow.SUBMISSION)
    _submit(world)
    moves = [(e.data["from"], e.data["to"]) for e in records.events(world.consultant_a, world.case_a.id)
             if e.kind == "status_changed"]
    assert moves == [("open", "submitted")]  # no invented "drafting" step
    assert _case(world).status == "submitted"


@pytest.mark.parametrize("status", STATUSES)
def test_a_submission_is_taken_where_the_table_allows_it(status):
    expected = status in ("open", "drafting", "submitted", "more_info_requested", "denied")
    assert workflow.may_submit(status) is expected
    assert (status in workflow.SUBMITTABLE) is expected


def test_a_submission_on_a_reinstated_case_is_refused_by_the_table(world):
    submission = _submit(world)
    _reply(world, submission, "reinstated")
    with pytest.raises(Conflict, match="A case in status Reinstated cannot be submitted; reopen it first."):
        _submit(world)


def test_a_reply_on_a_closed_case_is_kept_without_moving_it(world):
    submission = _submit(world)
    workflow.change_status(world.consultant_a, world.case_a.id, "closed", now=NOW)
    _reply(world, submission, "reinstated")
    case = _case(world)
    assert case.status == "closed" and case.closed_at == NOW
    assert not workflow.allowed_moves("closed", workflow.AMAZON)


def test_only_set_status_assigns_a_case_status():
    """`grep -rn "\\.status = " caseapp`: of the assignments, only set_status's is a case's."""
    root = Path(caseapp.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bcase\.status\s*=(?!=)", line) or re.search(r"\bCase\.status\s*=(?!=)", line):
                found.append(f"{path.relative_to(root)}:{number}")
    assert found == ["services/appeals/workflow.py:" + str(_line_of_assignment())]


def _line_of_assignment() -> int:
    source = inspect.getsource(workflow)
    return next(number for number, line in enumerate(source.splitlines(), 1)
                if line.strip() == "case.status = status")
