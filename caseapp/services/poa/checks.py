"""Automatic review of a POA draft: the mistakes that get appeals rejected or delayed.

Each rule yields ``Finding``s whose message says what to change. Matching is
case-insensitive, tolerant of curly quotes and extra spaces, and checks each
list item on its own so a finding can name the item.

Severity
    ``error``: Amazon is likely to reject the appeal as it stands: a missing
    section (``missing_section``), a blank or filler left in (``placeholder``),
    blaming someone else (``blame``), admitting the cause is not known
    (``root_cause_unknown``), or a version stored before today's size limits
    that is over them (``over_limit``).
    ``warning``: weakens the appeal, but the consultant may have a reason:
    promises among corrective actions, a thin root cause, starter wording
    left unchanged, documents named without evidence on the case, no ASIN in
    a listing appeal's subject, or an unusual length.

Thresholds
    ``MIN_WORDS = 150`` for the whole POA. An introduction, a root cause, three
    corrective actions, three preventive measures and a closure cannot be said
    specifically in fewer words; a shorter draft is almost always vague.
    ``MAX_WORDS = 1000``. About two printed pages, four or five minutes of
    reading. Amazon's reviewers work through many appeals and skim; past this
    length the root cause and the actions get buried under background and
    irrelevant detail, and a long appeal reads as evasive.
    ``ROOT_CAUSE_MIN_WORDS = 30``. Two or three specific sentences; below that
    a root cause is a label ("quality control issue"), not an explanation.
    ``GENERIC_SIMILARITY = 0.6``. difflib's ``SequenceMatcher.ratio()`` over the
    lower-cased words of a body section (introduction, root cause, corrective
    actions, preventive measures) against the same section of each starter,
    best match taken. Our starters with only their blanks filled in score
    about 0.5 to 0.95 per section, most above 0.6; sections written for the
    case, even reusing the same facts, scored at most 0.42 on our sample POAs.
    So at 0.6 or above the section is mostly the starter's wording and still
    reads as a template. Subject and closure are exempt: boilerplate there is
    normal.

Blame and promise rules ignore text inside quotation marks (quoting the
notice or a buyer is fine), and a blame phrase preceded in its clause by a
negation ("we do not blame our customers", "this was not Amazon's fault") or
by a distancing phrase ("rather than blame the carrier") does not fire: the
negation must be among the six words before the phrase, within 200 characters.

Cost
    Every rule takes time linear in the text (tests/services/poa/test_checks.py
    measures each on its worst input found), and the review reads at most
    ``MAX_DRAFT_CHARS`` characters of a draft, so a view of any stored draft
    costs a bounded amount. The similarity with the starters is computed within
    ``GENERIC_STEPS`` matching steps (``SIMILARITY_STEPS`` a comparison); a
    comparison that would need more (only text built to be slow does) counts as
    not similar.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass, replace
from typing import Iterator

from caseapp.services.poa.bounded_match import BoundedMatcher, Budget, WorkExceeded
from caseapp.services.poa.content import (
    LIST_SECTIONS,
    MAX_DRAFT_CHARS,
    MAX_ITEM_CHARS,
    MAX_LIST_ITEMS,
    MAX_SECTION_CHARS,
    MAX_SUBJECT_CHARS,
    SECTION_KEYS,
    SECTION_LABELS,
    CaseFacts,
    PoaContent,
    section_items,
)
from caseapp.services.poa.starters import starter_texts

MIN_WORDS = 150
MAX_WORDS = 1000
ROOT_CAUSE_MIN_WORDS = 30
GENERIC_SIMILARITY = 0.6
GENERIC_SECTIONS = ("introduction", "root_cause", "corrective_actions", "preventive_measures")

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str          # "error" | "warning"
    section: str | None    # a section key, or None when the finding is about the whole POA
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def review(content: PoaContent, facts: CaseFacts, starter: PoaContent | None = None) -> list[Finding]:
    """All findings for a draft: errors first, then in section order.

    ``starter`` is the starter the draft was begun from; without it the draft
    is compared with every starter for these facts. A draft stored before the
    limits of poa/content.py existed may be longer than they allow: an
    ``over_limit`` finding says so, and no more than MAX_DRAFT_CHARS of it is read.
    """
    read, over = _within_limits(content)
    findings = [
        *_missing_sections(content),
        *_placeholders(read),
        *_blame(read),
        *_promises(read),
        *_root_cause(read),
        *_generic(read, facts, starter),
        *_evidence(read, facts),
        *_subject_asin(read, facts),
        *over,
        *(_length(read) if read is content else ()),  # a word count of the part read would mislead
    ]
    order = {key: i for i, key in enumerate(SECTION_KEYS)}
    return sorted(findings, key=lambda f: (f.severity != ERROR, order.get(f.section, len(order))))


def _within_limits(content: PoaContent) -> tuple[PoaContent, list[Finding]]:
    """The part of the draft the review reads, and a finding when the draft is over the
    limits a draft may be saved with now (only one stored before them can be).

    The review reads the first MAX_DRAFT_CHARS characters, in section order: every rule
    is linear, so that bounds its cost whatever was stored.
    """
    sizes = {key: sum(map(len, value)) if key in LIST_SECTIONS else len(value)
             for key, value in content.as_dict().items()}
    total = sum(sizes.values())
    over = (total > MAX_DRAFT_CHARS
            or len(content.subject) > MAX_SUBJECT_CHARS
            or any(len(getattr(content, key)) > MAX_SECTION_CHARS for key in ("introduction", "root_cause", "closure"))
            or any(len(items) > MAX_LIST_ITEMS or any(len(item) > MAX_ITEM_CHARS for item in items)
                   for items in (content.corrective_actions, content.preventive_measures)))
    if not over:
        return content, []
    read = content
    if total > MAX_DRAFT_CHARS:
        left, values = MAX_DRAFT_CHARS, {}
        for key in SECTION_KEYS:
            value = getattr(content, key)
            if key in LIST_SECTIONS:
                items = []
                for item in value:
                    items.append(item[:left])
                    left -= len(items[-1])
                values[key] = tuple(items)
            else:
                values[key] = value[:left]
                left -= len(values[key])
        read = replace(content, **values)
        how_much = f"only its first {MAX_DRAFT_CHARS:,} were reviewed"
    else:
        how_much = "it cannot be saved again as it is"
    return read, [Finding(
        "over_limit", ERROR, None,
        f"This version has {total:,} characters, more than a POA may have now (at most {MAX_DRAFT_CHARS:,} in all, "
        f"{MAX_SECTION_CHARS:,} per section, {MAX_ITEM_CHARS:,} per item); {how_much}. Cut it down before "
        "submitting: Amazon's reviewers will not read an appeal this long either.")]


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


# ---------------------------------------------------------------- text helpers

_CHAR_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'",
                           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
                           "\u00a0": " "})
# Quoted text: "...", or '...' opened where no word goes on before it and closed where none
# goes on after it (so the apostrophes of "don't" neither open nor close a quote).
_DOUBLE = re.compile('"')
_SINGLE_OPEN = re.compile(r"(?<!\w)'")
_SINGLE_CLOSE = re.compile(r"'(?!\w)")
_WORD = re.compile(r"[^\W_]+(?:['.,/-][^\W_]+)*")   # "seller-fulfilled", "9.2", "1,900": one word each


def _normalize(text: str) -> str:
    """Straight quotes and apostrophes, single spaces."""
    return " ".join(text.translate(_CHAR_MAP).split())


def _quoted_spans(text: str) -> Iterator[tuple[int, int]]:
    r"""(start, end) of each quotation, left to right, without overlaps.

    What the pattern ``"[^"]*"|(?<!\w)'.+?'(?!\w)`` finds, but in one pass: each
    opening mark looks up its closing one in a sorted list instead of scanning on to
    the end of the text, which made text full of unclosed quotes quadratic.
    """
    doubles = [m.start() for m in _DOUBLE.finditer(text)]
    opens = [m.start() for m in _SINGLE_OPEN.finditer(text)]
    closes = [m.start() for m in _SINGLE_CLOSE.finditer(text)]
    d = o = 0
    position = 0
    while True:
        while d < len(doubles) and doubles[d] < position:
            d += 1
        while o < len(opens) and opens[o] < position:
            o += 1
        # A double quote with another after it, and a single one with a closing mark at
        # least two characters on (the quotation holds something); the earlier one wins.
        double = doubles[d] if d + 1 < len(doubles) else None
        single = None
        while o < len(opens) and (double is None or opens[o] < double):
            c = bisect_left(closes, opens[o] + 2)
            if c < len(closes):
                single = (opens[o], closes[c] + 1)
                break
            o = len(opens)  # no closing mark after this one: none after any later one either
        if single is not None:
            yield single
            position = single[1]
        elif double is not None:
            yield double, doubles[d + 1] + 1
            position = doubles[d + 1] + 1
        else:
            return


def _without_quotes(text: str) -> str:
    text = _normalize(text)
    pieces, position = [], 0
    for start, end in _quoted_spans(text):
        pieces += [text[position:start], ' "" ']
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _word_count(text: str) -> int:
    return len(_WORD.findall(text.translate(_CHAR_MAP)))


def _pieces(content: PoaContent, keys=SECTION_KEYS) -> Iterator[tuple[str, str, str]]:
    """(section key, where, text) for each non-blank item; where is e.g. "Corrective actions, item 2"."""
    for key in keys:
        for number, text in enumerate(section_items(content, key), start=1):
            where = f"{SECTION_LABELS[key]}, item {number}" if key in LIST_SECTIONS else SECTION_LABELS[key]
            yield key, where, text


def _excerpt(text: str, limit: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- missing sections

_MISSING_HINTS = {
    "subject": "Add a subject line that names the account or the ASIN and what you are asking for.",
    "introduction": "Add a short introduction: what the notice said, and that the business owns the problem.",
    "root_cause": "Add the root cause: what in the business's own process let the problem happen.",
    "corrective_actions": "List the corrective actions already taken to fix this problem, one per item.",
    "preventive_measures": "List the changes that keep the problem from coming back, one per item.",
    "closure": "Add a short closing: thank the reviewer, ask for reinstatement, and sign with a name.",
}


def _missing_sections(content: PoaContent) -> Iterator[Finding]:
    for key in SECTION_KEYS:
        if not section_items(content, key):
            yield Finding("missing_section", ERROR, key, f"{SECTION_LABELS[key]} is empty. {_MISSING_HINTS[key]}")


# ---------------------------------------------------------------- placeholders

# "TBC" or "TBD" joined to a number is a code (SKU TBC-2210), not a blank; TODO and FIXME always are.
_BLANK_WORDS = r"\b(?:(?:TBD|TBC)\b(?![-_]\d{2,})|(?:TODO|FIXME)\b)|\bX{3,}\b|\blorem\s+ipsum\b"
_PLACEHOLDER = re.compile(r"\[[^\]]*\]|" + _BLANK_WORDS, re.I)
_PLACEHOLDER_WORDS = re.compile(_BLANK_WORDS, re.I)
# A bracket that is only a reference to a numbered or lettered attachment ("[attachment 3]",
# "[see annex B, page 4]") is the seller's own; "[attachment name]" or "[Attachment 1 - TBD]" is a blank.
_BRACKET_REFERENCE = re.compile(
    r"\[\s*(?:see\s+)?(?:attachment|exhibit|annex|appendix|enclosure|document|file|invoice)\s+(?:no\.?\s*)?"
    r"(?:[a-z]|[\w.-]*\d[\w.-]*)(?:\s*,\s*(?:page|p\.|pp\.)\s*\d+(?:\s*-\s*\d+)?)?\s*\]", re.I)
# An editor's insertion inside a quotation: "it [the coating] started peeling", "[sic]".
_EDITORIAL = re.compile(r"\[\s*(?:sic|(?:the|a|an|our|their|his|her|its|this|that|these|those|we|they|it|he|she)\s[^\]]*)\]",
                        re.I)


def _placeholder_matches(text: str) -> Iterator[re.Match]:
    """_PLACEHOLDER's matches, left to right. After the last "]" no bracket can close, so
    the rest is searched for the words only: each "[" there would otherwise scan on to the
    end of the text, which made a run of unclosed brackets quadratic."""
    cut = text.rfind("]") + 1
    yield from _PLACEHOLDER.finditer(text, 0, cut)
    yield from _PLACEHOLDER_WORDS.finditer(text, cut)


def _placeholders(content: PoaContent) -> Iterator[Finding]:
    """Blanks left in: square brackets, TBD/TODO, XXX; not a bracketed reference to an
    attachment, nor an editor's insertion inside a quotation ("it [the coating] started")."""
    for key, where, text in _pieces(content):
        text = _normalize(text)
        quoted = list(_quoted_spans(text)) if "[" in text else []  # sorted, not overlapping
        starts = [a for a, _ in quoted]

        def in_quotation(at: int) -> bool:
            i = bisect_left(starts, at) - 1  # the last quotation opening before `at`
            return i >= 0 and at < quoted[i][1]

        def blank(m: re.Match) -> bool:
            found = m.group(0)
            if _BRACKET_REFERENCE.fullmatch(found) and not _PLACEHOLDER_WORDS.search(found[1:-1]):
                return False
            return not (_EDITORIAL.fullmatch(found) and in_quotation(m.start()))

        found = list(dict.fromkeys(m.group(0) for m in _placeholder_matches(text) if blank(m)))
        if found:
            shown = ", ".join(f'"{_excerpt(p, 50)}"' for p in found[:3]) + (" and more" if len(found) > 3 else "")
            yield Finding("placeholder", ERROR, key,
                          f"{where} still contains {shown}. Replace each blank with the real detail for this case.")


