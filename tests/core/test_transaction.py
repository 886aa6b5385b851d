"""core.transaction: the one place caseapp commits, and what a unit of work saves."""
import pytest
from sqlalchemy import func, select

from caseapp.core.transaction import (
    PartlyFailed, abandon, after_commit, on_rollback, transaction, transactional,
)
from caseapp.extensions import db
from caseapp.models import Agency
from caseapp.services.accounts import people


def saved_names() -> set[str]:
    """What another connection would see: the session's pending state is thrown away first."""
    db.session.rollback()
    return set(db.session.scalars(select(Agency.name)))


def test_the_outermost_block_saves_everything_inside_it(app):
    with transaction():
        people.create_agency("North")
        with transaction():
            people.create_agency("South")
        assert db.session.scalar(select(func.count(Agency.id))) == 2
        with db.engine.connect() as other:  # nothing is committed while the outer block runs
            assert other.scalar(select(func.count(Agency.id))) == 0
    assert saved_names() == {"North", "South"}


def test_an_error_anywhere_in_the_block_saves_nothing_of_it(app):
    with pytest.raises(ValueError):
        with transaction():
            people.create_agency("North")
            raise ValueError("boom")
    assert saved_names() == set()


def test_a_service_called_alone_saves_at_once(app):
    people.create_agency("Alone")
    assert saved_names() == {"Alone"}


def test_a_refused_second_step_takes_the_first_step_back(app):
    people.create_agency("Taken")
    with pytest.raises(Exception):
        with transaction():
            people.create_agency("Kept only with the second")
            people.create_agency("Taken")  # unique name: the flush fails
    assert saved_names() == {"Taken"}


def test_catching_an_inner_failure_saves_nothing_and_says_so(app):
    @transactional
    def half_done():
        people.create_agency("Half")
        raise LookupError("second half failed")

    with pytest.raises(PartlyFailed):
        with transaction():
            people.create_agency("Before")
            try:
                half_done()
            except LookupError:
                pass
    assert saved_names() == set()
    people.create_agency("Later")  # the session works again afterwards
    assert saved_names() == {"Later"}


def test_after_commit_runs_only_once_saved_and_on_rollback_only_when_not(app):
    ran = []
    with transaction():
        after_commit(lambda: ran.append("saved"))
        on_rollback(lambda: ran.append("undone"))
        people.create_agency("One")
    assert ran == ["saved"]

    ran.clear()
    with pytest.raises(KeyError):
        with transaction():
            after_commit(lambda: ran.append("saved"))
            on_rollback(lambda: ran.append("undone"))
            raise KeyError("x")
    assert ran == ["undone"]


def test_abandon_rolls_the_block_back_without_an_error(app):
    with transaction():
        people.create_agency("Never")
        abandon()
    assert saved_names() == set()


def test_callbacks_need_an_open_unit_of_work(app):
    with pytest.raises(RuntimeError):
        after_commit(lambda: None)
    with pytest.raises(RuntimeError):
        on_rollback(lambda: None)
