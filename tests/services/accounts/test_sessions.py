"""Server-side sign-in sessions: found in one indexed query, ended for good."""
from datetime import timedelta

from caseapp.extensions import db
from caseapp.models import UserSession, utcnow
from caseapp.services.accounts import sessions
from tests.cost import statements


def test_a_session_and_its_user_come_in_one_query(app, world):
    sessions.start(world.consultant_a, False, "198.51.100.9", "test")
    identity = world.consultant_a.get_id()
    db.session.expunge_all()  # as a fresh request starts
    with statements() as seen:
        user, row = sessions.find(identity)
        assert user.agency.name == "Agency A" and row.user_id == user.id
    assert len(seen) == 1 and "key_hash" in seen[0]


def test_an_identity_names_its_person_and_an_open_session_only(app, world):
    row = sessions.start(world.consultant_a, False, "198.51.100.9", "test")
    identity = world.consultant_a.get_id()
    user_id, key = identity.split(":")
    assert sessions.find(identity)[1].id == row.id
    assert sessions.find(f"{world.admin_a.id}:{key}") is None  # another person's id
    assert sessions.find(f"{user_id}:not-the-key") is None
    assert sessions.find(f"{user_id}:1") is None  # the identity of the old session versions
    assert sessions.find("") is None and sessions.find(user_id) is None
    sessions.end(row, "signed_out")
    assert sessions.find(identity) is None


def test_sessions_lapse_by_idleness_or_after_the_remember_days(app, world):
    now = utcnow()
    plain = sessions.start(world.consultant_a, False, "", "", now=now)
    kept = sessions.start(world.consultant_a, True, "", "", now=now)
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    days = app.config["REMEMBER_COOKIE_DURATION"]
    assert sessions.lapsed(plain, now + idle) is None
    assert sessions.lapsed(plain, now + idle + timedelta(seconds=1)) == "idle"
    assert sessions.lapsed(kept, now + idle * 10) is None
    assert sessions.lapsed(kept, now + days) == "expired"


def test_use_is_written_at_most_once_a_minute(app, world):
    now = utcnow()
    row = sessions.start(world.consultant_a, False, "198.51.100.9", "", now=now)
    sessions.touch(row, "198.51.100.10", now + timedelta(seconds=30))
    assert row.last_seen_at == now and row.last_ip == "198.51.100.9"
    sessions.touch(row, "198.51.100.10", now + timedelta(seconds=61))
    db.session.expire_all()
    row = db.session.get(UserSession, row.id)
    assert row.last_seen_at == now + timedelta(seconds=61) and row.last_ip == "198.51.100.10"


def test_ending_all_sessions_leaves_other_people_alone(app, world):
    mine = [sessions.start(world.consultant_a, r, "", "") for r in (False, True)]
    theirs = sessions.start(world.admin_a, False, "", "")
    sessions.end(mine[0], "signed_out")
    sessions.end_all(world.consultant_a, "password_changed")
    db.session.commit()
    db.session.expire_all()
    reasons = {r.id: (r.ended_at is not None, r.end_reason) for r in db.session.scalars(db.select(UserSession))}
    assert reasons == {mine[0].id: (True, "signed_out"), mine[1].id: (True, "password_changed"),
                       theirs.id: (False, "")}
