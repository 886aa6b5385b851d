"""The outbox refuses what would break it: an unknown kind, delivery inside a unit of work.
(That one module writes its rows and mail imports no feature: tests/test_layers.py.)"""
from __future__ import annotations

import pytest

from caseapp.core.transaction import transaction
from caseapp.models import utcnow
from caseapp.services.appeals import dispatch
from caseapp.services.mail import delivery, kinds, outbox


def test_mail_of_a_kind_nobody_registered_cannot_be_queued(app, world):
    with pytest.raises(kinds.UnknownKind):
        outbox.queue("welcome", "new@agency-a.example", "Hello", "text", "<p>html</p>",
                     key="welcome:1", agency_id=world.agency_a.id, send_after=utcnow())


def test_delivery_refuses_to_run_inside_a_unit_of_work(app):
    """Its batch commits would save the caller's half-done work."""
    with pytest.raises(RuntimeError), transaction():
        delivery.deliver(utcnow(), dispatch.PassReport())
