"""Every link caseapp mails or feeds leads to a page of the app: each kind of mail and the
calendar feed are made for real, every link is taken out of what went on the wire, and
each one is resolved against the app's URL map. A route renamed or moved without its links
following fails here (a link built by hand, or an endpoint that no longer exists)."""
from __future__ import annotations

import html as html_lib
import io
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import time_machine
from icalendar import Calendar
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import MethodNotAllowed, NotFound

from caseapp.extensions import db
from caseapp.models import OutboxMessage, User
from caseapp.services.accounts import invitations, passwords
from caseapp.services.appeals import calendar_feed, dispatch, submissions
from caseapp.core.transaction import transaction
from caseapp.services.deadlines import clocks
from caseapp.services.portal import client as portal_client
from caseapp.services.portal import requests as portal_requests
from tests.conftest import make_case
from caseapp.services.mail import kinds, problems
from caseapp.services.mail.links import PLACEHOLDER

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)  # 15:00 in Berlin: digests go out
LINK_RE = re.compile(r"https?://[^\s\"'<>]+")

# What each kind's links lead to; a kind registered without an entry here fails the test
# until someone says where its links go.
EXPECTED = {
    "reminder": {"cases.detail", "submissions.act_from_email"},
    "escalation": {"cases.detail", "submissions.act_from_email"},
    "digest": {"cases.detail"},
    "password_reset": {"auth.reset_password"},
    "invitation": {"invitations.accept"},
    "mail_problem": {"admin.outbox"},
    "deadline": {"cases.detail", "days.my_day"},
    "deadline_notice": {"cases.detail", "days.my_day"},
    "portal": {"portal.home"},
    "portal_notice": {"cases.detail"},
}


def links_in(text: str) -> list[str]:
    return [html_lib.unescape(link).rstrip(".,)") for link in LINK_RE.findall(text)]


def resolve(app, link: str) -> str:
    """The endpoint `link` leads to; fails the test when it leads nowhere in this app."""
    base = urlsplit(app.config["APP_BASE_URL"])
    parts = urlsplit(link)
    prefix = base.path.rstrip("/")
    assert (parts.scheme, parts.netloc) == (base.scheme, base.netloc), link
    assert parts.path.startswith(prefix + "/"), link
    adapter = app.url_map.bind(base.netloc, script_name=prefix or "/", url_scheme=base.scheme)
    try:
        endpoint, _values = adapter.match(parts.path[len(prefix):], method="GET")
    except (NotFound, MethodNotAllowed) as exc:
        pytest.fail(f"{link} leads to no page of the app ({exc.__class__.__name__})")
    return endpoint


@pytest.fixture(params=["http://127.0.0.1:5000", "https://cases.agency.example/caseapp"])
def base_url(request, app):
    app.config["APP_BASE_URL"] = request.param
    return request.param


def make_every_kind(world) -> None:
    """A reminder, an escalation (the third follow-up), a digest, a password reset, an
    invitation (with its link, and to an address that has an account: without one) and the
    admins' mail about a mail problem."""
    consultant = db.session.get(User, world.consultant_a.id)
    consultant.notify_daily_digest = True  # and an email per reminder, as by default
    db.session.commit()
    submissions.record_submission(world.consultant_a, world.case_a.id, {
        "submitted_at": NOW - timedelta(hours=49), "channel": "account_health_appeal"}, now=NOW)
    passwords.request_reset(world.consultant_a.email, now=NOW)
    invitations.invite(world.admin_a, "new.person@agency-a.example", "New Person", "consultant", now=NOW)
    invitations.invite(world.admin_a, world.consultant_b.email, "Ben", "consultant", now=NOW)
    # A deadline whose 24-hours-before reminder falls due at the second pass, and an appeal
    # window that two rejections close early (its news to the assignee and the admins).
    clocks.add(world.consultant_a, world.case_a.id, {"title": "POA to the client",
                                                     "due_at": NOW + timedelta(days=2)}, now=NOW)
    appeal = make_case(world.consultant_a, world.client_a, title="Appeal case")
    clocks.add(world.consultant_a, appeal.id, {"kind": "appeal_window", "title": "Appeal window",
                                               "due_at": NOW + timedelta(days=17)}, now=NOW)
    for hours in (10, 5):
        sub = submissions.record_submission(world.consultant_a, appeal.id, {
            "submitted_at": NOW - timedelta(hours=hours), "channel": "account_health_appeal"}, now=NOW)
        submissions.record_response(world.consultant_a, sub.id, {"outcome": "rejected",
                                                                 "received_at": NOW}, now=NOW)
    # A document request mails the client its portal link; the client's upload tells the assignee.
    world.client_a.contact_email = "seller@client-a.example"
    db.session.commit()
    opened = portal_requests.open_request(world.consultant_a, world.case_a.id, {
        "checklist": "identity", "due_at": (NOW + timedelta(days=5)).isoformat()}, now=NOW)
    portal_client.upload(opened.portal_url.rsplit("/", 1)[1], opened.request.items[0].id,
                         [FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="id.pdf")], now=NOW)
    with transaction():  # the admins are mailed of a problem with the agency's mail
        problems.record(world.agency_a.id, "mail", "An email to x@agency-a.example failed.", NOW)
    moment = NOW
    for _ in range(3):
        dispatch.run_pass(moment)
        moment += timedelta(hours=24)


