"""Evidence pages: upload from the case page, listing, the file page and its preview,
downloads and their headers, deletion, the bundle, linking from the POA editor, and
uploads over the limit answered with a readable 413, in the test client and over a
real socket."""
from __future__ import annotations

import html
import http.client
import io
import re
import threading
import zipfile

import pytest
from werkzeug.http import parse_options_header
from werkzeug.serving import make_server

from caseapp.extensions import db
from caseapp.models import Evidence, PoaEvidenceLink
from caseapp.services.evidence import files as evidence
from caseapp.services.poa import drafts
from caseapp.services.evidence.storage import LocalStorage
from caseapp.services.evidence.file_types import ALLOWED_TYPES_TEXT
from caseapp.services.poa import links as poa_links
from tests.conftest import make_case
from tests.services.evidence.test_files import PDF, PNG, TEXT, sha, upload

MB = 1024 * 1024
SANDBOX_CSP = "default-src 'none'; sandbox"


def files_field(*files):
    return {"evidence-files": [(io.BytesIO(data), name) for data, name in files]}


def post_upload(browser, case, *files, category="invoice", description="", **kwargs):
    data = {**files_field(*files), "evidence-category": category, "evidence-description": description}
    return browser.post(f"/cases/{case.id}/evidence", data=data, content_type="multipart/form-data",
                        **kwargs)


def stored(app) -> list[str]:
    root = LocalStorage(app.config["EVIDENCE_DIR"]).root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def all_rows() -> list[Evidence]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Evidence).order_by(Evidence.id)))


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def signed_in(browser, world):
    browser.login(world.consultant_a.email)
    return browser


# ---------------------------------------------------------------- the case page

