"""`flask backup` and `flask restore`: a round trip through one archive gives back every row
and every evidence file; a damaged archive, a database of another kind and a non-empty
database without --yes are refused without changing anything; a snapshot taken while
the app writes is one consistent moment. Runs on SQLite, or on PostgreSQL with
TEST_DATABASE_URL."""
from __future__ import annotations

import io
import json
import re
import tarfile
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, Note, User, utcnow
from caseapp.services import accounts, cases, evidence, poa, submissions
from caseapp.services.backup import DB_MEMBERS
from caseapp.services.evidence_storage import LocalStorage

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
    actor, case = world.consultant_a, world.case_a
    cases.add_note(actor, case.id, "Called the seller; the complaints concern late deliveries.")
    cases.add_note(actor, case.id, "Invoices from the **supplier** arrive on Monday.")
    draft = poa.start_from_starter(actor, case.id)
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


def rebuild(source: Path, target: Path, change) -> None:
    """Copy the archive member by member, letting CHANGE(name, bytes) alter a member."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read()
            name, data = change(member.name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))


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
    assert manifest["format_version"] == 1 and manifest["database"]["kind"] == kind()
    assert DB_MEMBERS[kind()] in names
    assert sorted(n for n in names if n.startswith("evidence/")) == sorted(
        f"evidence/{s[:2]}/{s[2:4]}/{s}" for s in files_before)
    assert set(manifest["members"]) == set(names) - {"manifest.json"}
    assert manifest["database"]["tables"]["notes"] == len(before["notes"])
    assert manifest["database"]["tables"]["reminders"] == len(before["reminders"])
    assert manifest["evidence"] == {"files": 2, "bytes": len(PDF) + len(PNG), "missing": [], "damaged": []}

    # Damage: rows deleted and changed, a row added, evidence files lost.
    db.session.execute(delete(Note))
    db.session.execute(update(Case).values(title="Overwritten"))
    db.session.commit()
    accounts.create_agency("Agency C")
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
    note = cases.add_note(db.session.get(User, actor_id), case_id, "After the restore.")
    assert note.id > max(row[0] for row in before["notes"])

    # Restoring again keeps the blobs that are already there.
    result = run(app, "restore", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    assert "0 files written, 2 already present" in result.output
    assert dump() == before


def test_restore_refuses_a_non_empty_database_without_yes(app, filled, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    backup(app, archive)
    accounts.create_agency("Agency C")
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
    accounts.create_agency("Agency C")
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

    rebuild(archive, foreign, as_other)
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
