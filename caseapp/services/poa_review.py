"""Automatic review of a POA draft: the mistakes that get appeals rejected or delayed.

Each rule yields ``Finding``s whose message says what to change. Matching is
case-insensitive, tolerant of curly quotes and extra spaces, and checks each
list item on its own so a finding can name the item.

Severity
    ``error``: Amazon is likely to reject the appeal as it stands: a missing
    section (``missing_section``), a blank or filler left in (``placeholder``),
    blaming someone else (``blame``), or admitting the cause is not known
    (``root_cause_unknown``).
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
by a distancing phrase ("rather than blame the carrier") does not fire.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from typing import Iterator

from caseapp.services.poa_content import (
    LIST_SECTIONS,
    SECTION_KEYS,
    SECTION_LABELS,
    CaseFacts,
    PoaContent,
    section_items,
)
from caseapp.services.poa_starters import starter_texts

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
    is compared with every starter for these facts.
    """
    findings = [
        *_missing_sections(content),
        *_placeholders(content),
        *_blame(content),
        *_promises(content),
        *_root_cause(content),
        *_generic(content, facts, starter),
        *_evidence(content, facts),
        *_subject_asin(content, facts),
        *_length(content),
    ]
    order = {key: i for i, key in enumerate(SECTION_KEYS)}
    return sorted(findings, key=lambda f: (f.severity != ERROR, order.get(f.section, len(order))))


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)


# ---------------------------------------------------------------- text helpers

_CHAR_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'",
                           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
                           "\u00a0": " "})
_QUOTED = re.compile(r'"[^"]*"|(?<!\w)\'.+?\'(?!\w)', re.S)
_WORD = re.compile(r"[^\W_]+(?:['.,/-][^\W_]+)*")   # "seller-fulfilled", "9.2", "1,900": one word each


def _normalize(text: str) -> str:
    """Straight quotes and apostrophes, single spaces."""
    return " ".join(text.translate(_CHAR_MAP).split())


def _without_quotes(text: str) -> str:
    return _QUOTED.sub(' "" ', _normalize(text))


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

_PLACEHOLDER = re.compile(r"\[[^\]]*\]|\b(?:TBD|TBC|TODO|FIXME)\b|\bX{3,}\b|\blorem\s+ipsum\b", re.I)


def _placeholders(content: PoaContent) -> Iterator[Finding]:
    for key, where, text in _pieces(content):
        found = list(dict.fromkeys(m.group(0) for m in _PLACEHOLDER.finditer(_normalize(text))))
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
_T = (r"(?:(?:the|our|a|an|some|these|those|this|that|one|several|many|certain|their)\s+)?"
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

# (pattern, whether a negation inside the match cancels it). Patterns whose
# wording is itself negative ("did not read", "not our fault") must not be
# cancelled by their own "not".
_BLAME_PATTERNS = [(re.compile(p, re.I), inside) for p, inside in [
    (rf"{_T}\s+fault\b", False),
    (rf"\b(?:fault|blame)\s+(?:of|lies\s+with|lay\s+with|rests\s+with|was\s+with|is\s+with|belongs\s+to)\s+{_T}", False),
    (rf"{_T}\s+(?:is|was|are|were|has\s+been|have\s+been)\s+(?:\w+ly\s+)?"
     r"(?:at\s+fault|to\s+blame|responsible\s+for\s+(?:this|the|these|our)|wrong|mistaken)\b", False),
    (rf"\bblam(?:e|ed|es|ing)\s+(?:it\s+)?(?:(?:on|with)\s+)?{_T}", False),
    (rf"{_T}{_GAP}{{0,2}}?\s+{_BAD_ADVERB}\b", True),
    (rf"{_T}{_GAP}?\s+(?:misunderstood|misread|misinterpreted|misused|abused|lied|got\s+it\s+wrong"
     r"|made\s+(?:an?\s+)?(?:mistakes?|errors?)"
     r"|(?:did\s+not|didn't|failed\s+to|never|could\s+not|couldn't)\s+(?:read|follow|understand|check|notice))\b",
     False),
    (rf"{_T}\s+caused\b|\bcaused\s+(?:\w+ly\s+)?by\s+{_T}", True),
    (rf"\bdue\s+to\s+{_T}\s*(?:\w+\s+)?(?:errors?|mistakes?|negligence|failures?|fault|incompetence|carelessness|delays?)\b"
     rf"|\b(?:errors?|mistakes?|negligence|failures?|incompetence|carelessness)\s+(?:of|by|from|on\s+the\s+part\s+of)\s+{_T}"
     rf"|\b(?:error|mistake)\s+on\s+{_T}\s+(?:part|side|end)\b", False),
    (r"\b(?:false|fake|bogus|baseless|unfounded|frivolous|malicious|fraudulent|unjustified|illegitimate)\s+(?:\w+\s+)?"
     r"(?:complaints?|reports?|accusations?|allegations?|notices?|returns?|(?:claims?|reviews?)\s+(?:by|from))\b", True),
    (r"\bsabotag\w*", True),
    (rf"\b(?:was|were|been|is|are|being|got|get)\s+(?:\w+\s+)?{_BAD_ADVERB}\s+{_ACTION}"
     r"|\b(?:unfair|unjust|wrongful|unwarranted|unjustified|undeserved)\s+(?:\w+\s+)?"
     r"(?:suspension|deactivation|decision|removal|penalty|treatment|action)\b"
     rf"|\b{_ACTION}\s+(?:\w+\s+){{0,3}}?(?:by\s+(?:mistake|error)|in\s+error|for\s+no\s+(?:\w+\s+)?reason"
     r"|without\s+(?:any\s+)?(?:reason|cause|justification))", True),
    (_SELF_BLAME_NEGATIONS, False),
]]
_NEGATION = re.compile(
    r"\b(?:not|no|never|nor|neither|without|cannot|hardly|avoid(?:s|ed|ing)?|refus(?:e|es|ed|ing)\s+to|rather\s+than|instead\s+of"
    r"|(?:easy|tempting|wrong|unfair|pointless)\s+to)\b|n't\b", re.I)
_CLAUSE_BREAK = re.compile(r"[.;:!?,()\n]|\b(?:but|however|although|though|yet|whereas)\b", re.I)


def _negated(text: str, match: re.Match, inside: bool) -> bool:
    before = _CLAUSE_BREAK.split(text[: match.start()])[-1]
    window = " ".join(before.split()[-6:])
    return bool(_NEGATION.search(window) or (inside and _NEGATION.search(match.group(0))))


def _blame_phrase(text: str) -> str | None:
    text = _without_quotes(text)
    for pattern, inside in _BLAME_PATTERNS:
        for match in pattern.finditer(text):
            if not _negated(text, match, inside):
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


def _similarity(draft: tuple[str, ...], starter: tuple[str, ...]) -> float:
    matcher = SequenceMatcher(None, draft, starter, autojunk=False)
    if matcher.real_quick_ratio() < GENERIC_SIMILARITY or matcher.quick_ratio() < GENERIC_SIMILARITY:
        return 0.0  # cheap upper bounds already rule it out
    return matcher.ratio()


def _generic(content: PoaContent, facts: CaseFacts, starter: PoaContent | None) -> Iterator[Finding]:
    starters = (starter,) if starter is not None else starter_texts(facts)
    for key in GENERIC_SECTIONS:
        draft = _comparable(content, key)
        if not draft:
            continue
        candidates = {_comparable(s, key) for s in starters} - {()}
        best = max((_similarity(draft, c) for c in candidates), default=0.0)
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
    if any(re.search(rf"\b{re.escape(a)}\b", subject) for a in asins):
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
