import io
import re
import unicodedata

import pytest
from werkzeug.http import parse_options_header
from werkzeug.test import create_environ
from werkzeug.utils import send_file

from caseapp.services.evidence.filenames import (MAX_FILE_BYTES, MAX_LENGTH, ascii_name, content_disposition,
                                                 download_name, safe_display_name)


@pytest.mark.parametrize("name", [
    "Invoice 2024-03 (ACME Ltd).pdf",
    "Rechnung März.pdf",
    "发票 供应商.pdf",
    "Screenshot 😀 listing B00EXAMPLE.png",
    "supplier-letter_v2.final.docx",
])
def test_ordinary_names_are_kept_as_the_user_wrote_them(name):
    assert safe_display_name(name) == name


@pytest.mark.parametrize("raw, expected", [
    ("C:\\Users\\bob\\Desktop\\invoice.pdf", "invoice.pdf"),
    ("../../etc/passwd", "passwd"),
    ("uploads/2024\\march/photo.jpg", "photo.jpg"),
    ("/absolute/path/letter.docx", "letter.docx"),
])
def test_directory_parts_are_removed(raw, expected):
    assert safe_display_name(raw) == expected


def test_nul_and_control_characters_are_removed():
    assert safe_display_name("inv\x00oice\x07\x1b.pdf") == "invoice.pdf"
    assert safe_display_name("a\x7fb\x85c\x9f.txt") == "ab c.txt"  # \x85 is a line break


def test_line_breaks_and_tabs_become_single_spaces():
    assert safe_display_name("first line\r\nsecond\tline .txt") == "first line second line.txt"
    assert safe_display_name("para\u2028graph.txt") == "para graph.txt"


def test_runs_of_whitespace_collapse_and_ends_are_trimmed():
    assert safe_display_name("   my \u00a0  invoice   .pdf  ") == "my invoice.pdf"


def test_bidi_override_cannot_disguise_the_extension():
    # Displayed as "invoice_exe.pdf" by a bidi-aware renderer; really an .exe.
    result = safe_display_name("invoice_\u202efdp.exe")
    assert result == "invoice_fdp.exe"


@pytest.mark.parametrize("mark", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
                                  "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c",
                                  "\u200b", "\ufeff"])
def test_each_invisible_direction_or_zero_width_mark_is_removed(mark):
    assert safe_display_name(f"re{mark}port.pdf") == "report.pdf"


def test_unicode_is_normalised_to_composed_form():
    decomposed = "re\u0301sume\u0301.pdf"
    result = safe_display_name(decomposed)
    assert result == "r\u00e9sum\u00e9.pdf"
    assert unicodedata.is_normalized("NFC", result)


def test_lone_surrogates_are_dropped_so_the_name_can_be_stored():
    result = safe_display_name("scan\udc80.pdf")
    assert result == "scan.pdf"
    result.encode("utf-8")


def test_long_names_are_cut_to_the_limit_keeping_the_extension():
    result = safe_display_name("a" * 300 + ".pdf")
    assert len(result) == MAX_LENGTH == 200
    assert result == "a" * 196 + ".pdf"


def test_long_names_without_extension_are_cut_too():
    assert safe_display_name("b" * 300) == "b" * 200


def test_cutting_does_not_leave_a_dangling_space_before_the_extension():
    result = safe_display_name("x" * 194 + " yyyyyyyy.xlsx")  # the cut falls after the space
    assert result == "x" * 194 + ".xlsx"


def test_long_names_in_other_scripts_are_counted_in_characters():
    result = safe_display_name("申" * 300 + ".docx")
    assert result == "申" * 195 + ".docx"


@pytest.mark.parametrize("raw, expected", [
    ("", "file"),
    (None, "file"),
    ("   ", "file"),
    (".", "file"),
    ("..", "file"),
    ("......", "file"),
    ("../", "file"),
    ("folder/..", "file"),
    ("\x00\x01", "file"),
    ("\u202e", "file"),
    (".pdf", "file.pdf"),
    ("...pdf", "file.pdf"),
    (" .. .png", "file.png"),
])
def test_empty_or_dot_only_names_become_file(raw, expected):
    assert safe_display_name(raw) == expected


def test_leading_and_trailing_dots_are_removed():
    assert safe_display_name("..hidden invoice.pdf") == "hidden invoice.pdf"
    assert safe_display_name("invoice.pdf.") == "invoice.pdf"


def test_download_name_has_no_double_quotes_or_line_breaks():
    result = download_name('Supplier "ACME"\r\nletter.pdf')
    assert result == "Supplier 'ACME' letter.pdf"


