import hashlib
import io
import os
import zipfile

import pytest

from caseapp.services.evidence.storage import (
    CHUNK_BYTES,
    HEAD_BYTES,
    BlobInfo,
    BlobNotFound,
    InvalidDigest,
    LocalStorage,
    Storage,
    TooLarge,
)
from caseapp.services.evidence.file_types import DOCX, detect
from tests.storage_doubles import ObjectStorage

MB = 1024 * 1024


def files_under(root) -> list:
    """Every regular file in the store, temporary ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ScriptedStream(io.RawIOBase):
    """Hands out `data` in small pieces, calling `on_read` before each, then fails if asked."""

    def __init__(self, data: bytes, on_read=None, fail_after: int | None = None):
        self.data, self.pos, self.on_read, self.fail_after = data, 0, on_read, fail_after

    def readable(self):
        return True

    def read(self, size=-1):
        if self.on_read:
            self.on_read(self.pos)
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise OSError("connection reset by peer")
        piece = self.data[self.pos:self.pos + min(size, 4096)]
        self.pos += len(piece)
        return piece


class EndlessStream(io.RawIOBase):
    def __init__(self):
        self.delivered = 0

    def read(self, size=-1):
        self.delivered += size
        return b"x" * size


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "evidence")


def test_put_stores_the_bytes_under_their_sha256(storage):
    data = b"%PDF-1.4 supplier invoice 1042"
    blob = storage.put(io.BytesIO(data), MB)

    assert (blob.sha256, blob.size, blob.created) == (sha(data), len(data), True)
    path = storage.path_for(blob.sha256)
    assert path == storage.root / blob.sha256[:2] / blob.sha256[2:4] / blob.sha256
    assert path.read_bytes() == data
    assert storage.exists(blob.sha256)
    with storage.open(blob.sha256) as stored:
        assert stored.read() == data


def test_store_folder_is_created_on_first_upload(tmp_path):
    storage = LocalStorage(tmp_path / "not" / "there" / "yet")
    blob = storage.put(io.BytesIO(b"hello"), MB)
    assert storage.exists(blob.sha256)


def test_same_bytes_twice_are_stored_once(storage):
    data = os.urandom(100_000)
    first = storage.put(io.BytesIO(data), MB)
    second = storage.put(io.BytesIO(data), MB)

    assert first.created is True
    assert second.created is False
    assert second.sha256 == first.sha256 and second.size == first.size
    assert files_under(storage.root) == [storage.path_for(first.sha256)]


def test_same_bytes_through_a_second_storage_on_the_same_folder_are_deduplicated(storage):
    other_worker = LocalStorage(storage.root)
    storage.put(io.BytesIO(b"letter"), MB)
    assert other_worker.put(io.BytesIO(b"letter"), MB).created is False


def test_different_bytes_are_different_blobs(storage):
    a = storage.put(io.BytesIO(b"invoice A"), MB)
    b = storage.put(io.BytesIO(b"invoice B"), MB)
    assert a.sha256 != b.sha256
    assert len(files_under(storage.root)) == 2


def test_upload_finishing_after_an_identical_one_does_not_claim_the_blob(storage):
    """Two workers receive the same file; the second to finish must get created=False,
    so that if its transaction fails it does not delete the first one's file."""
    data = b"x" * 10_000
    results = []

    def other_worker_finishes_first(pos):
        if pos == 8192 and not results:
            results.append(LocalStorage(storage.root).put(io.BytesIO(data), MB))

    late = storage.put(ScriptedStream(data, on_read=other_worker_finishes_first), MB)

    assert results[0].created is True
    assert late.created is False
    assert files_under(storage.root) == [storage.path_for(sha(data))]


def test_put_keeps_the_first_8_kib_for_type_detection(storage):
    big = os.urandom(3 * HEAD_BYTES)
    assert storage.put(io.BytesIO(big), MB).head == big[:HEAD_BYTES] and HEAD_BYTES == 8192
    assert storage.put(io.BytesIO(b"short"), MB).head == b"short"
    # The head is collected across many small reads too.
    assert storage.put(ScriptedStream(big[::-1]), MB).head == big[::-1][:HEAD_BYTES]


