"""Notes: their author and the agency's admins edit and delete them; the timeline keeps
who did it, when, and the text as it was."""
import pytest

from caseapp.extensions import db
from caseapp.models import AuditEvent, CaseEvent, Note
from caseapp.services.cases import records
from caseapp.core.errors import Forbidden, NotFound, ValidationFailed
from tests.conftest import make_user


def timeline(world) -> list[CaseEvent]:
    db.session.expire_all()
    return records.events(world.consultant_a, world.case_a.id, newest_first=False)


@pytest.fixture
def note(world) -> Note:
    return records.add_note(world.consultant_a, world.case_a.id, "Called **Dana**\nInvoices by Friday")


def test_the_author_edits_a_note_and_the_timeline_keeps_the_earlier_text(world, note):
    edited = records.edit_note(world.consultant_a, note.id, "  Called Dana twice\nInvoices on Monday  ")
    assert edited.body == "Called Dana twice\nInvoices on Monday" and edited.edited_at is not None
    events = timeline(world)
    assert [e.kind for e in events][-2:] == ["note_added", "note_edited"]
    added, edit = events[-2:]
    assert edit.summary == "Note edited by Carl Consultant" and edit.actor_id == world.consultant_a.id
    assert edit.data == {"note_id": note.id, "previous_body": "Called **Dana**\nInvoices by Friday"}
    assert added.summary == "Note: Called Dana twice"  # the entry sums up the note as it now reads


def test_an_admin_edits_and_deletes_a_consultants_note(world, note):
    records.edit_note(world.admin_a, note.id, "Corrected by the admin")
    records.delete_note(world.admin_a, note.id)
    assert db.session.get(Note, note.id) is None
    events = timeline(world)
    assert [e.kind for e in events][-3:] == ["note_added", "note_edited", "note_deleted"]
    assert events[-1].summary == "Note deleted by Ada Admin" and events[-1].actor_id == world.admin_a.id
    assert events[-1].data["body"] == "Corrected by the admin"  # kept for the record, never shown
    assert events[-3].summary == "Note (deleted)"  # the first line no longer reads as a live note
    audit = db.session.scalar(db.select(AuditEvent).where(AuditEvent.kind == "deletion"))
    assert audit.actor_id == world.admin_a.id and audit.target == f"note {note.id} of case {world.case_a.id}"


def test_another_consultant_may_neither_edit_nor_delete(world, note):
    colleague = make_user(world.agency_a, "colleague@agency-a.example", "consultant", "Cora Colleague")
    with pytest.raises(Forbidden) as error:
        records.edit_note(colleague, note.id, "Mine now")
    assert "author or an agency admin" in error.value.message
    with pytest.raises(Forbidden):
        records.delete_note(colleague, note.id)
    with pytest.raises(Forbidden):  # refused before the text is even looked at
        records.edit_note(colleague, note.id, "")
    db.session.expire_all()
    assert db.session.get(Note, note.id).body == "Called **Dana**\nInvoices by Friday"
    assert [e.kind for e in timeline(world)][-1] == "note_added"


def test_another_agencys_note_is_not_found(world, note):
    for actor in (world.admin_b, world.consultant_b):
        with pytest.raises(NotFound):
            records.edit_note(actor, note.id, "x")
        with pytest.raises(NotFound):
            records.delete_note(actor, note.id)
    with pytest.raises(NotFound):
        records.edit_note(world.admin_a, note.id + 1000, "x")


@pytest.mark.parametrize("body, message", [
    ("   ", "cannot be empty"), (None, "cannot be empty"), (42, "Must be text"),
    ("x" * 20001, "at most 20,000 characters"),
])
def test_an_edit_is_checked_like_a_new_note(world, note, body, message):
    with pytest.raises(ValidationFailed) as error:
        records.edit_note(world.consultant_a, note.id, body)
    assert message in error.value.fields["body"]
    db.session.expire_all()
    assert db.session.get(Note, note.id).edited_at is None


def test_saving_the_same_text_writes_no_entry(world, note):
    records.edit_note(world.consultant_a, note.id, note.body + "\n")
    assert [e.kind for e in timeline(world)][-1] == "note_added"
    assert db.session.get(Note, note.id).edited_at is None


def test_a_deleted_note_cannot_be_edited_or_deleted_again(world, note):
    records.delete_note(world.consultant_a, note.id)
    with pytest.raises(NotFound):
        records.edit_note(world.consultant_a, note.id, "again")
    with pytest.raises(NotFound):
        records.delete_note(world.admin_a, note.id)


def test_edit_and_delete_touch_the_case(world, note):
    before = db.session.get(type(world.case_a), world.case_a.id).updated_at
    records.edit_note(world.consultant_a, note.id, "Later text")
    db.session.expire_all()
    edited = db.session.get(type(world.case_a), world.case_a.id).updated_at
    assert edited > before
    records.delete_note(world.consultant_a, note.id)
    db.session.expire_all()
    assert db.session.get(type(world.case_a), world.case_a.id).updated_at > edited
