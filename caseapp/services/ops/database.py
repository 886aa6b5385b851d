"""The database side of backup and restore: which database, its snapshot, its replacement.

SQLite: the online backup API copies every page in one step, inside one read transaction,
so the snapshot is one moment of the database even while the app writes (WAL lets the
writers carry on); restoring is the same API in reverse, one write transaction on the live
file. PostgreSQL: a REPEATABLE READ transaction exports its snapshot, the row counts are
read in it and `pg_dump --format=custom` dumps exactly that snapshot; restoring is
`pg_restore --clean --single-transaction` of exactly the entries that were checked
(`--use-list`). What a snapshot may hold is decided in backup_trust.

None of this runs in the app's unit of work (core.transaction): the snapshot is read on
connections of its own and the restore replaces the database underneath the app, so the
app's pooled connections are released around it.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from alembic.script import ScriptDirectory
from flask import current_app
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from caseapp.extensions import db
from caseapp.models import search as search_index
from caseapp.services.ops import backup_trust
from caseapp.services.ops.errors import BackupError

KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
_LOCK_TIMEOUT = "60s"  # pg_restore gives up, changing nothing, if the app holds its tables longer


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" or "postgresql"
    url: URL
    sqlite_path: Path | None = None

    @property
    def label(self) -> str:
        if self.sqlite_path is not None:
            return f"SQLite database {self.sqlite_path}"
        return f"PostgreSQL database {self.url.render_as_string(hide_password=True)}"

    def libpq(self) -> tuple[str, str | None]:
        """A libpq connection string without the password, and the password on its own.

        The password travels in PGPASSWORD (pg_dump, pg_restore) or as a keyword (psycopg),
        never on a command line where `ps` would show it.
        """
        url = self.url
        params: dict[str, str] = {}
        if url.host:
            params["host"] = url.host
        if url.port:
            params["port"] = str(url.port)
        if url.username:
            params["user"] = url.username
        if url.database:
            params["dbname"] = url.database
        for key, value in url.query.items():  # sslmode=..., host=/run/postgresql, ...
            params[key] = value[-1] if isinstance(value, tuple) else value
        password = params.pop("password", None) or url.password
        return make_conninfo("", **params), (str(password) if password else None)

    def tool_env(self) -> dict[str, str]:
        _conninfo, password = self.libpq()
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        if password:
            env["PGPASSWORD"] = password
        return env


def target_database() -> Database:
    url = db.engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = url.database or ""
        if name in ("", ":memory:") or name.startswith("file:") or url.query.get("mode") == "memory":
            raise BackupError("The database is an in-memory or URI-form SQLite database; backup "
                              "and restore need a SQLite file (DATABASE_URL=sqlite:////path/file.sqlite).")
        return Database("sqlite", url, Path(name).absolute())
    if backend == "postgresql":
        return Database("postgresql", url)
    raise BackupError(f"Backup and restore support SQLite and PostgreSQL, not {backend}.")


def caseapp_schema(namespace: str = "public") -> backup_trust.Schema:
    """caseapp's own tables and columns, from the models, and Alembic's table."""
    tables = {table.name: frozenset(column.name for column in table.columns)
              for table in db.metadata.sorted_tables}
    tables["alembic_version"] = frozenset({"version_num"})
    return backup_trust.Schema(tables, namespace)


def release_connections() -> None:
    """Close this process's pooled connections: they must not hold locks the restore needs,
    nor remember a schema the restore replaces."""
    db.session.remove()
    db.engine.dispose()


def used_evidence() -> set[str]:
    """The SHA-256 of every blob an evidence row of the database refers to now."""
    with db.engine.connect() as conn:
        return set(conn.execute(text("SELECT DISTINCT sha256 FROM evidence")).scalars())


def current_counts() -> dict[str, int]:
    """Rows per table of the app's database, as it is now."""
    try:
        with db.engine.connect() as conn:
            preparer = conn.dialect.identifier_preparer
            names = sorted(name for name in inspect(conn).get_table_names()
                           if not name.startswith(search_index.FULLTEXT_NAMES))
            return {name: conn.execute(text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one()
                    for name in names}
    except SQLAlchemyError as error:
        detail = first_line(getattr(error, "orig", None) or error)
        raise BackupError(f"Could not read the {target_database().label}: {detail}") from None


# ---------------------------------------------------------------- snapshot

def take_snapshot(database: Database, dest: Path) -> SnapshotFacts:
    """Write the database as it is at one moment to DEST; what that moment held."""
    if database.kind == "sqlite":
        return _sqlite_snapshot(database.sqlite_path, dest)
    return _pg_snapshot(database, dest)


@dataclass
class SnapshotFacts:
    tables: dict[str, int]
    revision: str | None
    evidence_sha256: set[str] = field(default_factory=set)


def _sqlite_snapshot(path: Path, dest: Path) -> SnapshotFacts:
    if not path.is_file():
        raise BackupError(f"The SQLite database {path} does not exist; nothing to back up "
                          "(run `flask db upgrade` to create it).")
    try:
        source = sqlite3.connect(path, timeout=30)
        try:
            target = sqlite3.connect(dest)
            try:
                source.backup(target)  # pages=-1: every page in one step, one read transaction
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, not WAL
                # The full-text tables and their triggers are derived from search_documents and
                # made again by the restore: an archive holds tables and indexes only.
                for statement in search_index.SQLITE_DROP:
                    target.execute(statement)  # DDL: sqlite3 runs it outside any transaction
                return _sqlite_facts(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as error:
        raise BackupError(f"Could not copy the SQLite database {path}: {error}") from None


def _sqlite_facts(conn: sqlite3.Connection) -> SnapshotFacts:
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name")]
    tables = {name: conn.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0] for name in names}
    return _facts(conn, tables)


def _facts(conn, tables: dict[str, int]) -> SnapshotFacts:
    """What a snapshot holds, given its tables and their row counts: the schema revision and
    the evidence it refers to. `conn` is a sqlite3 or psycopg connection (same execute API)."""
    revision = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    shas: set[str] = set()
    if "evidence" in tables:
        shas = {row[0] for row in conn.execute("SELECT DISTINCT sha256 FROM evidence")}
    return SnapshotFacts(tables, revision, shas)


def _pg_snapshot(database: Database, dest: Path) -> SnapshotFacts:
    pg_dump = tool("pg_dump")
    conninfo, password = database.libpq()
    try:
        conn = psycopg.connect(conninfo, **({"password": password} if password else {}))
    except psycopg.Error as error:
        raise BackupError(f"Could not connect to the {database.label}: {first_line(error)}") from None
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        names = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
        tables = {}
        for name in names:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
            tables[name] = conn.execute(query).fetchone()[0]
        facts = _facts(conn, tables)
        # pg_dump adopts the snapshot of the transaction still open here: same moment as the counts.
        run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot_id}",
              f"--file={dest}", f"--dbname={conninfo}"], database.tool_env(), "pg_dump")
        conn.rollback()
    except psycopg.Error as error:
        raise BackupError(f"Could not read the {database.label}: {first_line(error)}") from None
    finally:
        conn.close()
    return facts


