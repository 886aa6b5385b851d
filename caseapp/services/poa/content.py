"""The shape of a Plan of Action and the case facts it is written from.

Pure data, no Flask and no database: the starter, review and export modules
work on these, and the POA services convert model rows to and from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping


@dataclass(frozen=True)
class PoaContent:
    subject: str = ""
    introduction: str = ""
    root_cause: str = ""
    corrective_actions: tuple[str, ...] = ()
    preventive_measures: tuple[str, ...] = ()
    closure: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoaContent:
        """Build from a form or JSON body; unknown keys are ignored, lists become tuples."""
        values: dict[str, Any] = {}
        for key in SECTION_KEYS:
            value = data.get(key)
            if key in LIST_SECTIONS:
                values[key] = tuple(str(item) for item in (value or ()))
            else:
                values[key] = "" if value is None else str(value)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the list sections become lists."""
        return {key: list(getattr(self, key)) if key in LIST_SECTIONS else getattr(self, key) for key in SECTION_KEYS}


# What a draft may hold. A good POA is 150 to 1,000 words (see poa/checks.py), about 1,000 to
# 6,500 characters in all; the limits are several times that, so no real draft meets them,
# and small enough that no page showing a draft can be made slow. A starter for a case at
# every limit of its own (200 ASINs, a 200-character client name) fits within them.
MAX_SUBJECT_CHARS = 3_000      # one line; a starter's names every ASIN of the case
MAX_SECTION_CHARS = 10_000     # introduction, root cause, closure: about 1,600 words each
MAX_SECTION_LINES = 100
MAX_ITEM_CHARS = 2_000         # one corrective action or preventive measure: about 300 words
MAX_ITEM_LINES = 5
MAX_LIST_ITEMS = 30
MAX_DRAFT_CHARS = 30_000       # the whole draft: about 5,000 words, five times the longest good POA

SECTIONS = (
    ("subject", "Subject"),
    ("introduction", "Introduction"),
    ("root_cause", "Root cause"),
    ("corrective_actions", "Corrective actions"),
    ("preventive_measures", "Preventive measures"),
    ("closure", "Closure"),
)
SECTION_KEYS = tuple(key for key, _ in SECTIONS)
SECTION_LABELS = dict(SECTIONS)
LIST_SECTIONS = frozenset({"corrective_actions", "preventive_measures"})


def section_items(content: PoaContent, key: str) -> list[str]:
    """The non-blank pieces of one section: the list items, or the text as one piece."""
    value = getattr(content, key)
    pieces = value if key in LIST_SECTIONS else (value,)
    return [piece.strip() for piece in pieces if piece and piece.strip()]


@dataclass(frozen=True)
class CaseFacts:
    client_name: str
    seller_id: str
    marketplace: str          # e.g. "US"
    kind: str                 # account_suspension | listing_deactivation | other
    reason: str               # policy_violation | customer_complaints | performance_metrics | intellectual_property | other
    asins: tuple[str, ...] = ()
    notice_date: date | None = None
    case_title: str = ""
    evidence_count: int = 0