@pytest.mark.parametrize("display", ['Supplier "ACME" letter.pdf', "Rechnung März.pdf",
                                     "发票.pdf", "semi;colon, comma.pdf"])
def test_download_name_survives_content_disposition_round_trip(display):
    response = send_file(io.BytesIO(b"x"), create_environ(), mimetype="application/pdf",
                         as_attachment=True, download_name=download_name(display))
    header = response.headers["Content-Disposition"]
    assert "\n" not in header and "\r" not in header
    disposition, options = parse_options_header(header)
    assert disposition == "attachment"
    assert options["filename"] == display.replace('"', "'")


# ---------------------------------------------------------------- names a disk or unzip gets

TRAVERSAL = "．．／．．／.ssh／authorized_keys"  # fullwidth full stops and solidi


@pytest.mark.parametrize("raw, shown", [
    (TRAVERSAL, "authorized_keys"),
    ("‥／‥／etc／passwd", "passwd"),  # two-dot leaders
    ("．．＼．．＼boot.ini", "boot.ini"),  # fullwidth reverse solidus
    ("．ssh", "file.ssh"),
    ("ﬁnal ｉｎｖｏｉｃｅ.pdf", "final invoice.pdf"),
])
def test_compatibility_characters_are_cleaned_as_what_they_fold_to(raw, shown):
    assert safe_display_name(raw) == shown
    assert download_name(raw) == shown and ascii_name(raw) == shown


@pytest.mark.parametrize("raw", [TRAVERSAL, "../../.ssh/authorized_keys", "..\\..\\x.pdf",
                                 "invoice\u202efdp.exe", ".hidden", "...", "CON", "ＣＯＮ.txt",
                                 "com¹.pdf", "LPT9.tar.gz", "nul .txt", "<a>:|?*\".pdf",
                                 "発票" * 150 + ".pdf", "x" * 10_000, "\x00", "\ud800.pdf"])
def test_download_and_ascii_names_are_safe_on_any_disk(raw):
    for name in (download_name(raw), ascii_name(raw)):
        assert name and "/" not in name and "\\" not in name and not name.startswith((".", " "))
        assert not re.search(r'[<>:"|?*\x00-\x1f\u202a-\u202e\u2066-\u2069]', name)
        assert len(name.encode("utf-8")) <= MAX_FILE_BYTES
        assert name.split(".")[0].upper().rstrip() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT9"}
    assert ascii_name(raw).isascii() and ascii_name(raw).isprintable()


@pytest.mark.parametrize("raw, expected", [("CON.txt", "_CON.txt"), ("ＣＯＮ.tar.gz", "_CON.tar.gz"),
                                           ("com¹.pdf", "_com1.pdf"), ("aux", "_aux"),
                                           ("console.txt", "console.txt"), ("COM10.pdf", "COM10.pdf")])
def test_windows_device_names_are_prefixed(raw, expected):
    assert download_name(raw) == expected


def test_long_names_on_disk_are_cut_by_bytes_on_a_character_boundary():
    name = download_name("発票" * 150 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode("utf-8")) <= MAX_FILE_BYTES
    assert name == "発票" * 32 + "発.pdf"  # 195 bytes of three-byte characters, then ".pdf"


@pytest.mark.parametrize("raw, header", [
    (TRAVERSAL, 'attachment; filename="authorized_keys"'),
    ("Rechnung Müller & Łódź.pdf", "attachment; filename=\"Rechnung Muller & Lodz.pdf\"; "
                                   "filename*=UTF-8''Rechnung%20M%C3%BCller%20&%20%C5%81%C3%B3d%C5%BA.pdf"),
    ("発票.pdf", "attachment; filename=\"file.pdf\"; filename*=UTF-8''%E7%99%BA%E7%A5%A8.pdf"),
    ("Supplier \"ACME\" letter.pdf", "attachment; filename=\"Supplier 'ACME' letter.pdf\""),
])
def test_content_disposition_builds_its_own_ascii_fallback(raw, header):
    assert content_disposition(raw) == header
    disposition, options = parse_options_header(header)
    assert ".." not in options["filename"] and "/" not in options["filename"]
    assert content_disposition(raw, attachment=False).startswith("inline; ")


def test_werkzeug_would_have_made_the_traversal_of_a_fullwidth_name():
    """Why the fallback is built here: werkzeug's folds the stored name with NFKD."""
    response = send_file(io.BytesIO(b"x"), create_environ(), mimetype="text/plain",
                         as_attachment=True, download_name=TRAVERSAL)
    assert 'filename="../../.ssh/authorized_keys"' in response.headers["Content-Disposition"]
