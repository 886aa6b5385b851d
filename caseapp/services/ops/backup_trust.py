"""What makes a backup archive trusted: who made it, and what its database snapshot holds.

A manifest's checksums prove that an archive is whole, not where it came from: anyone can
write a manifest for a dump of their own, and restoring a PostgreSQL dump runs its SQL
(functions, triggers, and as a superuser `COPY ... TO PROGRAM`). So:

- The manifest is signed with HMAC-SHA256 under a key kept apart from the archives
  (BACKUP_SIGNING_KEY or BACKUP_SIGNING_KEY_FILE). `flask restore` refuses an archive
  that is unsigned or signed with a key it does not hold, before it writes anything.
  Several keys may be configured, the first signs: rotation is adding a new key in front
  and dropping the old one once its archives have aged out.
- The snapshot holds only what caseapp creates, checked before it is restored: a
  PostgreSQL dump's table of contents (`pg_restore --list`) has only caseapp's tables,
  their data, sequences, column defaults, indexes and constraints (then exactly those
  entries are restored, `--use-list`); a SQLite snapshot only caseapp's tables and
  indexes (no trigger, no view, no virtual table).

The functions here only decide; backup.py reads the archive and says what was refused.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from caseapp.models.search import PG_EXTENSIONS as OWN_EXTENSIONS

ALGORITHM = "HMAC-SHA256"
MIN_KEY_CHARS = 32


class KeyProblem(ValueError):
    """The signing keys are missing or unusable; the message says what to set."""


# ---------------------------------------------------------------- keys

def load_keys(config: Mapping) -> list[bytes]:
    """The configured signing keys, the one that signs first.

    BACKUP_SIGNING_KEY holds one key or several separated by commas; the file named by
    BACKUP_SIGNING_KEY_FILE one per line (# starts a comment). With
    BACKUP_SIGNING_KEY_GENERATE (development), a missing file is created with a new key.
    """
    texts = [part.strip() for part in (config.get("BACKUP_SIGNING_KEY") or "").split(",")]
    path = config.get("BACKUP_SIGNING_KEY_FILE")
    if path:
        path = Path(path)
        if not path.exists() and config.get("BACKUP_SIGNING_KEY_GENERATE"):
            _generate(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise KeyProblem(f"Could not read the backup signing key file {path}: {error.strerror}.") from None
        texts += [line.split("#", 1)[0].strip() for line in lines]
    keys = [text for text in texts if text]
    if not keys:
        raise KeyProblem(
            "No backup signing key is configured. Set BACKUP_SIGNING_KEY (or BACKUP_SIGNING_KEY_FILE, "
            "a file holding it) to a long random secret, e.g. the output of "
            "`python3 -c \"import secrets; print(secrets.token_urlsafe(48))\"`, and keep it "
            "apart from the archives.")
    if any(len(key) < MIN_KEY_CHARS for key in keys):
        raise KeyProblem(f"A backup signing key must be at least {MIN_KEY_CHARS} characters long.")
    return [key.encode("utf-8") for key in keys]


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# caseapp backup signing key (development); keep it apart from the archives\n")
        out.write(secrets.token_urlsafe(48) + "\n")


def key_id(key: bytes) -> str:
    """A short name for a key, safe to write into archives: it reveals nothing of the key."""
    return hashlib.sha256(b"caseapp backup signing key id\x00" + key).hexdigest()[:16]


# ---------------------------------------------------------------- signatures

def sign(manifest: bytes, key: bytes) -> bytes:
    """The signature member written after the manifest."""
    signature = hmac.new(key, manifest, hashlib.sha256).hexdigest()
    return json.dumps({"algorithm": ALGORITHM, "key_id": key_id(key), "signature": signature},
                      indent=2, sort_keys=True).encode()


def signature_problem(manifest: bytes, member: bytes | None, keys: Iterable[bytes]) -> str | None:
    """Why `member` does not prove that one of `keys` signed `manifest`, or None."""
    if member is None:
        return "it is not signed (it has no manifest.sig)"
    try:
        data = json.loads(member)
        algorithm, claimed, signature = data["algorithm"], data["key_id"], data["signature"]
    except (ValueError, TypeError, KeyError):
        return "its manifest.sig is not a signature"
    if algorithm != ALGORITHM or not isinstance(signature, str):
        return f"its manifest.sig uses {algorithm!r}, not {ALGORITHM}"
    for key in keys:
        expected = hmac.new(key, manifest, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return None
    known = {key_id(key) for key in keys}
    if claimed in known:
        return "its manifest was changed after it was signed"
    return (f"it was signed with a key this installation does not hold (key id {str(claimed)[:16]!r}); "
            "an archive from another installation needs that installation's key")


# ---------------------------------------------------------------- what a snapshot may hold

@dataclass(frozen=True)
class Schema:
    """caseapp's tables and their columns (from the models), and the PostgreSQL schema."""

    tables: dict[str, frozenset[str]]
    namespace: str = "public"

    @property
    def sequences(self) -> set[str]:
        return {f"{table}_{column}_seq" for table, columns in self.tables.items() for column in columns}


# Entry kinds a dump of caseapp holds, longest first (so "TABLE DATA" is not read as "TABLE").
_PG_KINDS = ("SEQUENCE OWNED BY", "FK CONSTRAINT", "SEQUENCE SET", "TABLE DATA", "CONSTRAINT",
             "SEQUENCE", "DEFAULT", "INDEX", "TABLE")
_TOC_LINE = re.compile(r"(?P<id>\d+); (?P<table_oid>\d+) (?P<oid>\d+) (?P<rest>.*)")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


def pg_entries_problems(listing: str, schema: Schema) -> tuple[list[str], list[str]]:
    """(the lines of `pg_restore --list` to restore, what is refused), for a dump that may
    hold only caseapp's own tables, their data, sequences, column defaults, indexes and
    constraints, in `schema.namespace`. Anything else, or a line that cannot be read, is
    refused by its line."""
    allowed, refused = [], []
    for line in listing.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        if _pg_own_extension(line):
            continue  # made by caseapp's own statement before the restore, never from the archive
        if _pg_entry_is_ours(line, schema):
            allowed.append(line)
        else:
            refused.append(line.split(";", 1)[-1].strip())
    return allowed, refused


_OWN_EXTENSION = re.compile(r"\d+; \d+ \d+ (?:COMMENT - )?EXTENSION (?:- )?(?P<name>[a-z_0-9]+)(?: .*)?")


def _pg_own_extension(line: str) -> bool:
    """An extension caseapp's migrations create (its entry and its comment): left out of the
    restore, which creates it itself."""
    match = _OWN_EXTENSION.fullmatch(line.rstrip("\n").rstrip())
    return match is not None and match["name"] in OWN_EXTENSIONS


def _pg_entry_is_ours(line: str, schema: Schema) -> bool:
    match = _TOC_LINE.fullmatch(line.rstrip("\n"))
    if not match:
        return False
    rest = match["rest"]
    kind = next((k for k in _PG_KINDS if rest.startswith(k + " ")), None)
    if kind is None:
        return False
    words = rest[len(kind) + 1:].split(" ")
    if len(words) < 3 or words[0] != schema.namespace:
        return False  # namespace, the entry's name (one or two words), its owner
    name = words[1:-1]
    if not all(_IDENTIFIER.fullmatch(word) for word in name):
        return False
    if kind in ("TABLE", "TABLE DATA"):
        return len(name) == 1 and name[0] in schema.tables
    if kind in ("SEQUENCE", "SEQUENCE SET", "SEQUENCE OWNED BY"):
        return len(name) == 1 and name[0] in schema.sequences
    if kind == "DEFAULT":  # a column's default, e.g. nextval of its sequence
        return len(name) == 2 and name[1] in schema.tables.get(name[0], ())
    if kind in ("CONSTRAINT", "FK CONSTRAINT"):
        return len(name) == 2 and name[0] in schema.tables
    return len(name) == 1  # INDEX: its name; what it indexes is one of the tables above


def sqlite_objects_problems(rows: Iterable[tuple[str, str, str, str | None]], schema: Schema) -> list[str]:
    """What a SQLite snapshot (rows of sqlite_master: type, name, tbl_name, sql) holds
    beyond caseapp's tables and their indexes."""
    refused = []
    for kind, name, table, sql in rows:
        internal = name.startswith("sqlite_")  # sqlite_sequence, sqlite_stat1, automatic indexes
        virtual = kind == "table" and (sql or "").lstrip().upper().startswith("CREATE VIRTUAL")
        if kind == "table" and not virtual and (name in schema.tables or internal):
            continue
        if kind == "index" and (table in schema.tables or internal):
            continue
        refused.append(f"{'virtual table' if virtual else kind} {name}")
    return refused
