"""Side-by-side comparison of two POA versions, section by section, word by word."""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from markupsafe import Markup, escape

from caseapp.services.poa_content import LIST_SECTIONS, SECTIONS, PoaContent

_TOKEN = re.compile(r"\s+|[^\s]+")


@dataclass
class SectionDiff:
    key: str
    label: str
    left: Markup
    right: Markup
    changed: bool


def _as_text(content: PoaContent, key: str) -> str:
    value = getattr(content, key)
    if key in LIST_SECTIONS:
        return "\n".join(f"{i}. {item}" for i, item in enumerate(value, start=1))
    return value


def _mark(tokens: list[str], tag: str) -> str:
    text = "".join(tokens)
    if not text.strip():
        return str(escape(text))
    return f"<{tag}>{escape(text)}</{tag}>"


def diff_words(old: str, new: str) -> tuple[Markup, Markup]:
    """Old text with removed words in <del>, new text with added words in <ins>, both escaped."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    left, right = [], []
    # Spaces as junk: a changed phrase is marked as one run, not word by word.
    matcher = SequenceMatcher(isjunk=str.isspace, a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(str(escape("".join(a[i1:i2]))))
            right.append(str(escape("".join(b[j1:j2]))))
        else:
            if i2 > i1:
                left.append(_mark(a[i1:i2], "del"))
            if j2 > j1:
                right.append(_mark(b[j1:j2], "ins"))
    return Markup("".join(left)), Markup("".join(right))


def compare(old: PoaContent, new: PoaContent) -> list[SectionDiff]:
    result = []
    for key, label in SECTIONS:
        before, after = _as_text(old, key), _as_text(new, key)
        left, right = diff_words(before, after)
        result.append(SectionDiff(key, label, left, right, before != after))
    return result
