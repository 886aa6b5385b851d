"""Exports of a POA: plain text to paste into Seller Central, a Word file and a PDF.

All three lay out the same blocks: the non-empty sections in the order of
``SECTIONS`` under their plain headings, list items numbered "1.", "2.", ...,
then, when evidence is given, an "Evidence enclosed" list of
``filename – description`` lines. Empty sections are left out rather than
printed as a bare heading; the review already flags them.

Seller Central shows text literally, so markup a consultant may have pasted
in from elsewhere (Markdown emphasis and headings, HTML tags, list bullets)
is removed, and so are control characters that Word files cannot hold.

Every step takes time linear in the draft (issue 12): markup is removed in one
pass, PDF lines are broken here, Word paragraphs are appended without a walk
over the document, and a section (item) lays out at most the MAX_SECTION_LINES
(MAX_ITEM_LINES) lines a draft may be saved with, the rest of a longer stored
one running on in its last line. ``render`` keeps the files it made.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from bisect import bisect_left
from collections import OrderedDict
from io import BytesIO

from caseapp.services.poa.content import (
    LIST_SECTIONS,
    MAX_ITEM_LINES,
    MAX_SECTION_LINES,
    SECTIONS,
    PoaContent,
    section_items,
)

log = logging.getLogger(__name__)

DEFAULT_TITLE = "Plan of Action"
EVIDENCE_HEADING = "Evidence enclosed"
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT_PATH = os.path.join(FONT_DIR, "DejaVuSans.ttf")   # Debian package fonts-dejavu-core
BOLD_FONT_PATH = os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf")

Block = tuple[str, list[str], bool]   # heading, paragraphs or items, numbered?

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")                      # HTML tags
_BLOCK_MARK = re.compile(r"^[ \t]*(?:#{1,6}|>)[ \t]+", re.M)     # "# heading", "> quote"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")      # control characters
_ITEM_MARKER = re.compile(r"^\s*(?:[-*+\u2022\u25aa\u2013]|\(?\d{1,2}[.)])\s+")
_NEWLINE = re.compile("\n")


def _strip_emphasis(text: str) -> str:
    r"""**bold** and __bold__ without their marks.

    What ``re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)`` gives, in one pass: an
    opening mark looks up its closing one in a sorted list, where the pattern scanned on
    to the end of the line for every mark left open (quadratic on a long line of them).
    """
    if "**" not in text and "__" not in text:
        return text
    marks = {mark: [m.start() for m in re.finditer(f"(?={re.escape(mark)})", text)] for mark in ("**", "__")}
    closers = {mark: [q for q in found if q > 0 and not text[q - 1].isspace()] for mark, found in marks.items()}
    newlines = [m.start() for m in _NEWLINE.finditer(text)]
    opens = sorted((p, mark) for mark, found in marks.items() for p in found)
    pieces, position = [], 0
    for start, mark in opens:
        if start < position or start + 2 >= len(text) or text[start + 2].isspace():
            continue
        close = closers[mark]
        c = bisect_left(close, start + 3)
        if c == len(close):
            continue
        end = close[c]
        n = bisect_left(newlines, start + 2)
        if n < len(newlines) and newlines[n] < end:
            continue  # the closing mark is on a later line: "." does not cross a line break
        pieces += [text[position:start], text[start + 2:end]]
        position = end + 2
    pieces.append(text[position:])
    return "".join(pieces)


def _plain(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TAG.sub("", text)
    text = _strip_emphasis(text)
    text = _BLOCK_MARK.sub("", text)
    text = _CONTROL.sub("", text)
    return text.strip()


def _at_most_lines(text: str, most: int) -> str:
    """`text` with the line breaks after its first `most - 1` turned into spaces.

    A draft can be saved with at most MAX_SECTION_LINES lines a section (MAX_ITEM_LINES an
    item); one stored before those limits may have thousands, each a paragraph to lay out.
    Its words are all kept, the surplus lines run on in the last one.
    """
    if text.count("\n") < most:
        return text
    lines = text.split("\n")
    return "\n".join(lines[:most - 1]) + "\n" + " ".join(lines[most - 1:])


def _blocks(content: PoaContent, evidence_index: list[tuple[str, str]] | None) -> list[Block]:
    blocks: list[Block] = []
    for key, heading in SECTIONS:
        if key in LIST_SECTIONS:
            items = [_plain(_ITEM_MARKER.sub("", _at_most_lines(item, MAX_ITEM_LINES)))
                     for item in section_items(content, key)]
            blocks.append((heading, [i for i in items if i], True))
        else:
            text = _plain(_at_most_lines(getattr(content, key), MAX_SECTION_LINES))
            paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text)]
            blocks.append((heading, [p for p in paragraphs if p], False))
    evidence = [
        _plain(_at_most_lines(f"{name} \u2013 {description}" if description and description.strip() else name,
                              MAX_ITEM_LINES))
        for name, description in evidence_index or ()
    ]
    blocks.append((EVIDENCE_HEADING, [e for e in evidence if e], True))
    return [block for block in blocks if block[1]]


def print_blocks(content: PoaContent) -> list[Block]:
    """The sections as the print view shows them: as typed (the page escapes them), a
    paragraph per non-blank line, list items as they are; empty sections left out."""
    blocks: list[Block] = []
    for key, heading in SECTIONS:
        value = getattr(content, key)
        if key in LIST_SECTIONS:
            parts = list(value)
        else:
            parts = [line for line in _at_most_lines(value, MAX_SECTION_LINES).split("\n") if line.strip()]
        if parts:
            blocks.append((heading, parts, key in LIST_SECTIONS))
    return blocks


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
    # Every paragraph goes in before this one, removed at the end: add_paragraph() looks for
    # the body's last element by walking all of them, so appending was quadratic.
    end = document.add_paragraph()
    end.insert_paragraph_before(title, "Title")
    for heading, parts, numbered in _blocks(content, evidence_index):
        end.insert_paragraph_before(heading, "Heading 1")
        for number, part in enumerate(parts, start=1):
            # Explicit numbers, not Word's "List Number" style: that style keeps
            # counting across lists, so preventive measures would start at 4.
            paragraph = end.insert_paragraph_before(f"{number}.\t{part}" if numbered else part)
            if numbered:
                paragraph.paragraph_format.left_indent = Cm(0.75)
                paragraph.paragraph_format.first_line_indent = Cm(-0.75)
                paragraph.paragraph_format.tab_stops.add_tab_stop(Cm(0.75))
    end._element.getparent().remove(end._element)
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

    Lines are broken here (_PdfWriter), not by fpdf2's multi_cell, which measures
    the line again for every character it adds: a 30,000-character draft took a
    second that way.
    """
    from fpdf import FPDF

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(family, "", 8)
            self.cell(0, 6, f"{self.page_no()} / {{nb}}", align="C")

    blocks = _blocks(content, evidence_index)
    pdf = _Pdf(format="A4")
    if font_path and os.path.exists(font_path):
        family = "DejaVu"
        bold_path = BOLD_FONT_PATH if font_path == FONT_PATH and os.path.exists(BOLD_FONT_PATH) else font_path
        common = _common_fonts(font_path, bold_path)
        if common is not None and not (os.path.exists(common[0]) and os.path.exists(common[1])):
            _common_fonts.cache_clear()  # the temporary folder was cleaned: make them again
            common = _common_fonts(font_path, bold_path)
        if common is not None and _printed_characters(title, blocks) <= common[2]:
            font_path, bold_path = common[0], common[1]
        pdf.add_font(family, "", font_path)
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
    writer = _PdfWriter(pdf)
    pdf.set_font(family, "B", 16)
    writer.write(fit(title), 8)
    for heading, parts, numbered in blocks:
        pdf.ln(4)
        pdf.set_font(family, "B", 12)
        writer.write(fit(heading), 7)
        pdf.set_font(family, "", 11)
        for number, part in enumerate(parts, start=1):
            if numbered:
                writer.write(fit(part), 6, number=f"{number}.")  # wrapped under the text, not the number
            else:
                if number > 1:
                    pdf.ln(2)
                writer.write(fit(part), 6)
    return bytes(pdf.output())


