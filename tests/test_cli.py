import pytest

from caseapp.extensions import db
from caseapp.models import Agency, Case, CaseEvent, User
from caseapp.services.accounts import people


def test_agencies_and_users_create(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["agencies", "create", "Acme Appeals", "--timezone", "Europe/London"])
    assert result.exit_code == 0, result.output
    assert "Created agency Acme Appeals" in result.output
    result = runner.invoke(args=["users", "create", "Lee@Acme.example", "--agency", "acme appeals",
                                 "--name", "Lee Park", "--role", "admin", "--password-stdin"],
                           input="a-very-long-password\n")
    assert result.exit_code == 0, result.output
    user = people.authenticate("lee@acme.example", "a-very-long-password")
    assert user is not None and user.is_admin and user.agency.name == "Acme Appeals"


def test_users_create_prompts_for_the_password(app):
    people.create_agency("Acme Appeals")
    result = app.test_cli_runner().invoke(
        args=["users", "create", "kai@acme.example", "--agency", "Acme Appeals", "--name", "Kai",
              "--role", "consultant"], input="prompted-password-1\nprompted-password-1\n")
    assert result.exit_code == 0, result.output
    assert people.authenticate("kai@acme.example", "prompted-password-1") is not None


def test_cli_errors_are_clear_and_write_nothing(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["agencies", "create", "Acme", "--timezone", "Nowhere/City"])
    assert result.exit_code != 0 and "not a time zone name" in result.output
    result = runner.invoke(args=["users", "create", "x@acme.example", "--agency", "Missing",
                                 "--name", "X", "--role", "admin", "--password-stdin"], input="long-password-1\n")
    assert result.exit_code != 0 and "No agency named 'Missing'" in result.output
    people.create_agency("Acme")
    result = runner.invoke(args=["users", "create", "x@acme.example", "--agency", "Acme",
                                 "--name", "X", "--role", "admin", "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_demo_seed_fills_an_empty_database_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "admin@northwind.example" in result.output and "password:" in result.output
    cases_before = db.session.scalar(db.select(db.func.count(Case.id)))
    assert cases_before >= 5
    assert db.session.scalar(db.select(db.func.count(CaseEvent.id))) > cases_before
    result = runner.invoke(args=["demo", "seed"])
    assert "already has agencies" in result.output
    assert db.session.scalar(db.select(db.func.count(Agency.id))) == 1


def test_serve_command_serves_pages_with_the_scheduler(database_url, _schema, tmp_path):
    """What `make run` starts: the web server with the scheduler inside, answering requests."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from tests.smtp import free_port

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "serve-test", "CASEAPP_ENV": "development",
           "CASEAPP_INSTANCE_DIR": str(tmp_path), "SCHEDULER_ENABLED": "true"}
    env.pop("APP_BASE_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
                              cwd=Path(__file__).resolve().parents[1], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    assert response.status == 200 and b"Sign in" in response.read()
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not answer")
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "scheduler: running inside the web process" in output
    assert f"links in emails: http://127.0.0.1:{port}" in output  # not port 5000


def test_users_set_password_for_when_no_mail_can_carry_a_reset(app):
    agency = people.create_agency("Acme")
    user = people.create_user(agency, "kai@acme.example", "Kai", "admin", "first-password-kai")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "set-password", "kai@acme.example", "--password-stdin"],
                           input="short\n")
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = runner.invoke(args=["users", "set-password", "KAI@acme.example", "--password-stdin"],
                           input="second-password-kai-77\n")
    assert result.exit_code == 0, result.output
    assert people.authenticate("kai@acme.example", "second-password-kai-77").id == user.id
    assert people.authenticate("kai@acme.example", "first-password-kai") is None
    result = runner.invoke(args=["users", "set-password", "nobody@acme.example", "--password-stdin"],
                           input="whatever-password-1\n")
    assert result.exit_code != 0 and "No user with the email" in result.output


# ---------------------------------------------------------------- a database without tables (issue 14)

def test_run_due_without_tables_says_what_to_do_and_creates_no_database_file(tmp_path):
    """The reported case: `flask reminders run-due` where DATABASE_URL is not the app's database."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    missing = tmp_path / "instance" / "caseapp.sqlite"
    env = {**os.environ, "CASEAPP_ENV": "development", "CASEAPP_INSTANCE_DIR": str(tmp_path / "instance"),
           "DATABASE_URL": f"sqlite:///{missing}"}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "reminders", "run-due"],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "no such table" not in done.stderr
    assert (f"The database at sqlite:///{missing} has no caseapp tables" in done.stderr
            and "run `flask --app wsgi db upgrade`" in done.stderr and "DATABASE_URL" in done.stderr)
    assert not missing.exists()


@pytest.fixture
def tableless(tmp_path):
    """An app whose SQLite database file is not there (or, once touched, is empty)."""
    from config import TestingConfig

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
        INSTANCE_DIR = tmp_path / "instance"
        EVIDENCE_DIR = str(tmp_path / "evidence")

    from caseapp import create_app

    return create_app(Config), tmp_path / "elsewhere.sqlite"


COMMANDS_ON_TABLES = [
    ["reminders", "run-due"], ["demo", "seed"], ["scheduler"], ["serve", "--port", "1"],
    ["agencies", "create", "Acme"], ["tokens", "create", "lee@acme.example"],
    ["users", "create", "lee@acme.example", "--agency", "Acme", "--name", "Lee", "--role", "admin",
     "--password-stdin"],
    ["users", "set-password", "lee@acme.example", "--password-stdin"], ["backup", "--output", "out"],
]


@pytest.mark.parametrize("touched", [False, True], ids=["no file", "empty file"])
def test_every_command_on_the_tables_refuses_a_database_without_them(tableless, touched):
    app, path = tableless
    if touched:
        path.touch()
    runner = app.test_cli_runner()
    for args in COMMANDS_ON_TABLES:
        result = runner.invoke(args=args, input="a-long-password-1\n")
        assert result.exit_code == 1, (args, result.output)
        assert "has no caseapp tables" in result.output and "db upgrade" in result.output, args
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        assert path.exists() == touched, args  # no database file made


def test_a_partly_migrated_database_names_the_missing_tables(tableless):
    import sqlite3

    app, path = tableless
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE agencies (id INTEGER PRIMARY KEY)")
    result = app.test_cli_runner().invoke(args=["reminders", "run-due"])
    assert result.exit_code == 1
    assert "lacks caseapp tables (" in result.output and "db upgrade" in result.output


# ---------------------------------------------------------------- serve: links and the demo sign-in (issue 14)

@pytest.fixture
def served(app, monkeypatch):
    """`flask serve` without the server: what it set up when it would start serving."""
    import caseapp.cli
    from caseapp.core.urls import external_url

    seen = {}

    def fake_run_simple(host, port, application, **_kwargs):
        with application.app_context():
            seen["link"] = external_url("cases.detail", case_id=7)

    monkeypatch.setattr(caseapp.cli, "run_simple", fake_run_simple)
    app.config["SCHEDULER_ENABLED"] = False
    return seen


def test_serve_on_another_port_mails_links_to_that_port(app, served, monkeypatch):
    monkeypatch.delenv("APP_BASE_URL", raising=False)
    result = app.test_cli_runner().invoke(args=["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert served["link"] == "http://127.0.0.1:8123/cases/7"
    assert "links in emails: http://127.0.0.1:8123" in result.output
    result = app.test_cli_runner().invoke(args=["serve", "--host", "0.0.0.0", "--port", "8124"])
    assert served["link"] == "http://127.0.0.1:8124/cases/7"
    assert "set APP_BASE_URL" in result.output


def test_serve_keeps_an_app_base_url_that_was_set(app, served, monkeypatch):
    monkeypatch.setenv("APP_BASE_URL", "https://cases.agency.example")
    app.config["APP_BASE_URL"] = "https://cases.agency.example"
    result = app.test_cli_runner().invoke(args=["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert served["link"] == "https://cases.agency.example/cases/7"


def test_serve_prints_the_demo_sign_in_at_every_start_while_the_demo_data_is_there(app, served, monkeypatch):
    monkeypatch.delenv("APP_BASE_URL", raising=False)
    runner = app.test_cli_runner()
    assert "Demo sign-in" not in runner.invoke(args=["serve"]).output  # no demo data
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    for _start in range(2):
        output = runner.invoke(args=["serve", "--port", "8125"]).output
        assert "Demo sign-in:" in output
        assert "admin@northwind.example  password: caseapp-demo-2026" in output