def test_case_page_has_the_upload_form_and_no_inline_script(signed_in, world):
    page = text_of(signed_in.get(f"/cases/{world.case_a.id}"))
    card = page[page.index('id="evidence"'):]
    assert 'enctype="multipart/form-data"' in card
    assert re.search(r'<input[^>]*id="evidence-files"[^>]*multiple[^>]*type="file"', card) or \
        re.search(r'<input[^>]*multiple[^>]*type="file"', card)
    assert card.count("<option") >= 6 and "Customer correspondence" in card
    assert re.search(r'<script src="/static/evidence-upload.js" defer></script>', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script would break the CSP"


def test_uploading_several_files_lists_them_with_size_type_uploader_and_date(signed_in, world, app):
    response = post_upload(signed_in, world.case_a, (PDF, "invoice.pdf"), (PNG, "listing.png"),
                           description="Acme invoice, March")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{world.case_a.id}#evidence")
    page = text_of(signed_in.get(f"/cases/{world.case_a.id}"))
    assert "Uploaded 2 files: invoice.pdf, listing.png." in page
    items = re.findall(r'<li class="list-group-item[^"]*" data-evidence-id="\d+">(.*?)</li>', page, re.S)
    assert len(items) == 2
    newest = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", items[0])).split())
    assert newest.startswith("listing.png Invoice Acme invoice, March")
    assert f"{len(PNG)} bytes · PNG image · Carl Consultant · " in newest
    assert "PDF document" in html.unescape(items[1])
    assert "Evidence added: invoice.pdf (Invoice)" in page
    assert "Evidence added: listing.png (Invoice)" in page
    assert stored(app) == sorted([sha(PDF), sha(PNG)])


def test_no_file_chosen_is_a_422_with_the_form_kept(signed_in, world):
    response = signed_in.post(f"/cases/{world.case_a.id}/evidence",
                              data={"evidence-description": "kept text", "evidence-category": "invoice"},
                              content_type="multipart/form-data")
    assert response.status_code == 422
    page = text_of(response)
    assert "Choose one or more files to upload." in page
    assert "kept text" in page


def test_a_bad_category_stores_nothing(signed_in, world, app):
    response = post_upload(signed_in, world.case_a, (PDF, "invoice.pdf"), category="bank")
    assert response.status_code == 422
    assert "Choose one of: Invoice, Supplier letter" in html.unescape(text_of(response))
    assert all_rows() == [] and stored(app) == []


@pytest.mark.parametrize("data,name", [
    (b"<!doctype html><html><script>alert(1)</script></html>", "invoice.pdf"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.png"),
    (b"#!/usr/bin/env python\nimport os\nos.system('rm -rf /')\n", "notes.txt"),
    (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64), "setup.exe"),
])
def test_a_refused_type_is_a_415_naming_the_accepted_types(signed_in, world, app, data, name):
    response = post_upload(signed_in, world.case_a, (data, name), description="keep me")
    assert response.status_code == 415
    page = html.unescape(text_of(response))
    assert f"Accepted file types: {ALLOWED_TYPES_TEXT}." in page
    assert "keep me" in page
    assert all_rows() == [] and stored(app) == []


def test_good_files_are_kept_when_another_in_the_same_upload_is_refused(signed_in, world, app):
    response = post_upload(signed_in, world.case_a, (PDF, "invoice.pdf"),
                           (b"<html><body>hi</body></html>", "page.pdf"))
    assert response.status_code == 415
    page = html.unescape(text_of(response))
    assert "Uploaded invoice.pdf." in page
    assert "page.pdf: This file is a web page (HTML)" in page
    assert [r.filename for r in all_rows()] == ["invoice.pdf"]
    assert stored(app) == [sha(PDF)]


def test_same_file_twice_through_the_page_says_already_attached_and_links_it(signed_in, world, app):
    post_upload(signed_in, world.case_a, (PDF, "invoice.pdf"))
    response = post_upload(signed_in, world.case_a, (PDF, "invoice-again.pdf"), (PNG, "listing.png"))
    assert response.status_code == 303  # not a mistake: the rest was uploaded
    page = text_of(signed_in.get(response.location))
    first = all_rows()[0]
    assert "invoice-again.pdf: Already attached to this case as invoice.pdf" in page
    assert f'href="/evidence/{first.id}"' in page
    assert [r.filename for r in all_rows()] == ["invoice.pdf", "listing.png"]
    assert stored(app) == sorted([sha(PDF), sha(PNG)])


def test_upload_without_the_csrf_token_is_refused(browser, world, app):
    browser.login(world.consultant_a.email)
    response = post_upload(browser, world.case_a, (PDF, "invoice.pdf"))
    assert response.status_code == 303  # the control: with the token it works
    response = browser.client.post(f"/cases/{world.case_a.id}/evidence",
                                   data=files_field((PNG, "x.png")), content_type="multipart/form-data")
    assert response.status_code == 400
    assert len(all_rows()) == 1


# ---------------------------------------------------------------- hostile names

def test_hostile_names_are_stored_safely_and_shown_escaped(signed_in, world, app):
    raw = "../../<img src=x onerror=alert(1)>\u202efdp.\x00exe"
    post_upload(signed_in, world.case_a, (PDF, raw))
    [row] = all_rows()
    assert row.filename == "<img src=x onerror=alert(1)>fdp.exe"
    escaped = "&lt;img src=x onerror=alert(1)&gt;fdp.exe"
    case_page = text_of(signed_in.get(f"/cases/{world.case_a.id}"))
    file_page = text_of(signed_in.get(f"/evidence/{row.id}"))
    for page in (case_page, file_page):
        assert escaped in page
        assert "<img src=x" not in page
        assert "\u202e" not in page
    assert f"Evidence added: {escaped}" in case_page
    response = signed_in.get(f"/evidence/{row.id}/download")
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="_img src=x onerror=alert(1)_fdp.exe"'  # no <>: Windows refuses them
    assert stored(app) == [sha(PDF)]


def test_a_300_character_name_is_shown_cut_to_200(signed_in, world):
    post_upload(signed_in, world.case_a, (PDF, "x" * 300 + ".pdf"))
    [row] = all_rows()
    assert row.filename == "x" * 196 + ".pdf"
    assert ("x" * 196 + ".pdf") in text_of(signed_in.get(f"/evidence/{row.id}"))


# ---------------------------------------------------------------- downloads and previews

def test_download_is_an_attachment_with_the_sandbox_headers_and_the_stored_type(signed_in, world):
    row = upload(world, TEXT, "refund log.txt")
    response = signed_in.get(f"/evidence/{row.id}/download")
    assert response.status_code == 200
    assert response.get_data() == TEXT
    assert response.headers["Content-Type"] == "text/plain" == row.content_type
    assert response.headers["Content-Disposition"] == 'attachment; filename="refund log.txt"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == SANDBOX_CSP
    assert "no-store" in response.headers["Cache-Control"]


def test_non_ascii_names_are_offered_in_both_forms(signed_in, world):
    row = upload(world, PDF, "Rechnung Müller.pdf")
    disposition = signed_in.get(f"/evidence/{row.id}/download").headers["Content-Disposition"]
    assert disposition == ("attachment; filename=\"Rechnung Muller.pdf\"; "
                           "filename*=UTF-8''Rechnung%20M%C3%BCller.pdf")


@pytest.mark.parametrize("data,content_type", [(PDF, "application/pdf"), (PNG, "image/png")])
def test_preview_is_inline_with_the_same_sandbox(signed_in, world, data, content_type):
    row = upload(world, data, "scan")
    response = signed_in.get(f"/evidence/{row.id}/preview")
    assert response.status_code == 200 and response.get_data() == data
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == SANDBOX_CSP


def test_file_page_shows_images_in_an_img_and_pdfs_in_a_sandboxed_frame(signed_in, world):
    image, document, text = upload(world, PNG, "a.png"), upload(world, PDF, "b.pdf"), upload(world, TEXT, "c.txt")
    page = text_of(signed_in.get(f"/evidence/{image.id}"))
    assert re.search(rf'<img [^>]*src="/evidence/{image.id}/preview"', page)
    page = text_of(signed_in.get(f"/evidence/{document.id}"))
    assert re.search(rf'<iframe [^>]*sandbox src="/evidence/{document.id}/preview"', page)
    page = text_of(signed_in.get(f"/evidence/{text.id}"))
    assert "/preview" not in page and "No preview for a Plain text" in page
    assert signed_in.get(f"/evidence/{text.id}/preview").status_code == 404


def test_a_missing_blob_is_a_clear_404_not_a_crash(signed_in, world):
    row = upload(world)
    evidence.get_storage().delete(row.sha256)
    response = signed_in.get(f"/evidence/{row.id}/download")
    assert response.status_code == 404
    assert "The stored file is missing." in text_of(response)


# ---------------------------------------------------------------- another agency

def test_another_agency_gets_404_everywhere_and_nothing_changes(browser, world, app):
    row = upload(world, PNG, "listing.png", description="original")
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    browser.login(world.admin_b.email)
    for url in (f"/evidence/{row.id}", f"/evidence/{row.id}/download", f"/evidence/{row.id}/preview",
                f"/cases/{world.case_a.id}/evidence/bundle"):
        response = browser.get(url)
        assert response.status_code == 404, url
        assert response.get_data() != PNG
    for url, data in ((f"/evidence/{row.id}/edit", {"description": "planted", "category": "other"}),
                      (f"/evidence/{row.id}/delete", {}),
                      (f"/poa/{draft.id}/evidence", {"link-evidence_id": str(row.id)}),
                      (f"/poa/{draft.id}/evidence/{row.id}/unlink", {})):
        assert browser.post(url, data=data).status_code == 404, url
    response = post_upload(browser, world.case_a, (PDF, "planted.pdf"))
    assert response.status_code == 404
    [kept] = all_rows()
    assert (kept.id, kept.description, kept.category) == (row.id, "original", "other")
    assert stored(app) == [sha(PNG)]
    assert db.session.scalars(db.select(PoaEvidenceLink)).all() == []


# ---------------------------------------------------------------- edit and delete

def test_editing_the_description(signed_in, world):
    row = upload(world)
    response = signed_in.post(f"/evidence/{row.id}/edit",
                              data={"description": "Invoice <b>from</b> Acme", "category": "invoice"})
    assert response.status_code == 303
    page = text_of(signed_in.get(f"/evidence/{row.id}"))
    assert "File details saved." in page and "Invoice &lt;b&gt;from&lt;/b&gt; Acme" in page
    assert (all_rows()[0].description, all_rows()[0].category) == ("Invoice <b>from</b> Acme", "invoice")
    response = signed_in.post(f"/evidence/{row.id}/edit", data={"description": "x" * 2001, "category": "invoice"})
    assert response.status_code == 422 and "At most 2,000 characters." in text_of(response)
    assert all_rows()[0].description == "Invoice <b>from</b> Acme"


def test_a_consultant_cannot_delete_and_sees_no_delete_button(signed_in, world, app):
    row = upload(world)
    assert "Delete file" not in text_of(signed_in.get(f"/evidence/{row.id}"))
    response = signed_in.post(f"/evidence/{row.id}/delete")
    assert response.status_code == 403
    assert "Only an agency admin can do this." in text_of(response)
    assert len(all_rows()) == 1 and stored(app) == [sha(PDF)]


def test_an_admin_deletes_and_the_timeline_records_it(browser, world, app):
    row = upload(world, PDF, "invoice.pdf")
    upload(world, PDF, "same-bytes.pdf", case=make_case(world.consultant_a, world.client_a, title="Second"))
    browser.login(world.admin_a.email)
    assert "Delete file" in text_of(browser.get(f"/evidence/{row.id}"))
    response = browser.post(f"/evidence/{row.id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{world.case_a.id}#evidence")
    page = text_of(browser.get(f"/cases/{world.case_a.id}"))
    assert "Deleted invoice.pdf." in page
    assert "Evidence deleted: invoice.pdf" in page
    assert [r.filename for r in all_rows()] == ["same-bytes.pdf"]
    assert stored(app) == [sha(PDF)]  # still used by the other row


# ---------------------------------------------------------------- bundle

def test_bundle_download(signed_in, world):
    upload(world, PDF, "invoice.pdf", description="Acme invoice")
    upload(world, PNG, "listing.png")
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    assert 'id="evidence-bundle"' in text_of(signed_in.get(f"/cases/{world.case_a.id}"))
    response = signed_in.get(f"/cases/{world.case_a.id}/evidence/bundle")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert parse_options_header(response.headers["Content-Disposition"]) == (
        "attachment", {"filename": f"Evidence-Harbor-Lane-Home-Goods-case{world.case_a.id}.zip"})
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    poa_name = f"POA-Harbor-Lane-Home-Goods-case{world.case_a.id}-v{draft.version}.txt"
    assert archive.namelist() == [poa_name, "evidence/invoice.pdf", "evidence/listing.png"]
    assert archive.read("evidence/invoice.pdf") == PDF and archive.read("evidence/listing.png") == PNG
    text = archive.read(poa_name).decode()
    assert text.startswith("Subject\n") and "1. invoice.pdf \u2013 Acme invoice\n2. listing.png\n" in text


def test_the_bundle_holds_what_the_poa_links_and_all_files_on_request(signed_in, world):
    """Issue 14: the POA listed two files and the bundle held every file on the case."""
    invoice = upload(world, PDF, "invoice.pdf", description="Acme invoice")
    letter = upload(world, TEXT, "supplier-letter.txt")
    upload(world, PNG, "listing.png")
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    poa_links.link(world.consultant_a, draft.id, invoice.id)
    poa_links.link(world.consultant_a, draft.id, letter.id, 0)
    page = text_of(signed_in.get(f"/cases/{world.case_a.id}"))
    assert f'href="/cases/{world.case_a.id}/evidence/bundle?files=all"' in page
    poa_name = f"POA-Harbor-Lane-Home-Goods-case{world.case_a.id}-v{draft.version}.txt"

    archive = zipfile.ZipFile(io.BytesIO(signed_in.get(f"/cases/{world.case_a.id}/evidence/bundle").get_data()))
    assert archive.namelist() == [poa_name, "evidence/invoice.pdf", "evidence/supplier-letter.txt"]
    listed = archive.read(poa_name).decode()
    assert "1. supplier-letter.txt" in listed and "2. invoice.pdf" in listed and "listing.png" not in listed

    response = signed_in.get(f"/cases/{world.case_a.id}/evidence/bundle?files=all")
    everything = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert everything.namelist() == [poa_name, "evidence/invoice.pdf", "evidence/supplier-letter.txt",
                                     "evidence/listing.png"]
    assert everything.read(poa_name).decode() == listed


def test_an_empty_case_offers_no_bundle(signed_in, world):
    assert 'id="evidence-bundle"' not in text_of(signed_in.get(f"/cases/{world.case_a.id}"))
    assert signed_in.get(f"/cases/{world.case_a.id}/evidence/bundle").status_code == 409


# ---------------------------------------------------------------- linking from the POA editor

def test_linking_a_file_to_an_action_from_the_editor(signed_in, world):
    invoice = upload(world, PDF, "invoice.pdf", description="Acme invoice")
    upload(world, PNG, "listing.png")
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    editor = text_of(signed_in.get(f"/poa/{draft.id}"))
    card = editor[editor.index(f"Evidence for v{draft.version}"):]
    assert "exports with the evidence list name all 2 files" in card
    assert "invoice.pdf" in card and "Action 1:" in card
    response = signed_in.post(f"/poa/{draft.id}/evidence",
                              data={"link-evidence_id": str(invoice.id), "link-action_index": "0"})
    assert response.status_code == 303
    editor = text_of(signed_in.get(f"/poa/{draft.id}"))
    assert "File linked to this version." in editor
    assert "Backs action 1:" in editor
    export = signed_in.get(f"/poa/{draft.id}/export/txt?evidence=1")
    assert export.get_data(as_text=True).endswith(
        "Evidence enclosed\n1. invoice.pdf \u2013 Acme invoice (supports corrective action 1)\n")
    page = text_of(signed_in.get(f"/evidence/{invoice.id}"))
    assert f"v{draft.version}</a>:\n          corrective action 1" in page
    response = signed_in.post(f"/poa/{draft.id}/evidence/{invoice.id}/unlink")
    assert response.status_code == 303
    assert db.session.scalars(db.select(PoaEvidenceLink)).all() == []


def test_a_refused_link_says_why(signed_in, world):
    invoice = upload(world)
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    response = signed_in.post(f"/poa/{draft.id}/evidence",
                              data={"link-evidence_id": str(invoice.id), "link-action_index": "99"},
                              follow_redirects=True)
    assert "corrective actions; choose one of them." in text_of(response)
    assert db.session.scalars(db.select(PoaEvidenceLink)).all() == []


def test_copying_links_from_the_previous_version(signed_in, world):
    invoice = upload(world)
    first = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    poa_links.link(world.consultant_a, first.id, invoice.id, 0)
    second = drafts.save_version(world.consultant_a, world.case_a.id,
                                 {**drafts.content_of(first).as_dict(), "closure": "Thank you."})
    assert f"Copy the links of v{first.version}" in text_of(signed_in.get(f"/poa/{second.id}"))
    response = signed_in.post(f"/poa/{second.id}/evidence/copy", follow_redirects=True)
    assert "Copied 1 link from the earlier version." in text_of(response)
    assert [(l.evidence_id, l.action_index) for l in poa_links.for_draft(world.consultant_a, second.id).links] \
        == [(invoice.id, 0)]


# ---------------------------------------------------------------- over the limit

@pytest.fixture
def one_mb_limit(app):
    app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=MB)


