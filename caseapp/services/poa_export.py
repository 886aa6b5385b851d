"""Exports of a POA: plain text to paste into Seller Central, a Word file and a PDF.

All three lay out the same blocks: the non-empty sections in the order of
``SECTIONS`` under their plain headings, list items numbered "1.", "2.", ...,
then, when evidence is given, an "Evidence enclosed" list of
``filename – description`` lines. Empty sections are left out rather than
printed as a bare heading; the review already flags them.

Seller Central shows text literally, so markup a consultant may have pasted
in from elsewhere (Markdown emphasis and headings, HTML tags, list bullets)
is removed, and so are control characters that Word files cannot hold.
"""
from __future__ import annotations

import logging
import os
import re
from io import BytesIO

from caseapp.services.poa_content import LIST_SECTIONS, SECTIONS, PoaContent, section_items

log = logging.getLogger(__name__)

DEFAULT_TITLE = "Plan of Action"
EVIDENCE_HEADING = "Evidence enclosed"
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT_PATH = os.path.join(FONT_DIR, "DejaVuSans.ttf")   # Debian package fonts-dejavu-core
BOLD_FONT_PATH = os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf")

Block = tuple[str, list[str], bool]   # heading, paragraphs or items, numbered?

_MARKUP = [
    (re.compile(r"</?[a-zA-Z][^<>]*>"), ""),                    # HTML tags
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),       # **bold**, __bold__
    (re.compile(r"^[ \t]*(?:#{1,6}|>)[ \t]+", re.M), ""),       # "# heading", "> quote"
    (re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"), ""),      # control characters
]
_ITEM_MARKER = re.compile(r"^\s*(?:[-*+\u2022\u25aa\u2013]|\(?\d{1,2}[.)])\s+")


def _plain(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text.strip()


def _blocks(content: PoaContent, evidence_index: list[tuple[str, str]] | None) -> list[Block]:
    blocks: list[Block] = []
    for key, heading in SECTIONS:
        if key in LIST_SECTIONS:
            items = [_plain(_ITEM_MARKER.sub("", item)) for item in section_items(content, key)]
            blocks.append((heading, [i for i in items if i], True))
        else:
            paragraphs = [p.strip() for p in re.split(r"\n\s*\n", _plain(getattr(content, key)))]
            blocks.append((heading, [p for p in paragraphs if p], False))
    evidence = [
        _plain(f"{name} \u2013 {description}" if description and description.strip() else name)
        for name, description in evidence_index or ()
    ]
    blocks.append((EVIDENCE_HEADING, [e for e in evidence if e], True))
    return [block for block in blocks if block[1]]


# ---------------------------------------------------------------- text

def to_text(content: PoaContent, evidence_index: list[tuple[str, str]] | None = None) -> str:
    """Plain text: a heading line, the section, a blank line; list items as "1. ..."."""
    lines: list[str] = []
    for heading, parts, numbered in _blocks(content, evidence_index):
        lines.append(heading)
        for number, part in enumerate(parts, start=1):
            if numbered:
                prefix = f"{number}. "
                first, *rest = part.split("\n")
                lines.append(prefix + first)
                lines.extend(" " * len(prefix) + line for line in rest)
            else:
                if number > 1:
                    lines.append("")
                lines.extend(part.split("\n"))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- Word

def to_docx(content: PoaContent, evidence_index: list[tuple[str, str]] | None = None,
            title: str = DEFAULT_TITLE) -> bytes:
    from docx import Document
    from docx.shared import Cm

    document = Document()
    document.core_properties.title = title
    document.add_heading(title, level=0)
    for heading, parts, numbered in _blocks(content, evidence_index):
        document.add_heading(heading, level=1)
        for number, part in enumerate(parts, start=1):
            # Explicit numbers, not Word's "List Number" style: that style keeps
            # counting across lists, so preventive measures would start at 4.
            paragraph = document.add_paragraph(f"{number}.\t{part}" if numbered else part)
            if numbered:
                paragraph.paragraph_format.left_indent = Cm(0.75)
                paragraph.paragraph_format.first_line_indent = Cm(-0.75)
                paragraph.paragraph_format.tab_stops.add_tab_stop(Cm(0.75))
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- PDF

_TO_LATIN1 = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u2022": "-", "\u00a0": " ",
})


def to_pdf(content: PoaContent, evidence_index: list[tuple[str, str]] | None = None,
           title: str = DEFAULT_TITLE, font_path: str | None = FONT_PATH) -> bytes:
    """A4 PDF in DejaVu Sans, which covers Latin, Greek, Cyrillic and most other
    European scripts, so names like "Łódź" or "Müller" print as typed.

    If the font file is missing (fonts-dejavu-core not installed) the PDF falls
    back to the built-in Helvetica, which only knows Latin-1: typographic quotes
    and dashes become their ASCII forms and any other character outside Latin-1
    becomes "?". A warning is logged when that happens.
    DejaVu Sans has no Chinese or Japanese glyphs, and Arabic is not shaped
    (that would need uharfbuzz); such text does not print correctly either way.
    """
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(family, "", 8)
            self.cell(0, 6, f"{self.page_no()} / {{nb}}", align="C")

    pdf = _Pdf(format="A4")
    if font_path and os.path.exists(font_path):
        family = "DejaVu"
        pdf.add_font(family, "", font_path)
        bold_path = BOLD_FONT_PATH if font_path == FONT_PATH and os.path.exists(BOLD_FONT_PATH) else font_path
        pdf.add_font(family, "B", bold_path)
        fit = str
    else:
        log.warning("PDF font %s not found; falling back to Helvetica (Latin-1 only)", font_path)
        family = "Helvetica"
        fit = _latin1

    pdf.set_title(fit(title))
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    line = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT, "align": "L"}  # fpdf2 justifies by default
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(0, 8, fit(title), **line)
    for heading, parts, numbered in _blocks(content, evidence_index):
        pdf.ln(4)
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(0, 7, fit(heading), **line)
        pdf.set_font(family, "", 11)
        for number, part in enumerate(parts, start=1):
            if numbered:
                pdf.cell(8, 6, f"{number}.")  # multi_cell then wraps under the text, not the number
            elif number > 1:
                pdf.ln(2)
            pdf.multi_cell(0, 6, fit(part), **line)
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    return text.translate(_TO_LATIN1).encode("latin-1", "replace").decode("latin-1")
