"""Presets: which deadlines a new case gets, per agency, case kind and reason.

An agency that never saved its presets uses the shipped DEFAULTS (their sources are in the
README, "Deadlines"); saving the presets page writes the agency's whole list. A new case gets
one deadline per active preset matching its kind and reason, counted from its notice date
(`opened_at`), and one "Answer Amazon" deadline when the notice says "within N days".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from caseapp.core.errors import ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import (CLOCKS, DEADLINE_KINDS, KINDS, PRESET_UNITS, REASONS, Agency, Case,
                            DeadlinePreset, User, utcnow)
from caseapp.services.accounts import audit, roles
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks

MAX_PRESETS = 50
MAX_AMOUNT = {"hours": 24 * 365, "days": 365, "business_days": 260}


@dataclass(frozen=True)
class Preset:
    """A preset as the engine uses it: a saved row's values, or a shipped default's."""

    kind: str
    title: str
    amount: int
    unit: str
    clock: str
    case_kind: str | None = None  # None: any kind of case
    reason: str | None = None  # None: any reason
    lead_hours: str | None = None  # None: the agency's default
    active: bool = True
    id: int | None = None

    def applies_to(self, case: Case) -> bool:
        return (self.active and self.case_kind in (None, case.kind)
                and self.reason in (None, case.reason))


# The shipped defaults (README "Deadlines" gives the source of each).
DEFAULTS: tuple[Preset, ...] = (
    Preset("appeal_window", "Appeal window (17 days from the notice)", 17, "days", "amazon",
           case_kind="account_suspension"),
    Preset("funds_release", "Request release of held funds", 60, "days", "amazon",
           case_kind="account_suspension"),
    Preset("inventory_removal", "Remove FBA inventory", 30, "days", "amazon",
           case_kind="account_suspension"),
    Preset("account_health_warning", "Act on the Account Health warning", 72, "hours", "amazon",
           case_kind="other", active=False),
    Preset("agency_sla", "POA to the client", 5, "business_days", "agency"),
)

# "within 30 days", "within thirty (30) days", "in the next 7 days": Amazon's own deadline.
_WITHIN = re.compile(r"\b(?:within|in the next)\s+(?:[a-z-]+\s+)?\(?(\d{1,3})\)?\s+(?:calendar\s+)?days\b",
                     re.IGNORECASE)
NOTICE_SCAN_LIMIT = 20_000  # characters of the notice read for "within N days"


def notice_days(notice: str) -> int | None:
    """The N of the first "within N days" in Amazon's notice (linear: one regex pass over a
    bounded prefix), or None."""
    found = _WITHIN.search((notice or "")[:NOTICE_SCAN_LIMIT])
    if not found:
        return None
    days = int(found.group(1))
    return days if 0 < days <= 365 else None


def for_agency(agency_id: int) -> list[Preset]:
    rows = list(db.session.scalars(select(DeadlinePreset).where(DeadlinePreset.agency_id == agency_id)
                                   .order_by(DeadlinePreset.position, DeadlinePreset.id)))
    if not rows:
        return list(DEFAULTS)
    return [Preset(r.kind, r.title, r.amount, r.unit, r.clock, r.case_kind, r.reason, r.lead_hours,
                   r.active, r.id) for r in rows]


def uses_defaults(agency_id: int) -> bool:
    return db.session.scalar(select(DeadlinePreset.id).where(DeadlinePreset.agency_id == agency_id)
                             .limit(1)) is None


def apply_to_new_case(case: Case, actor: User | None, now: datetime | None = None) -> list:
    """Start the deadlines the agency's presets give a new case, from its notice date."""
    return apply_to_new_cases([case], actor, now)


def apply_to_new_cases(cases: list[Case], actor: User | None, now: datetime | None = None) -> list:
    """`apply_to_new_case` for new cases of one agency, their deadlines written in one flush."""
    if not cases:
        return []
    now = now or utcnow()
    agency = db.session.get(Agency, cases[0].agency_id)
    presets = for_agency(agency.id)
    starts: list[tuple[Case, dict[str, Any]]] = []
    for case in cases:
        noticed = case.opened_at or now
        for preset in presets:
            if not preset.applies_to(case):
                continue
            due = clocks.due_after(agency, noticed, preset.amount, preset.unit)
            starts.append((case, dict(
                kind=preset.kind, title=preset.title, due_at=due, source="notice",
                clock_name=preset.clock, business_days=preset.unit == "business_days",
                preset_id=preset.id, lead_hours=preset.lead_hours,
                say=f"Deadline from the agency's presets: {preset.title}, due {clocks.agency_time(agency, due)}")))
        days = notice_days(case.amazon_notice)
        if days is not None:
            due = clocks.due_after(agency, noticed, days, "days")
            starts.append((case, dict(
                kind="amazon_reply_due", title=f"Amazon's notice: provide within {days} days",
                due_at=due, source="notice",
                say=f"Deadline from Amazon's notice (\u201cwithin {days} days\u201d): due "
                    f"{clocks.agency_time(agency, due)}")))
    started = clocks.start_all(starts, actor, now)
    if started:
        clocks.refresh_next(list({case.id: case for case, _ in starts}.values()))  # once for all of them
    return started


