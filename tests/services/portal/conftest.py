"""Shared fixtures of the portal service tests: a case with an assignee, a client with an
email address and an agency_sla clock (the policy_violation preset), and helpers."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.services.deadlines import presets
from caseapp.services.portal import requests

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)  # 15:00 in Berlin (agency A)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(name="invoice.pdf", extra=b""):
    return FileStorage(io.BytesIO(PDF + extra), filename=name, content_type="application/pdf")


def new_case(world, title="Counterfeit complaint", **fields):
    data = {"client_id": world.client_a.id, "title": title, "kind": "account_suspension",
            "reason": "policy_violation", "asins": ["B07XJ8C8F5"], "opened_at": NOW,
            "assignee_id": world.consultant_a.id}
    data.update(fields)
    return presets.open_case(world.consultant_a, data, now=NOW)


@pytest.fixture
def case(world):
    world.client_a.contact_email = "seller@example.com"
    db.session.commit()
    return new_case(world)


def ask(world, case, now=NOW, days=5, **data):
    """Open a request of two typed items (a file and an answer) unless told otherwise."""
    data.setdefault("items", [{"title": "Invoice", "instructions": "From 2026", "category": "invoice"},
                              {"title": "Supplier", "instructions": "Who?", "kind": "answer"}])
    data.setdefault("due_at", (now + timedelta(days=days)).isoformat())
    return requests.open_request(world.consultant_a, case.id, data, now=now)


def token_of(opened):
    return opened.portal_url.rsplit("/", 1)[1]
