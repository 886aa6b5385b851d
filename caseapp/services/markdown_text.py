"""Markdown for notes, rendered then sanitised so stored HTML can never run."""
import markdown
import nh3
from markupsafe import Markup

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}


def render(text: str) -> Markup:
    html = markdown.markdown(text or "", extensions=["sane_lists", "tables"])
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)
