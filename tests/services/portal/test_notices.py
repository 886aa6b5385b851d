"""Every client action is a timeline entry and a notice to the case's assignee; to the
agency's admins when the case is unassigned or its assignee deactivated; after the
recipient's quiet hours."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, OutboxMessage
from caseapp.services.poa import start_from_starter
from caseapp.services.portal import client, sharing
from tests.services.portal.conftest import NOW, ask, pdf, token_of

BERLIN = ZoneInfo("Europe/Berlin")


def notices():
    db.session.expire_all()
    return db.session.query(OutboxMessage).filter_by(kind="portal_notice").order_by(OutboxMessage.id).all()


def act_every_way(world, case):
    opened = ask(world, case)
    token, (invoice, supplier) = token_of(opened), opened.request.items
    draft = start_from_starter(world.consultant_a, case.id)
    share = sharing.share(world.consultant_a, draft.id, now=NOW)
    client.upload(token, invoice.id, [pdf("a.pdf", b"a"), pdf("b.pdf", b"b")], now=NOW)
    client.answer(token, supplier.id, "Acme Ltd since 2019", now=NOW)
    client.message(token, "Anything else?", now=NOW)
    client.answer_poa(token, share.id, "changes", "Please name our supplier", now=NOW)
    return opened


def test_each_client_action_is_on_the_timeline_and_told_to_the_assignee(world, case):
    act_every_way(world, case)
    events = {e.kind: e for e in db.session.query(CaseEvent).filter_by(case_id=case.id)}
    for kind in ("client_upload", "client_answer", "client_message", "poa_changes_requested"):
        assert events[kind].data["by"] == "client" and events[kind].actor_id is None, kind
    assert events["client_upload"].data["files"] == ["a.pdf", "b.pdf"]
    assert "Please name our supplier" in events["poa_changes_requested"].summary
    sent = notices()
    assert [m.recipient for m in sent] == [world.consultant_a.email] * 4  # one per action, not per file
    subjects = [m.subject for m in sent]
    # Each names its case, so that an answer to it finds the case (services/inbound).
    assert subjects[0] == f"The client sent files: Invoice {mailtags.subject_tag(case.id)}"
    assert "Acme Ltd since 2019" in sent[1].body_text and "Anything else?" in sent[2].body_text
    assert "Please name our supplier" in sent[3].body_text
    assert all(m.send_after == NOW for m in sent)
    evidence_events = [e for e in db.session.query(CaseEvent).filter_by(case_id=case.id, kind="evidence_added")]
    assert [e.data.get("source") for e in evidence_events] == ["client", "client"]


@pytest.mark.parametrize("how", ["unassigned", "deactivated"])
def test_without_an_active_assignee_the_admins_are_told(world, case, how):
    if how == "unassigned":
        db.session.get(Case, case.id).assignee_id = None
    else:
        world.consultant_a.active = False
    db.session.commit()
    opened = ask(world, case)
    client.message(token_of(opened), "Hello?", now=NOW)
    assert [m.recipient for m in notices()] == [world.admin_a.email]
    assert world.admin_b.email not in [m.recipient for m in notices()]


def test_a_notice_waits_for_the_end_of_the_recipients_quiet_hours(world, case):
    consultant = world.consultant_a
    consultant.quiet_hours_enabled, consultant.quiet_start, consultant.quiet_end = True, "21:00", "07:30"
    db.session.commit()
    opened = ask(world, case)
    late = datetime(2026, 11, 20, 23, 15, tzinfo=BERLIN)
    client.message(token_of(opened), "Sent it all", now=late)
    (notice,) = notices()
    assert notice.send_after == datetime(2026, 11, 21, 7, 30, tzinfo=BERLIN)
    client.message(token_of(opened), "One more thing", now=late + timedelta(hours=10))  # 09:15
    assert notices()[-1].send_after == late + timedelta(hours=10)


def test_the_client_is_never_told_the_name_of_a_consultant_who_left(world, case):
    opened = ask(world, case)
    assert client.page(token_of(opened), now=NOW).consultant == "Carl"
    world.consultant_a.active = False
    db.session.commit()
    assert client.page(token_of(opened), now=NOW).consultant == ""
    from caseapp.services.portal import reminders
    reminders.dispatch_due(opened.request.due_at - timedelta(hours=47))
    mail = db.session.query(OutboxMessage).filter(OutboxMessage.idempotency_key.like("portal:reminder:%")).one()
    assert "Carl" not in mail.body_text and "Your case team" in mail.body_text