# ---------------------------------------------------------------- blame

_PARTY = (
    r"(?:amazon(?:\.[a-z]{2,3}(?:\.[a-z]{2})?)?|buyers?|customers?|shoppers?|purchasers?|consumers?"
    r"|competitors?|rivals?|suppliers?|vendors?|manufacturers?|distributors?|wholesalers?|factory|factories"
    r"|carriers?|couriers?|(?:shipping|delivery|logistics|freight)\s+(?:company|companies|partners?|providers?|drivers?)"
    r"|3pl|prep\s+cent(?:er|re)s?|warehouses?|ups|usps|fedex|dhl|royal\s+mail|post\s+office|postal\s+service"
    r"|(?:rights?|brand|trademark)\s+owners?|complainants?)"
)
# A party in its own right, not as a modifier ("customer complaints", "Amazon policy").
_T = (r"\b(?:(?:the|our|a|an|some|these|those|this|that|one|several|many|certain|their)\s+)?"
      rf"\b{_PARTY}\b(?:'s|')?+"
      r"(?!\s+(?:complaints?|reports?|feedback|returns?|claims?|orders?|reviews?|messages?|questions?|service"
      r"|experience|satisfaction|support|polic(?:y|ies)|guidelines?|requirements?|standards?|accounts?|notices?"
      r"|notifications?|invoices?)\b)")
