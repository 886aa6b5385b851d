"""Backup and restore: one archive with a consistent database snapshot and every evidence blob.

The archive is a gzip-compressed tar holding, in this order:

    database.sqlite3 or database.pgdump   the snapshot (SQLite online backup API, or
                                          `pg_dump --format=custom`)
    evidence/ab/cd/<sha256>               every blob of EVIDENCE_DIR
    manifest.json                         format version, when, database kind, alembic
                                          revision, rows per table, evidence figures and
                                          the SHA-256 and size of every other member
    manifest.sig                          HMAC-SHA256 of manifest.json under the signing
                                          key (see backup_trust), and the key's id

The manifest and its signature come last, so an archive cut short has none and is
refused as incomplete. The archive is written under a temporary name beside its final
one and renamed into place when complete; it is readable by its owner only (it holds
password hashes and the clients' files).

Consistency. SQLite: the backup API copies every page in one step, inside one read
transaction, so the snapshot is one moment of the database even while the app writes
(WAL lets the writers carry on). PostgreSQL: a REPEATABLE READ transaction exports its
snapshot; the row counts are read in it and pg_dump dumps exactly that snapshot. The
evidence folder is copied after the database snapshot: blobs are only removed once no
row uses them, so every blob the snapshot refers to is normally still there (one that
is not is named in the manifest and in the output).

Restore first reads the archive through without writing anything: an archive that is
unsigned or signed with another key, or whose members do not match the signed manifest,
is refused there. It then reads it again into a staging area, checking every checksum
against the same manifest, and checks that the snapshot holds only caseapp's own tables
and indexes (backup_trust) before it changes anything. Evidence blobs go in first
(content-addressed: a blob already there under its name is kept), then the database is
replaced in one transaction (SQLite: the backup API in reverse; PostgreSQL: `pg_restore
--clean --single-transaction` of exactly the checked entries, `--use-list`). If the
database step fails, the blobs this restore added are taken away again.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from caseapp.extensions import db
from caseapp.services.ops import backup_trust
from caseapp.services.evidence.storage import fsync_dir, publish_new

FORMAT = "caseapp-backup"
FORMAT_VERSION = 2  # 2: signed (manifest.sig); 1 was unsigned and is refused
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
_MAX_SIGNATURE_BYTES = 4096
DB_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
EVIDENCE_PREFIX = "evidence/"
_EVIDENCE_MEMBER_RE = re.compile(r"evidence/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_LOCK_TIMEOUT = "60s"  # pg_restore gives up, changing nothing, if the app holds its tables longer
_NOT_DATA = frozenset({"alembic_version"})  # a freshly migrated database is still "empty"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, for a person."""


# ---------------------------------------------------------------- the target database

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
        from psycopg.conninfo import make_conninfo

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


def signing_keys() -> list[bytes]:
    """The configured signing keys, the first signs (backup_trust.load_keys)."""
    try:
        return backup_trust.load_keys(current_app.config)
    except backup_trust.KeyProblem as error:
        raise BackupError(f"{error} Nothing was changed.") from None


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


# ---------------------------------------------------------------- backup

@dataclass
class BackupResult:
    path: Path
    size: int
    manifest: dict

    def summary(self) -> list[str]:
        m, database, evidence = self.manifest, self.manifest["database"], self.manifest["evidence"]
        lines = [f"Backup written to {self.path} ({_size(self.size)})",
                 f"  created:  {m['created_at']}",
                 f"  database: {database['kind']}, alembic revision {database['alembic_revision'] or 'none'}, "
                 f"{database['rows']} rows in {len(database['tables'])} tables",
                 "            " + _table_list(database["tables"]),
                 f"  evidence: {_plural(evidence['files'], 'file')}, {_size(evidence['bytes'])}"]
        if evidence["missing"]:
            lines.append(f"  warning: {len(evidence['missing'])} evidence file(s) the database refers to "
                         f"were not in EVIDENCE_DIR: {', '.join(evidence['missing'][:5])}")
        if evidence["damaged"]:
            lines.append(f"  warning: {len(evidence['damaged'])} evidence file(s) in EVIDENCE_DIR do not "
                         f"match their SHA-256 name: {', '.join(evidence['damaged'][:5])}")
        return lines


