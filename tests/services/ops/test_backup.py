"""`flask backup` and `flask restore`: a round trip through one archive gives back every row
and every evidence file; a damaged archive, a database of another kind and a non-empty
database without --yes are refused without changing anything; a snapshot taken while
the app writes is one consistent moment. Runs on SQLite, or on PostgreSQL with
TEST_DATABASE_URL."""
from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text, update
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, Note, User, utcnow
from caseapp.services.accounts import people
from caseapp.services.cases import records
from caseapp.services.evidence import files as evidence
from caseapp.services.evidence.storage import BlobInfo
from caseapp.services.poa import drafts
from caseapp.services.appeals import submissions
from caseapp.services.ops import backup_trust
from caseapp.services.ops.backup import DB_MEMBERS
from caseapp.services.evidence.storage import LocalStorage
from caseapp.services.ops import archive as archive_format
from tests.storage_doubles import ObjectStorage

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


@pytest.fixture(autouse=True)
def _release_connections(app):
    yield
    db.session.remove()
    db.engine.dispose()


@pytest.fixture
def filled(world):
    """A case with notes, a POA draft, a submission (with its reminder) and two evidence files."""
    return fill(world)


def fill(world):
    actor, case = world.consultant_a, world.case_a
    records.add_note(actor, case.id, "Called the seller; the complaints concern late deliveries.")
    records.add_note(actor, case.id, "Invoices from the **supplier** arrive on Monday.")
    draft = drafts.start_from_starter(actor, case.id)
    submissions.record_submission(actor, case.id, {
        "poa_draft_id": draft.id, "channel": "account_health_appeal",
        "submitted_at": utcnow() - timedelta(hours=3), "amazon_reference": "APPEAL-1142"})
    for data, name, category in ((PDF, "invoice.pdf", "invoice"), (PNG, "screen.png", "screenshot")):
        evidence.upload(actor, case.id, FileStorage(io.BytesIO(data), filename=name), category=category)
    return world


def dump() -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order, read afresh from the database."""
    db.session.remove()
    tables = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            tables[table.name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
    return tables


def blobs(app) -> dict[str, bytes]:
    root = Path(app.config["EVIDENCE_DIR"])
    return {p.name: p.read_bytes() for p in root.glob("??/??/*") if p.is_file()}


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def backup(app, path: Path) -> dict:
    result = run(app, "backup", "--output", str(path))
    assert result.exit_code == 0, result.output
    assert str(path) in result.output
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("manifest.json"))


def rebuild(source: Path, target: Path, change, sign_with: bytes | None = None) -> None:
    """Copy the archive member by member, letting CHANGE(name, bytes) alter a member; with
    SIGN_WITH, the (changed) manifest is signed again with that key."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        manifest = None
        for member in old.getmembers():
            data = old.extractfile(member).read()
            name, data = change(member.name, data)
            if name == "manifest.json":
                manifest = data
            if name == "manifest.sig" and sign_with is not None:
                data = backup_trust.sign(manifest, sign_with)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))


def our_key(app) -> bytes:
    return app.config["BACKUP_SIGNING_KEY"].encode()


def kind() -> str:
    return db.engine.dialect.name


