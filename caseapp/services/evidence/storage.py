"""Content-addressed storage for evidence files, behind a small interface.

Views and services talk to a `Storage`; `LocalStorage` keeps blobs in a folder
(EVIDENCE_DIR). Another backend (an S3-compatible store) implements the same methods:
put, open, exists, delete for the app, and `blobs()` for backup, which lists what is
stored. Backup and restore see nothing else of a store, so how it lays out its blobs
(LocalStorage's ab/cd/<sha256> folders) stays its own business.

Blobs are named by the SHA-256 of their bytes, so two uploads of the same file share
one blob. Typical use from a service::

    blob = storage.put(upload.stream, max_bytes)
    try:
        kind = detect(blob.head, filename, open_full=lambda: storage.open(blob.sha256))
        ... insert the evidence row and commit ...
    except Exception:
        if blob.created and not <another row references blob.sha256>:
            storage.delete(blob.sha256)
        raise

`created` is False when the bytes were already stored. The check for other rows is
still needed: another upload of the same bytes may have found this blob between our
`put` and our failure.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, runtime_checkable

from caseapp.core.errors import DomainError, NotFound

HEAD_BYTES = 8 * 1024
CHUNK_BYTES = 64 * 1024
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class TooLarge(DomainError):
    code = "too_large"
    status = 413

    def __init__(self, max_bytes: int):
        mb = max_bytes / (1024 * 1024)
        limit = f"{mb:g} MB" if mb >= 1 else f"{max_bytes} bytes"
        super().__init__(f"The file is larger than the {limit} limit.")
        self.max_bytes = max_bytes


class InvalidDigest(ValueError):
    """Not a SHA-256 in lower-case hex: refused before it can become part of a path."""


class BlobNotFound(NotFound, FileNotFoundError):
    def __init__(self, sha256: str):
        super().__init__("The stored file is missing.")
        self.sha256 = sha256


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # True only for the call that wrote the blob
    head: bytes  # the first HEAD_BYTES bytes, for type detection


@dataclass(frozen=True)
class BlobInfo:
    sha256: str  # the blob's name; its bytes hash to it unless the copy is damaged
    size: int


def check_sha256(value: object) -> str:
    if not isinstance(value, str) or not _SHA256_RE.fullmatch(value):
        raise InvalidDigest(f"not a SHA-256 hex digest: {value!r}")
    return value


@runtime_checkable
class Storage(Protocol):
    def put(self, stream: BinaryIO, max_bytes: int, *, replace: bool = False) -> StoredBlob:
        """Store the bytes of `stream` under their SHA-256; TooLarge past `max_bytes`.

        A blob already stored under that name is kept (created=False), unless `replace`:
        then it is overwritten with these bytes, for a restore that repairs a damaged copy.
        """

    def open(self, sha256: str) -> BinaryIO:
        """The blob's bytes, opened for reading; BlobNotFound when it is not stored."""

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove the blob; nothing happens when it is not stored."""

    def blobs(self) -> Iterator[BlobInfo]:
        """Every stored blob, in the order of their names; never an upload in progress."""


class LocalStorage:
    """Blobs at ROOT/ab/cd/<sha256>; uploads in progress live in ROOT/tmp."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"

    def path_for(self, sha256: str) -> Path:
        sha256 = check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: BinaryIO, max_bytes: int, *, replace: bool = False) -> StoredBlob:
        """Copy `stream` into the store; raise TooLarge past `max_bytes` (see Storage.put).

        The bytes go to a temporary file in the same filesystem first, so the final
        name only ever appears complete, and nothing is left behind on failure.
        """
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        try:
            digest, size, head = hashlib.sha256(), 0, bytearray()
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self.path_for(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            if replace:
                os.replace(tmp_name, final)
                created = True
            else:
                created = publish_new(tmp_name, final)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        if created:
            fsync_dir(final.parent)
        return StoredBlob(sha256, size, created, bytes(head))

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self.path_for(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> None:
        # The ab/cd folders stay: removing them could race with a put that just made them.
        self.path_for(sha256).unlink(missing_ok=True)

    def blobs(self) -> Iterator[BlobInfo]:
        """Every ROOT/ab/cd/<sha256> that is a plain file; ROOT/tmp holds uploads in
        progress, and a symbolic link or a stray name is not a blob."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/??/*")):
            name = path.name
            if not _SHA256_RE.fullmatch(name) or path.parent.name != name[2:4] \
                    or path.parent.parent.name != name[:2]:
                continue
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # deleted since the listing
            if stat.S_ISREG(info.st_mode):
                yield BlobInfo(name, info.st_size)


def publish_new(tmp_name: str, final: Path) -> bool:
    """Give the finished temp file its final name; False if the blob already existed.

    A hard link is atomic and fails when the name exists, so of two uploads of the same
    bytes racing here exactly one reports created=True. Filesystems without hard links
    fall back to os.replace, which is atomic too but cannot tell who came first.
    """
    try:
        os.link(tmp_name, final)
        return True
    except FileExistsError:
        return False
    except OSError:
        if final.exists():
            return False
        os.replace(tmp_name, final)
        return True


def fsync_dir(path: Path) -> None:
    """Make the new directory entry survive a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