# Latin (every extension, Vietnamese too), Greek, Cyrillic, punctuation, currency and
# letter-like signs, number forms, arrows, mathematical operators, shapes, ligatures.
_COMMON_RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x52F), (0x1E00, 0x1EFF),
                  (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2100, 0x218F), (0x2190, 0x21FF), (0x2200, 0x22FF),
                  (0x25A0, 0x25FF), (0xFB00, 0xFB06))


@functools.lru_cache(maxsize=4)
def _common_fonts(regular: str, bold: str) -> tuple[str, str, frozenset[str]] | None:
    """Copies of the two fonts holding only the characters of _COMMON_RANGES (a third of
    DejaVu's glyphs), and the characters they hold; None when they cannot be made.

    fpdf2 reads every glyph of a font for each document, then subsets it: with the whole
    of DejaVu that was over half of a PDF's time. The copies are made once per font file
    (a second or so) and kept in the temporary folder for every process. A draft with a
    character outside them is printed with the whole fonts, so nothing prints differently.
    """
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont

        folder = os.path.join(tempfile.gettempdir(), f"caseapp-fonts-{os.getuid()}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.lstat(folder).st_uid != os.getuid() or os.path.islink(folder):
            return None  # someone else's folder: its fonts are not to be trusted
        copies = []
        for path in (regular, bold):
            stat = os.stat(path)
            tag = hashlib.sha256(repr((path, stat.st_size, stat.st_mtime_ns, _COMMON_RANGES)).encode()).hexdigest()[:16]
            copy = os.path.join(folder, f"{os.path.splitext(os.path.basename(path))[0]}-{tag}.ttf")
            if not os.path.exists(copy):
                font = TTFont(path)
                options = subset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True,
                                         layout_features=["*"], name_IDs=["*"], hinting=True)
                options.drop_tables += ["FFTM"]
                cutter = subset.Subsetter(options)
                cutter.populate(unicodes=[c for low, high in _COMMON_RANGES for c in range(low, high + 1)])
                cutter.subset(font)
                partial = f"{copy}.{os.getpid()}.tmp"
                font.save(partial)
                os.replace(partial, copy)  # another process may be writing the same file
            copies.append(copy)
        with TTFont(copies[0], lazy=True) as regular_copy, TTFont(copies[1], lazy=True) as bold_copy:
            held = set(regular_copy.getBestCmap()) & set(bold_copy.getBestCmap())
        return copies[0], copies[1], frozenset(map(chr, held))
    except Exception:  # a missing fontTools module, a read-only temporary folder...: use the whole fonts
        log.warning("Could not make the reduced PDF fonts; using the whole ones", exc_info=True)
        return None


