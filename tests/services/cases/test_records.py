from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import CaseEvent
from caseapp.services.accounts import people
from caseapp.services.cases import records, timeline
from caseapp.services.appeals import workflow
from caseapp.services.cases import clients
from caseapp.core.errors import Forbidden, NotFound, ValidationFailed
from tests.conftest import make_case, make_client


@pytest.mark.parametrize("raw,expected", [
    ("b07xj8c8f5", ["B07XJ8C8F5"]),
    ("B07XJ8C8F5, B08N5WRWNW\nB09SUPP001", ["B07XJ8C8F5", "B08N5WRWNW", "B09SUPP001"]),
    (["B07XJ8C8F5", "b07xj8c8f5"], ["B07XJ8C8F5"]),
    ("", []),
])
def test_asins_are_upper_cased_and_deduplicated(raw, expected):
    assert records.parse_asins(raw) == expected


@pytest.mark.parametrize("raw", ["B07XJ8C8F", "B07XJ8C8F55", "B07XJ-8C8F", "B07XJ8C8F5 ÄBCDEFGHIJ", [12]])
def test_bad_asins_are_refused_and_named(raw):
    with pytest.raises(ValidationFailed) as error:
        records.parse_asins(raw)
    assert "10 letters and digits" in error.value.fields["asins"]


def test_case_creation_validates_every_field_at_once(world):
    with pytest.raises(ValidationFailed) as error:
        records.create_case(world.consultant_a, {
            "client_id": world.client_a.id, "title": "", "kind": "ban", "reason": "bad luck",
            "asins": "nope", "priority": "whenever"})
    assert set(error.value.fields) == {"title", "kind", "reason", "asins", "priority"}


def test_notice_date_in_the_future_is_refused(world):
    with pytest.raises(ValidationFailed) as error:
        make_case(world.consultant_a, world.client_a,
                  opened_at=datetime.now(timezone.utc) + timedelta(days=2))
    assert "future" in error.value.fields["opened_at"]


def test_a_case_cannot_use_another_agencys_client_or_assignee(world):
    with pytest.raises(ValidationFailed) as error:
        make_case(world.consultant_b, world.client_a)
    assert "client_id" in error.value.fields
    other_client = make_client(world.consultant_b, name="B's client")
    with pytest.raises(ValidationFailed) as error:
        make_case(world.consultant_b, other_client, assignee_id=world.consultant_a.id)
    assert "assignee_id" in error.value.fields


def test_another_agencys_case_and_client_are_not_found(world):
    with pytest.raises(NotFound):
        records.get_case(world.admin_b, world.case_a.id)
    with pytest.raises(NotFound):
        workflow.change_status(world.admin_b, world.case_a.id, "drafting")
    with pytest.raises(NotFound):
        records.add_note(world.admin_b, world.case_a.id, "hello")
    with pytest.raises(NotFound):
        clients.update_client(world.admin_b, world.client_a.id, {"name": "Stolen"})
    assert clients.get_client(world.admin_a, world.client_a.id).name == "Harbor Lane Home Goods"


def test_each_action_leaves_its_timeline_entry(world):
    actor, case = world.consultant_a, world.case_a
    records.update_case(actor, case.id, {"title": "Suspended for inauthentic complaints",
                                       "asins": "B07XJ8C8F5 B08N5WRWNW"})
    records.update_case(actor, case.id, {"assignee_id": world.admin_a.id})
    workflow.change_status(actor, case.id, "drafting")
    records.add_note(actor, case.id, "Called the seller.")
    events = records.events(actor, case.id, newest_first=False)
    assert [e.kind for e in events] == [
        "created", "assigned", "edited", "assigned", "status_changed", "note_added"]
    assert all(e.actor_id == actor.id for e in events)
    edited = events[2]
    assert edited.data["fields"] == ["asins", "title"]
    assert "ASINs" in edited.summary and "title" in edited.summary
    assert events[3].summary == "Assigned to Ada Admin"