# Up to n words between a party and its verb, but not across "who", "that"...
# ("customers who received incorrectly labelled units" is not blame).
_GAP = r"(?:\s+(?!(?:who|whom|whose|which|that|we|us|our|i)\b)\w+)"
_BAD_ADVERB = r"(?:wrongly|wrongfully|mistakenly|incorrectly|erroneously|unfairly|unjustly|falsely|maliciously)"
_ACTION = r"(?:suspend|flag|deactivat|remov|penali[sz]|block|target)\w*"
_SELF_BLAME_NEGATIONS = r"\bnot\s+(?:our|my)\s+fault|\bno\s+fault\s+of\s+(?:our|my)\s+own|\b(?:beyond|outside|out\s+of)\s+our\s+control\b|\bwe\s+(?:are|were)\s+not\s+(?:responsible|to\s+blame)\b"

# Where a match can start. Every branch of every pattern below begins at the start of a
# word: a party (or an article just before one: "PARTY" below), or one of the words or
# word beginnings listed with the pattern. Trying each pattern only there finds exactly
# what scanning every position finds (tests/services/poa/test_checks.py checks the two
# agree), at a fraction of the cost: twelve patterns tried at every character were most
# of the review's time.
_ARTICLES = frozenset("the our a an some these those this that one several many certain their".split())
_PARTY_WORDS = frozenset((
    "amazon buyer buyers customer customers shopper shoppers purchaser purchasers consumer consumers "
    "competitor competitors rival rivals supplier suppliers vendor vendors manufacturer manufacturers "
    "distributor distributors wholesaler wholesalers factory factories carrier carriers courier couriers "
    "shipping delivery logistics freight 3pl prep warehouse warehouses ups usps fedex dhl royal post postal "
    "right rights brand trademark complainant complainants").split())
