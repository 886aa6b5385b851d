"""Bulk actions: each case judged on its own, one timeline entry per case saying it was a bulk
change, one audit event, another agency's cases never touched, and the undo of the last one."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.extensions import db
from caseapp.models import AuditEvent, BulkAction, Case, CaseEvent, utcnow
from caseapp.services.accounts import people
from caseapp.services.appeals import workflow
from caseapp.services.cases.records import CaseFilters
from caseapp.services.sheets import bulk
from tests.conftest import make_case, make_client, make_user


@pytest.fixture
def cases(world):
    """Agency A: three open cases and one closed; agency B: one case."""
    actor = world.consultant_a
    made = [world.case_a] + [make_case(actor, world.client_a, title=f"Listing {n} deactivated",
                                       reason="intellectual_property") for n in range(2)]
    closed = make_case(actor, world.client_a, title="Old closed case")
    workflow.change_status(actor, closed.id, "closed")
    other = make_client(world.admin_b, name="Other Agency Seller")
    foreign = make_case(world.admin_b, other, title="Agency B's case")
    db.session.commit()
    return made, closed, foreign


def events_since(case_id: int, after_id: int) -> list[CaseEvent]:
    return list(db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.id > after_id).order_by(CaseEvent.id)))


def last_event_id() -> int:
    return db.session.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1)) or 0


def test_reassign_writes_one_marked_entry_per_case_and_one_audit_event(world, cases):
    made, closed, _ = cases
    mark = last_event_id()
    result = bulk.apply(world.consultant_a, "reassign", str(world.admin_a.id),
                        case_ids=[c.id for c in made])
    db.session.expire_all()
    assert [c.id for c in result.moved] == [c.id for c in made] and result.refused == []
    for case in made:
        assert db.session.get(Case, case.id).assignee_id == world.admin_a.id
        entries = events_since(case.id, mark)
        assert len(entries) == 1, [e.summary for e in entries]
        assert entries[0].kind == "assigned"
        assert entries[0].summary == "Assigned to Ada Admin (bulk change)"
        assert entries[0].data["bulk_id"] == result.bulk.id
    audits = list(db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "bulk_action")))
    assert len(audits) == 1
    assert "Reassign to Ada Admin" in audits[0].detail and "3 changed, 0 refused" in audits[0].detail
    assert audits[0].actor_id == world.consultant_a.id


def test_priority_skips_a_case_that_already_has_it(world, cases):
    made, _, _ = cases
    from caseapp.services.cases import records
    records.update_case(world.consultant_a, made[0].id, {"priority": "urgent"})
    mark = last_event_id()
    result = bulk.apply(world.consultant_a, "priority", "urgent", case_ids=[c.id for c in made])
    assert {c.id for c in result.moved} == {made[1].id, made[2].id}
    assert [(c.id, why) for c, why in result.refused] == [(made[0].id, "Already Urgent priority.")]
    assert events_since(made[0].id, mark) == []
    assert [e.summary for e in events_since(made[1].id, mark)] == ["Edited priority (bulk change)"]


def test_status_moves_what_the_workflow_allows_and_says_why_not_for_the_rest(world, cases):
    made, closed, _ = cases
    result = bulk.apply(world.consultant_a, "status", "drafting", case_ids=[made[0].id, closed.id, made[1].id])
    db.session.expire_all()
    assert [c.id for c in result.moved] == [made[0].id, made[1].id]
    (case, why), = result.refused
    assert case.id == closed.id
    assert why == ("A case cannot move from Closed to Drafting POA: a closed or reinstated case "
                   "must be reopened before a new POA is drafted.")
    assert db.session.get(Case, made[0].id).status == "drafting"
    assert db.session.get(Case, closed.id).status == "closed"
    stored = db.session.get(BulkAction, result.bulk.id)
    assert stored.refused == [{"case_id": closed.id, "title": "Old closed case", "reason": why}]


def test_close_ends_the_cases_through_the_workflow(world, cases):
    made, closed, _ = cases
    mark = last_event_id()
    result = bulk.apply(world.consultant_a, "close", None, case_ids=[made[0].id, closed.id])
    db.session.expire_all()
    assert [c.id for c in result.moved] == [made[0].id]
    assert result.refused[0][1] == "The case is already in status Closed."
    case = db.session.get(Case, made[0].id)
    assert case.status == "closed" and case.closed_at is not None
    changes = [e for e in events_since(made[0].id, mark) if e.kind == "status_changed"]
    assert [e.summary for e in changes] == ["Status: Open → Closed (bulk change)"]


def test_all_matching_takes_the_filters_across_batches(world, cases, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH", 2)
    made, closed, foreign = cases
    result = bulk.apply(world.consultant_a, "priority", "high",
                        filters=CaseFilters(assignee="all", reason="intellectual_property"))
    assert {c.id for c in result.moved} == {made[1].id, made[2].id}
    db.session.expire_all()
    assert db.session.get(Case, made[0].id).priority == "normal"  # another reason
    assert db.session.get(BulkAction, result.bulk.id).scope == "matching"

    result = bulk.apply(world.consultant_a, "priority", "low", filters=CaseFilters(assignee="all"))
    assert {c.id for c in result.moved} == {c.id for c in made} | {closed.id}
    assert db.session.get(Case, foreign.id).priority == "normal"


def test_another_agencys_ids_are_not_found_and_never_touched(world, cases):
    made, _, foreign = cases
    mark = last_event_id()
    result = bulk.apply(world.consultant_a, "close", None, case_ids=[foreign.id, made[0].id])
    db.session.expire_all()
    assert [c.id for c in result.moved] == [made[0].id]
    assert result.refused == [(None, "No such case.")]
    assert db.session.get(Case, foreign.id).status == "open"
    assert events_since(foreign.id, mark) == []
    stored = db.session.get(BulkAction, result.bulk.id)
    assert stored.refused[0] == {"case_id": foreign.id, "title": "", "reason": "No such case."}
    # Agency B's admin cannot see or undo agency A's bulk action.
    with pytest.raises(NotFound):
        bulk.undo(world.admin_b, result.bulk.id)


def test_bad_values_and_empty_selections_change_nothing(world, cases):
    made, _, _ = cases
    gone = make_user(world.agency_a, "gone@agency-a.example", name="Gone Person")
    people.set_active(world.admin_a, gone.id, False)
    outsider = world.consultant_b
    for action, value in (("reassign", str(gone.id)), ("reassign", str(outsider.id)),
                          ("priority", "whenever"), ("status", "finished"), ("delete", "")):
        with pytest.raises(ValidationFailed):
            bulk.apply(world.consultant_a, action, value, case_ids=[made[0].id])
    with pytest.raises(ValidationFailed, match="Select at least one case"):
        bulk.apply(world.consultant_a, "close", None, case_ids=[])
    with pytest.raises(ValidationFailed, match="No case matches"):
        bulk.apply(world.consultant_a, "close", None, filters=CaseFilters(assignee="none"))
    assert db.session.scalar(select(BulkAction.id)) is None


def test_more_than_the_cap_is_refused_with_the_count(world, cases, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_CASES", 2)
    monkeypatch.setattr(bulk, "BATCH", 2)
    made, _, _ = cases
    with pytest.raises(ValidationFailed) as refused:
        bulk.apply(world.consultant_a, "close", None, filters=CaseFilters(assignee="all"))
    assert refused.value.message == ("More than 2 cases is more than a bulk action takes (2 at most); "
                                     "narrow the filter and apply it in parts.")
    with pytest.raises(ValidationFailed, match="^3 cases is more than a bulk action takes"):
        bulk.apply(world.consultant_a, "close", None, case_ids=[c.id for c in made])
    db.session.expire_all()
    assert {db.session.get(Case, c.id).status for c in made} == {"open"}
    assert bulk.matching_count(world.consultant_a, CaseFilters(assignee="all")) == 3


def test_undo_puts_back_each_assignee_once(world, cases):
    made, _, _ = cases
    from caseapp.services.cases import records
    records.update_case(world.consultant_a, made[2].id, {"assignee_id": None})
    result = bulk.apply(world.consultant_a, "reassign", str(world.admin_a.id), case_ids=[c.id for c in made])
    mark = last_event_id()
    undone = bulk.undo(world.consultant_a, result.bulk.id)
    db.session.expire_all()
    assert undone.undone_count == 3 and undone.not_undone == []
    assert [db.session.get(Case, c.id).assignee_id for c in made] == [world.consultant_a.id] * 2 + [None]
    entries = events_since(made[0].id, mark)
    assert [e.summary for e in entries] == ["Assigned to Carl Consultant (bulk change undone)"]
    assert entries[0].data == {"assignee_id": world.consultant_a.id, "previous_assignee_id": world.admin_a.id,
                               "bulk_id": result.bulk.id, "bulk_undo": True}
    assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.kind == "bulk_undo")).startswith(
        f"bulk {result.bulk.id}: undid Reassign to Ada Admin: 3 put back")
    with pytest.raises(Conflict, match="already undone"):
        bulk.undo(world.consultant_a, result.bulk.id)


def test_undo_leaves_what_someone_changed_since_and_what_the_workflow_refuses(world, cases):
    made, _, _ = cases
    workflow.change_status(world.consultant_a, made[1].id, "drafting")
    result = bulk.apply(world.consultant_a, "close", None, case_ids=[c.id for c in made])
    workflow.change_status(world.admin_a, made[2].id, "open")  # reopened by someone else
    undone = bulk.undo(world.consultant_a, result.bulk.id)
    db.session.expire_all()
    assert db.session.get(Case, made[0].id).status == "open"
    assert db.session.get(Case, made[1].id).status == "closed"
    assert undone.not_undone == [
        {"case_id": made[1].id, "title": made[1].title,
         "reason": "A case cannot move from Closed to Drafting POA: a closed or reinstated case "
                   "must be reopened before a new POA is drafted. Move it by hand on the case page."},
        {"case_id": made[2].id, "title": made[2].title,
         "reason": "Changed since the bulk action: now Open; left as it is."},
    ]
    assert undone.undone_count == 1


def test_undo_corrects_a_status_only_amazon_sets_but_never_restores_submitted(world, cases):
    from caseapp.services.appeals import submissions

    made, _, _ = cases
    actor = world.consultant_a
    for case in made[:2]:
        workflow.change_status(actor, case.id, "drafting")
        sent = submissions.record_submission(actor, case.id, {})
        if case is made[0]:
            submissions.record_response(actor, sent.id, {"outcome": "rejected"})
    db.session.expire_all()
    assert [db.session.get(Case, c.id).status for c in made[:2]] == ["denied", "submitted"]
    result = bulk.apply(actor, "status", "drafting", case_ids=[c.id for c in made[:2]])
    assert len(result.moved) == 2
    mark = last_event_id()
    undone = bulk.undo(actor, result.bulk.id)
    db.session.expire_all()
    assert undone.undone_count == 1
    assert [db.session.get(Case, c.id).status for c in made[:2]] == ["denied", "drafting"]
    back = [e for e in events_since(made[0].id, mark) if e.kind == "status_changed"]
    assert [(e.summary, e.data["by"]) for e in back] == [
        ("Status: Drafting POA → Denied (bulk change undone)", "correction")]
    # Leaving "Submitted" stopped the follow-ups: put back, it would be waiting on Amazon
    # with nothing chasing; so it stays, and the result says what to do.
    assert undone.not_undone == [{"case_id": made[1].id, "title": made[1].title, "reason": (
        "Moving it off Submitted to Amazon stopped its follow-ups, which an undo cannot restart: "
        "record Amazon's reply or a new submission on the case page.")}]
    assert events_since(made[1].id, mark) == []


def test_only_the_latest_of_ones_own_within_a_day(world, cases):
    made, _, _ = cases
    first = bulk.apply(world.consultant_a, "priority", "high", case_ids=[made[0].id])
    second = bulk.apply(world.consultant_a, "priority", "low", case_ids=[made[1].id])
    with pytest.raises(Conflict, match="Only your latest bulk action"):
        bulk.undo(world.consultant_a, first.bulk.id)
    with pytest.raises(NotFound):  # a colleague's bulk action is not theirs to undo
        bulk.undo(world.admin_a, second.bulk.id)
    later = utcnow() + timedelta(hours=bulk.UNDO_HOURS, minutes=1)
    with pytest.raises(Conflict, match="within 24 hours"):
        bulk.undo(world.consultant_a, second.bulk.id, now=later)
    db.session.expire_all()
    assert db.session.get(Case, made[1].id).priority == "low"
    bulk.undo(world.consultant_a, second.bulk.id)
    db.session.expire_all()
    assert db.session.get(Case, made[1].id).priority == "normal"


def test_each_case_costs_the_same_few_statements(world):
    from tests.cost import statements

    actor = world.consultant_a
    counts = []
    for n in (2, 4, 6):
        made = [make_case(actor, world.client_a, title=f"Case {n}.{i}").id for i in range(n)]
        db.session.commit()
        with statements() as seen:
            bulk.apply(actor, "reassign", str(world.admin_a.id), case_ids=made)
        counts.append(len(seen))
    per_two = counts[1] - counts[0]
    assert counts[2] - counts[1] == per_two, counts  # linear: a fixed cost per case
    assert per_two / 2 <= 8, counts
