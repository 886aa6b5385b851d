"""How well the automatic POA review catches what Amazon's reviewers reject (issue 19).

Runs ``caseapp.services.poa.checks.review`` on every labelled draft in
tests/data/poa_eval/ and prints, per flaw label, how many drafts carry it and how
many the review caught; then every error it raises on a draft labelled sound
(a false error), the warnings on sound drafts for information, and the slowest
review. It needs no app and no database: the review is pure.

    .venv/bin/python scripts/review_eval.py [--strict] [--dir DIR]

Exit code 0 always, since this is a measurement; with ``--strict`` it is 1 when
the recall of any label the drafts carry is under 95%, or any sound draft gets an error.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from caseapp.services.poa.checks import ERROR, Finding, review  # noqa: E402
from caseapp.services.poa.content import CaseFacts, PoaContent  # noqa: E402

EVAL_DIR = ROOT / "tests" / "data" / "poa_eval"

# The flaw labels a draft may carry (tests/data/poa_eval/README.md says what each means).
LABELS = (
    "blame", "no_cause", "generic", "reason_substance", "over_length",
    "missing_section", "placeholder", "promise", "thin_root_cause",
)

# Which finding code counts as catching which label, whatever its severity. Codes not
# listed here catch nothing: evidence_missing (a document named with no evidence on the
# case), subject_missing_asin (only the subject line, so it does not show the listing
# case's missing attribute) and too_short are real findings but not one of these flaws.
# A code the review gains later is matched by name when it is a label or starts with
# "<label>_" (e.g. "reason_substance_ip"), so new rules show up here without an edit;
# add it below when its name says otherwise.
CODE_TO_LABEL = {
    "blame": "blame",
    "root_cause_unknown": "no_cause",
    "generic_starter_text": "generic",
    "too_long": "over_length",
    "over_limit": "over_length",
    "missing_section": "missing_section",
    "placeholder": "placeholder",
    "promise_in_corrective": "promise",
    "root_cause_too_short": "thin_root_cause",
}

STRICT_RECALL = 0.95
KINDS = ("account_suspension", "listing_deactivation", "other")
REASONS = ("policy_violation", "customer_complaints", "performance_metrics", "intellectual_property", "other")


def label_of(code: str) -> str | None:
    if code in CODE_TO_LABEL:
        return CODE_TO_LABEL[code]
    for label in LABELS:
        if code == label or code.startswith(label + "_"):
            return label
    return None


@dataclass
class Draft:
    id: str
    path: Path
    content: PoaContent
    facts: CaseFacts
    flaws: tuple[str, ...]
    note: str
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def sound(self) -> bool:
        return not self.flaws


def load_draft(path: Path) -> Draft:
    """One draft file as review input; raises KeyError/ValueError on a malformed file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    notice = data.get("notice_date")
    facts = CaseFacts(
        client_name=data["client_name"],
        seller_id=data["seller_id"],
        marketplace=data["marketplace"],
        kind=data["kind"],
        reason=data["reason"],
        asins=tuple(a.upper() for a in data.get("asins", ())),
        notice_date=date.fromisoformat(notice) if notice else None,
        case_title=data.get("case_title", ""),
        evidence_count=int(data.get("evidence_count", 0)),
    )
    return Draft(
        id=data["id"], path=path, content=PoaContent.from_dict(data["sections"]), facts=facts,
        flaws=tuple(data["flaws"]), note=data.get("note", ""), raw=data,
    )


def load_drafts(directory: Path = EVAL_DIR) -> list[Draft]:
    return [load_draft(path) for path in sorted(directory.glob("*.json"))]


@dataclass
class Result:
    draft: Draft
    findings: list[Finding]
    seconds: float

    @property
    def caught(self) -> set[str]:
        return {label for f in self.findings if (label := label_of(f.code))}


def evaluate(drafts: list[Draft]) -> list[Result]:
    results = []
    for draft in drafts:
        started = time.perf_counter()
        findings = review(draft.content, draft.facts)
        results.append(Result(draft, findings, time.perf_counter() - started))
    return results


def report(results: list[Result], out=sys.stdout) -> tuple[dict[str, float], list[tuple[Result, Finding]]]:
    """Print the tables; return recall per label (labels some draft carries) and the false errors."""
    def say(line: str = "") -> None:
        print(line, file=out)

    sound = [r for r in results if r.draft.sound]
    say(f"POA review evaluation: {len(results)} drafts, {len(sound)} sound, {len(results) - len(sound)} flawed")
    say()
    # "flagged elsewhere": drafts not labelled with the flaw that still drew a finding for it
    say(f"{'flaw':<18}{'drafts':>7}{'caught':>8}{'recall':>8}{'flagged elsewhere':>19}")
    recalls: dict[str, float] = {}
    for label in LABELS:
        having = [r for r in results if label in r.draft.flaws]
        caught = [r for r in having if label in r.caught]
        elsewhere = [r for r in results if label not in r.draft.flaws and label in r.caught]
        if having:   # a label no draft carries (a folder of a few drafts) has no recall to judge
            recalls[label] = len(caught) / len(having)
        shown = f"{recalls[label]:.0%}" if having else "n/a"
        say(f"{label:<18}{len(having):>7}{len(caught):>8}{shown:>8}{len(elsewhere):>19}")
    say()
    say("missed (flawed drafts whose flaw drew no finding):")
    for label in LABELS:
        missed = [r.draft.id for r in results if label in r.draft.flaws and label not in r.caught]
        if missed:
            say(f"  {label}: {', '.join(missed)}")
    say()
    false_errors = [(r, f) for r in sound for f in r.findings if f.severity == ERROR]
    say(f"false errors on sound drafts: {len(false_errors)}")
    for r, f in false_errors:
        say(f"  {r.draft.id}  {f.code}  {f.message}")
    say()
    warnings = [(r, f) for r in sound for f in r.findings if f.severity != ERROR]
    say(f"warnings on sound drafts (info): {len(warnings)}")
    for r, f in warnings:
        say(f"  {r.draft.id}  {f.code}  [{f.section or 'whole'}]  {f.message}")
    say()
    if results:
        slowest = max(results, key=lambda r: r.seconds)
        say(f"slowest review: {slowest.draft.id} in {slowest.seconds * 1000:.1f} ms")
    return recalls, false_errors


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true",
                        help=f"exit 1 when any recall is under {STRICT_RECALL:.0%} or a sound draft gets an error")
    parser.add_argument("--dir", type=Path, default=EVAL_DIR, help="folder of draft JSON files")
    args = parser.parse_args(argv)
    results = evaluate(load_drafts(args.dir))
    recalls, false_errors = report(results, out)
    if args.strict and (false_errors or any(r < STRICT_RECALL for r in recalls.values())):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