# ---------------------------------------------------------------- restore

def check_snapshot(database: Database, snapshot: Path, current: dict[str, int],
                   backup_tables: dict[str, int], work: Path) -> Path | None:
    """Refuse a snapshot that holds what caseapp does not create, before anything changes.
    PostgreSQL: the list file of the entries to restore, written to WORK."""
    if database.kind == "sqlite":
        _check_sqlite_snapshot(snapshot)
        return None
    _check_no_foreign_tables(database, current, backup_tables)
    return _pg_entries(database, snapshot, work)


def replace_database(database: Database, snapshot: Path, entries: Path | None) -> None:
    """Replace the whole database with the snapshot, in one transaction: on failure the
    database is left as it was."""
    release_connections()
    if database.kind == "sqlite":
        _sqlite_restore(snapshot, database.sqlite_path)
    else:
        _pg_restore(database, snapshot, entries)
    _refill_search(database)


def _refill_search(database: Database) -> None:
    """The search index's full-text structures, made again from the restored rows."""
    try:
        with db.engine.begin() as conn:
            if not inspect(conn).has_table("search_documents"):
                return  # a backup from before the search index: `flask db upgrade` makes it
            search_index.refill_fulltext(conn)
    except SQLAlchemyError as error:
        detail = first_line(getattr(error, "orig", None) or error)
        raise BackupError(f"The {database.label} was restored, but its search index could not be made "
                          f"again ({detail}); run the restore again.") from None


def _check_sqlite_snapshot(path: Path) -> None:
    """A sound SQLite file holding caseapp's tables and indexes only: a trigger or a view
    would run or answer with code that caseapp never wrote."""
    try:
        conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as error:
        verdict, objects = str(error), []
    if verdict != "ok":
        raise BackupError(f"The database snapshot in the archive is not a sound SQLite database "
                          f"({verdict}). Nothing was changed.")
    _refuse_foreign_objects(backup_trust.sqlite_objects_problems(objects, caseapp_schema()))


