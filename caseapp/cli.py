"""Command line: `flask --app wsgi agencies|users|demo ...`."""
from __future__ import annotations

import functools
import os
import sys
from datetime import datetime, timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import inspect
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.serving import run_simple

from caseapp import scheduler
from caseapp.core import parsing
from caseapp.core.errors import DomainError
from caseapp.core.sqlite import sqlite_file
from caseapp.core.urls import WILDCARD_HOSTS, follow_server
from caseapp.extensions import db
from caseapp.models import ROLES
from caseapp.services.accounts import passwords, people, tokens
from caseapp.services.appeals import dispatch
from caseapp.services.cases import imports
from caseapp.services.deadlines import presets
from caseapp.services.inbound import filing, imap
from caseapp.services.ops import backup, demo

agencies_cli = AppGroup("agencies", help="Manage agencies.")
users_cli = AppGroup("users", help="Manage users.")
demo_cli = AppGroup("demo", help="Demo data.")
reminders_cli = AppGroup("reminders", help="Follow-up reminders.")
tokens_cli = AppGroup("tokens", help="API tokens.")
inbound_cli = AppGroup("inbound", help="Email in: file mail on its case.")
# `import` is a Python keyword: the group's function has another name.
import_cli = AppGroup("import", help="Bring a spreadsheet (CSV or XLSX) of clients or cases in.")
# sysexits.h EX_TEMPFAIL: an MTA keeps the message and delivers it again later.
EX_TEMPFAIL = 75
UNREACHABLE = "cannot open the database at"  # how database_problem() begins when it is away


def database_problem() -> str | None:
    """Why the configured database cannot serve caseapp yet, or None when it has every table.

    Looks without creating anything: a SQLite file that is not there is reported, never made
    (connecting would make an empty one), and nothing is written to a database that exists.
    """
    url = db.engine.url
    shown = url.render_as_string(hide_password=True)
    fix = "run `flask --app wsgi db upgrade` to create them, or set DATABASE_URL to caseapp's database"
    path = sqlite_file(url.render_as_string(hide_password=False))
    if path is not None and not path.exists():
        return f"the database at {shown} has no caseapp tables (there is no such file): {fix}."
    try:
        present = set(inspect(db.engine).get_table_names())
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return f"{UNREACHABLE} {shown}: {reason}. Check DATABASE_URL."
    missing = sorted(set(db.metadata.tables) - present)
    if not missing:
        return None
    db.engine.dispose()  # the command stops here: close the look's connection (and SQLite's WAL files)
    if len(missing) == len(db.metadata.tables):
        return f"the database at {shown} has no caseapp tables: {fix}."
    return (f"the database at {shown} lacks caseapp tables ({', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}): {fix}.")


def needs_database(command):
    """A command that reads or writes caseapp's tables: refused with a clear message (exit 1),
    before anything connects, when the database is not there or not migrated."""
    @functools.wraps(command)
    @with_appcontext
    def checked(*args, **kwargs):
        problem = database_problem()
        if problem:
            raise click.ClickException(problem[0].upper() + problem[1:])
        return command(*args, **kwargs)
    return checked


def _fail(error: DomainError) -> None:
    details = "".join(f"\n  {field}: {message}" for field, message in error.fields.items())
    raise click.ClickException(error.message + details)


@agencies_cli.command("create")
@click.argument("name")
@click.option("--timezone", default="UTC", show_default=True, help="IANA name, e.g. Europe/Berlin")
@needs_database
def create_agency(name: str, timezone: str) -> None:
    try:
        agency = people.create_agency(name, timezone)
    except DomainError as error:
        _fail(error)
    click.echo(f"Created agency {agency.name} (id {agency.id}, time zone {agency.timezone}).")


