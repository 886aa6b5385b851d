"""Markdown for notes: rendered by cmark-gfm, then sanitised so stored HTML can never run.

Every step is linear in the note's length, hostile notes included (issue 12: with
Python-Markdown 20,000 `[` characters took 50 s to render on every view of the case):

- cmark-gfm (C, the CommonMark reference parser with GitHub's extensions) is built to parse
  pathological input in linear time. It runs with raw HTML off: typed tags come out as an
  HTML comment, which the sanitiser drops, and links to javascript:, data: and the like lose
  their address.
- A GFM table pads every row to the width of its header, so a header of 2,500 columns above
  3,000 one-cell rows is 500,000 cells (cmark-gfm's own cap): half a second, from 20,000
  characters. A note whose tables could hold more cells than it has characters is rendered
  without tables (table_cells_bound); a real table holds at most about one cell per character.
- nh3 (ammonia over html5ever) re-parses that HTML, and html5ever's cost for a block element
  grows with how many blocks are open around it: 20,000 `>` (quotes nested 20,000 deep) took
  1.3 s there. A real note never nests more than a few levels, so block containers deeper
  than MAX_NESTING are flattened before nh3 sees them; their text stays.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict

import nh3
from cffi import FFI
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options
from markupsafe import Markup

# Raise when the HTML a note renders to changes (parser, options, allow-list): notes keep the
# HTML made when they were saved, and one made by another version is rendered afresh.
RENDERER = 1

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}
EXTENSIONS = (b"strikethrough", b"autolink")
TABLE_CELL_ALLOWANCE = 2000  # padded cells a note may have beyond one per character
MAX_NESTING = 32  # open blockquote/ul/ol/li elements: 16 levels of a nested list

# cmarkgfm's own wrappers never free what cmark allocates (the parsed document and the
# rendered HTML: about 50 times the note's size per render), which a web process cannot
# afford. The same compiled cmark-gfm, declared here with the two functions that free.
_ffi = FFI()
_ffi.cdef("""
typedef struct cmark_node cmark_node;
typedef struct cmark_parser cmark_parser;
typedef struct cmark_syntax_extension cmark_syntax_extension;
typedef struct cmark_llist cmark_llist;
typedef struct cmark_mem {
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void (*free)(void *);
} cmark_mem;
cmark_mem *cmark_get_default_mem_allocator(void);
void cmark_gfm_core_extensions_ensure_registered(void);
cmark_syntax_extension *cmark_find_syntax_extension(const char *name);
cmark_parser *cmark_parser_new(int options);
int cmark_parser_attach_syntax_extension(cmark_parser *parser, cmark_syntax_extension *extension);
void cmark_parser_feed(cmark_parser *parser, const char *buffer, size_t len);
cmark_node *cmark_parser_finish(cmark_parser *parser);
cmark_llist *cmark_parser_get_syntax_extensions(cmark_parser *parser);
char *cmark_render_html(cmark_node *root, int options, cmark_llist *extensions);
void cmark_node_free(cmark_node *node);
void cmark_parser_free(cmark_parser *parser);
""")
_lib = _ffi.dlopen(_cmark.__file__)
_lib.cmark_gfm_core_extensions_ensure_registered()
_EXTENSIONS = [_lib.cmark_find_syntax_extension(name) for name in EXTENSIONS]
_TABLE = _lib.cmark_find_syntax_extension(b"table")
assert _ffi.NULL not in (*_EXTENSIONS, _TABLE), "cmark-gfm lacks an extension caseapp uses"
_free = _lib.cmark_get_default_mem_allocator().free
# Not CMARK_OPT_UNSAFE: raw HTML and dangerous link addresses are left out by cmark itself.
_OPTIONS = Options.CMARK_OPT_VALIDATE_UTF8


# Attaching an extension to a parser changes a table of special characters that every
# parser in the process shares, and cffi lets go of the GIL during each call: two threads
# rendering at once lost each other's ~~strikethrough~~ and autolinks. One parse at a time.
_cmark_lock = threading.Lock()


def cmark_html(text: str) -> str:
    """The note as cmark-gfm's HTML (GFM tables, strikethrough, autolinks), not yet sanitised."""
    data = text.encode("utf-8", "replace")  # lone surrogates cannot reach C
    extensions = _EXTENSIONS
    if table_cells_bound(text) <= len(text) + TABLE_CELL_ALLOWANCE:
        extensions = [_TABLE, *extensions]
    with _cmark_lock:
        return _parse_and_render(data, extensions)


