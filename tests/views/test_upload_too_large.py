"""An upload over the limit: the case page again, the description and category kept, the
message beside the file field; other pages over the limit lead back where they came from."""
import io

import pytest

from caseapp.extensions import db
from caseapp.models import Evidence
from caseapp.views.errors import text_fields_before_files

MB = 1024 * 1024


@pytest.fixture
def one_mb_limit(app):
    app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=MB)


def test_too_large_upload_shows_the_case_again_with_the_description_kept(browser, world, one_mb_limit):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/evidence", data={
        "evidence-category": "supplier_letter",
        "evidence-description": "Letter from Acme confirming the recall",
        "evidence-files": (io.BytesIO(b"a" * (2 * MB)), "scan.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert world.case_a.title in page and 'id="evidence"' in page  # the case it came from
    assert "Letter from Acme confirming the recall</textarea>" in page
    assert '<option selected value="supplier_letter">' in page
    assert "larger than the 1 MB limit" in page.split('name="evidence-files"', 1)[1].split("</form>", 1)[0]
    assert "Back to your cases" not in page
    assert db.session.scalar(db.select(db.func.count(Evidence.id))) == 0


def test_too_large_upload_to_another_agencys_case_is_the_plain_413(other_browser, world, one_mb_limit):
    other_browser.login(world.admin_b.email)
    response = other_browser.post(f"/cases/{world.case_a.id}/evidence", data={
        "evidence-description": "secret?", "evidence-files": (io.BytesIO(b"a" * (2 * MB)), "x.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert world.case_a.title not in page and "secret?" not in page


def test_the_text_parts_before_the_files_are_read_and_a_cut_part_is_not():
    head = (b'--b\r\nContent-Disposition: form-data; name="evidence-description"\r\n\r\nline 1\r\nline 2\r\n'
            b'--b\r\nContent-Disposition: form-data; name="evidence-files"; filename="a.pdf"\r\n\r\n%PDF'
            b'--b\r\nContent-Disposition: form-data; name="after"\r\n\r\nx\r\n--b')
    found = text_fields_before_files(head, "b")
    assert found.to_dict() == {"evidence-description": "line 1\r\nline 2"}
    cut = b'--b\r\nContent-Disposition: form-data; name="evidence-description"\r\n\r\nhalf of it'
    assert text_fields_before_files(cut, "b").to_dict() == {}
