"""POA exports: text to paste into Seller Central, and Word and PDF files read back as a reviewer would."""
import logging
import os
import re
from dataclasses import replace
from io import BytesIO

import docx
import pytest
from pypdf import PdfReader

from caseapp.services.poa.content import PoaContent
from caseapp.services.poa.render import FONT_PATH, to_docx, to_pdf, to_text
from tests.cost import LINEAR_RATIO, growth

CONTENT = PoaContent(
    subject="Plan of Action: ASIN B0C7ZK4M2Q – Łódź Kitchenware Sp. z o.o. (seller ID A1LODZKW9X2M3N)",
    introduction=(
        "On 2 April 2025 our listing for the enamel roasting tin (ASIN B0C7ZK4M2Q) was deactivated after a "
        "trademark complaint from the Müller-Grün brand. We used the brand's name in our title without its "
        "permission, and we accept responsibility for that."
    ),
    root_cause=(
        "Our listing assistant copied the title format of a best-selling competitor listing, which included "
        "the Müller-Grün trademark. We had no step that checked titles for protected brand names before publishing."
    ),
    corrective_actions=(
        "Removed the brand name from the title, bullets and back-end keywords on 3 April.",
        "- Checked all 96 active listings for protected brand names and corrected 4 of them.",
        "Wrote to the brand owner on 3 April to confirm the change.",
    ),
    preventive_measures=(
        "Every new title is checked against the trademark register by our catalogue lead, Zofia Nowak.",
        "Our listing staff completed trademark training on 7 April.",
    ),
    closure="Thank you for your review.\n\nZofia Nowak, Catalogue Lead\nŁódź Kitchenware Sp. z o.o.",
)
EVIDENCE = [
    ("title-before-after.png", "Screenshot of the corrected title"),
    ("letter-to-brand-owner.pdf", ""),
]
HEADINGS = ["Subject", "Introduction", "Root cause", "Corrective actions", "Preventive measures", "Closure"]
has_dejavu = pytest.mark.skipif(not os.path.exists(FONT_PATH), reason="fonts-dejavu-core is not installed")


def assert_in_order(text: str, needles: list[str]) -> None:
    position = -1
    for needle in needles:
        found = text.find(needle, position + 1)
        assert found > position, f"{needle!r} missing or out of order"
        position = found


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


# ------------------------------------------------------------------ text

def test_text_has_the_sections_in_order_under_plain_headings():
    lines = to_text(CONTENT, EVIDENCE).splitlines()
    assert [line for line in lines if line in HEADINGS + ["Evidence enclosed"]] == HEADINGS + ["Evidence enclosed"]
    assert lines[:2] == ["Subject", CONTENT.subject]


def test_text_numbers_each_list_from_one_and_drops_pasted_bullets():
    text = to_text(CONTENT, EVIDENCE)
    assert_in_order(text, [
        "Corrective actions\n1. Removed the brand name",
        "\n2. Checked all 96 active listings",
        "\n3. Wrote to the brand owner",
        "Preventive measures\n1. Every new title",
        "\n2. Our listing staff",
    ])
    assert "- Checked" not in text


def test_text_lists_the_enclosed_evidence_last():
    text = to_text(CONTENT, EVIDENCE)
    assert text.endswith(
        "Evidence enclosed\n"
        "1. title-before-after.png – Screenshot of the corrected title\n"
        "2. letter-to-brand-owner.pdf\n"
    )
    assert "Evidence enclosed" not in to_text(CONTENT)
    assert "Evidence enclosed" not in to_text(CONTENT, [])


def test_text_keeps_paragraphs_and_signature_lines():
    assert "Thank you for your review.\n\nZofia Nowak, Catalogue Lead\nŁódź Kitchenware" in to_text(CONTENT)


def test_text_has_no_markup_even_when_the_draft_had_some():
    pasted = replace(
        CONTENT,
        introduction="## Introduction\n**We accept** responsibility <b>fully</b>.",
        corrective_actions=("* Removed the brand name.", "1) Checked __all__ listings."),
    )
    text = to_text(pasted, EVIDENCE)
    for mark in ("#", "*", "<", ">", "__"):
        assert mark not in text
    assert "We accept responsibility fully." in text
    assert "1. Removed the brand name.\n2. Checked all listings." in text


def test_empty_sections_are_left_out_of_the_export():
    text = to_text(replace(CONTENT, root_cause="  ", preventive_measures=()))
    assert "Root cause" not in text and "Preventive measures" not in text
    assert "Closure" in text


# ------------------------------------------------------------------ Word

def read_docx(data: bytes) -> docx.document.Document:
    return docx.Document(BytesIO(data))


def test_docx_has_title_and_section_headings_in_order():
    document = read_docx(to_docx(CONTENT, EVIDENCE, title="POA – Łódź Kitchenware"))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == HEADINGS + ["Evidence enclosed"]
    assert document.paragraphs[0].text == "POA – Łódź Kitchenware"
    assert document.core_properties.title == "POA – Łódź Kitchenware"


def test_docx_numbers_items_and_keeps_non_latin_text():
    texts = [p.text for p in read_docx(to_docx(CONTENT, EVIDENCE)).paragraphs]
    assert "1.\tRemoved the brand name from the title, bullets and back-end keywords on 3 April." in texts
    assert "2.\tChecked all 96 active listings for protected brand names and corrected 4 of them." in texts
    assert "1.\tEvery new title is checked against the trademark register by our catalogue lead, Zofia Nowak." in texts
    assert "1.\ttitle-before-after.png – Screenshot of the corrected title" in texts
    assert CONTENT.subject in texts


