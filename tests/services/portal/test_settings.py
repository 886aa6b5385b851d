"""The agency's client quiet hours (services/portal/settings.py): what an admin may set, and
that a reminder to the client falling inside them waits until they end."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from caseapp.core.errors import Forbidden, ValidationFailed
from caseapp.extensions import db
from caseapp.models import Agency, AuditEvent, OutboxMessage
from caseapp.services.deadlines import presets
from caseapp.services.portal import reminders, requests, settings

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)  # 15:00 in Berlin (agency A)
# Due 23:30 in Berlin: its 48-hours-ahead reminder point, 23 Nov 23:30 Berlin, is at night.
DUE = datetime(2026, 11, 25, 22, 30, tzinfo=timezone.utc)


@pytest.fixture
def case(world):
    world.client_a.contact_email = "seller@example.com"
    db.session.commit()
    return presets.open_case(world.consultant_a, {
        "client_id": world.client_a.id, "title": "Counterfeit complaint", "kind": "account_suspension",
        "reason": "policy_violation", "asins": ["B07XJ8C8F5"], "opened_at": NOW,
        "assignee_id": world.consultant_a.id}, now=NOW)


@pytest.mark.parametrize("start, end, wrong", [
    ("25:00", "08:00", {"client_quiet_start"}),
    ("20:00", "8 am", {"client_quiet_end"}),
    ("", None, {"client_quiet_start", "client_quiet_end"}),
    ("２０:００", "08:00", {"client_quiet_start"}),  # digits the reminders could not parse
    ("20:00", "20:00", {"client_quiet_end"}),
])
def test_bad_quiet_hours_are_named_and_nothing_changes(world, start, end, wrong):
    with pytest.raises(ValidationFailed) as refused:
        settings.update_client_quiet_hours(world.admin_a, start, end)
    assert set(refused.value.fields) == wrong
    agency = db.session.get(Agency, world.agency_a.id)
    assert (agency.client_quiet_start, agency.client_quiet_end) == ("20:00", "08:00")


def test_quiet_hours_are_saved_tidied_and_audited_by_an_admin_only(world):
    with pytest.raises(Forbidden):
        settings.update_client_quiet_hours(world.consultant_a, "21:00", "07:00")
    agency = settings.update_client_quiet_hours(world.admin_a, " 21:30", "7:00")
    assert (agency.client_quiet_start, agency.client_quiet_end) == ("21:30", "07:00")
    assert db.session.get(Agency, world.agency_b.id).client_quiet_start == "20:00"  # another agency's
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.kind == "settings_change"))
    assert event.target == "client quiet hours" and "21:30 to 07:00" in event.detail


def _reminder_at(world, case, moment):
    opened = requests.open_request(world.consultant_a, case.id, {"checklist": "authenticity",
                                                                 "due_at": DUE.isoformat()}, now=NOW)
    assert opened.request.next_client_reminder_at == DUE - timedelta(hours=48)
    assert reminders.dispatch_due(moment) == 1
    return db.session.scalar(db.select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"portal:reminder:{opened.request.id}:1"))


def test_a_reminder_due_in_the_agency_quiet_hours_waits_for_their_end(world, case):
    settings.update_client_quiet_hours(world.admin_a, "22:00", "07:30")
    moment = DUE - timedelta(hours=47)  # 24 Nov 00:30 in Berlin
    mail = _reminder_at(world, case, moment)
    send_after = mail.send_after.replace(tzinfo=timezone.utc) if mail.send_after.tzinfo is None else mail.send_after
    # 07:30 in Berlin (UTC+1 in November), the agency's own end, not the default 08:00.
    assert send_after == datetime(2026, 11, 24, 6, 30, tzinfo=timezone.utc)


def test_a_reminder_outside_the_quiet_hours_goes_at_once(world, case):
    settings.update_client_quiet_hours(world.admin_a, "01:00", "06:00")
    moment = DUE - timedelta(hours=47)  # 00:30 in Berlin: quiet under the default 20:00-08:00, not here
    mail = _reminder_at(world, case, moment)
    send_after = mail.send_after.replace(tzinfo=timezone.utc) if mail.send_after.tzinfo is None else mail.send_after
    assert send_after == moment


def test_quiet_end_reads_the_agency_hours_across_midnight_and_within_a_day(world):
    agency = db.session.get(Agency, world.agency_a.id)
    agency.client_quiet_start, agency.client_quiet_end = "22:00", "07:30"
    night = datetime(2026, 11, 23, 22, 30, tzinfo=timezone.utc)  # 23:30 Berlin
    assert reminders.quiet_end(agency, night) == datetime(2026, 11, 24, 6, 30, tzinfo=timezone.utc)
    afternoon = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
    assert reminders.quiet_end(agency, afternoon) == afternoon
    agency.client_quiet_start, agency.client_quiet_end = "12:00", "14:00"  # a quiet lunch, same day
    lunch = datetime(2026, 11, 23, 11, 30, tzinfo=timezone.utc)  # 12:30 Berlin
    assert reminders.quiet_end(agency, lunch) == datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc)
