"""Bringing a spreadsheet in (services/cases/imports.py): CSV and XLSX, header guessing, a
remembered mapping, all or nothing, re-import as update, and tenancy."""
from __future__ import annotations

import io
from pathlib import Path
from datetime import datetime, timezone

import openpyxl
import pytest
from sqlalchemy import func, select

from caseapp import labels
from caseapp.extensions import db
from caseapp.models import Agency, AuditEvent, Case, CaseAsin, CaseEvent, Client, Deadline, Note
from caseapp.services.cases import imports, records, search
from caseapp.services.deadlines import presets
from tests.conftest import make_client


def csv_file(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def xlsx_file(rows: list[list]) -> io.BytesIO:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def run(actor, kind, source, **kwargs):
    return imports.import_file(actor, kind, source, open_cases=presets.open_cases, **kwargs)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


CLIENTS_CSV = (
    "Business name,Merchant token,Marketplace,Contact,Email,Comments\n"
    "Blue Fern Outdoors,A2BLUEFERN0001,DE,Jana Fern,jana@bluefern.example,met at the fair\n"
    "Copper Kettle Co,A2COPPERKET002,US,,,\n"
)


def test_clients_from_csv_are_created_with_guessed_columns(world):
    plan = run(world.consultant_a, "clients", csv_file(CLIENTS_CSV), filename="clients.csv")
    assert plan.applied and plan.ok
    assert plan.mapping == {"Business name": "name", "Merchant token": "seller_id", "Marketplace": "marketplace",
                            "Contact": "contact_name", "Email": "contact_email", "Comments": "notes"}
    assert plan.summary() == "2 clients created, 0 updated, 0 unchanged"
    fern = db.session.scalar(select(Client).where(Client.seller_id == "A2BLUEFERN0001"))
    assert (fern.agency_id, fern.name, fern.marketplace, fern.contact_email, fern.notes) == (
        world.agency_a.id, "Blue Fern Outdoors", "DE", "jana@bluefern.example", "met at the fair")
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "import")).all()
    assert len(audit) == 1 and "clients.csv" in audit[0].detail and audit[0].agency_id == world.agency_a.id


def test_reimporting_clients_updates_them_instead_of_duplicating(world):
    run(world.consultant_a, "clients", csv_file(CLIENTS_CSV))
    changed = CLIENTS_CSV.replace("Copper Kettle Co", "Copper Kettle Company")
    plan = run(world.consultant_a, "clients", csv_file(changed))
    assert plan.summary() == "0 clients created, 1 updated, 1 unchanged"
    assert count(Client, Client.seller_id == "A2COPPERKET002") == 1
    assert db.session.scalar(select(Client.name).where(Client.seller_id == "A2COPPERKET002")) == "Copper Kettle Company"


def test_a_bad_row_is_named_and_nothing_is_written(world):
    text = CLIENTS_CSV + "Bad Seller,A2-NO,XX,,not-an-email,\n,A2NONAME000001,US,,,\n"
    plan = run(world.consultant_a, "clients", csv_file(text))
    assert not plan.applied
    shown = [str(e) for e in plan.errors]
    assert "row 4, seller_id: A seller ID (merchant token) is 8 to 20 letters and digits." in shown
    assert any(s.startswith("row 4, marketplace: Choose one of:") for s in shown)
    assert any(s.startswith("row 4, contact_email:") for s in shown)
    assert "row 5, name: The seller's business name is required." in shown
    assert count(Client, Client.agency_id == world.agency_a.id) == 1  # the fixture's only
    assert count(AuditEvent, AuditEvent.kind == "import") == 0


def test_dry_run_says_what_would_change_and_writes_nothing(world):
    plan = run(world.consultant_a, "clients", csv_file(CLIENTS_CSV), dry_run=True)
    assert plan.ok and not plan.applied
    assert plan.summary() == "2 clients to create, 0 to update, 0 unchanged"
    assert count(Client, Client.agency_id == world.agency_a.id) == 1
    assert db.session.get(Agency, world.agency_a.id).import_mappings is None