@transactional
def open_case(actor: User, data: dict[str, Any], now: datetime | None = None) -> Case:
    """Open a case (services/cases/records.py) with the deadlines its presets give it: what
    the case form, the API and the demo call."""
    case = records.create_case(actor, data)
    apply_to_new_case(case, actor, now)
    return case


@transactional
def open_cases(actor: User, rows: list[dict[str, Any]], now: datetime | None = None) -> list[Case]:
    """`open_case` for each of `rows`, in a few flushes however many rows (an import's batch)."""
    cases = records.create_cases(actor, rows)
    apply_to_new_cases(cases, actor, now)
    return cases


# ---- the presets page --------------------------------------------------------------------------

def _clean_row(index: int, row: dict[str, Any], errors: dict[str, str]) -> DeadlinePreset | None:
    def bad(field: str, message: str) -> None:
        errors[f"presets-{index}-{field}"] = message

    kind = row.get("kind")
    if kind not in DEADLINE_KINDS or kind == clocks.FOLLOW_UP:
        bad("kind", "Choose a kind of deadline (the follow-up with Amazon needs no preset).")
    title = (row.get("title") or "").strip() if isinstance(row.get("title"), str) else ""
    if not title:
        title = clocks.KIND_LABELS.get(kind, "Deadline")
    if len(title) > clocks.TITLE_LIMIT:
        bad("title", f"At most {clocks.TITLE_LIMIT} characters.")
    unit = row.get("unit")
    if unit not in PRESET_UNITS:
        bad("unit", "Hours, days or business days.")
    amount = row.get("amount")
    try:
        amount = int(str(amount).strip())
    except (TypeError, ValueError):
        amount = None
    if amount is None or amount < 1 or (unit in MAX_AMOUNT and amount > MAX_AMOUNT[unit]):
        bad("amount", f"A whole number from 1 to {MAX_AMOUNT.get(unit, 365)}.")
    clock = row.get("clock") or ("amazon" if kind in clocks.AMAZON_KINDS else "agency")
    if clock not in CLOCKS:
        bad("clock", "Amazon's clock or the agency's.")
    elif clock == "amazon" and unit == "business_days":
        bad("unit", "Amazon's clocks count calendar time: choose hours or days.")
    case_kind = row.get("case_kind") or None
    if case_kind is not None and case_kind not in KINDS:
        bad("case_kind", "Choose a kind of case, or any.")
    reason = row.get("reason") or None
    if reason is not None and reason not in REASONS:
        bad("reason", "Choose a reason, or any.")
    leads = (row.get("lead_hours") or "").strip() if isinstance(row.get("lead_hours"), str) else ""
    if leads and (not re.fullmatch(r"\d{1,4}(\s*,\s*\d{1,4})*", leads) or not clocks.lead_hours(leads)):
        bad("lead_hours", "Hours before it is due, separated by commas, e.g. 72, 24; empty for the agency's.")
    if any(key.startswith(f"presets-{index}-") for key in errors):
        return None
    return DeadlinePreset(kind=kind, title=title, amount=amount, unit=unit, clock=clock,
                          case_kind=case_kind, reason=reason,
                          lead_hours=",".join(map(str, clocks.lead_hours(leads))) or None,
                          active=bool(row.get("active", True)), position=index)


@transactional
def save(actor: User, rows: list[dict[str, Any]]) -> list[Preset]:
    """Replace the agency's presets with `rows` (admins only); every bad field is named at once,
    `presets-<index>-<field>`, and nothing is saved then."""
    roles.require_admin(actor)
    if len(rows) > MAX_PRESETS:
        raise ValidationFailed({"presets": f"At most {MAX_PRESETS} presets."})
    if not rows:
        # No saved rows means the shipped defaults: an empty list would bring them back.
        raise ValidationFailed({"presets": "Keep at least one preset. To give new cases no deadlines, "
                                           "untick Active on each instead of removing them all."})
    errors: dict[str, str] = {}
    cleaned = [_clean_row(i, row, errors) for i, row in enumerate(rows)]
    if errors:
        raise ValidationFailed(errors)
    db.session.execute(delete(DeadlinePreset).where(DeadlinePreset.agency_id == actor.agency_id))
    for preset in cleaned:
        preset.agency_id = actor.agency_id
        db.session.add(preset)
    audit.record("settings_change", actor, "deadline presets", f"{len(cleaned)} deadline presets saved")
    db.session.flush()
    return for_agency(actor.agency_id)


@transactional
def restore_defaults(actor: User) -> list[Preset]:
    """Drop the agency's own presets (admins only): new cases get the shipped DEFAULTS again,
    and follow caseapp's defaults when they change."""
    roles.require_admin(actor)
    dropped = db.session.execute(delete(DeadlinePreset).where(DeadlinePreset.agency_id == actor.agency_id))
    audit.record("settings_change", actor, "deadline presets",
                 f"shipped defaults restored ({dropped.rowcount} own presets removed)")
    db.session.flush()
    return list(DEFAULTS)