@users_cli.command("create")
@click.argument("email")
@click.option("--agency", "agency_name", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--timezone", default=None, help="Defaults to the agency's time zone.")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@needs_database
def create_user(email, agency_name, name, role, timezone, password_stdin) -> None:
    password = _read_password(password_stdin)
    try:
        agency = people.get_agency_by_name(agency_name)
        user = people.create_user(agency, email, name, role, password, timezone)
    except DomainError as error:
        _fail(error)
    click.echo(f"Created {user.role} {user.email} in {agency.name}.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@needs_database
def set_password(email: str, password_stdin: bool) -> None:
    """Set EMAIL's password (e.g. when no mail server can deliver a reset link); every
    other session of that person is signed out."""
    user = people.find_user(email)
    if user is None:
        raise click.ClickException(f"No user with the email {email}.")
    try:
        passwords.set_by_operator(user, _read_password(password_stdin))
    except DomainError as error:
        _fail(error)
    click.echo(f"Password of {user.email} set; their other sessions are signed out.")


@demo_cli.command("seed")
@needs_database
def seed() -> None:
    """Fill an empty database with a demo agency; does nothing when data exists."""
    result = demo.seed_if_empty()
    if result is None:
        click.echo("The database already has agencies; demo data not added.")
        return
    click.echo("Demo data added. Sign in with:")
    _echo_logins(result)


def _echo_logins(result: demo.DemoResult) -> None:
    for email, role in result.logins:
        click.echo(f"  {role:<10} {email}  password: {result.password}")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="command line", show_default=True, help="What the token is for.")
@needs_database
def create_token(email: str, name: str) -> None:
    """Create an API token for EMAIL; the token is printed alone on the last line."""
    user = people.find_user(email)
    if user is None:
        raise click.ClickException(f"No user with the email {email}.")
    try:
        _row, token = tokens.create(user, name)
    except DomainError as error:
        _fail(error)
    click.echo(f"API token '{name}' for {user.email}; it is shown only now:")
    click.echo(token)


@reminders_cli.command("run-due")
@click.option("--now", "now_text", default=None, help="ISO 8601 moment to treat as now.")
@needs_database
def run_due(now_text: str | None) -> None:
    """Run one dispatch pass: send what is due, then exit."""
    now = _parse_now(now_text)
    report = dispatch.run_pass(now)
    click.echo(f"dispatch pass at {now.isoformat()}: {report}")


def _parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    moment = parsing.parse_moment(text)
    if moment is None and parsing.parse_local_moment(text) is not None:
        raise click.BadParameter("give a time zone offset, e.g. 2026-11-29T09:00:00+00:00",
                                 param_hint="--now")
    if moment is None:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date and time between the years "
                                 f"{parsing.EARLIEST.year} and {parsing.LATEST.year}", param_hint="--now")
    return moment.astimezone(timezone.utc)


@inbound_cli.command("receive")
@with_appcontext
def inbound_receive() -> None:
    """File one RFC 5322 message read from stdin (an MTA's pipe delivery). Exit 0 when it
    was kept, whether it matched a case, waits in the triage inbox or had come before; 75
    (try again later) when the database cannot be reached."""
    raw = sys.stdin.buffer.read()
    try:
        result = filing.receive(raw, source="pipe")
    except (OperationalError, InterfaceError) as error:
        reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or [""])[0][:300]
        click.echo(f"inbound: the database cannot be reached ({reason}); try again later", err=True)
        sys.exit(EX_TEMPFAIL)
    except filing.StorageUnavailable as error:
        click.echo(f"inbound: the evidence storage failed ({error}); try again later", err=True)
        sys.exit(EX_TEMPFAIL)
    message = result.message
    state = "a copy of one filed before" if result.duplicate else message.status
    where = f" on case {message.case_id}" if message.case_id else ""
    click.echo(f"inbound: message {message.id} {message.message_id}: {state}{where}")


@inbound_cli.command("fetch")
@with_appcontext
def inbound_fetch() -> None:
    """Fetch new mail once from the IMAP mailbox of INBOUND_IMAP_URL: file each message and
    move it to INBOUND_PROCESSED_FOLDER (never delete). Exit 1 when the mailbox cannot be
    reached or refuses the login, 75 (try again later) when the database cannot be reached:
    what was not filed stays in the mailbox."""
    if not (current_app.config.get("INBOUND_IMAP_URL") or "").strip():
        raise click.ClickException("INBOUND_IMAP_URL is not set: there is no mailbox to fetch from. "
                                   "Set it to imaps://user:password@host/INBOX.")
    problem = database_problem()
    if problem:
        click.echo(f"inbound fetch: {problem}", err=True)
        sys.exit(EX_TEMPFAIL if problem.startswith(UNREACHABLE) else 1)
    try:
        report = imap.fetch()
    except imap.DatabaseUnreachable as error:
        if error.report and error.report.fetched:
            click.echo(f"inbound fetch: {error.report}")
        click.echo(f"inbound fetch: {error}; try again later", err=True)
        sys.exit(EX_TEMPFAIL)
    except imap.FetchError as error:
        if error.report and error.report.fetched:
            click.echo(f"inbound fetch: {error.report}")
        raise click.ClickException(str(error)[0].upper() + str(error)[1:]) from None
    click.echo(f"inbound fetch from {imap.parse_url(current_app.config['INBOUND_IMAP_URL']).where}: {report}")


