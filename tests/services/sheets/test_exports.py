"""A case list leaves as a spreadsheet: every case the filters match, in the list's order,
with words a person reads, times in their zone, and no cell a spreadsheet would run."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
from openpyxl import load_workbook

from caseapp.extensions import db
from caseapp.services.appeals import submissions
from caseapp.services.sheets import exports
from caseapp.services.cases.records import CaseFilters
from tests.conftest import make_case, make_client


def csv_rows(actor, f, zone="UTC") -> list[list[str]]:
    data = b"".join(exports.export(actor, f, "csv", zone)[0])
    assert data.startswith("\ufeff".encode())  # Excel reads the accents as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def xlsx_sheet(actor, f, zone="UTC"):
    data = b"".join(exports.export(actor, f, "xlsx", zone)[0])
    return load_workbook(io.BytesIO(data))["Cases"]


@pytest.fixture
def many(world, monkeypatch):
    """Seven cases of agency A in batches of two, so the export crosses several batches."""
    monkeypatch.setattr(exports, "BATCH", 2)
    actor = world.consultant_a
    made = [world.case_a] + [make_case(actor, world.client_a, title=f"Listing {n} deactivated",
                                       kind="listing_deactivation", reason="intellectual_property",
                                       asins=[f"B0{n}TESTAS{n}"[:10]])
                             for n in range(6)]
    other = make_client(world.admin_b, name="Other Agency Seller")
    make_case(world.admin_b, other, title="Agency B's case")
    db.session.commit()
    return made


def test_every_matching_case_in_the_lists_order_across_batches(world, many):
    rows = csv_rows(world.consultant_a, CaseFilters(assignee="all", sort="oldest"))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Case", "Title", "Client", "Seller ID"] and "Notice date (UTC)" in header
    assert [int(r[0]) for r in body] == [c.id for c in sorted(many, key=lambda c: (c.opened_at, c.id))]
    assert "Agency B's case" not in {r[1] for r in body}

    filtered = csv_rows(world.consultant_a, CaseFilters(assignee="all", reason="intellectual_property"))
    assert len(filtered) == 7 and {r[header.index("Reason")] for r in filtered[1:]} == {"Intellectual property"}
    assert {r[header.index("Kind")] for r in filtered[1:]} == {"Listing deactivation"}


def test_times_are_the_viewers_and_the_amazon_reference_is_the_latest(world):
    case = world.case_a
    case.opened_at = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)
    db.session.commit()
    submissions.record_submission(world.consultant_a, case.id, {"amazon_reference": "CASE-998877"})
    rows = csv_rows(world.consultant_a, CaseFilters(assignee="all"), zone="Europe/Berlin")
    header, [row] = rows[0], rows[1:]
    assert row[header.index("Notice date (Europe/Berlin)")] == "2026-12-01 00:30"
    assert row[header.index("Amazon reference")] == "CASE-998877"
    assert row[header.index("Status")] == "Submitted to Amazon" and row[header.index("ASINs")] == "B07XJ8C8F5"

    sheet = xlsx_sheet(world.consultant_a, CaseFilters(assignee="all"), zone="Europe/Berlin")
    values = [[cell.value for cell in r] for r in sheet.iter_rows()]
    assert values[1][values[0].index("Notice date (Europe/Berlin)")] == datetime(2026, 12, 1, 0, 30)
    assert values[1][values[0].index("Amazon reference")] == "CASE-998877"


@pytest.mark.parametrize("title", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-2+3", "@SUM(A1)",
                                   "\tTabbed", "\rReturned"])
def test_a_formula_in_a_cell_is_never_run(world, title):
    world.case_a.title = title
    db.session.commit()
    [_, row] = csv_rows(world.consultant_a, CaseFilters(assignee="all"))
    assert row[1] == "'" + title

    sheet = xlsx_sheet(world.consultant_a, CaseFilters(assignee="all"))
    cell = list(sheet.iter_rows())[1][1]
    assert cell.data_type == "s" and cell.value == title  # a text with its own characters


def test_characters_xlsx_cannot_hold_are_dropped_not_a_failure(world):
    world.case_a.title = "Bell\x07 and vt\x0b end"  # (PostgreSQL stores no NUL)
    db.session.commit()
    sheet = xlsx_sheet(world.consultant_a, CaseFilters(assignee="all"))
    assert list(sheet.iter_rows())[1][1].value == "Bell and vt end"