def test_over_the_limit_is_a_readable_413_page_in_the_test_client(signed_in, world, app, one_mb_limit):
    response = post_upload(signed_in, world.case_a, (b"a" * (2 * MB), "big.txt"))
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    page = text_of(response)
    assert "Upload too large" in page
    assert "The upload is larger than the 1 MB limit, so nothing was saved." in page
    assert "Carl Consultant" in page  # the full page, signed in, not a bare error
    assert all_rows() == [] and stored(app) == []


def test_a_file_over_the_limit_inside_an_accepted_body_is_a_413_too(signed_in, world, app):
    app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=10 * MB)
    response = post_upload(signed_in, world.case_a, (b"a" * (MB + 1), "big.txt"))
    assert response.status_code == 413
    assert "big.txt: The file is larger than the 1 MB limit." in text_of(response)
    assert all_rows() == [] and stored(app) == []


def test_the_refused_body_is_read_to_the_end_so_any_server_can_answer(app, one_mb_limit):
    """A server that closes the socket with request bytes unread makes the client see a
    reset; werkzeug's development server reads them itself, gunicorn only briefly."""
    body = b"x" * (3 * MB)
    stream = io.BytesIO(body)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/login", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": stream,
               "CONTENT_TYPE": "multipart/form-data; boundary=b", "CONTENT_LENGTH": str(len(body))}
    statuses = []
    answer = b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: statuses.append(status)))
    assert statuses == ["413 REQUEST ENTITY TOO LARGE"]
    assert b"larger than the 1 MB limit" in answer
    assert stream.tell() == len(body)
    # Past four times the limit the app stops reading: a client announcing gigabytes
    # must not hold a worker that long.
    huge = io.BytesIO(b"x" * (5 * MB))
    environ.update({"wsgi.input": huge, "CONTENT_LENGTH": str(5 * MB)})
    b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: None))
    assert huge.tell() == 0


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_over_the_limit_on_a_live_server_is_a_413_response_not_a_reset(
        signed_in, world, app, one_mb_limit, live_url):
    session_cookie = signed_in.client.get_cookie("session").value
    boundary = "caseappboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"evidence-files\"; "
            f"filename=\"big.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode() \
        + b"%PDF-1.4\n" + b"0" * (3 * MB) + f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", live_url, timeout=30)
    connection.putrequest("POST", f"/cases/{world.case_a.id}/evidence")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(body)))
    connection.putheader("Cookie", f"session={session_cookie}")
    connection.endheaders()
    for start in range(0, len(body), 64 * 1024):
        connection.send(body[start:start + 64 * 1024])
    response = connection.getresponse()
    page = response.read().decode()
    connection.close()
    assert response.status == 413
    assert response.getheader("Content-Type").startswith("text/html")
    assert "The upload is larger than the 1 MB limit, so nothing was saved." in page
    assert "Carl Consultant" in page
    assert all_rows() == [] and stored(app) == []


