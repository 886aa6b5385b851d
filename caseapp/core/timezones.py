"""Time zone names and conversions for display in the viewer's own zone."""
from datetime import datetime
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
