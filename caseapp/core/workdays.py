"""The agency's calendar: working days, public holidays, and clocks counted in business time.

Business time runs on the agency's local wall clock, whole working days from midnight to
midnight, each 86,400 wall-clock seconds long. So "5 business days from Friday 15:00" ends
the next Friday at 15:00 local time even when a DST change falls in between, as a person
reading the office calendar would count it; weekends and public holidays add nothing.

A wall time turned back into a moment is resolved the way zoneinfo does with fold=0: a time
the clock skips (spring forward, 02:30 on 29 Mar 2026 in Berlin) lands as many minutes after
the jump (03:30 CEST); a time the clock shows twice (fall back) is its first occurrence,
unless that is earlier than the start, then its second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from caseapp.core import timezones

MAX_SPAN_DAYS = 3660  # about ten years: the furthest a clock may run, so no input loops for long
DAY_US = 86_400 * 1_000_000
SEPARATORS = ", "


@dataclass(frozen=True)
class Calendar:
    """An agency's week and holidays. Raises ValueError for an unknown zone, country or
    subdivision; `working_days` is normalised ("71234" becomes "12347")."""
    timezone: str
    country: str = ""
    subdivision: str = ""
    working_days: str = "12345"

    def __post_init__(self):
        if not timezones.is_valid(self.timezone):
            raise ValueError(f"Unknown time zone {self.timezone!r:.60}.")
        if self.country != "" and not is_valid_country(self.country):
            raise ValueError(f"No public holidays are known for country {self.country!r:.60}.")
        if not is_valid_subdivision(self.country, self.subdivision):
            raise ValueError(f"Unknown subdivision {self.subdivision!r:.60} of {self.country or 'no country'}.")
        object.__setattr__(self, "working_days", parse_working_days(self.working_days))

    def is_working_day(self, day: date) -> bool:
        return str(day.isoweekday()) in self.working_days and self.holiday_name(day) is None

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name ("; " between two on one day), or None."""
        if not self.country:
            return None
        return _holidays(self.country, self.subdivision, day.year).get(day)


@lru_cache(maxsize=512)
def _holidays(country: str, subdivision: str, year: int) -> holidays.HolidayBase:
    # expand=False: a lookup outside `year` never grows the cached object.
    return holidays.country_holidays(country, subdiv=subdivision or None, years=year, expand=False)


