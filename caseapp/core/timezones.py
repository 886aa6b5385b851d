"""Time zone names and conversions for display in the viewer's own zone."""
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones


@lru_cache(maxsize=1)
def all_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid(name: str) -> bool:
    """A zone the tz database knows. Looked up in its list, never opened as a file by the
    name given: a name of 10,000 characters made ZoneInfo fail with "file name too long"."""
    return isinstance(name, str) and name in _known()


def to_local(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz_name))


def format_local(moment: datetime | None, tz_name: str, with_zone: bool = True) -> str:
    if moment is None:
        return ""
    local = to_local(moment, tz_name)
    text = local.strftime("%d %b %Y, %H:%M")
    return f"{text} {local.tzname()}" if with_zone else text


def quiet_until(now: datetime, tz_name: str, start: str, end: str) -> datetime:
    """`now`, or the end of the quiet hours from `start` to `end` (HH:MM, local in `tz_name`,
    across midnight when `start` is later) when `now` falls inside them."""
    zone = ZoneInfo(tz_name or "UTC")
    local = now.astimezone(zone)
    begins, ends = time.fromisoformat(start), time.fromisoformat(end)
    t = local.time()
    inside = (begins <= t or t < ends) if begins > ends else (begins <= t < ends)
    if not inside:
        return now
    end_day = local.date() if t < ends else local.date() + timedelta(days=1)
    return datetime.combine(end_day, ends, zone).astimezone(now.tzinfo)