def test_head_and_reopened_blob_identify_a_large_docx(storage):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/media/image1.png", os.urandom(50_000))
        archive.writestr("word/document.xml", "<w:document/>")
    blob = storage.put(io.BytesIO(buffer.getvalue()), MB)

    kind = detect(blob.head, "letter.docx", open_full=lambda: storage.open(blob.sha256))
    assert kind == DOCX


def test_upload_at_the_limit_is_accepted(storage):
    blob = storage.put(io.BytesIO(b"a" * MB), MB)
    assert blob.size == MB and storage.exists(blob.sha256)


def test_upload_over_the_limit_is_refused_and_leaves_nothing_behind(storage):
    with pytest.raises(TooLarge) as info:
        storage.put(io.BytesIO(b"a" * (MB + 1)), MB)

    assert info.value.status == 413
    assert info.value.message == "The file is larger than the 1 MB limit."
    assert files_under(storage.root) == []
    assert not storage.exists(sha(b"a" * (MB + 1)))


def test_endless_upload_stops_at_the_limit(storage):
    stream = EndlessStream()
    with pytest.raises(TooLarge):
        storage.put(stream, 5 * MB)
    assert stream.delivered <= 5 * MB + CHUNK_BYTES
    assert files_under(storage.root) == []


def test_upload_broken_midway_leaves_no_file(storage):
    data = os.urandom(200_000)
    with pytest.raises(OSError, match="connection reset"):
        storage.put(ScriptedStream(data, fail_after=100_000), MB)

    assert files_under(storage.root) == []
    assert not storage.exists(sha(data))


def test_no_partial_file_is_ever_visible_under_a_blob_name(storage):
    data = os.urandom(200_000)
    seen_outside_tmp = []

    def look(pos):
        seen_outside_tmp.extend(p for p in files_under(storage.root)
                                if storage.tmp_dir not in p.parents)

    storage.put(ScriptedStream(data, on_read=look), MB)

    assert seen_outside_tmp == []
    assert storage.path_for(sha(data)).read_bytes() == data


def test_delete_removes_the_blob_and_is_idempotent(storage):
    blob = storage.put(io.BytesIO(b"to be removed"), MB)
    storage.delete(blob.sha256)

    assert not storage.exists(blob.sha256)
    with pytest.raises(BlobNotFound) as info:
        storage.open(blob.sha256)
    assert isinstance(info.value, FileNotFoundError) and info.value.status == 404
    storage.delete(blob.sha256)  # second delete: no error
    assert storage.put(io.BytesIO(b"to be removed"), MB).created is True


def test_delete_leaves_other_blobs_alone(storage):
    keep = storage.put(io.BytesIO(b"keep me"), MB)
    drop = storage.put(io.BytesIO(b"drop me"), MB)
    storage.delete(drop.sha256)
    with storage.open(keep.sha256) as stored:
        assert stored.read() == b"keep me"


def test_open_of_a_never_stored_blob_is_not_found(storage):
    with pytest.raises(BlobNotFound):
        storage.open(sha(b"never uploaded"))
    assert storage.exists(sha(b"never uploaded")) is False


GOOD = sha(b"x")


@pytest.mark.parametrize("bad", [
    "../../victim.txt",
    "../" + GOOD[3:],
    GOOD[:2] + "/../../../victim.txt",
    "/etc/passwd",
    GOOD[:63],
    GOOD + "0",
    GOOD + "\n",
    GOOD.upper(),
    "g" * 64,
    " " + GOOD[1:],
    "",
    None,
    b"0" * 64,
])
def test_anything_but_a_sha256_is_refused_before_touching_the_disk(tmp_path, bad):
    storage = LocalStorage(tmp_path / "evidence")
    victim = tmp_path / "victim.txt"
    victim.write_text("outside the store")

    for method in (storage.open, storage.exists, storage.delete, storage.path_for):
        with pytest.raises(InvalidDigest):
            method(bad)
    assert victim.read_text() == "outside the store"