# ---------------------------------------------------------------- names on the recipient's disk

HOSTILE_DOWNLOADS = {
    "．．／．．／.ssh／authorized_keys": "authorized_keys",  # fullwidth dots and slashes
    "../../.bashrc": "file.bashrc",
    "ＣＯＮ.txt": "_CON.txt",
    "invoice\u202efdp.exe": "invoicefdp.exe",
}


def _stored_as_before(world, name: str, data: bytes = TEXT) -> Evidence:
    """A row whose name was stored under the rules of before (no NFKC): old rows stay."""
    row = upload(world, data, "placeholder.txt")
    row.filename = name
    db.session.commit()
    return row


@pytest.mark.parametrize("raw, safe", list(HOSTILE_DOWNLOADS.items()))
def test_downloads_of_hostile_names_are_safe_in_both_forms(signed_in, world, raw, safe):
    row = _stored_as_before(world, raw)
    for path in (f"/evidence/{row.id}/download",):
        header = signed_in.get(path).headers["Content-Disposition"]
        assert header == f'attachment; filename="{safe}"', header
    uploaded = post_upload(signed_in, world.case_a, (PDF, raw))
    assert uploaded.status_code == 303
    assert all_rows()[-1].filename == (safe if not safe.startswith("_") else safe[1:])


def test_bundle_members_of_hostile_names_stay_inside_the_evidence_folder(signed_in, world):
    for raw in HOSTILE_DOWNLOADS:
        _stored_as_before(world, raw, data=raw.encode("utf-8"))
    response = signed_in.get(f"/cases/{world.case_a.id}/evidence/bundle")
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.namelist() == ["evidence/" + name for name in HOSTILE_DOWNLOADS.values()]
    for raw, name in HOSTILE_DOWNLOADS.items():
        assert archive.read("evidence/" + name) == raw.encode("utf-8")