def _import(kind: str, path: str, dry_run: bool, email: str) -> None:
    actor = people.find_user(email)
    if actor is None or not actor.active:
        raise click.ClickException(f"No active user with the email {email}: --as names who imports.")
    try:
        plan = imports.import_file(actor, kind, path, dry_run=dry_run, open_cases=presets.open_cases)
    except DomainError as error:
        _fail(error)
    for header, field in plan.mapping.items():
        if field:
            click.echo(f"  column {header!r} -> {imports.FIELD_NAMES[field]}")
    for remark in plan.remarks:
        click.echo(remark)
    if not plan.ok:
        for error in plan.errors:
            click.echo(str(error), err=True)
        bad_rows = len({error.row for error in plan.errors})
        raise click.ClickException(f"{bad_rows} of {imports.plural(plan.rows, 'row')} bad; nothing was imported. "
                                   "Correct them and import the file again.")
    prefix = "dry run, nothing written: " if dry_run else ""
    click.echo(f"{prefix}{imports.plural(plan.rows, 'row')}: {plan.summary()}.")


def _import_command(kind: str):
    @import_cli.command(kind, help=(
        f"Import {kind} from FILE (CSV or XLSX). Columns are matched by their header (or the agency's "
        "last mapping); any bad row: nothing is written, each bad row and field is named, exit 1."))
    @click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="Check every row and say what would change; write nothing.")
    @click.option("--as", "email", required=True, metavar="EMAIL",
                  help="The agency member who imports: the rows go to their agency, the timeline names them.")
    @needs_database
    def command(path: str, dry_run: bool, email: str) -> None:
        _import(kind, path, dry_run, email)
    return command


import_clients = _import_command("clients")
import_cases = _import_command("cases")


@click.command("scheduler")
@needs_database
def run_scheduler() -> None:
    """Run the reminder scheduler in the foreground (production: beside gunicorn)."""
    fetch = scheduler.fetch_seconds(current_app)
    click.echo(f"scheduler: dispatch pass every {scheduler.INTERVAL_SECONDS} s"
               + (f", inbound fetch every {fetch} s" if fetch else "") + "; Ctrl+C stops it")
    scheduler.build(current_app._get_current_object(), blocking=True).start()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@needs_database
def serve(host: str, port: int) -> None:
    """Development server with the scheduler inside it (what `make run` uses). Unless
    APP_BASE_URL is set, links in mail follow --host and --port."""
    app = current_app._get_current_object()
    base_url = follow_server(app, host, port)
    click.echo(f"caseapp: http://{host}:{port}  (links in emails: {base_url})")
    if host.strip() in WILDCARD_HOSTS and not os.environ.get("APP_BASE_URL"):
        click.echo("  listening on every address: set APP_BASE_URL to the address others use to reach it")
    logins = demo.demo_logins()
    if logins is not None:
        click.echo("Demo sign-in:")
        _echo_logins(logins)
    if app.config["SCHEDULER_ENABLED"]:
        scheduler.build(app).start()
        click.echo("scheduler: running inside the web process")
    # app.run() refuses to block inside a `flask` command; werkzeug's server is what it runs.
    run_simple(host, port, app, threaded=True, use_reloader=False)


def register(app: Flask) -> None:
    for group in (agencies_cli, users_cli, demo_cli, reminders_cli, tokens_cli, inbound_cli, import_cli):
        app.cli.add_command(group)
    app.cli.add_command(run_scheduler)
    app.cli.add_command(serve)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.command("backup")
@click.option("--output", "-o", default=None, metavar="PATH",
              help="Archive file or folder (default: caseapp-backup-<UTC time>.tar.gz here).")
@with_appcontext
@needs_database
def backup_command(output: str | None) -> None:
    """Write one archive: a consistent database snapshot, every evidence file, a manifest."""
    try:
        result = backup.create_backup(output)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    for line in result.summary():
        click.echo(line)


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Overwrite a database that already holds data.")
@with_appcontext
def restore_command(path: str, yes: bool) -> None:
    """Bring back the database and evidence files of a `flask backup` archive."""
    try:
        result = backup.restore_backup(path, yes=yes)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    for line in result.summary():
        click.echo(line)