def add_business_time(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The moment `seconds` of business time after `start`, in UTC. From a non-working day
    the count starts at the next working day's midnight; 0 seconds gives `start` itself.
    A clock that ends exactly at a working day's end ends at the following midnight.
    Raises ValueError for a naive start, negative or non-finite seconds, or a span beyond
    MAX_SPAN_DAYS."""
    _require_aware(start)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) \
            or seconds < 0:
        raise ValueError("Business time must be a finite number of seconds, 0 or more.")
    if seconds > MAX_SPAN_DAYS * 86_400:
        raise ValueError(f"A clock may run at most {MAX_SPAN_DAYS} days.")
    try:
        return _add(cal, start.astimezone(timezone.utc), seconds)
    except OverflowError:
        raise ValueError("The clock runs past the end of the calendar.") from None


def _add(cal: Calendar, start: datetime, seconds: float) -> datetime:
    if seconds == 0:
        return start
    zone = ZoneInfo(cal.timezone)
    wall = start.astimezone(zone).replace(tzinfo=None)
    day, into_day = wall.date(), _microseconds(wall - datetime.combine(wall.date(), time()))
    left = round(seconds * 1_000_000)
    for _ in range(MAX_SPAN_DAYS + 1):
        if cal.is_working_day(day):
            if left <= DAY_US - into_day:
                end_wall = datetime.combine(day, time()) + timedelta(microseconds=into_day + left)
                return _to_utc(end_wall, zone, not_before=start)
            left -= DAY_US - into_day
        day, into_day = _next_day(day), 0
    raise ValueError(f"A clock may run at most {MAX_SPAN_DAYS} days.")


def add_business_days(cal: Calendar, start: datetime, days: int) -> datetime:
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError("Business days must be a whole number.")
    return add_business_time(cal, start, days * 86_400)


def business_seconds_between(cal: Calendar, start: datetime, end: datetime) -> float:
    """Wall-clock seconds of working days from `start` to `end` (0 when end <= start); the
    inverse of add_business_time. Raises ValueError for naive moments or a span beyond
    MAX_SPAN_DAYS."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        return 0.0
    try:
        return _between(cal, start, end)
    except OverflowError:
        raise ValueError("The clock runs past the end of the calendar.") from None


def _between(cal: Calendar, start: datetime, end: datetime) -> float:
    zone = ZoneInfo(cal.timezone)
    first = start.astimezone(zone).replace(tzinfo=None)
    last = end.astimezone(zone).replace(tzinfo=None)
    if (last.date() - first.date()).days > MAX_SPAN_DAYS:
        raise ValueError(f"A clock may run at most {MAX_SPAN_DAYS} days.")
    total, day = 0, first.date()
    while day <= last.date():
        if cal.is_working_day(day):
            midnight = datetime.combine(day, time())
            counted = min(last, midnight + timedelta(days=1)) - max(first, midnight)
            total += max(0, _microseconds(counted))  # the wall clock runs back in a repeated hour
        day = _next_day(day)
    return total / 1_000_000


def countries() -> list[tuple[str, str]]:
    """(ISO code, English name) of every country with public holidays, sorted by name."""
    return list(_countries())


@lru_cache(maxsize=1)
def _countries() -> tuple[tuple[str, str], ...]:
    found = []
    for code in holidays.list_supported_countries(include_aliases=False):
        kind = type(holidays.country_holidays(code, years=[]))
        # The class's docstring opens with its name: "Bonaire, Sint Eustatius and Saba holidays."
        name = next((line for line in (_first_line(k.__doc__) for k in kind.__mro__) if line.endswith(" holidays.")),
                    f"{code} holidays.")
        found.append((code, name.removesuffix(" holidays.").removesuffix(" (the)")))
    return tuple(sorted(found, key=lambda pair: pair[1]))


@lru_cache(maxsize=1)
def _subdivisions() -> dict[str, frozenset[str]]:
    return {code: frozenset(subdivisions)
            for code, subdivisions in holidays.list_supported_countries(include_aliases=False).items()}


def is_valid_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code from countries(), exactly as written there (GB, not UK or gb)."""
    return isinstance(code, str) and code in _subdivisions()


def is_valid_subdivision(country: str, subdivision: str) -> bool:
    """"" goes with any country (or none); else one of the country's subdivision codes (US: CA)."""
    if not isinstance(subdivision, str) or not isinstance(country, str):
        return False
    if subdivision == "":
        return country == "" or is_valid_country(country)
    return subdivision in _subdivisions().get(country, ())


def parse_working_days(text: str) -> str:
    """ISO weekday digits, 1 (Monday) to 7 (Sunday), as "12345" or "1,2,3,4,5", sorted and
    without repeats. Raises ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError("Working days must be text such as 12345.")
    digits = set()
    for char in text:
        if char in "1234567":
            digits.add(char)
        elif char not in SEPARATORS:
            raise ValueError(f"Working days are weekday numbers 1 (Monday) to 7 (Sunday), not {char!r}.")
    if not digits:
        raise ValueError("Choose at least one working day (1 = Monday … 7 = Sunday).")
    return "".join(sorted(digits))


def _to_utc(wall: datetime, zone: ZoneInfo, not_before: datetime) -> datetime:
    moment = wall.replace(tzinfo=zone).astimezone(timezone.utc)  # fold=0
    if moment < not_before:  # the repeated hour: the wall time's second occurrence
        moment = wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    return moment


def _next_day(day: date) -> date:
    return day + timedelta(days=1)  # OverflowError after date.max


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


def _require_aware(moment: datetime):
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError("A moment must be a timezone-aware datetime.")