@pytest.mark.parametrize("encoding, delimiter", [("utf-8-sig", ";"), ("cp1252", ";"), ("utf-8", "\t")])
def test_csv_with_a_bom_semicolons_tabs_or_windows_1252(world, encoding, delimiter):
    text = (f"Store name{delimiter}Seller ID\n"
            f"Café Müller Größen{delimiter}A2CAFEMULLER01\n")
    plan = run(world.consultant_a, "clients", csv_file(text, encoding))
    assert plan.applied, plan.errors
    assert plan.mapping == {"Store name": "name", "Seller ID": "seller_id"}
    assert db.session.scalar(select(Client.name).where(Client.seller_id == "A2CAFEMULLER01")) == "Café Müller Größen"


def test_bytes_that_are_no_spreadsheet_are_refused_clearly(world):
    with pytest.raises(imports.ImportRefused, match="neither CSV nor XLSX"):
        run(world.consultant_a, "clients", io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    with pytest.raises(imports.ImportRefused, match="not a readable XLSX"):
        run(world.consultant_a, "clients", io.BytesIO(b"PK\x03\x04 not really a zip"))


def test_a_file_over_the_row_cap_is_refused_naming_the_cap(world, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    text = "Name,Seller ID\n" + "".join(f"Seller {i},A2CAPTEST{i:05d}\n" for i in range(4))
    with pytest.raises(imports.ImportRefused, match="more than 3 data rows"):
        run(world.consultant_a, "clients", csv_file(text))
    assert count(Client, Client.agency_id == world.agency_a.id) == 1
    assert run(world.consultant_a, "clients", csv_file(text.rsplit("Seller 3", 1)[0])).applied


def test_the_cap_is_twenty_thousand_rows():
    assert imports.MAX_ROWS == 20_000


def test_missing_columns_are_refused_naming_the_columns(world):
    with pytest.raises(imports.ImportRefused, match="no column is read as client name.*Merchant token"):
        run(world.consultant_a, "clients", csv_file("Merchant token,Whatever\nA2NONAME000001,x\n"))


def test_an_explicit_mapping_is_remembered_for_the_agency(world):
    text = "Shop,Token,Misc\nHazel Goods,A2HAZELGOODS1,ignored\n"
    with pytest.raises(imports.ImportRefused):
        run(world.consultant_a, "clients", csv_file(text))
    plan = run(world.consultant_a, "clients", csv_file(text),
               mapping={"Shop": "name", "Token": "seller_id", "Misc": None})
    assert plan.applied
    stored = db.session.get(Agency, world.agency_a.id).import_mappings
    assert stored["clients"] == {"shop": "name", "token": "seller_id", "misc": ""}
    # The next file with those headers needs no mapping, in agency A only.
    again = run(world.admin_a, "clients", csv_file("Shop,Token\nIvy Goods,A2IVYGOODS001\n"))
    assert again.applied and again.mapping == {"Shop": "name", "Token": "seller_id"}
    with pytest.raises(imports.ImportRefused):
        run(world.consultant_b, "clients", csv_file("Shop,Token\nIvy Goods,A2IVYGOODS001\n"))


def test_a_mapping_to_an_unknown_field_or_a_doubled_field_is_refused(world):
    with pytest.raises(imports.ImportRefused, match="not a field of clients"):
        run(world.consultant_a, "clients", csv_file("Name,X\na,b\n"), mapping={"X": "shoe_size"})
    with pytest.raises(imports.ImportRefused, match="2 columns would be read as client name"):
        run(world.consultant_a, "clients", csv_file("Name,Client\na,b\n"))
    with pytest.raises(imports.ImportRefused, match="two columns are called 'Notes'"):
        run(world.consultant_a, "clients", csv_file("Name,Notes,Notes\na,b,c\n"))


CASES = [
    ["Case ID", "Seller ID", "Business name", "Subject", "Type", "Reason", "ASINs", "Notice date",
     "Consultant", "Notes"],
    ["REF-1", "A1B2C3D4E5F6G7", "", "Suspended for IP", "Account suspension", "IP",
     "B07XJ8C8F5, B07XJ8C8F6", datetime(2026, 11, 3), "consultant@agency-a.example", "Called the client"],
    ["REF-2", "A2NEWSELLER001", "New Seller Co", "Listing down", "listing_deactivation",
     "Policy violation", "B07XJ8C8F7;B07XJ8C8F8", "03/11/2026", "Ada Admin", ""],
]


def test_cases_from_xlsx_open_with_their_timeline_and_deadlines(world):
    plan = run(world.consultant_a, "cases", xlsx_file(CASES), filename="cases.xlsx")
    assert plan.applied, [str(e) for e in plan.errors]
    assert plan.summary() == "2 cases created, 0 updated, 0 unchanged; 1 new client created from the case rows"
    ip = db.session.scalar(select(Case).where(Case.reference == "REF-1"))
    assert (ip.client_id, ip.kind, ip.reason, ip.assignee_id, ip.status) == (
        world.client_a.id, "account_suspension", "intellectual_property", world.consultant_a.id, "open")
    assert list(db.session.scalars(select(CaseAsin.asin).where(CaseAsin.case_id == ip.id)
                                   .order_by(CaseAsin.position))) == ["B07XJ8C8F5", "B07XJ8C8F6"]
    # An XLSX date cell: midnight in the agency's time zone (Europe/Berlin, UTC+1 in November).
    assert ip.opened_at == datetime(2026, 11, 2, 23, 0, tzinfo=timezone.utc)
    kinds = set(db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == ip.id)))
    assert {"created", "assigned", "imported", "note_added"} <= kinds
    assert count(Deadline, Deadline.case_id == ip.id, Deadline.kind == "appeal_window") == 1
    listing = db.session.scalar(select(Case).where(Case.reference == "REF-2"))
    new_client = db.session.get(Client, listing.client_id)
    assert (new_client.name, new_client.seller_id, new_client.agency_id) == (
        "New Seller Co", "A2NEWSELLER001", world.agency_a.id)
    assert listing.assignee_id == world.admin_a.id
    assert listing.opened_at == datetime(2026, 11, 2, 23, 0, tzinfo=timezone.utc)  # day first