PARTY = "PARTY"
_ACTION_STEMS = ("suspend", "flag", "deactivat", "remov", "penalis", "penaliz", "block", "target")


@dataclass(frozen=True)
class _BlamePattern:
    regex: re.Pattern
    inside: bool            # whether a negation inside the match cancels it
    starts: frozenset       # first words of its branches; PARTY for a branch that starts with _T
    stems: tuple = ()       # beginnings of first words


def _blame_pattern(pattern: str, inside: bool, starts: str, stems: tuple = ()) -> _BlamePattern:
    return _BlamePattern(re.compile(pattern, re.I), inside, frozenset(starts.split()), stems)


# Patterns whose wording is itself negative ("did not read", "not our fault") must not be
# cancelled by their own "not".
_BLAME_PATTERNS = [
    _blame_pattern(rf"{_T}\s+fault\b", False, PARTY),
    _blame_pattern(rf"\b(?:fault|blame)\s+(?:of|lies\s+with|lay\s+with|rests\s+with|was\s+with|is\s+with"
                   rf"|belongs\s+to)\s+{_T}", False, "fault blame"),
    _blame_pattern(rf"{_T}\s+(?:is|was|are|were|has\s+been|have\s+been)\s+(?:\w+ly\s+)?"
                   r"(?:at\s+fault|to\s+blame|responsible\s+for\s+(?:this|the|these|our)|wrong|mistaken)\b",
                   False, PARTY),
    _blame_pattern(rf"\bblam(?:e|ed|es|ing)\s+(?:it\s+)?(?:(?:on|with)\s+)?{_T}", False,
                   "blame blamed blames blaming"),
    _blame_pattern(rf"{_T}{_GAP}{{0,2}}?\s+{_BAD_ADVERB}\b", True, PARTY),
    _blame_pattern(rf"{_T}{_GAP}?\s+(?:misunderstood|misread|misinterpreted|misused|abused|lied|got\s+it\s+wrong"
                   r"|made\s+(?:an?\s+)?(?:mistakes?|errors?)"
                   r"|(?:did\s+not|didn't|failed\s+to|never|could\s+not|couldn't)\s+(?:read|follow|understand|check"
                   r"|notice))\b", False, PARTY),
    _blame_pattern(rf"{_T}\s+caused\b|\bcaused\s+(?:\w+ly\s+)?by\s+{_T}", True, f"{PARTY} caused"),
    _blame_pattern(rf"\bdue\s+to\s+{_T}\s*(?:\w+\s+)?(?:errors?|mistakes?|negligence|failures?|fault|incompetence"
                   r"|carelessness|delays?)\b"
                   rf"|\b(?:errors?|mistakes?|negligence|failures?|incompetence|carelessness)\s+(?:of|by|from"
                   rf"|on\s+the\s+part\s+of)\s+{_T}"
                   rf"|\b(?:error|mistake)\s+on\s+{_T}\s+(?:part|side|end)\b", False,
                   "due error errors mistake mistakes negligence failure failures incompetence carelessness"),
    _blame_pattern(r"\b(?:false|fake|bogus|baseless|unfounded|frivolous|malicious|fraudulent|unjustified|illegitimate)"
                   r"\s+(?:\w+\s+)?(?:complaints?|reports?|accusations?|allegations?|notices?|returns?"
                   r"|(?:claims?|reviews?)\s+(?:by|from))\b", True,
                   "false fake bogus baseless unfounded frivolous malicious fraudulent unjustified illegitimate"),
    _blame_pattern(r"\bsabotag\w*", True, "", ("sabotag",)),
    _blame_pattern(rf"\b(?:was|were|been|is|are|being|got|get)\s+(?:\w+\s+)?{_BAD_ADVERB}\s+{_ACTION}"
                   r"|\b(?:unfair|unjust|wrongful|unwarranted|unjustified|undeserved)\s+(?:\w+\s+)?"
                   r"(?:suspension|deactivation|decision|removal|penalty|treatment|action)\b"
                   rf"|\b{_ACTION}\s+(?:\w+\s+){{0,3}}?(?:by\s+(?:mistake|error)|in\s+error|for\s+no\s+(?:\w+\s+)?reason"
                   r"|without\s+(?:any\s+)?(?:reason|cause|justification))", True,
                   "was were been is are being got get unfair unjust wrongful unwarranted unjustified undeserved",
                   _ACTION_STEMS),
    _blame_pattern(_SELF_BLAME_NEGATIONS, False, "not no beyond outside out we"),
]
_NEGATION = re.compile(
    r"\b(?:not|no|never|nor|neither|without|cannot|hardly|avoid(?:s|ed|ing)?|refus(?:e|es|ed|ing)\s+to|rather\s+than|instead\s+of"
    r"|(?:easy|tempting|wrong|unfair|pointless)\s+to)\b|n't\b", re.I)
