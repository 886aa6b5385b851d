"""Shared fixtures of the inbound mail tests: an inbound address, and mail built as a mail
client would send it."""
from __future__ import annotations

from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from caseapp.extensions import db
from tests.services.portal.conftest import NOW, PDF

__all__ = ["NOW", "PDF", "mail"]


@pytest.fixture(autouse=True)
def inbound_address(app):
    app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    yield
    app.config["INBOUND_ADDRESS"] = ""


def mail(to="cases@agency.example", sender="Seller Performance <seller-performance@amazon.com>",
         subject="Your appeal", text="Dear seller, thank you.", message_id="<m1@amazon.com>",
         attachments=(), html=None, headers=None, date=None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message["Date"] = format_datetime(date or datetime.now(timezone.utc))
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, data, kind in attachments:
        main, sub = kind.split("/")
        message.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return message.as_bytes()


@pytest.fixture
def submitted(world):
    """Case A submitted to Amazon with a reference, its client with a contact email."""
    from caseapp.services.appeals import submissions

    world.client_a.contact_email = "owner@harbor-lane.example"
    db.session.commit()
    return submissions.record_submission(world.consultant_a, world.case_a.id,
                                         {"amazon_reference": "CASE-998877"})
