"""The agency's calendar and reminder defaults: public holidays by country (and subdivision),
working days, and the hours before a deadline its reminders go (DESIGN.md, "Deadlines").

Business-day clocks started after a change count on the new calendar; a running clock keeps
its due time until it is paused and resumed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from caseapp.core import workdays
from caseapp.core.errors import ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.models import Agency, User, utcnow
from caseapp.services.accounts import audit, roles
from caseapp.extensions import db
from caseapp.services.deadlines import clocks

MAX_LEAD_HOURS = 24 * 90
MAX_LEADS = 5
PREVIEW_HORIZON_DAYS = 400  # how far ahead the preview looks for holidays: a bounded loop
WEEKDAYS = (("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"), ("7", "Sun"))
_LEADS = re.compile(r"\s*\d{1,4}\s*(,\s*\d{1,4}\s*)*")


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str


def upcoming_holidays(agency: Agency, today: date | None = None, count: int = 5) -> list[Holiday]:
    """The next `count` public holidays of the agency's calendar from `today` (its own zone),
    looking at most PREVIEW_HORIZON_DAYS ahead; empty without a country."""
    if not agency.country:
        return []
    today = today or utcnow().astimezone(ZoneInfo(agency.timezone)).date()
    cal = clocks.calendar_of(agency)
    found = []
    for offset in range(PREVIEW_HORIZON_DAYS):
        day = today + timedelta(days=offset)
        name = cal.holiday_name(day)
        if name:
            found.append(Holiday(day, name))
            if len(found) == count:
                break
    return found


def subdivisions(country: str) -> list[str]:
    """The subdivision codes the holidays package knows for `country` (sorted; empty if none)."""
    if not workdays.is_valid_country(country):
        return []
    return sorted(holidays.list_supported_countries(include_aliases=False).get(country, ()))


def _working_days(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return workdays.parse_working_days(value if isinstance(value, str) else "")


def parse_lead_hours(text: str) -> list[int]:
    """"72, 24" -> [72, 24]. Raises ValueError with a sentence for the person."""
    text = (text or "").strip()
    if not text:
        return []
    if not _LEADS.fullmatch(text):
        raise ValueError("Whole hours separated by commas, e.g. 72, 24.")
    hours = [int(part) for part in text.split(",")]
    if any(not 1 <= h <= MAX_LEAD_HOURS for h in hours):
        raise ValueError(f"Each value is a whole number of hours from 1 to {MAX_LEAD_HOURS} (90 days).")
    if len(set(hours)) > MAX_LEADS:
        raise ValueError(f"At most {MAX_LEADS} reminders before a deadline.")
    return sorted(set(hours), reverse=True)


@transactional
def update_calendar(actor: User, data: dict[str, Any]) -> Agency:
    """Set the agency's holiday country and subdivision, working days and default reminder
    lead hours (admins only). `data`: country ("" none), subdivision, working_days ("12345"
    or a list of ISO weekday digits), deadline_lead_hours ("72, 24"). Every bad field is
    named at once and nothing is saved then."""
    roles.require_admin(actor)
    errors: dict[str, str] = {}
    country = data.get("country") or ""
    country = country.strip().upper() if isinstance(country, str) else None
    if country is None or (country and not workdays.is_valid_country(country)):
        errors["country"] = "Choose a country from the list, or none."
        country = ""
    subdivision = data.get("subdivision") or ""
    subdivision = subdivision.strip() if isinstance(subdivision, str) else ""
    if subdivision and not workdays.is_valid_subdivision(country, subdivision):
        known = {code.lower(): code for code in subdivisions(country)}
        if subdivision.lower() in known:
            subdivision = known[subdivision.lower()]  # "by" is Bavaria's BY
        elif "country" in errors:
            pass  # the country's own message says it
        elif not country:
            errors["subdivision"] = "A subdivision needs a country: choose one, or leave this empty."
        elif not known:
            errors["subdivision"] = f"{country} has no subdivisions with their own holidays: leave this empty."
        else:
            codes = sorted(known.values())
            listed = ", ".join(codes[:40]) + (" …" if len(codes) > 40 else "")
            errors["subdivision"] = (f"“{subdivision[:20]}” is not a subdivision of {country}. "
                                     f"Use one of {listed}; or leave it empty for the national holidays.")
    try:
        working_days = _working_days(data.get("working_days", ""))
    except ValueError:
        errors["working_days"] = "Tick at least one working day."
    try:
        leads = parse_lead_hours(data.get("deadline_lead_hours") or "")
    except ValueError as error:
        errors["deadline_lead_hours"] = str(error)
    if errors:
        raise ValidationFailed(errors)
    agency = db.session.get(Agency, actor.agency_id)
    before = (agency.country, agency.subdivision, agency.working_days, agency.deadline_lead_hours)
    agency.country, agency.subdivision, agency.working_days = country, subdivision, working_days
    agency.deadline_lead_hours = ",".join(map(str, leads))
    after = (agency.country, agency.subdivision, agency.working_days, agency.deadline_lead_hours)
    if after != before:
        audit.record("settings_change", actor, "agency calendar",
                     "holidays {} {}, working days {}, reminders {} h before a deadline".format(
                         country or "none", subdivision, working_days, agency.deadline_lead_hours or "none"))
    db.session.flush()
    return agency