def test_every_link_in_mail_and_the_calendar_feed_resolves(app, world, smtp_server, base_url):
    make_every_kind(world)
    messages = list(db.session.scalars(select(OutboxMessage)))
    assert {m.kind for m in messages} == set(kinds.names()) == set(EXPECTED), \
        "a kind of mail this test does not make: add it to make_every_kind and EXPECTED"
    assert {m.status for m in messages} == {"sent"}
    kind_of = {m.idempotency_key: m.kind for m in messages}

    reached: dict[str, set[str]] = {kind: set() for kind in EXPECTED}
    for mail in smtp_server.mailbox.messages:
        kind = kind_of[mail["X-Caseapp-Key"]]
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert PLACEHOLDER not in text + html
        text_links, html_links = links_in(text), links_in(html)
        assert sorted(text_links) == sorted(html_links), "the two parts link to different places"
        for link in text_links:
            reached[kind].add(resolve(app, link))
    assert reached == EXPECTED

    token = calendar_feed.enable(world.consultant_a)
    feed_url = calendar_feed.feed_url(token)
    assert resolve(app, feed_url) == "submissions.calendar"
    events = list(Calendar.from_ical(calendar_feed.render(world.consultant_a)).walk("VEVENT"))
    assert events
    for event in events:
        feed_links = [str(event["url"])] + links_in(str(event["description"]))
        assert {resolve(app, link) for link in feed_links} == {"cases.detail"}


def test_the_links_open_their_pages(app, world, smtp_server, base_url):
    """Resolving is not enough for a link with a secret: the page behind it must accept it."""
    from tests.conftest import Browser

    prefix = urlsplit(base_url).path.rstrip("/")
    seen = set()
    with time_machine.travel(NOW, tick=False):  # signed and checked at one time: a reset lasts an hour
        make_every_kind(world)
        for mail in smtp_server.mailbox.messages:
            for link in links_in(mail.get_body(("plain",)).get_content()):
                path = urlsplit(link).path[len(prefix):]
                if path.startswith(("/cases/", "/admin/", "/my-day")) or path in seen:
                    continue  # these pages need a sign-in; tested with their pages
                seen.add(path)
                assert Browser(app).get(path).status_code == 200, link
    assert any(p.startswith("/reminders/act/") for p in seen)
    assert any(p.startswith("/password/reset/") for p in seen)
    assert any(p.startswith("/invitations/") for p in seen)
    assert any(p.startswith("/portal/") for p in seen)


def test_links_are_built_in_one_place():
    """Only core/urls.py reads APP_BASE_URL: a link glued together by hand elsewhere would
    still resolve today and silently break when its route moves."""
    from pathlib import Path

    import caseapp

    root = Path(caseapp.__file__).parent
    readers = sorted(str(path.relative_to(root)) for path in root.rglob("*.py")
                     if 'config["APP_BASE_URL"]' in path.read_text()
                     or "config['APP_BASE_URL']" in path.read_text()
                     or 'config.get("APP_BASE_URL"' in path.read_text())
    assert readers == ["core/urls.py"]