def _parse_and_render(data: bytes, extensions: list) -> str:
    parser = _lib.cmark_parser_new(_OPTIONS)
    try:
        for extension in extensions:
            _lib.cmark_parser_attach_syntax_extension(parser, extension)
        _lib.cmark_parser_feed(parser, data, len(data))
        root = _lib.cmark_parser_finish(parser)
        try:
            html = _lib.cmark_render_html(root, _OPTIONS, _lib.cmark_parser_get_syntax_extensions(parser))
            try:
                return _ffi.string(html).decode("utf-8")
            finally:
                _free(html)
        finally:
            _lib.cmark_node_free(root)
    finally:
        _lib.cmark_parser_free(parser)


_LINE_END = re.compile(r"\r\n?|\n")  # cmark's line ends (str.splitlines knows more)
_DELIMITER_CHARS = "|:- \t\v\f"  # a table's delimiter row, e.g. | :-- | --: |
_CONTAINER_PREFIX = " \t>"  # block quotes and indentation before a row


def table_cells_bound(text: str) -> int:
    """At least as many cells as cmark-gfm's tables in `text` would have, counted in linear time.

    A table's width is that of its delimiter row (at most its `|` + 1), and each line after
    that row, up to a blank line, can be a row of that width.
    """
    lines = _LINE_END.split(text)
    bound = 0
    rows_after = 0  # non-blank lines right after the current one
    for line in reversed(lines):
        row = line.lstrip(_CONTAINER_PREFIX)
        if "-" in row and not row.strip(_DELIMITER_CHARS):
            bound += (row.count("|") + 1) * rows_after
        rows_after = rows_after + 1 if line.strip(" \t") else 0
    return bound


_CONTAINER_TAG = re.compile(r"<(/?)(?:blockquote|ul|ol|li)\b[^>]*>\n?")


def flatten_deep_nesting(html: str, limit: int = MAX_NESTING) -> str:
    """Drop the blockquote and list tags nested deeper than `limit`, keeping their content.

    Only for cmark's output: every tag there is balanced, and any `<` or `>` in text or in
    an attribute value is escaped, so a tag is exactly what the pattern matches.
    """
    depth = 0

    def keep_or_drop(match: re.Match) -> str:
        nonlocal depth
        if match.group(1):
            depth -= 1
            return match.group(0) if depth < limit else ""
        depth += 1
        return match.group(0) if depth <= limit else ""

    return _CONTAINER_TAG.sub(keep_or_drop, html)


def _drop_empty_link(tag: str, attribute: str, value: str) -> str | None:
    # cmark empties the address of a javascript: (or data:, vbscript:...) link; an empty
    # href would still be a link to the page itself.
    if attribute == "href" and not value.strip():
        return None
    return value


_cleaner = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes={"a": {"href", "title"}},
    attribute_filter=_drop_empty_link,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)


def _html(text: str) -> str:
    return _cleaner.clean(flatten_deep_nesting(cmark_html(text)))


class BoundedCache:
    """Least recently used out first, bounded by the characters it holds, keys and values.

    A count of entries would not bound memory: 20 characters of reference links expand
    to 100,000 of HTML.
    """

    def __init__(self, budget: int):
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: str) -> None:
        cost = len(key) + len(value)
        if cost > self.budget // 64:  # no one note takes the room of many
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self.size += cost
            while self.size > self.budget:
                old_key, old_value = self._items.popitem(last=False)
                self.size -= len(old_key) + len(old_value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0


# A case page shows the same notes on every visit: rendering them is a quarter of the page's
# CPU time (100 notes: 31 ms a page uncached, 23 ms cached). The result depends on the text
# alone. At most CACHE_CHARACTERS characters are kept: a few megabytes per process.
CACHE_CHARACTERS = 2_000_000
CACHED_NOTE_LENGTH = 4000
_cache = BoundedCache(CACHE_CHARACTERS)


def render(text: str) -> Markup:
    text = text or ""
    if len(text) > CACHED_NOTE_LENGTH:
        return Markup(_html(text))
    html = _cache.get(text)
    if html is None:
        html = _html(text)
        _cache.put(text, html)
    return Markup(html)