def test_saving_unchanged_fields_records_nothing(world):
    actor, case = world.consultant_a, world.case_a
    before = len(records.events(actor, case.id))
    records.update_case(actor, case.id, {"title": case.title, "asins": ["b07xj8c8f5"]})
    assert len(records.events(actor, case.id)) == before


def test_deactivated_consultant_keeps_cases_but_cannot_get_new_ones(world):
    people.set_active(world.admin_a, world.consultant_a.id, False)
    assert records.get_case(world.admin_a, world.case_a.id).assignee_id == world.consultant_a.id
    with pytest.raises(ValidationFailed) as error:
        make_case(world.admin_a, world.client_a, assignee_id=world.consultant_a.id)
    assert "deactivated" in error.value.fields["assignee_id"]
    assert people.authenticate(world.consultant_a.email, "correct-horse-battery") is None


def test_only_admins_manage_people_and_settings(world):
    with pytest.raises(Forbidden):
        people.create_user(world.agency_a, "new@agency-a.example", "New", "consultant",
                             "a-long-password", actor=world.consultant_a)
    with pytest.raises(Forbidden):
        people.set_active(world.consultant_a, world.admin_a.id, False)
    with pytest.raises(Forbidden):
        people.update_agency_settings(world.consultant_a, "UTC", 24)
    with pytest.raises(Forbidden):
        clients.delete_client(world.consultant_a, world.client_a.id)


def test_the_last_admin_cannot_be_demoted_or_deactivated(world):
    from caseapp.core.errors import Conflict

    with pytest.raises(Conflict):
        people.update_user(world.admin_a, world.admin_a.id, "Ada", "consultant", None)
    with pytest.raises(Conflict):
        people.set_active(world.admin_a, world.admin_a.id, False)


def test_client_with_cases_cannot_be_deleted(world):
    from caseapp.core.errors import Conflict

    with pytest.raises(Conflict):
        clients.delete_client(world.admin_a, world.client_a.id)
    spare = make_client(world.admin_a, name="Spare Seller")
    clients.delete_client(world.admin_a, spare.id)
    with pytest.raises(NotFound):
        clients.get_client(world.admin_a, spare.id)


@pytest.mark.parametrize("field,value,message", [
    ("seller_id", "A1-B2", "8 to 20 letters and digits"),
    ("marketplace", "XX", "Choose one of"),
    ("contact_email", "not-an-email", "@"),
    ("name", "   ", "required"),
])
def test_client_fields_are_validated(world, field, value, message):
    data = {"name": "Seller", field: value}
    with pytest.raises(ValidationFailed) as error:
        clients.create_client(world.consultant_a, data)
    assert message.lower() in error.value.fields[field].lower()


def test_note_summary_is_plain_text(world):
    records.add_note(world.consultant_a, world.case_a.id, "**Evidence** from [the seller](https://x.example)\nmore")
    event = records.events(world.consultant_a, world.case_a.id)[0]
    assert event.summary == "Note: Evidence from the seller"


def test_gathered_timeline_entries_are_written_in_order_or_not_at_all(world):
    case = world.case_a
    before = list(db.session.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case.id)))
    with timeline.gathered():
        timeline.record(case, "note_added", world.consultant_a, "first")
        with timeline.gathered():  # nested: the outer block writes
            timeline.record(case, "note_added", world.consultant_a, "second")
        assert db.session.scalars(select(CaseEvent).where(CaseEvent.summary == "first")).all() == []
    written = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.id.not_in(before))
                                 .order_by(CaseEvent.id)).all()
    assert [(e.summary, e.actor_id) for e in written] == [("first", world.consultant_a.id),
                                                          ("second", world.consultant_a.id)]
    with pytest.raises(RuntimeError):
        with timeline.gathered():
            timeline.record(case, "note_added", world.consultant_a, "lost with the failure")
            raise RuntimeError("the batch failed")
    assert db.session.scalars(select(CaseEvent).where(CaseEvent.summary == "lost with the failure")).all() == []
    assert timeline.record(case, "note_added", None, "not gathered any more") is not None