def _printed_characters(title: str, blocks: list[Block]) -> set[str]:
    printed = set(title) | set("0123456789. /")  # with the numbers and the page footer
    for heading, parts, _ in blocks:
        printed.update(heading)
        for part in parts:
            printed.update(part)
    printed.discard("\n")
    return printed


class _PdfWriter:
    """Left-aligned text wrapped at spaces (a word wider than the line at any character),
    in time linear in its length: each character's width is looked up once per font."""

    NUMBER_WIDTH = 8  # mm kept for "12." before a list item

    def __init__(self, pdf) -> None:
        self.pdf = pdf
        self.widths: dict[tuple, dict[str, float]] = {}

    def _width_of(self):
        pdf = self.pdf
        known = self.widths.setdefault((pdf.font_family, pdf.font_style, pdf.font_size_pt), {})

        def width(text: str) -> float:
            total = 0.0
            for char in text:
                w = known.get(char)
                if w is None:
                    w = known[char] = pdf.get_string_width(char)
                total += w
            return total
        return width

    def lines(self, text: str, room: float) -> list[str]:
        width = self._width_of()
        space = width(" ")
        out: list[str] = []
        for raw in text.split("\n"):
            line: list[str] = []
            used = 0.0
            for word in raw.split(" "):
                size = width(word)
                if line and used + space + size <= room:
                    line.append(word)
                    used += space + size
                    continue
                if line:
                    out.append(" ".join(line))
                if size > room:  # one word wider than the line: cut it where it overflows
                    piece, used = [], 0.0
                    for char in word:
                        w = width(char)
                        if piece and used + w > room:
                            out.append("".join(piece))
                            piece, used = [], 0.0
                        piece.append(char)
                        used += w
                    line = ["".join(piece)]
                else:
                    line, used = [word], size
            out.append(" ".join(line))
        return out

    def write(self, text: str, height: float, number: str | None = None) -> None:
        """Print `text` from the left margin (after `number`, when given) to the right one,
        a line every `height` mm, starting a new page when the next line would not fit."""
        pdf = self.pdf
        left = pdf.l_margin + (self.NUMBER_WIDTH if number else 0)
        room = pdf.w - pdf.r_margin - left - 2 * pdf.c_margin
        for index, line in enumerate(self.lines(text, room)):
            if pdf.y + height > pdf.page_break_trigger:
                pdf.add_page()
            baseline = pdf.y + 0.5 * height + 0.3 * pdf.font_size  # where cell() puts it
            if index == 0 and number:
                pdf.text(pdf.l_margin + pdf.c_margin, baseline, number)
            if line:
                pdf.text(left + pdf.c_margin, baseline, line)
            pdf.set_xy(pdf.l_margin, pdf.y + height)