def test_storage_works_when_the_filesystem_has_no_hard_links(storage, monkeypatch):
    def no_links(*args):
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    first = storage.put(io.BytesIO(b"on a share"), MB)
    second = storage.put(io.BytesIO(b"on a share"), MB)

    assert (first.created, second.created) == (True, False)
    assert files_under(storage.root) == [storage.path_for(first.sha256)]


def test_local_storage_satisfies_the_storage_interface(storage):
    assert isinstance(storage, Storage)


# ---------------------------------------------------------------- what every backend does
# Backup and restore see a store only through these methods; each backend passes them.

@pytest.fixture(params=["folder", "object store"])
def any_storage(request, tmp_path):
    return LocalStorage(tmp_path / "evidence") if request.param == "folder" else ObjectStorage()


def test_every_backend_satisfies_the_storage_interface(any_storage):
    assert isinstance(any_storage, Storage)


def test_blobs_lists_every_stored_blob_in_name_order_with_its_size(any_storage):
    assert list(any_storage.blobs()) == []
    datas = [b"invoice", os.urandom(70_000), b""]
    for data in datas:
        any_storage.put(io.BytesIO(data), MB)
    listed = list(any_storage.blobs())
    assert listed == sorted((BlobInfo(sha(d), len(d)) for d in datas), key=lambda b: b.sha256)
    any_storage.delete(sha(b"invoice"))
    assert sha(b"invoice") not in {blob.sha256 for blob in any_storage.blobs()}


def test_put_keeps_an_existing_blob_unless_told_to_replace_it(any_storage):
    data = b"supplier letter, signed"
    any_storage.put(io.BytesIO(data), MB)
    assert any_storage.put(io.BytesIO(data), MB).created is False
    replaced = any_storage.put(io.BytesIO(data), MB, replace=True)
    assert (replaced.sha256, replaced.size, replaced.created) == (sha(data), len(data), True)
    with any_storage.open(sha(data)) as stored:
        assert stored.read() == data
    assert [blob.sha256 for blob in any_storage.blobs()] == [sha(data)]


def test_open_delete_and_exists_agree_on_every_backend(any_storage):
    blob = any_storage.put(io.BytesIO(b"screenshot"), MB)
    assert any_storage.exists(blob.sha256)
    any_storage.delete(blob.sha256)
    any_storage.delete(blob.sha256)
    assert not any_storage.exists(blob.sha256)
    with pytest.raises(BlobNotFound):
        any_storage.open(blob.sha256)
    with pytest.raises(TooLarge):
        any_storage.put(io.BytesIO(b"x" * 11), 10)
    assert list(any_storage.blobs()) == []


def test_folder_listing_skips_uploads_in_progress_links_and_stray_files(storage, tmp_path):
    blob = storage.put(io.BytesIO(b"the real one"), MB)
    storage.tmp_dir.mkdir(exist_ok=True)
    (storage.tmp_dir / "upload-abc").write_bytes(b"half an upload")
    other = sha(b"elsewhere")
    outside = tmp_path / "outside"
    outside.write_bytes(b"elsewhere")
    link = storage.path_for(other)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    (storage.root / blob.sha256[:2] / blob.sha256[2:4] / "notes.txt").write_bytes(b"stray")
    wrong_folder = storage.root / "00" / "00" / blob.sha256
    wrong_folder.parent.mkdir(parents=True)
    wrong_folder.write_bytes(b"the real one")

    assert list(storage.blobs()) == [BlobInfo(blob.sha256, len(b"the real one"))]


def test_folder_replace_repairs_a_truncated_copy(storage):
    data = os.urandom(50_000)
    blob = storage.put(io.BytesIO(data), MB)
    storage.path_for(blob.sha256).write_bytes(data[:1000])
    assert list(storage.blobs()) == [BlobInfo(blob.sha256, 1000)]

    storage.put(io.BytesIO(data), MB, replace=True)
    assert storage.path_for(blob.sha256).read_bytes() == data
    assert files_under(storage.root) == [storage.path_for(blob.sha256)]
