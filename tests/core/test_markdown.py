"""Notes in Markdown: what the rendering keeps and removes, and that its cost grows in
proportion to a note's length whatever the note holds (issue 12: one note of 20,000 `[`
took 50 s to render, on every view of its case).

The cost tests are not timed against a clock: they compare the CPU time for a text of 4n
characters with that for n characters. Linear work gives about 4; quadratic work gives 16;
the bound is 8.
"""
from __future__ import annotations

import os
import threading

import pytest

from caseapp.core import markdown
from caseapp.services.cases.records import NOTE_MAX_LENGTH, note_summary
from tests import cost


def repeat(unit: str, size: int, end: str = "") -> str:
    return unit * max(1, (size - len(end)) // len(unit)) + end


def nested(opener: str, closer: str, size: int, middle: str = "a") -> str:
    depth = max(1, (size - len(middle)) // (len(opener) + len(closer)))
    return opener * depth + middle + closer * depth


def backtick_runs(size: int) -> str:
    """`a``a```a...: code spans that never close, each run longer than the last."""
    pieces, total, run = [], 0, 1
    while total < size:
        pieces.append("`" * run + "a")
        total += run + 1
        run += 1
    return "".join(pieces)


def wide_table(size: int) -> str:
    """A header of size/8 columns over one-cell rows: each row is padded to the header's width."""
    columns = max(1, size // 8)
    head = "|a" * columns + "|\n" + "|-" * columns + "|\n"
    return head + "|b\n" * max(1, (size - len(head)) // 3)


# Each builds a note of about `size` characters. The first group is the list, the
# rest are cmark's own pathological cases and what this code adds (tables, nesting).
PATTERNS = {
    "[ x n": lambda n: repeat("[", n),
    "![ x n": lambda n: repeat("![", n),
    "[a]( x n": lambda n: repeat("[a](", n),
    "*a **a  x n": lambda n: repeat("*a **a ", n),
    "nested [ ]": lambda n: nested("[", "]", n),
    "nested emphasis": lambda n: nested("*_", "_*", n),
    "nested strong": lambda n: nested("**", "**", n),
    "backticks": backtick_runs,
    "< x n": lambda n: repeat("<", n),
    "> x n": lambda n: repeat(">", n),
    "deep list": lambda n: repeat("- ", n, end="a"),
    "deep ordered list": lambda n: repeat("1. ", n, end="a"),
    "deep quote": lambda n: repeat("> ", n, end="a"),
    "wide table": wide_table,
    "[]( x n": lambda n: repeat("[](", n),
    "_a x n": lambda n: repeat("_a", n),
    "&# x n": lambda n: repeat("&#", n),
    "emphasis closers without openers": lambda n: repeat("a_ ", n),
    "link closers without openers": lambda n: repeat("a]", n),
    "unclosed link destinations": lambda n: repeat("[a](<b", n),
    "unclosed link titles": lambda n: repeat('[a](b "', n),
    "unclosed comments": lambda n: repeat("</<!--", n),
    "reference expansion": lambda n: "[a]: " + "u" * (n // 2) + "\n\n" + repeat("[a]", n // 2),
    "<a  x n": lambda n: repeat("<a ", n),
    "<http:// x n": lambda n: repeat("<http://", n),
    "``a` x n": lambda n: repeat("``a`", n),
}
SIZE = 500  # and 4 x 500 = 2,000: small enough to stay in the CPU caches on a busy machine (at 8,000
# the larger text fell out of them and read 9-13 under load), large enough for quadratic work to
# dominate: issue 12's 50 s for 20,000 characters is 30 ms at 500, against 0.1 ms of linear work


def growth(render, make, n: int = SIZE) -> float:
    return cost.growth(make, render, n)


@pytest.mark.parametrize("name", PATTERNS)
def test_rendering_cost_grows_linearly_with_the_note(name):
    ratio = growth(markdown._html, PATTERNS[name])
    assert ratio < 8, f"{name}: 4x the text cost {ratio:.1f}x the CPU time"


@pytest.mark.parametrize("name", PATTERNS)
def test_every_pattern_renders_at_the_longest_a_note_may_be(name):
    """No crash at the limit: Python-Markdown recursed once per level of a nested list."""
    html = markdown.render(PATTERNS[name](NOTE_MAX_LENGTH)[:NOTE_MAX_LENGTH])
    assert "<script" not in html


SUMMARY_PATTERNS = {
    "[ x n": lambda n: repeat("[", n),
    "![ x n": lambda n: repeat("![", n),
    "[a]( x n": lambda n: repeat("[a](", n),
    "[]( x n": lambda n: repeat("[](", n),
    "[a](b( x n": lambda n: repeat("[a](b(", n),
    "nested [ ]": lambda n: nested("[", "]", n),
}


@pytest.mark.parametrize("name", SUMMARY_PATTERNS)
def test_the_timeline_summary_cost_grows_linearly_with_the_line(name):
    ratio = growth(note_summary, SUMMARY_PATTERNS[name], n=5000)
    assert ratio < 8, f"{name}: 4x the line cost {ratio:.1f}x the CPU time"


@pytest.mark.parametrize("line, summary", [
    ("**Evidence** from [the seller](https://x.example)", "Note: Evidence from the seller"),
    ("See [the policy](https://en.wikipedia.org/wiki/Policy_(law)) and ![a chart](c.png)",
     "Note: See the policy and a chart"),
    ("[x] alone, [y](", "Note: [x] alone, [y]("),
    ("# Call with `Dana`", "Note: Call with Dana"),
    ("- ~~draft~~ sent", "Note: draft sent"),
    ("**", "Note: (formatting only)"),
])
def test_the_summary_keeps_the_words_of_the_first_line(line, summary):
    assert note_summary(line + "\nsecond line") == summary


# ---------------------------------------------------------------- what is kept and removed

def test_markdown_and_gfm_extensions_render():
    html = str(markdown.render(
        "**bold** *em* ~~gone~~ `code` https://seller.example/a\n\n"
        "| ASIN | Complaints |\n|---|---:|\n| B07XJ8C8F5 | 12 |\n\n"
        "- one\n- two\n\n> quoted\n\n### Heading"))
    for piece in ("<strong>bold</strong>", "<em>em</em>", "<del>gone</del>", "<code>code</code>",
                  '<a href="https://seller.example/a" rel="noopener noreferrer nofollow">',
                  "<th>ASIN</th>", "<td>B07XJ8C8F5</td>", "<li>one</li>", "<blockquote>",
                  "<h3>Heading</h3>"):
        assert piece in html, piece
    assert "align=" not in html  # attributes outside the allow-list go


@pytest.mark.parametrize("text, gone", [
    ("<script>alert(1)</script>", "<script"),
    ('<a href="https://x.example" onclick="alert(1)">x</a>', "onclick"),
    ("<img src=x onerror=alert(1)>", "<img"),
    ("[x](javascript:alert(1))", "javascript:"),
    ("[x](data:text/html;base64,PHNjcmlwdD4=)", "data:"),
    ("![x](https://tracker.example/pixel.png)", "<img"),
    ("<div style='position:fixed'>x</div>", "style"),
])
def test_raw_html_and_unsafe_links_never_come_through(text, gone):
    html = str(markdown.render(text)).lower()
    assert gone not in html
    assert 'href=""' not in html  # a link cmark emptied is no link to the page itself


def test_nesting_deeper_than_any_real_note_is_flattened_with_its_text_kept():
    html = str(markdown.render("> " * 100 + "deepest words"))
    assert html.count("<blockquote>") == markdown.MAX_NESTING
    assert "deepest words" in html
    shallow = str(markdown.render("- a\n  - b\n    - c"))
    assert shallow.count("<ul>") == 3


def test_a_table_that_would_pad_more_cells_than_the_note_has_characters_is_text():
    assert "<table>" in str(markdown.render("a|b\n-|-\n1|2\n3"))
    html = str(markdown.render(wide_table(20000)))
    assert "<table>" not in html and "|a|a|" in html


@pytest.mark.parametrize("text", [
    "| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 |",
    "> | a |\n> |---|\n> | x |\n> | y |",
    "- | a | b |\n  |---|---|\n  | 1 | 2 |",
    "a|b|c\n-|-|-\n" + "x\n" * 50,
])
def test_the_table_bound_counts_at_least_the_cells_cmark_makes(text):
    cells = markdown.cmark_html(text).count("<td")
    assert 0 < cells <= markdown.table_cells_bound(text)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads Linux's /proc")
def test_rendering_frees_what_cmark_allocates():
    """cmarkgfm's own wrappers never free the parsed note nor the HTML (about 50 times the
    note's size, on every uncached view)."""
    def resident_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    note = "Called **Dana** about [invoices](https://x.example) and `B07XJ8C8F5`.\n" * 250  # 17,000
    markdown._html(note)
    before = resident_mb()
    for _ in range(100):
        markdown._html(note)
    assert resident_mb() - before < 30


def test_threads_rendering_at_once_get_what_one_thread_gets():
    """A web process renders in several threads; cmark-gfm's extensions share a table of
    special characters, and without a lock some notes lost their strikethrough and links."""
    notes = [f"| a | b |\n|---|---|\n| {i} | 2 |\n\n~~old~~ new, see https://seller{i}.example"
             for i in range(400)]
    expected = [markdown._html(note) for note in notes]
    start = threading.Barrier(8)
    wrong = []

    def render_all():
        start.wait()
        for note, html in zip(notes * 3, expected * 3):
            if markdown._html(note) != html:
                wrong.append(note)

    threads = [threading.Thread(target=render_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert "<del>old</del>" in expected[0] and 'href="https://seller0.example"' in expected[0]


def test_the_cache_is_bounded_by_the_characters_it_holds(monkeypatch):
    cache = markdown.BoundedCache(budget=64_000)
    monkeypatch.setattr(markdown, "_cache", cache)
    assert markdown.render("**kept**") == markdown.render("**kept**")
    assert cache.get("**kept**") == "<p><strong>kept</strong></p>\n"
    references = "[a]: " + "u" * 900 + "\n\n" + "[a]" * 300  # 1,800 characters, 280,000 of HTML
    markdown.render(references)
    assert cache.get(references) is None
    markdown.render("x" * (markdown.CACHED_NOTE_LENGTH + 1))
    assert cache.get("x" * (markdown.CACHED_NOTE_LENGTH + 1)) is None
    for i in range(2000):
        markdown.render(f"Call log entry {i:04d}, nothing new from the seller.")
    assert cache.size <= cache.budget
    assert cache.get("**kept**") is None  # the least recently used went first
    assert cache.get("Call log entry 1999, nothing new from the seller.") is not None
