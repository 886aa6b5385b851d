"""While Amazon's mail waits to be recorded, the follow-up reminders, escalations and the
digest say Amazon wrote on that day instead of calling Amazon silent; recording or
dismissing the mail brings the ordinary wording (or no reminder) back."""
from datetime import datetime, timedelta, timezone

import pytest

from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.models import Case
from caseapp.services.accounts import people
from caseapp.services.appeals import dispatch, followups, submissions
from caseapp.services.inbound import amazon, filing
from tests.conftest import make_case
from tests.services.inbound.conftest import mail

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
WROTE = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)  # 10:30 in Berlin


@pytest.fixture(autouse=True)
def inbound_address(app):
    app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    yield
    app.config["INBOUND_ADDRESS"] = ""


def submit(world, case=None, hours_ago=49):
    case = case or world.case_a
    return submissions.record_submission(
        world.consultant_a, case.id,
        {"submitted_at": NOW - timedelta(hours=hours_ago), "channel": "account_health_appeal"}, now=NOW)


def amazon_writes(case, text="Thank you for your appeal. Your account has been reinstated.", n=1):
    return filing.receive(mail(to=mailtags.case_address(case.id), message_id=f"<w{case.id}-{n}@amazon.com>",
                               subject="Your Account Health appeal", text=text, date=WROTE),
                          now=NOW - timedelta(hours=4)).message


def bodies(message):
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


@pytest.fixture
def berlin(world):
    people.update_own_profile(world.consultant_a, "Carl Consultant", "Europe/Berlin")


def test_the_reminder_says_amazon_wrote_and_the_reply_waits(world, smtp_server, berlin):
    submit(world)
    row = amazon_writes(world.case_a)
    assert db.session.get(Case, world.case_a.id).amazon_wrote_at == WROTE
    assert dispatch.run_pass(NOW).sent == 1
    (sent,) = smtp_server.mailbox.messages
    text, html = bodies(sent)
    assert "Amazon wrote on 20 Nov 2026, 10:30 CET; the reply waits to be recorded." in text
    assert "Amazon wrote: 20 Nov 2026, 10:30 CET (not yet recorded)" in text
    assert "Amazon wrote on <strong>20 Nov 2026, 10:30 CET</strong>; the reply waits to be recorded" in html
    for said in (text, html, sent["Subject"]):
        assert "silent" not in said.lower()
    assert sent["Subject"].startswith("Record Amazon's reply: Harbor Lane Home Goods, Account suspended "
                                      "(Amazon wrote on 20 Nov 2026, 10:30 CET)")

    # One click records it: the follow-ups stop, nothing more is sent.
    amazon.confirm(world.consultant_a, row.id, now=NOW + timedelta(minutes=5))
    assert followups.pending_for_case(world.case_a.id) == []
    assert dispatch.run_pass(NOW + timedelta(hours=30)).sent == 0


def test_a_dismissed_mail_brings_silent_back(world, smtp_server, berlin):
    submit(world)
    row = amazon_writes(world.case_a, text="Selling tips for the holidays: our newsletter.")
    amazon.dismiss(world.consultant_a, row.id, now=NOW - timedelta(hours=1))
    assert db.session.get(Case, world.case_a.id).amazon_wrote_at is None
    dispatch.run_pass(NOW)
    (sent,) = smtp_server.mailbox.messages
    text, _ = bodies(sent)
    assert "Amazon has been silent on this case for 49 hours" in text and "Amazon wrote" not in text
    assert "(silent 49 h)" in sent["Subject"]


def test_an_escalation_says_so_too(world, smtp_server, berlin):
    submit(world, hours_ago=24 * 6)
    for _ in range(4):  # run the reminders up to the escalation
        (pending,) = followups.pending_for_case(world.case_a.id)
        if pending.sequence >= 3:
            break
        dispatch.run_pass(max(NOW, pending.due_at))
    (pending,) = followups.pending_for_case(world.case_a.id)
    smtp_server.mailbox.messages.clear()
    amazon_writes(world.case_a, text="We reviewed the documents you sent.")
    dispatch.run_pass(max(NOW, pending.due_at) + timedelta(minutes=1))
    escalations = [m for m in smtp_server.mailbox.messages if m["Subject"].startswith("Escalation:")]
    reminders = [m for m in smtp_server.mailbox.messages if not m["Subject"].startswith("Escalation:")]
    assert escalations and reminders
    assert ("Amazon wrote on 20 Nov 2026, 10:30 CET, and its reply still waits to be recorded after "
            "3 follow-up reminders") in bodies(escalations[0])[0]
    assert "Amazon wrote on 20 Nov 2026, 10:30 CET; the reply waits to be recorded." in bodies(reminders[0])[0]
    for sent in smtp_server.mailbox.messages:
        text, html = bodies(sent)
        assert "silent" not in (text + html + sent["Subject"]).lower() and "has not answered" not in text


def test_the_digest_says_amazon_wrote_for_that_case_only(world, smtp_server, berlin):
    person = world.consultant_a
    person.notify_each_reminder, person.notify_daily_digest = False, True
    db.session.commit()
    other = make_case(person, world.client_a, title="Second case")
    submit(world, hours_ago=60)
    submit(world, case=other, hours_ago=10)
    amazon_writes(world.case_a)
    eight = datetime(2026, 11, 21, 7, 30, tzinfo=timezone.utc)  # 08:30 Berlin
    assert dispatch.run_pass(eight).sent == 1
    (digest,) = smtp_server.mailbox.messages
    text, html = bodies(digest)
    first, second = text.split("Second case")
    assert "Amazon wrote on 20 Nov 2026, 10:30 CET: the reply waits to be recorded" in first
    assert "Follow-up 1 fell due 20 Nov 2026, 03:00 CET: record Amazon's reply on the case" in first
    assert "silent for" not in first and "follow up with Amazon now" not in first
    assert "silent for 27 hours" in second
    assert "<strong>Amazon wrote on 20 Nov 2026, 10:30 CET</strong>" in html