def test_reimporting_cases_updates_by_reference_and_adds_no_duplicate(world):
    run(world.consultant_a, "cases", xlsx_file(CASES))
    cases_before, notes_before = count(Case), count(Note)
    rows = [list(r) for r in CASES]
    rows[1][3] = "Suspended for IP (rights owner: Acme)"
    plan = run(world.consultant_a, "cases", xlsx_file(rows), filename="again.xlsx")
    assert plan.summary() == "0 cases created, 1 updated, 1 unchanged"
    assert count(Case) == cases_before and count(Note) == notes_before  # the same note is not added again
    case = db.session.scalar(select(Case).where(Case.reference == "REF-1"))
    assert case.title == "Suspended for IP (rights owner: Acme)"
    summaries = list(db.session.scalars(select(CaseEvent.summary).where(CaseEvent.case_id == case.id)))
    assert "Edited title" in summaries and "Updated from again.xlsx, row 2" in summaries


def test_a_row_without_reference_updates_the_open_case_of_that_client_and_title(world):
    text = ("Seller ID,Title,Kind,Reason,Priority\n"
            f"{world.client_a.seller_id},account SUSPENDED,account_suspension,customer_complaints,High\n"
            f"{world.client_a.seller_id},Another case,Other,Other,\n")
    plan = run(world.consultant_a, "cases", csv_file(text))
    assert plan.summary() == "1 case created, 1 updated, 0 unchanged"
    assert db.session.get(Case, world.case_a.id).priority == "high"
    assert count(Case, Case.client_id == world.client_a.id) == 2


