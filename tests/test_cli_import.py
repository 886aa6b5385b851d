"""`flask import clients|cases FILE [--dry-run] --as EMAIL`."""
from __future__ import annotations

import openpyxl
from sqlalchemy import func, select

from caseapp.extensions import db
from caseapp.models import Case, Client, Deadline


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["import", *args])


def write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_import_clients_dry_run_then_for_real(app, world, tmp_path):
    path = write(tmp_path, "clients.csv", "Client;Seller ID;Marketplace\n"
                 "Blue Fern;A2BLUEFERN0001;DE\nCopper Kettle;A2COPPERKET002;UK\n"
                 f"Harbor Lane Home Goods;{world.client_a.seller_id};US\n", "utf-8-sig")
    result = invoke(app, "clients", path, "--dry-run", "--as", "consultant@agency-a.example")
    assert result.exit_code == 0, result.output + result.stderr
    assert "dry run, nothing written: 3 rows: 2 clients to create, 0 to update, 1 unchanged." in result.output
    assert count(Client, Client.agency_id == world.agency_a.id) == 1

    result = invoke(app, "clients", path, "--as", "consultant@agency-a.example")
    assert result.exit_code == 0, result.stderr
    assert "3 rows: 2 clients created, 0 updated, 1 unchanged." in result.output
    assert count(Client, Client.agency_id == world.agency_a.id) == 3


def test_import_names_each_bad_row_exits_1_and_writes_nothing(app, world, tmp_path):
    path = write(tmp_path, "clients.csv", "Name,Seller ID\nGood,A2GOODSELLER01\nBad,nope\n,A2NONAME000001\n")
    result = invoke(app, "clients", path, "--as", "consultant@agency-a.example")
    assert result.exit_code == 1
    assert "row 3, seller_id: A seller ID (merchant token) is 8 to 20 letters and digits." in result.stderr
    assert "row 4, name: The seller's business name is required." in result.stderr
    assert "2 of 3 rows bad; nothing was imported." in result.stderr
    assert count(Client, Client.agency_id == world.agency_a.id) == 1


def test_import_cases_from_xlsx_opens_cases_with_deadlines(app, world, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["Case reference", "Merchant token", "Case title", "Kind", "Reason", "Notice date"])
    book.active.append(["C-9", world.client_a.seller_id, "Suspended again", "Account suspension",
                        "Customer complaints", "2026-11-20"])
    path = tmp_path / "cases.xlsx"
    book.save(path)
    result = invoke(app, "cases", str(path), "--as", "admin@agency-a.example")
    assert result.exit_code == 0, result.stderr
    assert "1 row: 1 case created, 0 updated, 0 unchanged." in result.output
    case = db.session.scalar(select(Case).where(Case.reference == "C-9"))
    assert case.agency_id == world.agency_a.id and case.assignee_id == world.admin_a.id
    assert count(Deadline, Deadline.case_id == case.id) >= 1  # the agency's presets ran
    again = invoke(app, "cases", str(path), "--as", "admin@agency-a.example")
    assert "0 cases created, 0 updated, 1 unchanged." in again.output


def test_import_refuses_an_unknown_user_and_an_unreadable_file(app, world, tmp_path):
    path = write(tmp_path, "clients.csv", "Name\nx\n")
    result = invoke(app, "clients", path, "--as", "nobody@example.com")
    assert result.exit_code == 1 and "No active user with the email nobody@example.com" in result.stderr
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = invoke(app, "clients", str(binary), "--as", "consultant@agency-a.example")
    assert result.exit_code == 1 and "neither CSV nor XLSX" in result.stderr
    result = invoke(app, "clients", path)
    assert result.exit_code == 2 and "--as" in result.stderr