def _pg_entries(database: Database, dump: Path, work: Path) -> Path:
    """The dump's table of contents, checked: a list file (for --use-list) of exactly its
    entries, once every one of them is something caseapp creates."""
    listing = run([tool("pg_restore"), "--list", str(dump)], database.tool_env(),
                   "pg_restore --list (reading the dump's table of contents)")
    allowed, refused = backup_trust.pg_entries_problems(listing, caseapp_schema(_current_schema()))
    _refuse_foreign_objects(refused)
    if not allowed:
        raise BackupError("The database dump in the archive holds nothing to restore. Nothing was changed.")
    path = work / "restore.list"
    path.write_text("\n".join(allowed) + "\n", encoding="utf-8")
    return path


def _current_schema() -> str:
    try:
        with db.engine.connect() as conn:
            return conn.execute(text("SELECT current_schema()")).scalar_one()
    except SQLAlchemyError as error:
        detail = first_line(getattr(error, "orig", None) or error)
        raise BackupError(f"Could not read the {target_database().label}: {detail}") from None


def _refuse_foreign_objects(refused: list[str]) -> None:
    if refused:
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise BackupError(
            "The database snapshot in the archive holds what caseapp does not create, so it is "
            f"refused: {'; '.join(refused[:5])}{more}. Only caseapp's own tables, their data, "
            "sequences, indexes and constraints are restored. Nothing was changed.")


def _check_no_foreign_tables(database: Database, current: dict[str, int],
                             backup_tables: dict[str, int]) -> None:
    """pg_restore --clean drops and recreates the backup's tables only; a table the backup
    does not know (a newer migration, another program's) would survive the restore, or
    block it through a foreign key. Refuse rather than guess."""
    extra = sorted(set(current) - set(backup_tables))
    if extra:
        raise BackupError(
            f"The {database.label} has tables the backup does not have: {', '.join(extra)}. Restore "
            "into an empty database (createdb), or drop those tables first. Nothing was changed.")


def _sqlite_restore(snapshot: Path, target: Path) -> None:
    """Copy the snapshot over the live database with the backup API: one write transaction
    on the target, so other connections see the old database or the new one, never a mix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        source = sqlite3.connect(snapshot.as_uri() + "?mode=ro", uri=True)
        try:
            dest = sqlite3.connect(target, timeout=30)
            try:
                source.backup(dest)
            finally:
                dest.close()
        finally:
            source.close()
    except sqlite3.Error as error:
        raise BackupError(f"Could not write the SQLite database {target}: {error}. "
                          "It was left as it was.") from None


def _pg_restore(database: Database, dump: Path, entries: Path) -> None:
    pg_restore = tool("pg_restore")
    conninfo, _password = database.libpq()
    # The extensions caseapp's migrations create (pg_trgm for the search index's codes): an
    # archive's own extension entries are never run, so the target gets caseapp's statement.
    try:
        with db.engine.begin() as conn:
            for extension in search_index.PG_EXTENSIONS:
                conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    except SQLAlchemyError as error:
        raise BackupError(f"Could not prepare the {database.label} for the restore: "
                          f"{first_line(getattr(error, 'orig', None) or error)}. Nothing was changed.") from None
    env = database.tool_env()
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c lock_timeout={_LOCK_TIMEOUT}".strip()
    run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--use-list={entries}", f"--dbname={conninfo}", str(dump)], env,
         "pg_restore (in one transaction, so the database was left as it was)")


def is_behind(revision: str | None) -> bool:
    """True when the restored schema is older than this code's newest migration."""
    if not revision:
        return False
    try:
        migrate = current_app.extensions["migrate"]
        script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
        return revision not in script.get_heads()
    except Exception:
        return False


# ---------------------------------------------------------------- small helpers

def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found on PATH; install the PostgreSQL client tools "
                          "(the same major version as the server, or newer).")
    return path


def run(command: list[str], env: dict[str, str], what: str) -> str:
    """Run COMMAND; its standard output, or BackupError with the end of what it said."""
    try:
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except OSError as error:
        raise BackupError(f"Could not start {command[0]}: {error}") from None
    if done.returncode != 0:
        detail = "\n".join(done.stderr.strip().splitlines()[-8:]) or f"exit status {done.returncode}"
        raise BackupError(f"{what} failed:\n{detail}")
    return done.stdout


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
