"""The import page: upload a sheet, see every bad row named, fix the columns, import all or
nothing."""
from __future__ import annotations

import html
import io
import re
from pathlib import Path

from caseapp.extensions import db
from caseapp.models import Case, Client, Deadline

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _upload(browser, kind: str, name: str, data: bytes):
    return browser.post("/import", data={"kind": kind, "file": (io.BytesIO(data), name)},
                        content_type="multipart/form-data")


def _token(page: str) -> str:
    return re.search(r'/import/([A-Za-z0-9_-]+)/apply|/import/([A-Za-z0-9_-]+)/check', page).group(0).split("/")[2]


def test_a_bad_row_is_named_and_nothing_goes_in_until_it_is_fixed(browser, world):
    browser.login(world.consultant_a.email)
    clients = _upload(browser, "clients", "clients.csv", (DATA / "clients.csv").read_bytes())
    assert clients.status_code == 200 and "Every row can be imported." in _text(clients)
    token = _token(clients.get_data(as_text=True))
    done = browser.post(f"/import/{token}/apply", data={f"map-{i}": f for i, f in enumerate(
        ["name", "seller_id", "marketplace", "contact_name", "contact_email", "notes"])})
    assert done.status_code == 302
    assert db.session.scalar(db.select(Client.id).where(Client.seller_id == "A2BLUEFERN0001"))

    bad = _upload(browser, "cases", "cases-one-bad-row.csv", (DATA / "cases-one-bad-row.csv").read_bytes())
    page = _text(bad)
    assert bad.status_code == 422 and "Row 3, ASINs:" in page and 'id="import-apply"' not in page
    assert db.session.scalar(db.select(Case.id).where(Case.reference == "BF-001")) is None

    fixed = _upload(browser, "cases", "cases.csv", (DATA / "cases.csv").read_bytes())
    page = fixed.get_data(as_text=True)
    assert fixed.status_code == 200 and 'id="import-apply"' in page
    token = _token(page)
    headers = re.findall(r'<td class="text-break">([^<]+)</td>', page)
    chosen = re.findall(r'<option value="([a-z_]+)" selected>', page)
    assert len(headers) == len(chosen) == 9  # every column guessed
    done = browser.post(f"/import/{token}/apply", data={f"map-{i}": f for i, f in enumerate(chosen)})
    assert done.status_code == 302 and "/cases" in done.headers["Location"]
    case = db.session.scalar(db.select(Case).where(Case.reference == "BF-001"))
    assert case is not None and case.agency_id == world.agency_a.id
    assert db.session.scalar(db.select(Deadline.id).where(Deadline.case_id == case.id))  # presets, as the form
    assert browser.post(f"/import/{token}/apply", data={}).status_code == 404  # used up


def test_a_column_read_as_nothing_needed_says_what_is_missing(browser, world):
    browser.login(world.consultant_a.email)
    first = _upload(browser, "clients", "clients.csv", (DATA / "clients.csv").read_bytes())
    token = _token(first.get_data(as_text=True))
    again = browser.post(f"/import/{token}/check", data={"map-0": ""})  # the name column: nothing
    assert again.status_code == 422 and "no column is read as client name" in _text(again)


def test_an_upload_is_its_uploaders_alone(browser, other_browser, world):
    browser.login(world.consultant_a.email)
    token = _token(_upload(browser, "clients", "clients.csv", (DATA / "clients.csv").read_bytes())
                   .get_data(as_text=True))
    other_browser.login(world.admin_a.email)
    assert other_browser.post(f"/import/{token}/check", data={}).status_code == 404
    assert other_browser.post(f"/import/{token}/apply", data={}).status_code == 404


def test_a_file_that_is_not_a_sheet_is_refused_beside_the_field(browser, world):
    browser.login(world.consultant_a.email)
    response = _upload(browser, "cases", "notes.txt", b"hello")
    assert response.status_code == 422 and "Choose a CSV or XLSX file" in _text(response)
    garbage = _upload(browser, "cases", "fake.xlsx", b"PK\x03\x04 not really")
    assert garbage.status_code == 422 and 'id="import-refused"' in garbage.get_data(as_text=True)
