"""An evidence store that is not a folder, for tests of what must go through `Storage`.

`ObjectStorage` keeps blobs the way an S3-compatible bucket does: objects under keys in a
mapping, nothing on the local disk, a write replaces an object whole, a read may answer
fewer bytes than asked for. Code that reaches around the interface to EVIDENCE_DIR finds
nothing there. (caseapp has no S3 backend yet; one would pass the same tests.)
"""
from __future__ import annotations

import hashlib
import io
from typing import BinaryIO, Iterator

from caseapp.services.evidence.storage import (
    CHUNK_BYTES,
    HEAD_BYTES,
    BlobInfo,
    BlobNotFound,
    StoredBlob,
    TooLarge,
    check_sha256,
)


class _Trickle(io.RawIOBase):
    """A download that hands out at most `piece` bytes a read, as a socket may."""

    def __init__(self, data: bytes, piece: int = 1000):
        self.data, self.pos, self.piece = data, 0, piece

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data[self.pos:self.pos + min(len(buffer), self.piece)]
        buffer[:len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


class ObjectStorage:
    def __init__(self, prefix: str = "evidence/"):
        self.prefix = prefix
        self.objects: dict[str, bytes] = {}

    def key(self, sha256: str) -> str:
        return self.prefix + check_sha256(sha256)

    def put(self, stream: BinaryIO, max_bytes: int, *, replace: bool = False) -> StoredBlob:
        digest, parts, size = hashlib.sha256(), [], 0
        while chunk := stream.read(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(max_bytes)
            digest.update(chunk)
            parts.append(chunk)
        data, sha256 = b"".join(parts), digest.hexdigest()
        created = replace or self.key(sha256) not in self.objects
        if created:
            self.objects[self.key(sha256)] = data
        return StoredBlob(sha256, size, created, data[:HEAD_BYTES])

    def open(self, sha256: str) -> BinaryIO:
        try:
            return _Trickle(self.objects[self.key(sha256)])
        except KeyError:
            raise BlobNotFound(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self.key(sha256) in self.objects

    def delete(self, sha256: str) -> None:
        self.objects.pop(self.key(sha256), None)

    def blobs(self) -> Iterator[BlobInfo]:
        for key in sorted(self.objects):
            yield BlobInfo(key[len(self.prefix):], len(self.objects[key]))

    def contents(self) -> dict[str, bytes]:
        """sha256 -> bytes of every object, for assertions."""
        return {key[len(self.prefix):]: data for key, data in self.objects.items()}