def test_every_label_and_code_of_the_vocabularies_is_read(world):
    for name in ("kind", "reason", "priority", "status"):
        for code, label in labels.ALL[name].items():
            assert imports.vocabulary(name, label) == code
            assert imports.vocabulary(name, label.upper()) == code
            assert imports.vocabulary(name, code) == code
    assert imports.vocabulary("kind", "Shoe") is None


def test_bad_case_rows_are_each_named_and_nothing_is_written(world):
    text = ("Seller ID,Title,Kind,Reason,ASINs,Opened,Assignee,Status\n"
            f"{world.client_a.seller_id},Fine,Account suspension,IP,,2026-11-01,,Open\n"
            f"{world.client_a.seller_id},Bad one,Shoe,IP,B07,11/25/2026,nobody@x.example,Lost\n"
            "A2UNKNOWN00001,Unknown client,Other,Other,,,,\n"
            f"{world.client_a.seller_id},,Other,Other,,2999-01-01,,\n")
    plan = run(world.consultant_a, "cases", csv_file(text))
    assert not plan.applied
    by_row = {(e.row, e.field): e.message for e in plan.errors}
    assert set(by_row) == {(3, "kind"), (3, "asins"), (3, "opened_at"), (3, "assignee"), (3, "status"),
                           (4, "seller_id"), (5, "title"), (5, "opened_at")}
    assert by_row[(3, "kind")] == "'Shoe' is not one of: Account suspension, Listing deactivation, Other."
    assert "day/month/year" in by_row[(3, "opened_at")]
    assert "No client of your agency has seller ID A2UNKNOWN00001" in by_row[(4, "seller_id")]
    assert by_row[(5, "opened_at")] == "The notice date cannot be in the future."
    assert count(Case) == 1


def test_another_agencys_seller_id_and_people_are_never_matched(world):
    other = make_client(world.consultant_b, name="B's client", seller_id="A2AGENCYBONLY1")
    text = ("Seller ID,Title,Kind,Reason,Assignee\n"
            "A2AGENCYBONLY1,Suspended,Other,Other,\n"
            f"{world.client_a.seller_id},Suspended,Other,Other,admin@agency-b.example\n")
    plan = run(world.consultant_a, "cases", csv_file(text))
    assert {(e.row, e.field) for e in plan.errors} == {(2, "seller_id"), (3, "assignee")}
    # With a name, the seller ID becomes a new client of agency A; B's is untouched.
    text = "Seller ID,Client,Title,Kind,Reason\nA2AGENCYBONLY1,A's own,Suspended,Other,Other\n"
    assert run(world.consultant_a, "cases", csv_file(text)).applied
    assert count(Case, Case.client_id == other.id) == 0
    assert count(Client, Client.seller_id == "A2AGENCYBONLY1") == 2
    # A client import in B never updates A's client of the same seller ID.
    run(world.consultant_b, "clients", csv_file(f"Name,Seller ID\nRenamed,{world.client_a.seller_id}\n"))
    assert db.session.get(Client, world.client_a.id).name == "Harbor Lane Home Goods"


def test_a_reference_of_another_agency_is_not_matched(world):
    text = "Case ID,Seller ID,Title,Kind,Reason\nSHARED-1,{seller},Suspended,Other,Other\n"
    run(world.consultant_a, "cases", csv_file(text.format(seller=world.client_a.seller_id)))
    b_client = make_client(world.consultant_b, name="B client", seller_id="A2BCLIENT00001")
    plan = run(world.consultant_b, "cases", csv_file(text.format(seller=b_client.seller_id)))
    assert plan.summary() == "1 case created, 0 updated, 0 unchanged"
    assert count(Case, Case.reference == "SHARED-1") == 2


