"""Ids as they arrive from forms and JSON: anything that is not a storable id is no id."""
from typing import Any

MAX_ID = 2**31 - 1  # an INTEGER column on PostgreSQL


def parse_id(value: Any) -> int | None:
    """The id in `value` (int, or digits as text), or None when it cannot name a row."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            return None
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= MAX_ID:
        return None
    return value
