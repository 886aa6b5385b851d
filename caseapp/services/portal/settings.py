"""The agency's portal settings: its client quiet hours.

No reminder mail goes to a client between `client_quiet_start` and `client_quiet_end` (HH:MM,
24-hour, in the agency's time zone; a start later than the end spans midnight, as 20:00 to
08:00 does): the reminder waits in the outbox until they end (reminders.quiet_end).
"""
from __future__ import annotations

import re
from typing import Any

from caseapp.core.errors import ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import Agency, User
from caseapp.services.accounts import audit, roles

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits: reminders.quiet_end parses it
CLOCK_HELP = "Use a 24-hour time such as 20:00."


def _clock(value: Any) -> str | None:
    """"8:00" and " 08:00 " are 08:00; None for anything that is no time of day."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]:[0-5][0-9]", value):
        value = "0" + value
    return value if _CLOCK.fullmatch(value) else None


@transactional
def update_client_quiet_hours(actor: User, start: Any, end: Any) -> Agency:
    """Set when no reminder mail goes to the agency's clients (admins only). Both fields are
    named at once when wrong; the hours must end at another time than they start."""
    roles.require_admin(actor)
    errors: dict[str, str] = {}
    clean_start, clean_end = _clock(start), _clock(end)
    if clean_start is None:
        errors["client_quiet_start"] = CLOCK_HELP
    if clean_end is None:
        errors["client_quiet_end"] = CLOCK_HELP
    if not errors and clean_start == clean_end:
        errors["client_quiet_end"] = "Quiet hours must end at another time than they start."
    if errors:
        raise ValidationFailed(errors)
    agency = db.session.get(Agency, actor.agency_id)
    before = (agency.client_quiet_start, agency.client_quiet_end)
    agency.client_quiet_start, agency.client_quiet_end = clean_start, clean_end
    if before != (clean_start, clean_end):
        audit.record("settings_change", actor, "client quiet hours",
                     f"no reminders to clients from {clean_start} to {clean_end} ({agency.timezone})")
    db.session.flush()
    return agency
