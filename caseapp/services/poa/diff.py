"""Side-by-side comparison of two POA versions, section by section, word by word.

The work is bounded whatever the two texts are. The words both versions share at the
start and at the end are set aside first (an ordinary edit leaves little else). What
is left is compared word by word while that fits in its share of ``PAGE_BUDGET``
(matching steps, see bounded_match); beyond that sentence by sentence (a list item is
a sentence too), refining each replaced sentence word by word while there is budget;
and beyond that the changed middle is marked as one replaced block. So the page costs
time linear in the length of the texts plus at most PAGE_BUDGET steps: a budget that
every realistic edit of a POA stays far below.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from caseapp.services.poa.bounded_match import BoundedMatcher, Budget, WorkExceeded
from caseapp.services.poa.content import LIST_SECTIONS, SECTIONS, PoaContent

_TOKEN = re.compile(r"\s+|[^\s]+")
# A sentence ends with a word ending in . ! or ? (closing quotes and brackets may follow), or at a line break.
_SENTENCE_END = re.compile(r"[.!?][\"')\]\u201d\u2019]*$")

# Matching steps for a whole comparison page: at most about 60 ms of CPU on this machine.
# Dozens of edits spread over a thousand-word section take a few hundred thousand.
PAGE_BUDGET = 1_000_000
# Of a section's share, what the word-by-word attempt on the whole middle may use.
WORD_LEVEL_SHARE = 0.5


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


class _Sides:
    """The two marked-up texts being built."""

    def __init__(self) -> None:
        self.left: list[str] = []
        self.right: list[str] = []

    def equal(self, a: list[str], b: list[str]) -> None:
        self.left.append(str(escape("".join(a))))
        self.right.append(str(escape("".join(b))))

    def changed(self, a: list[str], b: list[str]) -> None:
        if a:
            self.left.append(_mark(a, "del"))
        if b:
            self.right.append(_mark(b, "ins"))


def _common_ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many tokens a and b share at the start, and then at the end."""
    limit = min(len(a), len(b))
    start = 0
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    while end < limit - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return start, end