_CLAUSE_BREAK = re.compile(r"[.;:!?,()\n]|\b(?:but|however|although|though|yet|whereas)\b", re.I)


# How far back a negation is looked for: six words of any ordinary length. Looking back
# over the whole text before each phrase made many phrases quadratic.
_LOOK_BACK = 200


class _Scanned:
    """A text prepared once for every blame pattern: where each may start, and where
    each clause ends."""

    def __init__(self, text: str):
        self.text = text
        self.starts = _starts(text)
        self.breaks = [m.end() for m in _CLAUSE_BREAK.finditer(text)]
        self.break_starts = [m.start() for m in _CLAUSE_BREAK.finditer(text)]

    def negated(self, match: re.Match, inside: bool) -> bool:
        """Whether a negation stands among the six words before the match in its clause
        (within _LOOK_BACK characters), or, with `inside`, within the match itself."""
        text, start = self.text, match.start()
        lower = max(0, start - _LOOK_BACK)
        last = bisect_right(self.breaks, start) - 1   # the last clause break before the match
        if last >= 0 and self.break_starts[last] >= lower:
            words = text[self.breaks[last]:start].split()
        else:
            words = text[lower:start].split()
            if lower > 0 and words and not text[lower - 1].isspace():
                words = words[1:]  # the window cut this word: it is not one of the six
        window = " ".join(words[-6:])
        return bool(_NEGATION.search(window) or (inside and _NEGATION.search(match.group(0))))


