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


def test_serve_command_serves_pages_with_the_scheduler(database_url, tmp_path):
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