def _shared_length(a: str, b: str, from_end: bool = False) -> int:
    """How many characters a and b share at the start (or end): a binary search on slices,
    so the comparing is done by str's C code rather than character by character here."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        same = a[len(a) - middle:] == b[len(b) - middle:] if from_end else a[:middle] == b[:middle]
        low, high = (middle, high) if same else (low, middle - 1)
    return low


def _token_edge(text: str, position: int) -> bool:
    """Whether a token (a run of spaces, or of anything else) starts or ends at `position`."""
    return position in (0, len(text)) or text[position - 1].isspace() != text[position].isspace()


def _shared_ends(old: str, new: str) -> tuple[int, int]:
    """The characters old and new share at the start and at the end, in whole tokens.

    Within the shared part the two texts have the same token edges; only where it ends
    may a token go on in one text and not the other, so the cut goes back to an edge.
    """
    start = _shared_length(old, new)
    while not (_token_edge(old, start) and _token_edge(new, start)):
        start -= 1
    end = _shared_length(old[start:], new[start:], from_end=True)
    while not (_token_edge(old, len(old) - end) and _token_edge(new, len(new) - end)):
        end -= 1
    return start, end


def _by_words(a: list[str], b: list[str], budget: Budget, sides: _Sides) -> None:
    """Word by word; raises WorkExceeded (having added nothing) when over budget."""
    # Spaces as junk: a changed phrase is marked as one run, not word by word.
    opcodes = BoundedMatcher(str.isspace, a, b, budget=budget).get_opcodes()
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            sides.equal(a[i1:i2], b[j1:j2])
        else:
            sides.changed(a[i1:i2], b[j1:j2])


def _sentences(tokens: list[str]) -> list[list[str]]:
    """The tokens cut into sentences and lines, each keeping the space after it."""
    units: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        current.append(token)
        if token.isspace():
            if "\n" in token or (len(current) > 1 and _SENTENCE_END.search(current[-2])):
                units.append(current)
                current = []
    if current:
        units.append(current)
    return units


def _refined(old: list[str], new: list[str], budget: Budget, sides: _Sides) -> None:
    """Word by word within what is left of the budget, else marked as one replaced run."""
    attempt = _Sides()
    try:
        _by_words(old, new, budget.part(budget.left), attempt)
    except WorkExceeded:
        sides.changed(old, new)
    else:
        sides.left += attempt.left
        sides.right += attempt.right


def _by_sentences(a: list[str], b: list[str], budget: Budget, sides: _Sides) -> None:
    """Sentence by sentence, each replaced run of sentences word by word while the budget
    lasts; raises WorkExceeded (having added nothing) when even the sentences are over it."""
    left, right = _sentences(a), _sentences(b)
    keys_a, keys_b = ["".join(unit) for unit in left], ["".join(unit) for unit in right]
    opcodes = BoundedMatcher(None, keys_a, keys_b, budget=budget).get_opcodes()
    for op, i1, i2, j1, j2 in opcodes:
        if op == "replace" and i2 - i1 == j2 - j1:
            # As many sentences on each side: each was edited in place, compare them pairwise.
            for old, new in zip(left[i1:i2], right[j1:j2]):
                _refined(old, new, budget, sides)
            continue
        old = [t for unit in left[i1:i2] for t in unit]
        new = [t for unit in right[j1:j2] for t in unit]
        if op == "equal":
            sides.equal(old, new)
        elif op == "replace" and (i1, i2, j1, j2) != (0, len(left), 0, len(right)):
            _refined(old, new, budget, sides)
        else:  # inserted, deleted, or everything replaced (the word level just failed on that)
            sides.changed(old, new)


def diff_words(old: str, new: str, budget: Budget | None = None) -> tuple[Markup, Markup]:
    """Old text with removed words in <del>, new text with added words in <ins>, both escaped.

    `budget` bounds the matching work (see the module docstring); by default the whole
    PAGE_BUDGET.
    """
    budget = budget if budget is not None else Budget(PAGE_BUDGET)
    # What both share at the ends is set aside before tokenising: a one-word edit of a long
    # text then costs a few slice comparisons, not a pass over every token.
    head, tail = _shared_ends(old, new)
    a = _TOKEN.findall(old[head:len(old) - tail])
    b = _TOKEN.findall(new[head:len(new) - tail])
    start, end = _common_ends(a, b)
    sides = _Sides()
    sides.left.append(str(escape(old[:head])))
    sides.right.append(str(escape(new[:head])))
    sides.equal(a[:start], b[:start])
    middle_a, middle_b = a[start:len(a) - end], b[start:len(b) - end]
    if middle_a or middle_b:
        for level in (_by_words, _by_sentences):
            attempt = _Sides()
            share = budget.left * WORD_LEVEL_SHARE if level is _by_words else budget.left
            try:
                level(middle_a, middle_b, budget.part(int(share)), attempt)
            except WorkExceeded:
                continue
            sides.left += attempt.left
            sides.right += attempt.right
            break
        else:
            sides.changed(middle_a, middle_b)
    sides.equal(a[len(a) - end:], b[len(b) - end:])
    sides.left.append(str(escape(old[len(old) - tail:])))
    sides.right.append(str(escape(new[len(new) - tail:])))
    return Markup("".join(sides.left)), Markup("".join(sides.right))


def compare(old: PoaContent, new: PoaContent, budget: Budget | None = None) -> list[SectionDiff]:
    """Each section of the two versions, diffed; together within `budget` (PAGE_BUDGET)."""
    budget = budget if budget is not None else Budget(PAGE_BUDGET)
    texts = [(key, label, _as_text(old, key), _as_text(new, key)) for key, label in SECTIONS]
    changed = sum(before != after for _, _, before, after in texts)
    result = []
    for key, label, before, after in texts:
        if before == after:
            left = right = Markup(escape(before))
        else:
            # Each changed section may use an equal share of what those before it left.
            left, right = diff_words(before, after, budget.part(budget.left // changed))
            changed -= 1
        result.append(SectionDiff(key, label, left, right, before != after))
    return result
