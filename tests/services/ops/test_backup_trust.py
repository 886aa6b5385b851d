"""backup_trust: signing keys and signatures, and what a database snapshot may hold."""
from __future__ import annotations

import pytest

from caseapp.services.ops import backup_trust
from caseapp.services.ops.backup_trust import KeyProblem, Schema

KEY = b"k" * 40
SCHEMA = Schema({"notes": frozenset({"id", "body"}), "clients": frozenset({"id", "name"}),
                 "alembic_version": frozenset({"version_num"})})


def test_a_signature_proves_the_key_and_the_exact_manifest():
    manifest = b'{"format": "caseapp-backup"}'
    signature = backup_trust.sign(manifest, KEY)
    assert backup_trust.signature_problem(manifest, signature, [b"other" * 8, KEY]) is None
    assert "changed after it was signed" in backup_trust.signature_problem(manifest + b" ", signature, [KEY])
    assert "does not hold" in backup_trust.signature_problem(manifest, signature, [b"other" * 8])
    assert "not signed" in backup_trust.signature_problem(manifest, None, [KEY])
    assert "not a signature" in backup_trust.signature_problem(manifest, b"[]", [KEY])
    assert backup_trust.key_id(KEY) not in KEY.decode() and len(backup_trust.key_id(KEY)) == 16


def test_keys_come_from_the_variable_then_the_file_and_the_first_signs(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("# rotated 2026-11\n" + "b" * 40 + "\n\n" + "c" * 40 + "  # the old one\n")
    keys = backup_trust.load_keys({"BACKUP_SIGNING_KEY": "a" * 40, "BACKUP_SIGNING_KEY_FILE": str(key_file)})
    assert keys == [b"a" * 40, b"b" * 40, b"c" * 40]
    assert backup_trust.load_keys({"BACKUP_SIGNING_KEY": f"{'d' * 40}, {'e' * 40}"}) == [b"d" * 40, b"e" * 40]


@pytest.mark.parametrize("config, message", [
    ({}, "No backup signing key is configured"),
    ({"BACKUP_SIGNING_KEY": " , "}, "No backup signing key is configured"),
    ({"BACKUP_SIGNING_KEY": "short"}, "at least 32 characters"),
    ({"BACKUP_SIGNING_KEY_FILE": "/nonexistent/caseapp/key"}, "Could not read the backup signing key file"),
])
def test_missing_or_weak_keys_are_a_clear_problem(config, message):
    with pytest.raises(KeyProblem, match=message):
        backup_trust.load_keys(config)


def test_development_generates_a_private_key_file_once(tmp_path):
    path = tmp_path / "instance" / "backup_signing_key"
    config = {"BACKUP_SIGNING_KEY_FILE": str(path), "BACKUP_SIGNING_KEY_GENERATE": True}
    first = backup_trust.load_keys(config)
    assert path.stat().st_mode & 0o777 == 0o600 and len(first) == 1 and len(first[0]) >= 48
    assert backup_trust.load_keys(config) == first


# What pg_restore --list (PostgreSQL 15) writes for caseapp's objects, and for others.
OURS = """\
;
; Archive created at 2026-12-01 09:31:13 UTC
;     dbname: caseapp
;
; Selected TOC Entries:
;
216; 1259 175217 TABLE public notes postgres
215; 1259 175216 SEQUENCE public notes_id_seq postgres
3604; 0 0 SEQUENCE OWNED BY public notes_id_seq postgres
214; 1259 175211 TABLE public alembic_version postgres
3283; 2604 175220 DEFAULT public notes id postgres
3566; 0 175217 TABLE DATA public notes postgres
3600; 0 0 SEQUENCE SET public notes_id_seq postgres
3310; 2606 175224 CONSTRAINT public notes pk_notes postgres
3330; 1259 175600 INDEX public ix_notes_case_id postgres
3420; 2606 175610 FK CONSTRAINT public notes fk_notes_case_id_cases postgres
"""
THEIRS = [
    "252; 1255 175584 FUNCTION public evil() postgres",
    "3469; 2620 175585 TRIGGER public notes t postgres",
    "3613; 2618 175590 RULE public clients r postgres",
    "250; 1259 175586 VIEW public v postgres",
    "2; 3079 175591 EXTENSION - pgcrypto ",
    "3655; 0 0 COMMENT - EXTENSION pgcrypto ",
    "3664; 0 0 COMMENT public TABLE notes postgres",
    "7; 2615 175628 SCHEMA - other postgres",
    "3648; 0 175629 TABLE DATA other notes postgres",
    "3700; 0 0 DEFAULT ACL - DEFAULT PRIVILEGES FOR TABLES postgres",
    "3701; 3466 175700 EVENT TRIGGER - evil postgres",
    "251; 1259 175629 TABLE public somebody_elses postgres",
    "215; 1259 175216 SEQUENCE public evil_seq postgres",
    "3284; 2604 175229 DEFAULT public notes planted postgres",
    "3311; 2606 175225 CONSTRAINT public evil pk_evil postgres",
    "3330; 1259 175600 INDEX public ix_notes;DROP postgres",
    "a line pg_restore would never write",
]


def test_the_table_of_contents_of_caseapp_is_restored_entry_for_entry():
    allowed, refused = backup_trust.pg_entries_problems(OURS, SCHEMA)
    assert refused == []
    assert allowed == [line for line in OURS.splitlines() if not line.startswith(";")]


@pytest.mark.parametrize("line", THEIRS)
def test_anything_else_in_the_table_of_contents_is_refused(line):
    allowed, refused = backup_trust.pg_entries_problems(OURS + line + "\n", SCHEMA)
    assert refused == [line.split(";", 1)[-1].strip()] and line not in allowed


def test_the_table_of_contents_is_read_in_the_target_schema():
    moved = OURS.replace(" public ", " app ")
    assert backup_trust.pg_entries_problems(moved, Schema(SCHEMA.tables, "app"))[1] == []
    assert len(backup_trust.pg_entries_problems(moved, SCHEMA)[1]) == 10


def test_a_sqlite_snapshot_may_hold_caseapp_tables_and_indexes_only():
    ours = [("table", "notes", "notes", "CREATE TABLE notes (id INTEGER)"),
            ("index", "ix_notes_body", "notes", "CREATE INDEX ix_notes_body ON notes (body)"),
            ("index", "sqlite_autoindex_notes_1", "notes", None),
            ("table", "sqlite_sequence", "sqlite_sequence", "CREATE TABLE sqlite_sequence(name,seq)")]
    assert backup_trust.sqlite_objects_problems(ours, SCHEMA) == []
    theirs = [("trigger", "t", "notes", "CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM notes; END"),
              ("view", "v", "v", "CREATE VIEW v AS SELECT 1"),
              ("table", "notes", "notes", "CREATE VIRTUAL TABLE notes USING fts5(body)"),
              ("table", "elsewhere", "elsewhere", "CREATE TABLE elsewhere (a)"),
              ("index", "ix_elsewhere", "elsewhere", "CREATE INDEX ix_elsewhere ON elsewhere (a)")]
    assert backup_trust.sqlite_objects_problems(ours + theirs, SCHEMA) == [
        "trigger t", "view v", "virtual table notes", "table elsewhere", "index ix_elsewhere"]
