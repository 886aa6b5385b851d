"""Sign-in checks a password the same way whether or not the email has an account."""
import pytest
import werkzeug.security

from caseapp.services.accounts import people
from tests.conftest import PASSWORD


@pytest.fixture
def hashing(monkeypatch):
    """The method of every password hash computed, in order (werkzeug's one hashing step)."""
    methods = []
    real = werkzeug.security._hash_internal

    def counting(method, salt, password):
        methods.append(method)
        return real(method, salt, password)

    monkeypatch.setattr(werkzeug.security, "_hash_internal", counting)
    return methods


def _work(hashing, email, password="wrong-password-here"):
    hashing.clear()
    result = people.authenticate(email, password)
    return result, list(hashing)


def test_unknown_inactive_and_known_emails_cost_one_hash_of_the_same_kind(app, world, hashing):
    real_method = world.consultant_a.password_hash.split("$", 1)[0]
    people.set_active(world.admin_a, world.consultant_a.id, False)
    people.authenticate("warm-up@nowhere.example", "x")  # a process makes its stand-in hash once
    known = _work(hashing, world.admin_a.email)
    unknown = _work(hashing, "nobody@nowhere.example")
    inactive = _work(hashing, world.consultant_a.email, PASSWORD)  # even with the right password
    assert known == unknown == inactive == (None, [real_method])
    signed_in, work = _work(hashing, world.admin_a.email, PASSWORD)
    assert signed_in.id == world.admin_a.id and work == [real_method]


def test_the_stand_in_hash_follows_the_configured_method(app, world, hashing):
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:2000"
    people.authenticate("warm-up@nowhere.example", "x")
    assert _work(hashing, "nobody@nowhere.example") == (None, ["pbkdf2:sha256:2000"])