def test_a_repeated_reference_in_one_file_is_an_error(world):
    seller = world.client_a.seller_id
    text = f"Reference,Seller ID,Title,Kind,Reason\nR1,{seller},One,Other,Other\nR1,{seller},Two,Other,Other\n"
    plan = run(world.consultant_a, "cases", csv_file(text))
    assert [str(e) for e in plan.errors] == [
        "row 3, reference: Row 2 has this reference already: each case once per file."]


def test_a_status_is_reported_not_moved(world):
    text = f"Seller ID,Title,Kind,Reason,Status\n{world.client_a.seller_id},New,Other,Other,Submitted to Amazon\n"
    plan = run(world.consultant_a, "cases", csv_file(text))
    assert plan.applied and any("does not move a case's status" in r for r in plan.remarks)
    assert db.session.scalar(select(Case.status).where(Case.title == "New")) == "open"


SAMPLES = Path(__file__).resolve().parents[2] / "data" / "import"


def test_the_sample_files_import_once_the_bad_row_is_fixed(world):
    """tests/data/import: the sheets a browser test (and a person trying caseapp) can use."""
    assert run(world.consultant_a, "clients", SAMPLES / "clients.csv").applied
    plan = run(world.consultant_a, "cases", SAMPLES / "cases-one-bad-row.csv")
    assert [str(e) for e in plan.errors] == [
        "row 3, asins: An ASIN is exactly 10 letters and digits; these are not: B07XJ8C8F."]
    plan = run(world.consultant_a, "cases", SAMPLES / "cases.csv")
    assert plan.applied and plan.summary() == "4 cases created, 0 updated, 0 unchanged"
    assert run(world.consultant_a, "cases", SAMPLES / "cases.csv").summary() == (
        "0 cases created, 0 updated, 4 unchanged")


def test_row_numbers_are_the_sheets_across_blank_rows(world):
    rows = [["Name", "Seller ID"], ["Good", "A2GOODSELLER01"], [None, None], ["Bad", "nope"]]
    plan = run(world.consultant_a, "clients", xlsx_file(rows))
    assert [(e.row, e.field) for e in plan.errors] == [(4, "seller_id")]
    text = 'Name,Seller ID,Notes\nGood,A2GOODSELLER01,"two\nlines"\n\nBad,nope,\n'
    plan = run(world.consultant_a, "clients", csv_file(text))
    assert [(e.row, e.field) for e in plan.errors] == [(4, "seller_id")]  # a record is a row, as a sheet shows it


