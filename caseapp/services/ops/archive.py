"""The backup archive: its members, its manifest, and reading and writing it safely.

A gzip-compressed tar holding, in this order:

    database.sqlite3 or database.pgdump   the database snapshot (see database.py)
    evidence/ab/cd/<sha256>               every evidence blob, named by its SHA-256
    manifest.json                         format version, when, database kind, alembic
                                          revision, rows per table, evidence figures and
                                          the SHA-256 and size of every other member
    manifest.sig                          HMAC-SHA256 of manifest.json under the signing
                                          key (see backup_trust), and the key's id

The manifest and its signature come last, so an archive cut short has none and is
refused as incomplete. The evidence members' names are the archive's own format: they
are what every caseapp since format 2 writes and reads, whatever store the blobs come
from or go to (the folder's ab/cd/<sha256> layout happens to look the same).
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from caseapp.services.evidence.storage import fsync_dir, publish_new
from caseapp.services.ops import backup_trust
from caseapp.services.ops.errors import BackupError

FORMAT = "caseapp-backup"
FORMAT_VERSION = 2  # 2: signed (manifest.sig); 1 was unsigned and is refused
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
DB_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
EVIDENCE_PREFIX = "evidence/"
_EVIDENCE_MEMBER_RE = re.compile(r"evidence/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_LIMITS = {MANIFEST: 64 * 1024 * 1024, SIGNATURE: 4096}
_CHUNK = 1024 * 1024


def evidence_member(sha256: str) -> str:
    return f"{EVIDENCE_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def evidence_sha256(name: str) -> str | None:
    """The blob a member name stands for, or None when it names no blob."""
    match = _EVIDENCE_MEMBER_RE.fullmatch(name)
    if match and match[3][:2] == match[1] and match[3][2:4] == match[2]:
        return match[3]
    return None


def damaged(archive: Path, why: str) -> BackupError:
    return BackupError(f"The archive {archive} is damaged or not a complete caseapp backup: {why}. "
                       "Nothing was changed.")


# ---------------------------------------------------------------- writing

@contextmanager
def writing(final: Path) -> Iterator[tarfile.TarFile]:
    """A tar to fill, written under a temporary name beside FINAL (readable by its owner
    only: it holds password hashes and the clients' files) and given FINAL's name only
    once complete and on disk. On any error nothing is left behind."""
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                yield tar
            raw.flush()
            os.fsync(raw.fileno())
        if not publish_new(tmp_name, final):
            raise BackupError(f"{final} appeared while the backup was written; it was left "
                              "alone. Run again, or choose another --output.")
        fsync_dir(final.parent)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


class _CheckedReader:
    """Hashes what tar reads. tar wants every read filled: a network stream may answer
    short, so reads are topped up, and a stream that ends before its announced size is
    refused in words (tar would stop with a bare "unexpected end of data")."""

    def __init__(self, stream: BinaryIO, size: int, name: str):
        self.stream, self.left, self.name = stream, size, name
        self.digest = hashlib.sha256()

    def read(self, size: int) -> bytes:
        size = min(size, self.left)
        chunk = self.stream.read(size)
        while len(chunk) < size:
            more = self.stream.read(size - len(chunk))
            if not more:
                raise BackupError(f"{self.name} became shorter while it was read (was it changed "
                                  "or removed?). Run the backup again.")
            chunk += more
        self.left -= len(chunk)
        self.digest.update(chunk)
        return chunk


def _member_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o600
    return info


def add_stream(tar: tarfile.TarFile, name: str, stream: BinaryIO, size: int, mtime: int) -> dict:
    """Add SIZE bytes of STREAM as member NAME; its manifest entry (SHA-256 and size)."""
    reader = _CheckedReader(stream, size, name)
    tar.addfile(_member_info(name, size, mtime), reader)
    return {"sha256": reader.digest.hexdigest(), "size": size}


def add_file(tar: tarfile.TarFile, name: str, path: Path, mtime: int) -> dict:
    with open(path, "rb") as stream:
        return add_stream(tar, name, stream, os.fstat(stream.fileno()).st_size, mtime)


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    tar.addfile(_member_info(name, len(data), mtime), io.BytesIO(data))


def manifest_bytes(manifest: dict) -> bytes:
    return json.dumps(manifest, indent=2, sort_keys=True).encode()


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class Member:
    path: Path | None  # where it was copied to; None when only hashed
    sha256: str
    size: int


def each_member(archive: Path, handle: Callable[[str, int, BinaryIO], bool | None]) -> None:
    """Call HANDLE(name, size, stream) for every member in order, until it returns True.

    Only plain files, each once, with the names of the format; anything else is refused
    as damaged. HANDLE reads the stream inside this call, so a member that cannot be read
    (a cut-short or corrupted archive) is a BackupError too.
    """
    seen: set[str] = set()
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                name = member.name
                if not member.isreg():
                    raise damaged(archive, f"it contains {name!r}, which is not a plain file")
                if name in seen:
                    raise damaged(archive, f"it contains {name!r} twice")
                seen.add(name)
                if name in _LIMITS:
                    if member.size > _LIMITS[name]:
                        raise damaged(archive, f"its {name} is implausibly large")
                elif name not in DB_MEMBERS.values() and evidence_sha256(name) is None:
                    raise damaged(archive, f"it contains an unexpected entry {name!r}")
                if handle(name, member.size, tar.extractfile(member)):
                    return
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise BackupError(f"{archive} is not a readable caseapp backup (a .tar.gz written by "
                          f"`flask backup`): {error or type(error).__name__}. Nothing was changed.") from None


def copy_out(stream: BinaryIO, dest: Path | None) -> Member:
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
    return Member(dest, digest.hexdigest(), size)


def trusted_manifest(archive: Path, keys: list[bytes]) -> tuple[bytes, dict]:
    """The manifest (its bytes, and parsed) once its signature and every member's checksum
    are checked, reading the whole archive and writing nothing."""
    special: dict[str, bytes] = {}
    found: dict[str, Member] = {}

    def hash_member(name: str, _size: int, stream: BinaryIO) -> None:
        if name in _LIMITS:
            special[name] = stream.read()
        else:
            found[name] = copy_out(stream, None)

    each_member(archive, hash_member)
    data, signature = special.get(MANIFEST), special.get(SIGNATURE)
    if data is None:
        raise damaged(archive, "it has no manifest.json (an archive cut short lacks it)")
    problem = backup_trust.signature_problem(data, signature, keys)
    if problem:
        if signature is None:
            problem += " (archives of caseapp before signing, format 1, are refused too: make a new backup)"
        raise BackupError(f"The archive {archive} is refused: {problem}. Only an archive signed with "
                          "this installation's backup signing key is restored. Nothing was changed.")
    manifest = parse_manifest(archive, data)
    check_members(archive, manifest, found)
    return data, manifest


def check_members(archive: Path, manifest: dict, found: dict[str, Member]) -> None:
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
        raise damaged(archive, "; ".join(problems[:5]) + more)


def parse_manifest(archive: Path, data: bytes) -> dict:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise damaged(archive, "its manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise damaged(archive, "its manifest.json is not a caseapp backup manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version != FORMAT_VERSION:
        raise BackupError(f"{archive} was written in backup format {version!r}; this caseapp reads "
                          f"format {FORMAT_VERSION}. Nothing was changed.")
    database, members = manifest.get("database"), manifest.get("members")
    if (not isinstance(database, dict) or database.get("kind") not in DB_MEMBERS
            or database.get("member") != DB_MEMBERS[database["kind"]]
            or not isinstance(database.get("tables"), dict)
            or not isinstance(members, dict) or not all(isinstance(v, dict) for v in members.values())):
        raise damaged(archive, "its manifest.json lacks the database or member list")
    return manifest
