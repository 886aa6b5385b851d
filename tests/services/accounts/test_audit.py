"""audit.record adds to the caller's unit of work and never commits on its own."""
from sqlalchemy import func, select

from caseapp.core.transaction import transaction
from caseapp.extensions import db
from caseapp.models import AuditEvent
from caseapp.services.accounts import audit


def _count() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)))


def test_an_entry_is_saved_by_the_unit_of_work_around_it(world):
    with transaction():
        audit.record("sign_in", world.consultant_a)
    db.session.remove()
    assert _count() == 1


def test_an_entry_goes_with_the_work_it_records_when_that_fails(world):
    try:
        with transaction():
            audit.record("deletion", world.admin_a, target="client 1")
            raise RuntimeError("the deletion failed")
    except RuntimeError:
        pass
    db.session.remove()
    assert _count() == 0


def test_record_alone_does_not_commit(world):
    audit.record("sign_in", world.consultant_a)
    db.session.rollback()
    assert _count() == 0
