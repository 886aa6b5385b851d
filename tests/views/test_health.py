"""`/healthz`: no sign-in, pings the database, 503 when the database cannot be reached."""
from caseapp import create_app
from config import TestingConfig


def test_healthz_answers_ok_without_signing_in(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # no session for probes


def test_healthz_is_503_json_when_the_database_is_down(tmp_path):
    class Unreachable(TestingConfig):
        # A SQLite file in a folder that does not exist cannot be opened: a database that is down.
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}"

    response = create_app(Unreachable).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.is_json
    assert response.get_json()["status"] == "unavailable"


def test_healthz_only_answers_get(app):
    assert app.test_client().post("/healthz").status_code == 405
