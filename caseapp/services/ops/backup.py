"""Backup and restore: one archive with a consistent database snapshot and every evidence blob.

What the archive holds and how it is signed: archive.py and backup_trust.py. How the
database is copied and replaced: database.py. The evidence is read from, and written
back to, the evidence store through its Storage interface (evidence/storage.py), so a
backup holds the same blobs whether they live in EVIDENCE_DIR or in an S3-compatible
store, and a restore puts them back into whichever store this installation uses, which
need not be the kind the backup was taken from.

Consistency. The database snapshot is one moment of the database (database.py). The
evidence store is read after the snapshot: blobs are only removed once no row uses them,
so every blob the snapshot refers to is normally still there (one that is not is named
in the manifest and in the output).

Restore reads the archive three times and changes nothing until the third:
1. through, hashing every member and writing nothing: an archive that is unsigned or
   signed with another key, or whose members do not match the signed manifest, is
   refused here;
2. up to the database snapshot, copied to a temporary folder and checked against the
   same manifest, then checked to hold only caseapp's own tables and indexes;
3. through again, streaming each blob into the store (content-addressed: a blob already
   there under its name, at its size, is kept; one of another size is a damaged copy and
   is replaced). A blob whose bytes do not hash to what the signed manifest says means
   the archive changed since step 1: the blobs this step added are taken away and the
   restore is refused.
Then the database is replaced in one transaction; if that fails, the blobs this restore
added are taken away again. Only the database snapshot needs room in the temporary
folder; the evidence never touches the local disk on its way to the store.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from caseapp.services.evidence import files as evidence_files
from caseapp.services.evidence.storage import Storage
from caseapp.services.ops import archive as arc
from caseapp.services.ops import backup_trust
from caseapp.services.ops import database as dbs
from caseapp.services.ops.archive import DB_MEMBERS
from caseapp.services.ops.database import release_connections, target_database
from caseapp.services.ops.errors import BackupError

__all__ = ["BackupError", "BackupResult", "DB_MEMBERS", "RestoreResult", "create_backup",
           "restore_backup", "target_database"]

_NOT_DATA = frozenset({"alembic_version"})  # a freshly migrated database is still "empty"


def signing_keys() -> list[bytes]:
    """The configured signing keys, the first signs (backup_trust.load_keys)."""
    try:
        return backup_trust.load_keys(current_app.config)
    except backup_trust.KeyProblem as error:
        raise BackupError(f"{error} Nothing was changed.") from None


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
                         f"were not in the evidence store: {', '.join(evidence['missing'][:5])}")
        if evidence["damaged"]:
            lines.append(f"  warning: {len(evidence['damaged'])} evidence file(s) in the evidence store do "
                         f"not match their SHA-256 name: {', '.join(evidence['damaged'][:5])}")
        return lines


def create_backup(output: str | os.PathLike[str] | None = None,
                  now: datetime | None = None) -> BackupResult:
    """Write one archive (see the module's docstring); return where and what it holds."""
    database = target_database()
    key = signing_keys()[0]
    storage = evidence_files.get_storage()
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    final = _output_path(output, created)
    mtime = int(created.timestamp())
    try:
        with tempfile.TemporaryDirectory(prefix="caseapp-backup-") as work:
            snapshot = Path(work) / DB_MEMBERS[database.kind]
            facts = dbs.take_snapshot(database, snapshot)
            with arc.writing(final) as tar:
                members = {snapshot.name: arc.add_file(tar, snapshot.name, snapshot, mtime)}
                evidence = _add_evidence(tar, storage, mtime, members)
                evidence["missing"] = sorted(facts.evidence_sha256 - evidence.pop("names"))
                manifest = {
                    "format": arc.FORMAT,
                    "format_version": arc.FORMAT_VERSION,
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
                data = arc.manifest_bytes(manifest)
                arc.add_bytes(tar, arc.MANIFEST, data, mtime)
                arc.add_bytes(tar, arc.SIGNATURE, backup_trust.sign(data, key), mtime)
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


def _add_evidence(tar, storage: Storage, mtime: int, members: dict) -> dict:
    """Every blob of the store, as evidence/ab/cd/<sha256>; the manifest's evidence figures."""
    files, total, names, damaged = 0, 0, set(), []
    for blob in storage.blobs():
        name = arc.evidence_member(blob.sha256)
        try:
            stream = storage.open(blob.sha256)
        except FileNotFoundError:
            continue  # deleted since the listing, with its last row: not in the snapshot either
        with stream:
            entry = arc.add_stream(tar, name, stream, blob.size, mtime)
        members[name] = entry
        files, total = files + 1, total + entry["size"]
        names.add(blob.sha256)
        if entry["sha256"] != blob.sha256:
            damaged.append(blob.sha256)
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
    """Replace the database and fill the evidence store from ARCHIVE; see the module's docstring."""
    database = target_database()
    storage = evidence_files.get_storage()
    archive = Path(archive).absolute()
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file.")
    _data, manifest = arc.trusted_manifest(archive, signing_keys())  # reads only
    release_connections()
    current = dbs.current_counts()
    holding = {name: rows for name, rows in current.items() if rows and name not in _NOT_DATA}
    if holding and not yes:
        raise BackupError(
            f"The {database.label} is not empty: it holds {sum(holding.values())} rows "
            f"({_table_list(holding)}). Restoring replaces all of it with the backup. "
            "Nothing was changed; run again with --yes to overwrite it.")
    kind = manifest["database"]["kind"]
    if kind != database.kind:
        raise BackupError(
            f"The backup holds a {dbs.KIND_NAMES[kind]} database, but this app uses the "
            f"{database.label}; a backup restores only into the same kind of database. "
            "Nothing was changed.")
    try:
        with tempfile.TemporaryDirectory(prefix="caseapp-restore-") as work:
            snapshot = _extract_snapshot(archive, manifest, Path(work))
            entries = dbs.check_snapshot(database, snapshot, current, manifest["database"]["tables"],
                                         Path(work))
            result = RestoreResult(archive, manifest, database.label, {})
            created = _put_blobs(archive, manifest, storage, result)
            try:
                dbs.replace_database(database, snapshot, entries)
            except BaseException:
                _take_back(storage, created)
                raise
    except OSError as error:
        raise BackupError(f"The restore failed: {error}. The database was not changed.") from None
    finally:
        release_connections()
    result.tables = dbs.current_counts()
    result.upgrade_hint = dbs.is_behind(manifest["database"]["alembic_revision"])
    return result


def _changed(archive: Path) -> BackupError:
    return BackupError(f"The archive {archive} changed while it was being restored. Nothing was changed.")


def _extract_snapshot(archive: Path, manifest: dict, work: Path) -> Path:
    """Copy the database member (the archive's first) to WORK, checked against the manifest."""
    name = manifest["database"]["member"]
    copied: list[arc.Member] = []

    def take_database(member: str, _size: int, stream: BinaryIO) -> bool:
        if member != name:
            return False
        copied.append(arc.copy_out(stream, work / name))
        return True

    arc.each_member(archive, take_database)
    expected = manifest["members"][name]
    if not copied or (copied[0].sha256, copied[0].size) != (expected["sha256"], expected["size"]):
        raise _changed(archive)
    return copied[0].path


def _put_blobs(archive: Path, manifest: dict, storage: Storage, result: RestoreResult) -> list[str]:
    """Stream every blob of the archive into the store; the SHA-256 of those it created.
    On any failure, what it created is taken away again before the error goes on."""
    expected = {name: entry for name, entry in manifest["members"].items()
                if arc.evidence_sha256(name) is not None}
    present = {blob.sha256: blob.size for blob in storage.blobs()}
    seen: set[str] = set()
    created: list[str] = []

    def put(name: str, size: int, stream: BinaryIO) -> None:
        sha256 = arc.evidence_sha256(name)
        if sha256 is None:
            return
        entry = expected.get(name)
        if entry is None or size != entry["size"]:
            raise _changed(archive)
        seen.add(name)
        if entry["sha256"] != sha256:  # damaged before it was backed up: never pass it off as good
            result.skipped_damaged.append(sha256)
            return
        stored_size = present.get(sha256)
        if stored_size == size:
            result.kept += 1
            return
        blob = storage.put(stream, size, replace=stored_size is not None)
        if blob.created and blob.sha256 not in present:
            created.append(blob.sha256)
        if blob.sha256 != sha256:
            raise _changed(archive)
        if stored_size is not None:
            result.repaired += 1  # a truncated copy: the archive's is the right one
        elif blob.created:
            result.written += 1
        else:
            result.kept += 1  # stored meanwhile by an upload of the same bytes

    try:
        arc.each_member(archive, put)
        if seen != set(expected):
            raise _changed(archive)
    except BaseException:
        _take_back(storage, created)
        raise
    return created


def _take_back(storage: Storage, created: list[str]) -> None:
    """After a failed restore: remove the blobs this restore added, unless the (unchanged)
    database uses them after all."""
    if not created:
        return
    try:
        release_connections()
        used = dbs.used_evidence()
    except Exception:
        return  # on doubt the blobs stay: an unused blob harms nothing
    for sha256 in created:
        if sha256 not in used:
            storage.delete(sha256)


# ---------------------------------------------------------------- words

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
