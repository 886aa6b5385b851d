"""Time zone names and conversions for display in the viewer's own zone."""
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@lru_cache(maxsize=1)
def all_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def is_valid(name: str) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def to_local(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz_name))


def format_local(moment: datetime | None, tz_name: str, with_zone: bool = True) -> str:
    if moment is None:
        return ""
    local = to_local(moment, tz_name)
    text = local.strftime("%d %b %Y, %H:%M")
    return f"{text} {local.tzname()}" if with_zone else text