# The letters that IGNORECASE matches to an ASCII letter though str.lower() does not make
# them one (found by trying every code point): folded first, so no start is missed.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"})
_WORD_RUN = re.compile(r"\w+")


def _starts(text: str) -> dict[str, list[int]]:
    """Where each pattern may start: {first word: [positions]}, and PARTY: [positions] for
    every party and every article just before one. One pass over the words."""
    # Folded, every letter keeps its place: İ, the only letter whose lower() is longer, is folded first.
    lowered = text.translate(_FOLD).lower()
    starts: dict[str, list[int]] = {PARTY: []}
    parties = starts[PARTY]
    previous, previous_end, previous_start = "", 0, 0
    for run in _WORD_RUN.finditer(lowered):
        word, start = run.group(), run.start()
        found = starts.get(word)
        if found is None:
            starts[word] = [start]
        else:
            found.append(start)
        if word in _PARTY_WORDS:
            if previous in _ARTICLES and lowered[previous_end:start].isspace():
                parties.append(previous_start)
            parties.append(start)
        previous, previous_end, previous_start = word, run.end(), start
    return starts


def _matches(pattern: _BlamePattern, scanned: _Scanned) -> Iterator[re.Match]:
    """pattern.regex.finditer(text), trying only the positions where it can start."""
    starts = scanned.starts
    positions = [p for word in pattern.starts for p in starts.get(word, ())]
    if pattern.stems:
        positions += [p for word, found in starts.items() if word.startswith(pattern.stems) for p in found]
    end = 0
    for position in sorted(set(positions)):
        if position < end:
            continue
        match = pattern.regex.match(scanned.text, position)
        if match:
            yield match
            end = match.end()


def _blame_phrase(text: str) -> str | None:
    scanned = _Scanned(_without_quotes(text))
    for pattern in _BLAME_PATTERNS:
        for match in _matches(pattern, scanned):
            if not scanned.negated(match, pattern.inside):
                return match.group(0)
    return None


def _blame(content: PoaContent) -> Iterator[Finding]:
    for key, where, text in _pieces(content):
        phrase = _blame_phrase(text)
        if phrase:
            yield Finding("blame", ERROR, key,
                          f'{where}: "{_excerpt(phrase)}" shifts responsibility away from the seller. '
                          "Reviewers reject appeals that blame Amazon, buyers, competitors, suppliers or carriers; "
                          "say instead what in the seller's own process allowed this.")


# ---------------------------------------------------------------- promises in corrective actions