def test_round_trip_brings_back_every_row_and_file(app, filled, tmp_path, monkeypatch):
    actor_id, case_id = filled.consultant_a.id, filled.case_a.id
    before, files_before = dump(), blobs(app)
    assert len(files_before) == 2 and before["reminders"] and before["poa_drafts"] and before["notes"]

    monkeypatch.chdir(tmp_path)  # the default name lands in the current folder
    result = run(app, "backup")
    assert result.exit_code == 0, result.output
    (archive,) = tmp_path.glob("caseapp-backup-*.tar.gz")
    assert re.fullmatch(r"caseapp-backup-\d{8}T\d{6}Z\.tar\.gz", archive.name)
    assert archive.stat().st_mode & 0o077 == 0  # it holds password hashes: owner only
    assert not list(tmp_path.glob(".*part"))
    assert "evidence: 2 files" in result.output and f"database: {kind()}" in result.output

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["format_version"] == 2 and manifest["database"]["kind"] == kind()
    assert names[-2:] == ["manifest.json", "manifest.sig"]  # last: an archive cut short has neither
    assert DB_MEMBERS[kind()] in names
    assert sorted(n for n in names if n.startswith("evidence/")) == sorted(
        f"evidence/{s[:2]}/{s[2:4]}/{s}" for s in files_before)
    assert set(manifest["members"]) == set(names) - {"manifest.json", "manifest.sig"}
    assert manifest["database"]["tables"]["notes"] == len(before["notes"])
    assert manifest["database"]["tables"]["reminders"] == len(before["reminders"])
    assert manifest["evidence"] == {"files": 2, "bytes": len(PDF) + len(PNG), "missing": [], "damaged": []}

    # Damage: rows deleted and changed, a row added, evidence files lost.
    db.session.execute(delete(Note))
    db.session.execute(update(Case).values(title="Overwritten"))
    db.session.commit()
    people.create_agency("Agency C")
    storage = LocalStorage(app.config["EVIDENCE_DIR"])
    for sha in files_before:
        storage.delete(sha)
    assert dump() != before and blobs(app) == {}

    result = run(app, "restore", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    assert "2 files written" in result.output
    assert dump() == before
    assert blobs(app) == files_before
    assert not list((Path(app.config["EVIDENCE_DIR"]) / "tmp").iterdir())  # staging cleaned up

    # The restored database keeps working: ids continue after the restored ones.
    note = records.add_note(db.session.get(User, actor_id), case_id, "After the restore.")
    assert note.id > max(row[0] for row in before["notes"])

    # Restoring again keeps the blobs that are already there.
    result = run(app, "restore", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    assert "0 files written, 2 already present" in result.output
    assert dump() == before


def test_restore_refuses_a_non_empty_database_without_yes(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    people.create_agency("Agency C")
    before = dump()
    result = run(app, "restore", str(archive))
    assert result.exit_code != 0
    assert "not empty" in result.output and "--yes" in result.output and "agencies 3" in result.output
    assert "Traceback" not in result.output
    assert dump() == before


def test_restore_into_an_empty_database_needs_no_yes(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    before, files = dump(), blobs(app)
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    result = run(app, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert dump() == before and blobs(app) == files


@pytest.mark.parametrize("target", ["database", "evidence"])
def test_restore_refuses_a_tampered_archive_and_changes_nothing(app, filled, tmp_path, target):
    archive, tampered = tmp_path / "backup.tar.gz", tmp_path / "tampered.tar.gz"
    backup(app, archive)

    def flip(name, data):
        if name.startswith(target):
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
        return name, data

    rebuild(archive, tampered, flip)
    people.create_agency("Agency C")
    storage = LocalStorage(app.config["EVIDENCE_DIR"])
    lost = next(iter(blobs(app)))
    storage.delete(lost)
    before, files = dump(), blobs(app)

    result = run(app, "restore", str(tampered), "--yes")
    assert result.exit_code != 0
    assert "damaged" in result.output and "does not match its checksum" in result.output
    assert "Nothing was changed" in result.output and "Traceback" not in result.output
    assert dump() == before and blobs(app) == files  # the lost blob did not come back either
    assert not list((Path(app.config["EVIDENCE_DIR"]) / "tmp").iterdir())


def test_restore_refuses_a_cut_short_or_foreign_file(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    before = dump()
    short = tmp_path / "short.tar.gz"
    short.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an archive")
    for path in (short, text_file, tmp_path / "missing.tar.gz"):
        result = run(app, "restore", str(path), "--yes")
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        assert "Error:" in result.output
    assert dump() == before


def test_restore_refuses_a_backup_of_the_other_database_kind(app, filled, tmp_path):
    archive, foreign = tmp_path / "backup.tar.gz", tmp_path / "foreign.tar.gz"
    backup(app, archive)
    ours = kind()
    other = "postgresql" if ours == "sqlite" else "sqlite"

    def as_other(name, data):
        if name == DB_MEMBERS[ours]:
            return DB_MEMBERS[other], data
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["database"].update(kind=other, member=DB_MEMBERS[other])
            manifest["members"][DB_MEMBERS[other]] = manifest["members"].pop(DB_MEMBERS[ours])
            return name, json.dumps(manifest).encode()
        return name, data

    rebuild(archive, foreign, as_other, sign_with=our_key(app))
    before = dump()
    result = run(app, "restore", str(foreign), "--yes")
    assert result.exit_code != 0
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    assert f"holds a {names[other]} database" in result.output and names[ours] in result.output
    assert dump() == before


def test_backup_never_overwrites_and_reports_a_missing_folder(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    first = archive.read_bytes()
    result = run(app, "backup", "--output", str(archive))
    assert result.exit_code != 0 and "already exists" in result.output
    assert archive.read_bytes() == first
    result = run(app, "backup", "--output", str(tmp_path / "nowhere" / "b.tar.gz"))
    assert result.exit_code != 0 and "does not exist" in result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "evidence") == ["backup.tar.gz"]


def test_backup_while_the_app_writes_is_one_consistent_moment(app, filled, tmp_path):
    """A writer adds a note and its timeline entry in one transaction, over and over; the
    snapshot holds as many of the one as of the other, and restores to its manifest's counts."""
    engine, case_id = db.engine, filled.case_a.id
    notes_before = len(dump()["notes"])
    events_before = len(dump()["case_events"])
    stop, written, errors = threading.Event(), [0], []

    def writer():
        try:
            while not stop.is_set():
                with engine.begin() as conn:
                    conn.execute(insert(Note).values(case_id=case_id, body=f"n{written[0]}",
                                                     created_at=utcnow()))
                    conn.execute(insert(CaseEvent).values(case_id=case_id, kind="note_added",
                                                          summary="Note", data={}, occurred_at=utcnow()))
                written[0] += 1
        except Exception as error:  # reported by the test, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20 and thread.is_alive():
            stop.wait(0.005)
        manifest = backup(app, tmp_path / "backup.tar.gz")
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    tables = manifest["database"]["tables"]
    added = tables["notes"] - notes_before
    assert added >= 20 and tables["case_events"] - events_before == added
    assert written[0] >= added

    result = run(app, "restore", str(tmp_path / "backup.tar.gz"), "--yes")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    restored = dump()
    assert {name: len(rows) for name, rows in restored.items()} == {
        name: tables[name] for name in restored}


# ---------------------------------------------------------------- who made the archive

def refused_and_unchanged(app, path: Path, *phrases: str):
    """Restore PATH with --yes: refused with each phrase, nothing changed, nothing staged."""
    before, files = dump(), blobs(app)
    result = run(app, "restore", str(path), "--yes")
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    for phrase in phrases:
        assert phrase in result.output, result.output
    assert "Nothing was changed" in result.output
    assert dump() == before and blobs(app) == files
    staging = Path(app.config["EVIDENCE_DIR"]) / "tmp"
    assert not staging.exists() or not list(staging.iterdir())
    return result


def test_an_archive_resigned_with_another_key_is_refused(app, filled, tmp_path):
    """Checksums prove an archive whole, not who made it: a manifest written and signed by
    someone else (for a dump of their own) is refused before anything is read into place."""
    archive, forged = tmp_path / "backup.tar.gz", tmp_path / "forged.tar.gz"
    backup(app, archive)
    rebuild(archive, forged, lambda name, data: (name, data),
            sign_with=b"a-key-of-someone-else-0123456789abcdef")
    people.create_agency("Agency C")
    refused_and_unchanged(app, forged, "refused", "signed with a key this installation does not hold")


def test_an_unsigned_or_changed_manifest_is_refused(app, filled, tmp_path):
    archive, unsigned, changed = (tmp_path / name for name in ("b.tar.gz", "unsigned.tar.gz", "changed.tar.gz"))
    backup(app, archive)

    def drop_signature(name, data):
        return ("manifest.sig.removed", data) if name == "manifest.sig" else (name, data)

    def more_rows(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["database"]["tables"]["notes"] += 1
            data = json.dumps(manifest).encode()
        return name, data

    rebuild(archive, unsigned, drop_signature)
    with tarfile.open(unsigned) as tar, tarfile.open(tmp_path / "u.tar.gz", "w:gz") as out:
        for member in tar.getmembers():  # an archive of the old format: no signature at all
            if member.name != "manifest.sig.removed":
                out.addfile(member, tar.extractfile(member))
    refused_and_unchanged(app, tmp_path / "u.tar.gz", "it is not signed", "format 1")
    rebuild(archive, changed, more_rows)
    refused_and_unchanged(app, changed, "its manifest was changed after it was signed")


def test_rotated_keys_restore_older_archives_and_drop_retired_ones(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)  # signed with the key of TestingConfig
    old = app.config["BACKUP_SIGNING_KEY"]
    new = "the-next-backup-signing-key-0123456789abcdef"
    app.config["BACKUP_SIGNING_KEY"] = f"{new}, {old}"
    result = run(app, "restore", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    newer = tmp_path / "newer.tar.gz"
    backup(app, newer)
    with tarfile.open(newer) as tar:
        assert json.load(tar.extractfile("manifest.sig"))["key_id"] == backup_trust.key_id(new.encode())
    app.config["BACKUP_SIGNING_KEY"] = new  # the old key retired
    refused_and_unchanged(app, archive, "signed with a key this installation does not hold",
                          backup_trust.key_id(old.encode()))
    assert run(app, "restore", str(newer), "--yes").exit_code == 0


def test_without_a_signing_key_backup_and_restore_refuse(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    app.config.update(BACKUP_SIGNING_KEY=None, BACKUP_SIGNING_KEY_FILE=None)
    result = run(app, "backup", "--output", str(tmp_path / "second.tar.gz"))
    assert result.exit_code != 0 and "No backup signing key is configured" in result.output
    assert "BACKUP_SIGNING_KEY" in result.output and not (tmp_path / "second.tar.gz").exists()
    refused_and_unchanged(app, archive, "No backup signing key is configured")
    app.config["BACKUP_SIGNING_KEY"] = "too-short"
    assert "at least 32 characters" in run(app, "backup", "--output", str(tmp_path / "s.tar.gz")).output


def test_development_generates_its_key_once_into_a_private_file(app, filled, tmp_path):
    key_file = tmp_path / "instance" / "backup_signing_key"
    app.config.update(BACKUP_SIGNING_KEY=None, BACKUP_SIGNING_KEY_FILE=str(key_file),
                      BACKUP_SIGNING_KEY_GENERATE=True)
    backup(app, tmp_path / "one.tar.gz")
    first = key_file.read_text()
    assert key_file.stat().st_mode & 0o077 == 0
    backup(app, tmp_path / "two.tar.gz")
    assert key_file.read_text() == first
    assert run(app, "restore", str(tmp_path / "one.tar.gz"), "--yes").exit_code == 0


# ---------------------------------------------------------------- what the snapshot may hold

# Objects a database may have gained that caseapp never creates: a backup of it (signed,
# by `flask backup` itself) must not carry them into the database it is restored to.
FOREIGN_OBJECTS = {
    "trigger": {
        "sqlite": (["CREATE TRIGGER caseapp_evil AFTER INSERT ON notes BEGIN DELETE FROM notes; END"],
                   ["DROP TRIGGER IF EXISTS caseapp_evil"], "trigger caseapp_evil"),
        "postgresql": (["CREATE FUNCTION caseapp_evil() RETURNS trigger LANGUAGE plpgsql "
                        "AS $$ BEGIN NEW.body := 'planted'; RETURN NEW; END $$",
                        "CREATE TRIGGER caseapp_evil BEFORE INSERT ON notes FOR EACH ROW "
                        "EXECUTE FUNCTION caseapp_evil()"],
                       ["DROP FUNCTION IF EXISTS caseapp_evil() CASCADE"], "FUNCTION public caseapp_evil()"),
    },
    "view": {
        "sqlite": (["CREATE VIEW caseapp_evil AS SELECT 1"], ["DROP VIEW IF EXISTS caseapp_evil"],
                   "view caseapp_evil"),
        "postgresql": (["CREATE VIEW caseapp_evil AS SELECT 1"], ["DROP VIEW IF EXISTS caseapp_evil"],
                       "VIEW public caseapp_evil"),
    },
    "rule or virtual table": {
        "sqlite": (["CREATE VIRTUAL TABLE caseapp_evil USING fts5(body)"],
                   ["DROP TABLE IF EXISTS caseapp_evil"], "virtual table caseapp_evil"),
        "postgresql": (["CREATE RULE caseapp_evil AS ON INSERT TO clients DO ALSO NOTIFY caseapp"],
                       ["DROP RULE IF EXISTS caseapp_evil ON clients"], "RULE public clients caseapp_evil"),
    },
    "another program's table": {
        "sqlite": (["CREATE TABLE caseapp_evil (a integer)"], ["DROP TABLE IF EXISTS caseapp_evil"],
                   "table caseapp_evil"),
        "postgresql": (["CREATE TABLE caseapp_evil (a integer)", "COMMENT ON TABLE notes IS 'planted'"],
                       ["DROP TABLE IF EXISTS caseapp_evil", "COMMENT ON TABLE notes IS NULL"],
                       "TABLE public caseapp_evil"),
    },
}


@pytest.fixture
def foreign_object(request, app):
    create, drop, named = FOREIGN_OBJECTS[request.param][kind()]
    try:
        with db.engine.begin() as conn:
            for statement in create:
                conn.execute(text(statement))
        yield named
    finally:
        db.session.remove()
        with db.engine.begin() as conn:
            for statement in drop:
                conn.execute(text(statement))


@pytest.mark.parametrize("foreign_object", list(FOREIGN_OBJECTS), indirect=True)
def test_a_snapshot_with_objects_caseapp_does_not_create_is_refused(app, filled, tmp_path, foreign_object):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)  # a real pg_dump (or SQLite snapshot) of the database as it is now
    people.create_agency("Agency C")
    refused_and_unchanged(app, archive, "holds what caseapp does not create", foreign_object)


def test_search_finds_the_same_things_after_a_restore(app, filled, tmp_path):
    """The archive holds the search rows, not what each database derives from them (FTS5
    tables and triggers, pg_trgm); the restore makes those again."""
    from caseapp.models import User
    from caseapp.services.cases import search

    actor_id, case_id = filled.consultant_a.id, filled.case_a.id

    def found(query):
        db.session.remove()
        return sorted((h.kind, h.object_id) for h in search.search(db.session.get(User, actor_id), query))

    before = found("supplier") + found("APPEAL-11")
    assert {kind for kind, _ in before} == {"note", "submission"}
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    assert run(app, "restore", str(archive), "--yes").exit_code == 0
    assert found("supplier") + found("APPEAL-11") == before
    # And the index keeps following changes after the restore.
    records.add_note(db.session.get(User, actor_id), case_id, "Restored and still searched: zebra.")
    db.session.commit()
    assert [kind for kind, _ in found("zebra")] == ["note"]


def test_the_restore_runs_exactly_the_checked_entries(app, filled, tmp_path, monkeypatch):
    """PostgreSQL: pg_restore runs the table of contents that was checked, entry for entry.
    SQLite: the snapshot is copied page by page; no SQL tool runs at all."""
    from caseapp.services.ops import database as database_service

    lists, commands = [], []
    real_run = database_service.run

    def run_noting_lists(command, *args):
        commands.append(command[0])
        lists.extend(Path(arg.split("=", 1)[1]).read_text() for arg in command if arg.startswith("--use-list="))
        return real_run(command, *args)

    monkeypatch.setattr(database_service, "run", run_noting_lists)
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    if kind() != "postgresql":
        commands.clear()
        assert run(app, "restore", str(archive), "--yes").exit_code == 0
        assert commands == [] and lists == []
        return
    with tarfile.open(archive) as tar:
        tar.extract(DB_MEMBERS["postgresql"], tmp_path, filter="data")
    toc = subprocess.run(["pg_restore", "--list", str(tmp_path / DB_MEMBERS["postgresql"])],
                         capture_output=True, text=True, check=True).stdout
    assert run(app, "restore", str(archive), "--yes").exit_code == 0
    (used,) = lists
    entries = [line for line in toc.splitlines() if line and not line.startswith(";")]
    # Every entry but caseapp's own extension (pg_trgm, for search), which the restore creates
    # with its own statement rather than the archive's.
    extension = [e for e in entries if "EXTENSION" in e]
    assert extension and all("pg_trgm" in e for e in extension)
    assert used.splitlines() == [e for e in entries if e not in extension]
    assert any(" TABLE DATA public notes " in e for e in entries)


# ---------------------------------------------------------------- any evidence store

@pytest.fixture
def object_store(app, monkeypatch):
    """The app's evidence store is an object store (as with EVIDENCE_STORAGE_URL=s3://...):
    nothing of the evidence is in EVIDENCE_DIR. `use(store)` switches to another one."""
    current = {"store": ObjectStorage()}
    monkeypatch.setattr(evidence, "get_storage", lambda: current["store"])

    def use(store):
        current["store"] = store
        return store

    use.store = lambda: current["store"]
    return use


def members_of(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_a_backup_of_an_object_store_holds_its_evidence_and_restores_into_an_empty_one(
        app, world, object_store, tmp_path):
    """Before, backup globbed EVIDENCE_DIR: with the evidence in an object store the archive
    held none of it, and restore wrote the files into a folder the app does not read."""
    fill(world)
    actor_id = world.consultant_a.id
    source = object_store.store()
    files = source.contents()
    assert sorted(files.values()) == sorted([PDF, PNG])
    assert not Path(app.config["EVIDENCE_DIR"]).exists()
    before = dump()

    archive = tmp_path / "backup.tar.gz"
    manifest = backup(app, archive)
    members = members_of(archive)
    assert {name: data for name, data in members.items() if name.startswith("evidence/")} == {
        f"evidence/{s[:2]}/{s[2:4]}/{s}": data for s, data in files.items()}
    assert manifest["evidence"] == {"files": 2, "bytes": len(PDF) + len(PNG), "missing": [], "damaged": []}

    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    empty_bucket = object_store(ObjectStorage(prefix="restored/"))
    result = run(app, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "2 files written, 0 already present" in result.output
    assert empty_bucket.contents() == files and dump() == before
    assert not Path(app.config["EVIDENCE_DIR"]).exists()

    # The restored app serves its files from that store.
    row = db.session.scalars(select(evidence.Evidence)).first()
    _row, stream = evidence.open_file(db.session.get(User, actor_id), row.id)
    with stream:
        assert stream.read() == files[row.sha256]


def test_an_object_store_backup_restores_into_a_folder_and_back(app, world, object_store, tmp_path):
    fill(world)
    files = object_store.store().contents()
    from_bucket = tmp_path / "from-bucket.tar.gz"
    backup(app, from_bucket)

    folder = object_store(LocalStorage(app.config["EVIDENCE_DIR"]))
    result = run(app, "restore", str(from_bucket), "--yes")
    assert result.exit_code == 0, result.output
    assert blobs(app) == files and "2 files written" in result.output

    from_folder = tmp_path / "from-folder.tar.gz"
    backup(app, from_folder)
    assert {n: d for n, d in members_of(from_folder).items() if n.startswith("evidence/")} == {
        n: d for n, d in members_of(from_bucket).items() if n.startswith("evidence/")}
    bucket = object_store(ObjectStorage())
    result = run(app, "restore", str(from_folder), "--yes")
    assert result.exit_code == 0, result.output
    assert bucket.contents() == files
    assert list(folder.blobs()) == [BlobInfo(s, len(d)) for s, d in sorted(files.items())]


def test_restore_replaces_a_damaged_copy_in_the_store(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    storage = LocalStorage(app.config["EVIDENCE_DIR"])
    files = blobs(app)
    cut = next(s for s, data in files.items() if data == PDF)
    storage.path_for(cut).write_bytes(PDF[:10])

    result = run(app, "restore", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    assert "0 files written, 1 already present, 1 damaged copies replaced" in result.output
    assert blobs(app) == files


def test_an_archive_changed_after_its_check_puts_nothing_into_the_store(
        app, world, object_store, tmp_path, monkeypatch):
    """Restore reads the archive again to stream the blobs into the store: one whose bytes
    no longer hash to the checked manifest is refused, and what it added is taken away."""
    fill(world)
    store = object_store.store()
    archive, swapped = tmp_path / "backup.tar.gz", tmp_path / "swapped.tar.gz"
    backup(app, archive)

    def flip(name, data):
        if name.startswith("evidence/"):
            data = data[:-1] + bytes([data[-1] ^ 0x01])
        return name, data

    rebuild(archive, swapped, flip)
    real_check = archive_format.trusted_manifest
    monkeypatch.setattr(archive_format, "trusted_manifest", lambda _path, keys: real_check(archive, keys))
    lost = next(iter(store.contents()))
    store.delete(lost)
    people.create_agency("Agency C")
    before, objects = dump(), store.contents()

    result = run(app, "restore", str(swapped), "--yes")
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert "changed while it was being restored" in result.output and "Nothing was changed" in result.output
    assert dump() == before and store.contents() == objects


def test_a_blob_that_shrinks_while_it_is_backed_up_fails_the_backup_in_words(
        app, world, object_store, tmp_path):
    fill(world)
    store = object_store.store()
    real_blobs = store.blobs

    def listed_then_cut():
        for blob in real_blobs():
            key = store.key(blob.sha256)
            store.objects[key] = store.objects[key][:5]  # shrinks between the listing and the read
            yield blob

    store.blobs = listed_then_cut
    result = run(app, "backup", "--output", str(tmp_path / "b.tar.gz"))
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert "became shorter while it was read" in result.output
    assert list(tmp_path.iterdir()) == []
