"""Markdown for notes, rendered then sanitised so stored HTML can never run."""
import functools
import threading

import markdown
import nh3
from markupsafe import Markup

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}


_local = threading.local()


def _converter() -> markdown.Markdown:
    """One converter per thread: building one per note was most of a long timeline's cost."""
    converter = getattr(_local, "converter", None)
    if converter is None:
        converter = _local.converter = markdown.Markdown(extensions=["sane_lists", "tables"])
    return converter.reset()


# A case page shows the same notes on every visit; rendering them was a fifth of the page.
# The result depends on the text alone. Long notes are not kept, which bounds the memory.
CACHED_NOTES = 2048
CACHED_NOTE_LENGTH = 4000


def render(text: str) -> Markup:
    text = text or ""
    return Markup(_cached_html(text) if len(text) <= CACHED_NOTE_LENGTH else _html(text))


def _html(text: str) -> str:
    return nh3.clean(
        _converter().convert(text),
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


_cached_html = functools.lru_cache(maxsize=CACHED_NOTES)(_html)