_PROMISE = re.compile(
    r"\b(?:we|i)\s*(?:'ll|will|shall|(?:are|am)\s+going\s+to|(?:are|am)\s+planning\s+to|plan\s+to|intend\s+to"
    r"|aim\s+to|hope\s+to|expect\s+to|want\s+to|would\s+like\s+to|(?:are|am)\s+about\s+to|(?:are|am)\s+considering)\b"
    r"|^\W*(?:will|shall|plan(?:ning)?\s+to|intend(?:ing)?\s+to|going\s+to)\b",
    re.I)


def _promises(content: PoaContent) -> Iterator[Finding]:
    for key, where, text in _pieces(content, ("corrective_actions",)):
        match = _PROMISE.search(_without_quotes(text))
        if match:
            yield Finding("promise_in_corrective", WARNING, key,
                          f'{where} is a promise ("{match.group(0).strip()}"). Corrective actions should be things '
                          "already done: describe what was done and when, or move this to Preventive measures.")


# ---------------------------------------------------------------- root cause

_UNKNOWN = re.compile("|".join([
    r"\b(?:we|i)\s+(?:still\s+)?(?:do\s+not|don't|did\s+not|didn't|does\s+not)\s+(?:really\s+|fully\s+)?"
    r"(?:know|understand)\s+(?:why|the\s+(?:root\s+)?(?:cause|reason)|what\s+(?:caused|happened|went\s+wrong|triggered)"
    r"|how\s+this)",
    r"\b(?:not|un)\s*(?:sure|certain|clear)\s+(?:why|what|how|whether|about\s+the\s+(?:cause|reason))\b",
    r"\b(?:we|i)\s+(?:are|were|am|remain|remained)\s+(?:still\s+)?(?:unsure|uncertain|not\s+sure|not\s+certain|confused)\b",
    r"\b(?:no|not\s+any)\s+idea\b",
    r"\bnot\s+aware\s+of\s+(?:any|why|what)\b",
    r"\b(?:cause|reason|source)\s+(?:is|was|remains|remained)\s+(?:still\s+)?"
    r"(?:unknown|unclear|a\s+mystery|not\s+clear|not\s+known|uncertain)\b",
    r"\b(?:unknown|unclear)\s+(?:cause|reason)\b|\bit\s+is\s+(?:still\s+)?unclear\b",
    r"\b(?:we|i)\s+(?:cannot|can't|could\s+not|couldn't|(?:were|are|am)\s+unable\s+to|have\s+not\s+been\s+able\s+to"
    r"|haven't\s+been\s+able\s+to)\s+(?:determine|identify|explain|pinpoint|find|establish|understand|work\s+out"
    r"|figure\s+out)\s+(?:why|what|how|the\s+(?:root\s+)?(?:cause|reason|source))",
    r"\bfor\s+no\s+(?:obvious\s+|clear\s+|apparent\s+)?reason\b",
    r"\bstill\s+(?:investigating|looking\s+into)\b",
]), re.I)


def _root_cause(content: PoaContent) -> Iterator[Finding]:
    for key, where, text in _pieces(content, ("introduction", "root_cause")):
        match = _UNKNOWN.search(_without_quotes(text))
        if match:
            yield Finding("root_cause_unknown", ERROR, key,
                          f'{where}: "{_excerpt(match.group(0))}" tells Amazon the seller does not know why this '
                          "happened. Find the cause before submitting and state it plainly.")
    words = _word_count(content.root_cause)
    if 0 < words < ROOT_CAUSE_MIN_WORDS:
        yield Finding("root_cause_too_short", WARNING, "root_cause",
                      f"Root cause has {words} words (fewer than {ROOT_CAUSE_MIN_WORDS}). Explain specifically what "
                      "went wrong, where in the seller's process, and why it was not caught.")


# ---------------------------------------------------------------- generic starter text

def _comparable(content: PoaContent, key: str) -> tuple[str, ...]:
    """The section's words, lower-cased: wording is compared word by word, not letter by letter."""
    return tuple(w.lower() for w in _WORD.findall(" ".join(section_items(content, key)).translate(_CHAR_MAP)))


# Matching steps for one comparison with a starter, and for all of them in one review.
# Real drafts take a few thousand; only text built to be slow (a few words repeated in
# patterns) comes near, and a comparison that would pass the limit counts as not similar.
SIMILARITY_STEPS = 100_000
GENERIC_STEPS = 400_000