def create_backup(output: str | os.PathLike[str] | None = None,
                  now: datetime | None = None) -> BackupResult:
    """Write one archive (see the module's docstring); return where and what it holds."""
    database = target_database()
    key = signing_keys()[0]
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    final = _output_path(output, created)
    evidence_root = Path(current_app.config["EVIDENCE_DIR"])
    mtime = int(created.timestamp())
    try:
        with tempfile.TemporaryDirectory(prefix="caseapp-backup-") as work:
            snapshot = Path(work) / DB_MEMBERS[database.kind]
            if database.kind == "sqlite":
                facts = _sqlite_snapshot(database.sqlite_path, snapshot)
            else:
                facts = _pg_snapshot(database, snapshot)
            fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as raw:
                    with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                        members = {snapshot.name: _add_file(tar, snapshot.name, snapshot, mtime)}
                        evidence = _add_evidence(tar, evidence_root, mtime, members)
                        evidence["missing"] = sorted(facts.evidence_sha256 - evidence.pop("names"))
                        manifest = {
                            "format": FORMAT,
                            "format_version": FORMAT_VERSION,
                            "created_at": created.isoformat().replace("+00:00", "Z"),
                            "database": {
                                "kind": database.kind,
                                "member": snapshot.name,
                                "alembic_revision": facts.revision,
                                "tables": facts.tables,
                                "rows": sum(facts.tables.values()),
                            },
                            "evidence": evidence,
                            "members": members,
                        }
                        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
                        _add_bytes(tar, MANIFEST, data, mtime)
                        _add_bytes(tar, SIGNATURE, backup_trust.sign(data, key), mtime)
                    raw.flush()
                    os.fsync(raw.fileno())
                if not publish_new(tmp_name, final):
                    raise BackupError(f"{final} appeared while the backup was written; it was left "
                                      "alone. Run again, or choose another --output.")
                fsync_dir(final.parent)
            finally:
                Path(tmp_name).unlink(missing_ok=True)
    except OSError as error:
        raise BackupError(f"The backup could not be written: {error}. No archive was left at {final}.") from None
    return BackupResult(final, final.stat().st_size, manifest)


def _output_path(output, created: datetime) -> Path:
    name = f"caseapp-backup-{created.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    path = Path(output).expanduser() if output else Path.cwd() / name
    if path.is_dir():
        path = path / name
    path = path.absolute()
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    if path.exists():
        raise BackupError(f"{path} already exists; it was left alone. Choose another --output.")
    return path


@dataclass
class _SnapshotFacts:
    tables: dict[str, int]
    revision: str | None
    evidence_sha256: set[str] = field(default_factory=set)


def _sqlite_snapshot(path: Path, dest: Path) -> _SnapshotFacts:
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
                return _sqlite_facts(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as error:
        raise BackupError(f"Could not copy the SQLite database {path}: {error}") from None


def _sqlite_facts(conn: sqlite3.Connection) -> _SnapshotFacts:
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name")]
    tables = {name: conn.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0] for name in names}
    revision = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    shas: set[str] = set()
    if "evidence" in tables:
        shas = {row[0] for row in conn.execute("SELECT DISTINCT sha256 FROM evidence")}
    return _SnapshotFacts(tables, revision, shas)


def _pg_snapshot(database: Database, dest: Path) -> _SnapshotFacts:
    import psycopg
    from psycopg import sql

    pg_dump = _tool("pg_dump")
    conninfo, password = database.libpq()
    try:
        conn = psycopg.connect(conninfo, **({"password": password} if password else {}))
    except psycopg.Error as error:
        raise BackupError(f"Could not connect to the {database.label}: {_first_line(error)}") from None
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
        revision = None
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        shas: set[str] = set()
        if "evidence" in tables:
            shas = {row[0] for row in conn.execute("SELECT DISTINCT sha256 FROM evidence")}
        # pg_dump adopts the snapshot of the transaction still open here: same moment as the counts.
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot_id}",
              f"--file={dest}", f"--dbname={conninfo}"], database.tool_env(), "pg_dump")
        conn.rollback()
    except psycopg.Error as error:
        raise BackupError(f"Could not read the {database.label}: {_first_line(error)}") from None
    finally:
        conn.close()
    return _SnapshotFacts(tables, revision, shas)


class _HashingReader:
    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.digest.update(chunk)
        return chunk


def _member_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o600
    return info


