import pytest

from caseapp.models import STATUSES
from caseapp.services.cases import records
from caseapp.services.appeals import workflow
from caseapp.core.errors import Conflict, ValidationFailed

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