def test_docx_survives_control_characters_pasted_into_a_draft():
    document = read_docx(to_docx(replace(CONTENT, root_cause="Copied from a PDF\x0b with a stray\x07 byte.")))
    assert "Copied from a PDF with a stray byte." in [p.text for p in document.paragraphs]


# ------------------------------------------------------------------ PDF

@has_dejavu
def test_pdf_has_the_section_headings_in_order_and_unicode_text():
    data = to_pdf(CONTENT, EVIDENCE, title="POA – Łódź Kitchenware")
    assert data.startswith(b"%PDF")
    reader = PdfReader(BytesIO(data))
    assert reader.metadata.title == "POA – Łódź Kitchenware"
    text = pdf_text(data)
    assert_in_order(text, ["POA – Łódź Kitchenware", *HEADINGS, "Evidence enclosed", "title-before-after.png"])
    assert "Müller-Grün" in text
    assert "Łódź Kitchenware Sp. z o.o." in text


@has_dejavu
def test_a_long_poa_flows_onto_more_pages():
    long = replace(CONTENT, corrective_actions=tuple(f"Corrected listing number {n} on 3 April." for n in range(1, 80)))
    reader = PdfReader(BytesIO(to_pdf(long)))
    assert len(reader.pages) > 1
    assert "Closure" in reader.pages[-1].extract_text()
    assert "Corrected listing number 79" in pdf_text(to_pdf(long))


def test_pdf_falls_back_to_helvetica_without_the_font_file(caplog):
    with caplog.at_level(logging.WARNING):
        data = to_pdf(CONTENT, EVIDENCE, title="POA – Łódź", font_path="/nonexistent/DejaVuSans.ttf")
    assert "falling back to Helvetica" in caplog.text
    text = pdf_text(data)
    assert_in_order(text, ["POA - ?ód?", *HEADINGS, "Evidence enclosed"])
    assert "Müller-Grün" in text  # Latin-1 letters survive; others become "?"


# ------------------------------------------------------------------ long and hostile text (issue 12)

def filled(unit: str, size: int) -> str:
    text = (unit * (size // len(unit) + 1))[:size].strip()
    return text + "x" * (size - len(text))


@has_dejavu
def test_a_long_unbroken_word_is_cut_at_the_margin_and_kept_whole():
    text = pdf_text(to_pdf(replace(CONTENT, root_cause="Before " + "W" * 3000 + " after.")))
    printed = [line for line in text.splitlines() if not re.fullmatch(r"\d+ / \d+", line)]  # page footers
    assert "Before" + "W" * 3000 + "after." in "".join("".join(printed).split())
    pieces = [line for line in text.splitlines() if set(line) == {"W"}]
    assert len({len(p) for p in pieces}) == 1  # every full line as wide as the text column
    assert 30 < len(pieces[0]) < 120


@has_dejavu
def test_prose_is_wrapped_between_words_not_inside_them():
    words = ["reviewed", "every", "listing", "against", "the", "trademark", "register", "and", "corrected", "titles"]
    text = " ".join(words[i % len(words)] for i in range(600))
    extracted = pdf_text(to_pdf(replace(CONTENT, root_cause=text)))
    body = extracted[extracted.index("Root cause") + len("Root cause"):extracted.index("Corrective actions")]
    printed = [word for word in body.split() if not word.isdigit() and word != "/"]  # the page footer
    assert set(printed) == set(words)
    assert len(printed) == 600


@has_dejavu
def test_text_outside_the_common_scripts_prints_with_the_whole_font():
    armenian = "Հայաստան"  # in DejaVu Sans, not among the characters of the reduced copies
    text = pdf_text(to_pdf(replace(CONTENT, closure=f"Thank you. {armenian}")))
    assert armenian in text
    assert "Łódź Kitchenware Sp. z o.o." in pdf_text(to_pdf(CONTENT))


def test_a_stored_section_of_thousands_of_lines_keeps_every_word_in_fewer_paragraphs():
    from caseapp.services.poa.content import MAX_SECTION_LINES

    # A draft saved before the limits: one word a paragraph, 5,000 of them.
    words = [f"w{n}" for n in range(5000)]
    text = to_text(replace(CONTENT, root_cause="\n\n".join(words)))
    section = text[text.index("Root cause\n"):text.index("Corrective actions\n")]
    assert section.split()[2:] == words  # "Root", "cause", then every word, in order
    assert section.count("\n") <= MAX_SECTION_LINES + 2
    document = read_docx(to_docx(replace(CONTENT, root_cause="\n\n".join(words))))
    assert len(document.paragraphs) < MAX_SECTION_LINES + 40
    assert " ".join(p.text for p in document.paragraphs).count(" w4999") == 1


def test_removing_emphasis_from_four_times_the_text_costs_at_most_about_four_times_as_much():
    # "**" and "__" opened and never closed: the pattern looked to the end of the line each time.
    ratio = growth(lambda n: replace(CONTENT, root_cause=filled("**a __b ", n)), to_text, 5_000)
    assert ratio < LINEAR_RATIO, f"4x the text cost {ratio:.1f}x"


@pytest.mark.parametrize("text", ["**bold** and __bold__", "** not bold **", "**a **b** c**", "__x\n__", "a**b**c"])
def test_emphasis_marks_go_as_the_pattern_took_them(text):
    want = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    assert to_text(PoaContent(root_cause=text)) == f"Root cause\n{want.strip()}\n"
