"""GET /api/v1/cases/export: the filters of GET /cases, every matching case, as a file."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from caseapp.extensions import db
from tests.conftest import make_case


def test_the_export_takes_the_list_filters_and_streams_the_file(world, api_a, api_b):
    make_case(world.consultant_a, world.client_a, title="Drafting case", asins=["B0DRAFT001"])
    db.session.commit()
    every = api_a.get("/cases/export?format=csv")
    assert every.status_code == 200
    assert every.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert every.headers["Content-Disposition"].startswith('attachment; filename="cases-')
    assert every.headers["Cache-Control"] == "no-store"  # as every API answer
    rows = list(csv.reader(io.StringIO(every.get_data().decode("utf-8-sig"))))
    assert sorted(r[1] for r in rows[1:]) == ["Account suspended", "Drafting case"]

    found = api_a.get("/cases/export?format=xlsx&q=B0DRAFT001")
    sheet = load_workbook(io.BytesIO(found.get_data()))["Cases"]
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Drafting case"]

    # Agency B sees none of agency A's cases, and agency A's client id filters nothing of B's.
    theirs = api_b.get(f"/cases/export?format=csv&client_id={world.client_a.id}")
    assert len(list(csv.reader(io.StringIO(theirs.get_data().decode("utf-8-sig"))))) == 1


def test_a_bad_format_or_status_is_a_json_error(api_a):
    bad = api_a.get("/cases/export?format=pdf")
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["format"] == "Choose csv or xlsx."
    assert api_a.get("/cases/export?status=lost").status_code == 422


def test_the_export_needs_a_token(anonymous):
    assert anonymous.get("/cases/export").status_code == 401