def _rezip(data: bytes, change) -> io.BytesIO:
    """The workbook with its parts passed through CHANGE(name, bytes) -> bytes, and any extra
    parts CHANGE adds under the name None."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, change(info.filename, old.read(info.filename)))
        for name, extra in (change(None, b"") or {}).items():
            new.writestr(name, extra)
    out.seek(0)
    return out


def test_a_workbook_that_unpacks_huge_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(imports, "MAX_UNPACKED_MB", 1)
    small = xlsx_file([["Business name"], ["Blue Fern"]]).getvalue()
    bomb = _rezip(small, lambda name, data: {"xl/padding.bin": b"\0" * (2 * 2**20)} if name is None else data)
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(imports.ImportRefused, match="unpacks to 2 MB"):
        imports.read_sheet(bomb)


def test_a_sheet_claiming_every_column_is_read_as_wide_as_its_header():
    small = xlsx_file([["Business name", "Seller ID"], ["Blue Fern", "A2BLUEFERN0001"]]).getvalue()
    wide = _rezip(small, lambda name, data: data.replace(b'<dimension ref="A1:B2"/>', b'<dimension ref="A1:XFD20001"/>')
                  if name == "xl/worksheets/sheet1.xml" else (None if name is None else data))
    sheet = imports.read_sheet(wide)
    assert sheet.headers == ["Business name", "Seller ID"]
    assert [cells for _, cells in sheet.rows()] == [["Blue Fern", "A2BLUEFERN0001"]]


def test_a_workbook_broken_inside_is_refused_with_a_sentence():
    small = xlsx_file([["Business name"], ["Blue Fern"]]).getvalue()
    broken = _rezip(small, lambda name, data: b"<worksheet><sheetData><row" if name == "xl/worksheets/sheet1.xml"
                    else (None if name is None else data))
    with pytest.raises(imports.ImportRefused, match="not a readable XLSX workbook"):
        sheet = imports.read_sheet(broken)
        list(sheet.rows())


def test_an_imported_case_gets_what_the_case_page_would_have_given_it(world):
    """Imports open cases in batches (presets.open_cases): each must come out as the case
    form's presets.open_case makes it: the same deadlines and reminders, the same timeline,
    the soonest due time on the list, and found by search."""
    notice = "We will review your appeal. Please provide the documents within 17 days."
    sheet = ("Seller ID,Subject,Type,Reason,Notice date,Amazon notice,Notes\n"
             f"{world.client_a.seller_id},Batch-opened IP case,Account suspension,Intellectual property,"
             f"02/11/2026,\"{notice}\",From the old tracker\n")
    plan = run(world.consultant_a, "cases", csv_file(sheet))
    assert plan.applied, [str(e) for e in plan.errors]
    imported = db.session.scalar(select(Case).where(Case.title == "Batch-opened IP case"))
    by_hand = presets.open_case(world.consultant_a, {
        "client_id": world.client_a.id, "title": "Opened on the page", "kind": "account_suspension",
        "reason": "intellectual_property", "opened_at": imported.opened_at, "amazon_notice": notice})
    records.add_note(world.consultant_a, by_hand.id, "From the old tracker")

    def deadlines(case):
        return [(d.kind, d.title, d.due_at, d.next_alert_at, d.lead_hours, d.clock, d.owner_id, d.preset_id)
                for d in db.session.scalars(select(Deadline).where(Deadline.case_id == case.id)
                                            .order_by(Deadline.kind, Deadline.id))]

    def entries(case):
        return [(e.kind, e.summary) for e in db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind != "imported")
            .order_by(CaseEvent.id))]

    assert deadlines(imported) and deadlines(imported) == deadlines(by_hand)
    assert [d[0] for d in deadlines(imported)].count("amazon_reply_due") == 1  # "within 17 days"
    assert entries(imported)[0] == ("created", "Case opened: Batch-opened IP case")
    assert entries(imported)[1:] == entries(by_hand)[1:]
    assert imported.next_deadline_at is not None and imported.next_deadline_at == by_hand.next_deadline_at
    assert [h.case_id for h in search.search(world.consultant_a, "tracker")] == [by_hand.id, imported.id]


def test_many_new_cases_each_get_their_own_deadlines_and_entries(world):
    """More rows than one batch: every case has its own deadlines and timeline, none mixed up."""
    n = imports.BATCH + 3
    lines = ["Seller ID,Case ID,Subject,Type,Reason,Notes"] + [
        f"{world.client_a.seller_id},REF-{i},Case {i},Listing deactivation,Other,note {i}" for i in range(n)]
    plan = run(world.consultant_a, "cases", csv_file("\n".join(lines) + "\n"))
    assert plan.applied and plan.count("create") == n
    cases = db.session.scalars(select(Case).where(Case.reference.like("REF-%"))).all()
    assert len(cases) == n
    for case in (cases[0], cases[imports.BATCH - 1], cases[imports.BATCH], cases[-1]):
        i = case.reference.removeprefix("REF-")
        assert case.title == f"Case {i}"
        notes = db.session.scalars(select(Note.body).where(Note.case_id == case.id)).all()
        assert notes == [f"note {i}"]
        kinds = [e.kind for e in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                                   .order_by(CaseEvent.id))]
        assert kinds[:2] == ["created", "assigned"] and kinds[-2:] == ["imported", "note_added"]
        assert kinds.count("deadline_added") == count(Deadline, Deadline.case_id == case.id) > 0
