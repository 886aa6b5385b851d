"""Deadlines in the daily digest: whoever chose the digest sees there the deadlines that need
them today, in their own time zone, with the one definition of overdue."""
from datetime import datetime, timedelta, timezone

from caseapp.extensions import db
from caseapp.services.appeals import digests, dispatch
from caseapp.services.deadlines import clocks
from tests.conftest import make_case, make_user
from tests.cost import statements

# 13:00 UTC is 08:00 in New York: the digest of a consultant who lives there goes now.
DIGEST = datetime(2026, 11, 20, 13, 0, tzinfo=timezone.utc)
CREATED = DIGEST - timedelta(days=10)


def add(actor, case, title, due_at, kind="custom"):
    return clocks.add(actor, case.id, {"title": title, "due_at": due_at, "kind": kind}, now=CREATED)


def digest_only(person, zone="America/New_York"):
    person.notify_each_reminder, person.notify_daily_digest = False, True
    person.timezone = zone
    db.session.commit()


def digest_text(smtp_server, person) -> tuple[str, str, str]:
    (mail,) = [m for m in smtp_server.mailbox.to(person.email) if m["X-Caseapp-Key"].startswith("digest:")]
    return (mail["Subject"], mail.get_body(("plain",)).get_content(),
            mail.get_body(("html",)).get_content())


def test_digest_lists_overdue_and_next_24_hours_deadlines_in_the_persons_zone(world, smtp_server):
    person = world.consultant_a
    digest_only(person)
    case = world.case_a
    other = make_case(person, world.client_a, title="Inventory case")
    add(person, case, "Appeal window", DIGEST - timedelta(hours=30), kind="appeal_window")
    add(person, other, "POA to the client", DIGEST + timedelta(hours=10))
    add(person, case, "Answer Amazon", DIGEST + timedelta(hours=60), kind="amazon_reply_due")  # 72 h reminder fell due 12 h ago
    add(person, case, "Far away", DIGEST + timedelta(days=10))
    met = add(person, case, "Already met", DIGEST - timedelta(hours=2))
    clocks.update(person, met.id, {"status": "met"}, now=CREATED)
    paused = add(person, case, "Paused promise", DIGEST + timedelta(hours=5), kind="agency_sla")
    clocks.pause_by_person(person, paused.id, now=CREATED)
    someone = make_user(world.agency_a, "dora@agency-a.example")
    theirs = make_case(someone, world.client_a, title="Dora's case", assignee_id=someone.id)
    add(someone, theirs, "Not mine", DIGEST + timedelta(hours=3))

    report = dispatch.run_pass(DIGEST)

    assert report.digests_queued >= 1
    subject, text, html = digest_text(smtp_server, person)
    assert subject.startswith("3 deadlines (1 overdue), Friday 20 November 2026")
    lines = text.splitlines()
    listed = [line for line in lines if line.startswith("- ")]
    assert listed == [
        "- Appeal window: Harbor Lane Home Goods, Account suspended  [OVERDUE]",
        "- POA to the client: Harbor Lane Home Goods, Inventory case",
        "- Answer Amazon: Harbor Lane Home Goods, Account suspended",
    ]
    # New York time, and the same words as every page ("overdue by 30 h")
    assert "due 19 Nov 2026, 02:00 EST (overdue by 30 h)" in text
    assert "due 20 Nov 2026, 18:00 EST (due in 10 h)" in text
    assert "reminded since yesterday" in text
    for absent in ("Far away", "Already met", "Paused promise", "Not mine"):
        assert absent not in text and absent not in html
    assert "Appeal window: Harbor Lane Home Goods, Account suspended" in html
    # The next day's digest: the lead reminder is no longer new, the answer is due in 36 h
    smtp_server.mailbox.messages.clear()
    dispatch.run_pass(DIGEST + timedelta(days=1))
    _, text, _ = digest_text(smtp_server, person)
    assert "Answer Amazon" not in text and "Appeal window" in text


def test_a_digest_only_consultant_hears_of_a_due_deadline_only_in_the_digest(world, smtp_server):
    person = world.consultant_a
    digest_only(person, zone="Europe/Berlin")
    add(person, world.case_a, "POA to the client", datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc))
    # Its 24-hours-before reminder falls due at 12:00 UTC on the 20th: no email, the digest.
    dispatch.run_pass(datetime(2026, 11, 20, 12, 5, tzinfo=timezone.utc))
    assert [m for m in smtp_server.mailbox.messages if m["X-Caseapp-Key"].startswith("deadline:")] == []
    smtp_server.mailbox.messages.clear()  # (that afternoon's digest of the 20th went too)
    dispatch.run_pass(datetime(2026, 11, 21, 7, 0, tzinfo=timezone.utc))  # 08:00 Berlin
    subject, text, _ = digest_text(smtp_server, person)
    assert "POA to the client: Harbor Lane Home Goods, Account suspended" in text
    assert "due 21 Nov 2026, 13:00 CET (due in 5 h)" in text
    # no cases awaiting Amazon: the digest is about the deadline alone
    assert "awaiting Amazon" not in subject and "still waiting on Amazon" not in text


def test_an_admin_digest_lists_unassigned_cases_deadlines_and_quiet_people_get_none(world, smtp_server):
    admin = world.admin_a
    digest_only(admin, zone="Europe/Berlin")
    from caseapp.services.cases import records

    records.update_case(world.consultant_a, world.case_a.id, {"assignee_id": None})
    add(admin, world.case_a, "Unassigned clock", datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc))
    dispatch.run_pass(datetime(2026, 11, 21, 7, 0, tzinfo=timezone.utc))
    _, text, _ = digest_text(smtp_server, admin)
    assert "Unassigned clock" in text
    # the consultant did not choose the digest: no digest for them
    assert [m for m in smtp_server.mailbox.to(world.consultant_a.email)
            if m["X-Caseapp-Key"].startswith("digest:")] == []


def test_one_query_reads_the_deadlines_of_everyone_whose_digest_is_due(world, smtp_server):
    people = [world.consultant_a] + [make_user(world.agency_a, f"p{i}@agency-a.example") for i in range(5)]
    for i, person in enumerate(people):
        digest_only(person, zone="Europe/Berlin")
        case = make_case(person, world.client_a, title=f"Case {i}", assignee_id=person.id)
        add(person, case, f"Clock {i}", datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc))
    with statements() as every:
        digests.queue_due(datetime(2026, 11, 21, 7, 0, tzinfo=timezone.utc), dispatch.PassReport())
    seen = [s for s in every if "FROM deadlines" in s]
    assert len(seen) == 1
    dispatch.run_pass(datetime(2026, 11, 21, 7, 1, tzinfo=timezone.utc))
    for i, person in enumerate(people):
        _, text, _ = digest_text(smtp_server, person)
        assert f"Clock {i}:" in text and sum(f"Clock {j}:" in text for j in range(6)) == 1