def _latin1(text: str) -> str:
    return text.translate(_TO_LATIN1).encode("latin-1", "replace").decode("latin-1")


# ---------------------------------------------------------------- rendered once

# A version is never rewritten, so its file only changes with what is printed around it
# (the evidence index, the client's name in the title) or with the font. The last files
# made are kept by a digest of all of that, up to EXPORT_CACHE_BYTES per process: a long
# draft's PDF takes a few hundred milliseconds to lay out and is often fetched twice.
EXPORT_CACHE_BYTES = 32 * 1024 * 1024
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_bytes = 0
_cache_lock = threading.Lock()
_RENDERERS = {
    "txt": lambda content, evidence, title: to_text(content, evidence).encode("utf-8"),
    "docx": lambda content, evidence, title: to_docx(content, evidence, title=title),
    "pdf": lambda content, evidence, title: to_pdf(content, evidence, title=title),
}


def render(fmt: str, content: PoaContent, evidence_index: list[tuple[str, str]] | None,
           title: str = DEFAULT_TITLE) -> bytes:
    """The file in `fmt` (txt, docx or pdf), made once for the same inputs."""
    global _cache_bytes
    key = hashlib.sha256(json.dumps(
        [fmt, title, content.as_dict(), evidence_index, fmt == "pdf" and os.path.exists(FONT_PATH)],
        ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()
    with _cache_lock:
        data = _cache.get(key)
        if data is not None:
            _cache.move_to_end(key)
            return data
    data = _RENDERERS[fmt](content, evidence_index, title)
    if len(data) <= EXPORT_CACHE_BYTES // 8:
        with _cache_lock:
            if key not in _cache:
                _cache[key] = data
                _cache_bytes += len(data)
            while _cache_bytes > EXPORT_CACHE_BYTES:
                _, dropped = _cache.popitem(last=False)
                _cache_bytes -= len(dropped)
    return data