def _similarity(draft: tuple[str, ...], starter: tuple[str, ...], budget: Budget) -> float:
    matcher = BoundedMatcher(None, draft, starter, budget=budget.part(SIMILARITY_STEPS))
    if matcher.real_quick_ratio() < GENERIC_SIMILARITY or matcher.quick_ratio() < GENERIC_SIMILARITY:
        return 0.0  # cheap upper bounds already rule it out
    try:
        return matcher.ratio()
    except WorkExceeded:
        return 0.0


def _generic(content: PoaContent, facts: CaseFacts, starter: PoaContent | None) -> Iterator[Finding]:
    starters = (starter,) if starter is not None else starter_texts(facts)
    budget = Budget(GENERIC_STEPS)
    for key in GENERIC_SECTIONS:
        draft = _comparable(content, key)
        if not draft:
            continue
        candidates = {_comparable(s, key) for s in starters} - {()}
        best = max((_similarity(draft, c, budget) for c in candidates), default=0.0)
        if best >= GENERIC_SIMILARITY:
            yield Finding("generic_starter_text", WARNING, key,
                          f"{SECTION_LABELS[key]} is {best:.0%} identical to the starter text. Amazon discounts generic, "
                          "templated appeals: rewrite it around this case's facts, numbers and dates.")


# ---------------------------------------------------------------- evidence

_DOCUMENT = re.compile(
    r"\b(?:invoices?|receipts?|screen\s*shots?|(?:supplier|distributor|manufacturer|authori[sz]ation)\s+letters?"
    r"|letters?\s+(?:of\s+authori[sz]ation|from\s+(?:our|the)\s+(?:supplier|distributor|manufacturer|brand))"
    r"|loas?|purchase\s+orders?|certificates?\s+of\s+(?:analysis|authenticity|conformity)"
    r"|(?:test|lab|laboratory)\s+reports?)\b", re.I)


def _evidence(content: PoaContent, facts: CaseFacts) -> Iterator[Finding]:
    if facts.evidence_count > 0:
        return
    for key in ("corrective_actions", "preventive_measures"):
        text = _normalize(" ".join(section_items(content, key)))
        found = list(dict.fromkeys(m.group(0).lower() for m in _DOCUMENT.finditer(text)))
        if found:
            yield Finding("evidence_missing", WARNING, key,
                          f"{SECTION_LABELS[key]} mention {', '.join(found)}, but no evidence is uploaded to this "
                          "case. Upload the documents so they can be enclosed, or remove the reference.")


# ---------------------------------------------------------------- subject ASIN

_ASIN_LIKE = re.compile(r"\b(?=[A-Z0-9]*\d)[A-Z0-9]{10}\b", re.I)


def _subject_asin(content: PoaContent, facts: CaseFacts) -> Iterator[Finding]:
    subject = _normalize(content.subject).upper()
    if facts.kind != "listing_deactivation" or not subject:
        return
    asins = [a.strip().upper() for a in facts.asins if a and a.strip()]
    # An ASIN stands on its own in the subject when it is a whole run of word characters
    # (what r"\bASIN\b" finds): one pass over the subject, not one search per ASIN.
    if not set(asins).isdisjoint(re.findall(r"\w+", subject)):
        return
    if not asins and _ASIN_LIKE.search(subject):
        return
    wanted = ", ".join(asins) if asins else "the deactivated ASIN"
    yield Finding("subject_missing_asin", WARNING, "subject",
                  f"The subject does not name {wanted}. For a listing deactivation, put the ASIN in the subject "
                  "so the reviewer can match the appeal to the listing.")


# ---------------------------------------------------------------- length

def _length(content: PoaContent) -> Iterator[Finding]:
    words = sum(_word_count(text) for _, _, text in _pieces(content))
    if words < MIN_WORDS:
        yield Finding("too_short", WARNING, None,
                      f"The POA has {words} words; below {MIN_WORDS} it cannot explain the root cause and the actions "
                      "specifically. Add concrete detail: what happened, numbers, dates, who does what.")
    elif words > MAX_WORDS:
        yield Finding("too_long", WARNING, None,
                      f"The POA has {words} words; above {MAX_WORDS} the reviewer has to dig for the point. Cut "
                      "background and anything not about this problem, and keep each action to a line or two.")
