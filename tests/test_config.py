"""Start-up checks: production refuses a weak SECRET_KEY or an APP_BASE_URL people cannot use,
and the development instance folder, secret and database are private to their owner."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

import config
from caseapp import create_app
from caseapp.extensions import db

ROOT = Path(__file__).resolve().parents[1]

GOOD_KEY = "Zq3vX9-kLrT2wYp8NcB5hJm4sFd7GaQe1UoVi6Ry0Ex"  # secrets.token_urlsafe(32)
GOOD_URL = "https://cases.agency.example"


def production(**settings):
    class Config(config.ProductionConfig):
        SECRET_KEY = GOOD_KEY
        APP_BASE_URL = GOOD_URL
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    for name, value in settings.items():
        setattr(Config, name, value)
    return Config


def test_a_sound_production_configuration_starts(app):
    started = create_app(production())
    assert started.config["SECRET_KEY"] == GOOD_KEY
    with started.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("key", [
    "x",
    "testing-secret-key",
    "a" * 40,
    "01234567890123456789012345678901",
    "qwertyuiopasdfghjklzxcvbnm12345678",
    "please-change-this-secret-key-before-deploying",
    "replace-me-with-a-long-random-string-0000",
])
def test_production_refuses_a_short_or_guessable_secret_key(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY") as error:
        create_app(production(SECRET_KEY=key))
    assert "secrets.token_urlsafe" in str(error.value)  # it says how to make a good one
    assert key not in str(error.value)  # and does not print the key into the logs


def test_production_refuses_the_key_from_the_environment_too(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    Config = production()
    del Config.SECRET_KEY  # read from the environment, as gunicorn would
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Config)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:5000",  # the default: APP_BASE_URL unset
    "https://localhost", "https://app.localhost:8443", "https://127.0.0.1", "https://127.1.2.3/",
    "https://[::1]:8000", "https://0.0.0.0", "http://cases.agency.example", "cases.agency.example",
    "https://", "https://cases.agency.example/?next=x", "https://user:pw@cases.agency.example",
])
def test_production_refuses_an_app_base_url_people_cannot_use(url):
    with pytest.raises(RuntimeError, match="APP_BASE_URL"):
        create_app(production(APP_BASE_URL=url))


@pytest.mark.parametrize("url", ["https://cases.agency.example", "https://agency.example/caseapp/",
                                 "https://10.0.0.5:8443"])
def test_production_takes_an_https_address(app, url):
    started = create_app(production(APP_BASE_URL=url))
    with started.app_context():
        db.engine.dispose()


def test_production_names_every_problem_at_once():
    with pytest.raises(RuntimeError) as error:
        create_app(production(SECRET_KEY="x", APP_BASE_URL="http://127.0.0.1:5000"))
    assert "SECRET_KEY" in str(error.value) and "APP_BASE_URL" in str(error.value)


def test_development_keeps_its_defaults(app, tmp_path, monkeypatch):
    class Config(config.DevelopmentConfig):
        SECRET_KEY = "x"  # a laptop may use anything
        SQLALCHEMY_DATABASE_URI = "sqlite://"
        SCHEDULER_ENABLED = False

    started = create_app(Config)
    assert started.config["APP_BASE_URL"] == "http://127.0.0.1:5000"
    with started.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("value, expected", [("true", True), (" Yes ", True), ("1", True), ("on", True),
                                             ("false", False), ("NO", False), ("0", False), ("", None)])
def test_a_switch_reads_the_usual_words(monkeypatch, value, expected):
    monkeypatch.setenv("CASEAPP_TEST_SWITCH", value)
    assert config._bool("CASEAPP_TEST_SWITCH", None) is expected


@pytest.mark.parametrize("name, value", [("MAIL_USE_TLS", "ture"), ("SCHEDULER_ENABLED", "enabled"),
                                         ("MAIL_PORT", "587a"), ("FOLLOW_UP_HOURS", "two days")])
def test_a_mistyped_setting_stops_start_up_and_names_itself(tmp_path, name, value):
    env = {**os.environ, name: value, "CASEAPP_INSTANCE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import config"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert f"{name}={value!r}" in done.stderr and "cannot start" in done.stderr


# ---------------------------------------------------------------- file permissions

def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # the usual umask: files 0644 and folders 0755 unless asked otherwise
    yield
    os.umask(old)


def test_the_development_instance_folder_database_and_secret_are_private(tmp_path, umask_022):
    instance = tmp_path / "instance"
    database = instance / "caseapp.sqlite"

    class Config(config.DevelopmentConfig):
        INSTANCE_DIR = instance
        SECRET_KEY = None  # generated into the instance folder
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{database}"
        SCHEDULER_ENABLED = False

    started = create_app(Config)
    with started.app_context():
        db.session.execute(text("CREATE TABLE probe (x INTEGER)"))
        db.session.execute(text("INSERT INTO probe VALUES (1)"))
        db.session.commit()
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        wal, shm = database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")
        assert wal.exists() and shm.exists()
        modes = {p.name: _mode(p) for p in (instance, database, wal, shm, instance / "secret_key")}
        db.session.remove()
        db.engine.dispose()
    assert modes == {"instance": 0o700, "caseapp.sqlite": 0o600, "caseapp.sqlite-wal": 0o600,
                     "caseapp.sqlite-shm": 0o600, "secret_key": 0o600}


def test_an_existing_database_file_is_left_as_it_is(tmp_path, umask_022):
    database = tmp_path / "shared.sqlite"
    database.touch(mode=0o640)  # someone chose group access on purpose

    class Config(config.DevelopmentConfig):
        INSTANCE_DIR = tmp_path / "instance"
        SECRET_KEY = "x"
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{database}"
        SCHEDULER_ENABLED = False

    started = create_app(Config)
    with started.app_context():
        db.engine.dispose()
    assert _mode(database) == 0o640
    assert not (tmp_path / "instance").exists()  # not the app's folder: not created