def _add_file(tar: tarfile.TarFile, name: str, path: Path, mtime: int) -> dict:
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        reader = _HashingReader(stream)
        tar.addfile(_member_info(name, size, mtime), reader)
    return {"sha256": reader.digest.hexdigest(), "size": size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    tar.addfile(_member_info(name, len(data), mtime), io.BytesIO(data))


def _add_evidence(tar: tarfile.TarFile, root: Path, mtime: int, members: dict) -> dict:
    """Every blob at ROOT/ab/cd/<sha256>; ROOT/tmp (uploads in progress) is not evidence."""
    files, total, names, damaged = 0, 0, set(), []
    paths = sorted(root.glob("??/??/*")) if root.is_dir() else []
    for path in paths:
        name = EVIDENCE_PREFIX + path.relative_to(root).as_posix()
        match = _EVIDENCE_MEMBER_RE.fullmatch(name)
        if not match or match[3][:2] != match[1] or match[3][2:4] != match[2]:
            continue
        if path.is_symlink() or not path.is_file():
            continue
        try:
            entry = _add_file(tar, name, path, mtime)
        except FileNotFoundError:
            continue  # deleted since the listing, with its last row: not in the snapshot either
        members[name] = entry
        files, total = files + 1, total + entry["size"]
        names.add(match[3])
        if entry["sha256"] != match[3]:
            damaged.append(match[3])
    return {"files": files, "bytes": total, "damaged": damaged, "names": names}


# ---------------------------------------------------------------- restore

@dataclass
class RestoreResult:
    archive: Path
    manifest: dict
    target: str
    tables: dict[str, int]
    written: int = 0
    kept: int = 0
    repaired: int = 0
    skipped_damaged: list[str] = field(default_factory=list)
    upgrade_hint: bool = False

    def summary(self) -> list[str]:
        database = self.manifest["database"]
        rows = sum(self.tables.values())
        lines = [f"Restored {self.archive} (made {self.manifest['created_at']}) into the {self.target}",
                 f"  database: {database['kind']}, alembic revision {database['alembic_revision'] or 'none'}, "
                 f"{rows} rows in {len(self.tables)} tables",
                 "            " + _table_list(self.tables),
                 f"  evidence: {_plural(self.written, 'file')} written, {self.kept} already present"
                 + (f", {self.repaired} damaged copies replaced" if self.repaired else "")]
        if self.tables != database["tables"]:
            lines.append("  warning: the row counts now differ from the backup's manifest; something "
                         "wrote to the database during the restore.")
        if self.skipped_damaged:
            lines.append(f"  warning: {len(self.skipped_damaged)} evidence file(s) were already damaged "
                         f"when backed up and were not restored: {', '.join(self.skipped_damaged[:5])}")
        if self.upgrade_hint:
            lines.append("  The backup is from an older schema: run `flask db upgrade` next.")
        return lines


def restore_backup(archive: str | os.PathLike[str], yes: bool = False) -> RestoreResult:
    """Replace the database and fill EVIDENCE_DIR from ARCHIVE; see the module's docstring."""
    database = target_database()
    archive = Path(archive).absolute()
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file.")
    trusted = _trusted_manifest(archive, signing_keys())  # reads only: refused before anything is written
    release_connections()
    current = current_counts()
    holding = {name: rows for name, rows in current.items() if rows and name not in _NOT_DATA}
    if holding and not yes:
        raise BackupError(
            f"The {database.label} is not empty: it holds {sum(holding.values())} rows "
            f"({_table_list(holding)}). Restoring replaces all of it with the backup. "
            "Nothing was changed; run again with --yes to overwrite it.")
    evidence_root = Path(current_app.config["EVIDENCE_DIR"])
    try:
        (evidence_root / "tmp").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="caseapp-restore-") as work, \
                tempfile.TemporaryDirectory(prefix="restore-", dir=evidence_root / "tmp") as staging:
            manifest_bytes, _signature, found = _read_archive(archive, Path(work), Path(staging))
            if manifest_bytes != trusted:
                raise BackupError(f"The archive {archive} changed while it was being restored. "
                                  "Nothing was changed.")
            manifest = _parse_manifest(archive, trusted)
            _check_members(archive, manifest, found)
            kind = manifest["database"]["kind"]
            if kind != database.kind:
                raise BackupError(
                    f"The backup holds a {_KIND_NAMES[kind]} database, but this app uses the "
                    f"{database.label}; a backup restores only into the same kind of database. "
                    "Nothing was changed.")
            snapshot = found[manifest["database"]["member"]].path
            if kind == "sqlite":
                _check_sqlite_snapshot(snapshot)
            else:
                _check_no_foreign_tables(database, current, manifest)
                entries = _pg_entries(database, snapshot, Path(work))
            result = RestoreResult(archive, manifest, database.label, {})
            created = _place_blobs(found, evidence_root, result)
            try:
                release_connections()
                if kind == "sqlite":
                    _sqlite_restore(snapshot, database.sqlite_path)
                else:
                    _pg_restore(database, snapshot, entries)
            except BaseException:
                _take_back(created)
                raise
    except OSError as error:
        raise BackupError(f"The restore failed: {error}. The database was not changed.") from None
    finally:
        release_connections()
    result.tables = current_counts()
    result.upgrade_hint = _is_behind(manifest["database"]["alembic_revision"])
    return result


_KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def current_counts() -> dict[str, int]:
    """Rows per table of the app's database, as it is now."""
    try:
        with db.engine.connect() as conn:
            preparer = conn.dialect.identifier_preparer
            names = sorted(inspect(conn).get_table_names())
            return {name: conn.execute(text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one()
                    for name in names}
    except SQLAlchemyError as error:
        detail = _first_line(getattr(error, "orig", None) or error)
        raise BackupError(f"Could not read the {target_database().label}: {detail}") from None


@dataclass(frozen=True)
class _Member:
    path: Path | None  # None when only hashed
    sha256: str
    size: int


def _damaged(archive: Path, why: str) -> BackupError:
    return BackupError(f"The archive {archive} is damaged or not a complete caseapp backup: {why}. "
                       "Nothing was changed.")


def _read_archive(archive: Path, work: Path | None = None, staging: Path | None = None
                  ) -> tuple[bytes | None, bytes | None, dict[str, _Member]]:
    """Read every member: (manifest bytes, signature bytes, the other members' checksums).

    With WORK and STAGING, copy each member out (the database to WORK, blobs to STAGING);
    without, only hash them, writing nothing. Raises BackupError on anything unexpected;
    the caller then drops both folders."""
    found: dict[str, _Member] = {}
    special: dict[str, bytes] = {}
    limits = {MANIFEST: _MAX_MANIFEST_BYTES, SIGNATURE: _MAX_SIGNATURE_BYTES}
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                name = member.name
                if not member.isreg():
                    raise _damaged(archive, f"it contains {name!r}, which is not a plain file")
                if name in found or name in special:
                    raise _damaged(archive, f"it contains {name!r} twice")
                if name in limits:
                    if member.size > limits[name]:
                        raise _damaged(archive, f"its {name} is implausibly large")
                    special[name] = tar.extractfile(member).read()
                    continue
                match = _EVIDENCE_MEMBER_RE.fullmatch(name)
                if name in DB_MEMBERS.values():
                    dest = work / name if work else None
                elif match and match[3][:2] == match[1] and match[3][2:4] == match[2]:
                    dest = staging / match[3] if staging else None
                else:
                    raise _damaged(archive, f"it contains an unexpected entry {name!r}")
                found[name] = _copy_out(tar.extractfile(member), dest)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise BackupError(f"{archive} is not a readable caseapp backup (a .tar.gz written by "
                          f"`flask backup`): {error or type(error).__name__}. Nothing was changed.") from None
    return special.get(MANIFEST), special.get(SIGNATURE), found


def _trusted_manifest(archive: Path, keys: list[bytes]) -> bytes:
    """The manifest's bytes, once its signature and every member's checksum are checked;
    nothing is written on the way."""
    manifest_bytes, signature, found = _read_archive(archive)
    if manifest_bytes is None:
        raise _damaged(archive, "it has no manifest.json (an archive cut short lacks it)")
    problem = backup_trust.signature_problem(manifest_bytes, signature, keys)
    if problem:
        if signature is None:
            problem += " (archives of caseapp before signing, format 1, are refused too: make a new backup)"
        raise BackupError(f"The archive {archive} is refused: {problem}. Only an archive signed with "
                          "this installation's backup signing key is restored. Nothing was changed.")
    _check_members(archive, _parse_manifest(archive, manifest_bytes), found)
    return manifest_bytes


def _check_members(archive: Path, manifest: dict, found: dict[str, _Member]) -> None:
    expected = manifest["members"]
    problems = []
    for name in sorted(set(expected) | set(found)):
        if name not in found:
            problems.append(f"{name} is missing")
        elif name not in expected:
            problems.append(f"{name} is not in the manifest")
        elif (found[name].sha256, found[name].size) != (expected[name].get("sha256"), expected[name].get("size")):
            problems.append(f"{name} does not match its checksum")
    if manifest["database"]["member"] not in found and not problems:
        problems.append("the database snapshot is missing")
    if problems:
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise _damaged(archive, "; ".join(problems[:5]) + more)


def _parse_manifest(archive: Path, data: bytes) -> dict:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise _damaged(archive, "its manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged(archive, "its manifest.json is not a caseapp backup manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version != FORMAT_VERSION:
        raise BackupError(f"{archive} was written in backup format {version!r}; this caseapp reads "
                          f"format {FORMAT_VERSION}. Nothing was changed.")
    database, members = manifest.get("database"), manifest.get("members")
    if (not isinstance(database, dict) or database.get("kind") not in DB_MEMBERS
            or database.get("member") != DB_MEMBERS[database["kind"]]
            or not isinstance(database.get("tables"), dict)
            or not isinstance(members, dict) or not all(isinstance(v, dict) for v in members.values())):
        raise _damaged(archive, "its manifest.json lacks the database or member list")
    return manifest


def _copy_out(stream: BinaryIO, dest: Path | None) -> _Member:
    """Copy to DEST (or only hash, without DEST) and give the member's checksum."""
    digest, size = hashlib.sha256(), 0
    with open(dest, "xb") if dest else contextlib.nullcontext() as out:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if out:
                out.write(chunk)
        if out:
            out.flush()
            os.fsync(out.fileno())
    return _Member(dest, digest.hexdigest(), size)


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
    listing = _run([_tool("pg_restore"), "--list", str(dump)], database.tool_env(),
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
        detail = _first_line(getattr(error, "orig", None) or error)
        raise BackupError(f"Could not read the {target_database().label}: {detail}") from None


def _refuse_foreign_objects(refused: list[str]) -> None:
    if refused:
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise BackupError(
            "The database snapshot in the archive holds what caseapp does not create, so it is "
            f"refused: {'; '.join(refused[:5])}{more}. Only caseapp's own tables, their data, "
            "sequences, indexes and constraints are restored. Nothing was changed.")


def _check_no_foreign_tables(database: Database, current: dict[str, int], manifest: dict) -> None:
    """pg_restore --clean drops and recreates the backup's tables only; a table the backup
    does not know (a newer migration, another program's) would survive the restore, or
    block it through a foreign key. Refuse rather than guess."""
    extra = sorted(set(current) - set(manifest["database"]["tables"]))
    if extra:
        raise BackupError(
            f"The {database.label} has tables the backup does not have: {', '.join(extra)}. Restore "
            "into an empty database (createdb), or drop those tables first. Nothing was changed.")


def _place_blobs(found: dict[str, _Member], root: Path, result: RestoreResult) -> list[Path]:
    """Move the staged blobs into the store; return the paths this call created."""
    created, touched = [], set()
    for name, member in sorted(found.items()):
        match = _EVIDENCE_MEMBER_RE.fullmatch(name)
        if not match:
            continue
        sha256 = match[3]
        if member.sha256 != sha256:  # damaged before it was backed up: never pass it off as good
            result.skipped_damaged.append(sha256)
            continue
        final = root / match[1] / match[2] / sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.is_file() and not final.is_symlink():
            if final.stat().st_size == member.size:
                result.kept += 1
                continue
            os.replace(member.path, final)  # a truncated copy: the archive's is the right one
            result.repaired += 1
        elif publish_new(member.path, final):
            created.append(final)
            result.written += 1
        else:
            result.kept += 1
        touched.add(final.parent)
    for folder in touched:
        fsync_dir(folder)
    return created


def _take_back(created: list[Path]) -> None:
    """After a failed database step: remove the blobs this restore added, unless the
    (unchanged) database uses them after all."""
    try:
        release_connections()
        with db.engine.connect() as conn:
            used = set(conn.execute(text("SELECT DISTINCT sha256 FROM evidence")).scalars())
    except Exception:
        return  # on doubt the blobs stay: an unused blob harms nothing
    for path in created:
        if path.name not in used:
            path.unlink(missing_ok=True)


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
    pg_restore = _tool("pg_restore")
    conninfo, _password = database.libpq()
    env = database.tool_env()
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c lock_timeout={_LOCK_TIMEOUT}".strip()
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--use-list={entries}", f"--dbname={conninfo}", str(dump)], env,
         "pg_restore (in one transaction, so the database was left as it was)")


def _is_behind(revision: str | None) -> bool:
    """True when the restored schema is older than this code's newest migration."""
    if not revision:
        return False
    try:
        from alembic.script import ScriptDirectory

        migrate = current_app.extensions["migrate"]
        script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
        return revision not in script.get_heads()
    except Exception:
        return False


# ---------------------------------------------------------------- small helpers

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found on PATH; install the PostgreSQL client tools "
                          "(the same major version as the server, or newer).")
    return path


def _run(command: list[str], env: dict[str, str], what: str) -> str:
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


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _table_list(tables: dict[str, int]) -> str:
    shown = [f"{name} {rows}" for name, rows in sorted(tables.items()) if rows]
    return ", ".join(shown) if shown else "no rows"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} bytes"
