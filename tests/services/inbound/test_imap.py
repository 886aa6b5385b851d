"""Mail in the agency's IMAP mailbox lands on its case and moves to the processed folder,
against a real IMAP server (dovecot, tests/services/inbound/imap_server.py): fetched once,
filed once, never deleted unfiled, and a mailbox or database that is away says so."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from caseapp import scheduler
from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.models import CaseEvent, Evidence, InboundMessage
from caseapp.services.inbound import filing, imap
from tests.services.inbound.conftest import PDF, mail
from tests.services.inbound.imap_server import imap_url, mailbox  # noqa: F401 - fixtures

PROCESSED = "caseapp-processed"


def rows():
    return list(db.session.scalars(db.select(InboundMessage).order_by(InboundMessage.id)))


def emails_on(case):
    return db.session.scalar(db.select(db.func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "email_received"))


def wrong_password(url: str) -> str:
    return url.replace(f":{imap.parse_url(url).password}@", ":Not-The-Pass-42@")


def test_fetch_files_mail_on_its_case_and_moves_it_to_the_processed_folder(world, mailbox):
    case = world.case_a
    mailbox.append(mail(to=mailtags.case_address(case.id), subject="Re: Your appeal", message_id="<r1@amazon.com>",
                        text="We have reviewed your appeal and your account has been reinstated.",
                        attachments=[("decision.pdf", PDF, "application/pdf")]))
    mailbox.append(mail(to=mailtags.agency_address(world.agency_a.id), sender="someone@example.net",
                        subject="Hello", message_id="<u1@example.net>", text="Nothing to go by"))
    assert PROCESSED not in mailbox.folders()

    report = imap.fetch()

    assert (report.fetched, report.filed, report.unmatched, report.duplicates, report.left) == (2, 1, 1, 0, 0)
    filed, waiting = rows()
    assert filed.case_id == case.id and filed.source == "imap" and filed.matched_by == "address"
    assert filed.proposal == "proposed" and waiting.status == "unmatched"
    assert db.session.scalar(db.select(Evidence.filename).where(Evidence.case_id == case.id)) == "decision.pdf"
    assert mailbox.uids() == []
    assert PROCESSED in mailbox.folders() and len(mailbox.messages(PROCESSED)) == 2
    assert all(b"Message-ID: <" in raw for raw in mailbox.messages(PROCESSED))  # moved whole

    again = imap.fetch()
    assert (again.fetched, again.filed, again.left) == (0, 0, 0)
    assert len(rows()) == 2 and emails_on(case) == 1 and len(mailbox.messages(PROCESSED)) == 2


def test_the_same_message_delivered_twice_is_filed_once(world, mailbox):
    raw = mail(to=mailtags.case_address(world.case_a.id), message_id="<twice@amazon.com>", text="Once only")
    mailbox.append(raw)
    mailbox.append(raw)
    report = imap.fetch()
    assert (report.fetched, report.filed, report.duplicates) == (2, 1, 1)
    assert len(rows()) == 1 and emails_on(world.case_a) == 1
    assert mailbox.uids() == [] and len(mailbox.messages(PROCESSED)) == 2  # both kept, neither deleted


HOSTILE = [
    b"\x00\xff\xfe garbage without a single header\r\n",
    b"Subject: =?bogus?Q?x?=\r\nFrom: \xff\xfe@\r\nMessage-ID: <8bit@x>\r\n\r\nbody \xff\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\nMessage-ID: <k@x>\r\n\r\n--x\r\n"
    b"Content-Type: text/plain; charset=klingon\r\n\r\nhi\r\n",
    b"Content-Type: text/html\r\nMessage-ID: <h@x>\r\n\r\n<script>alert(1)</script><p>Hello</p>\r\n",
    b"Content-Type: message/rfc822\r\nMessage-ID: <n@x>\r\n\r\n" * 1
    + b"Content-Type: message/rfc822\r\n\r\n" * 50 + b"Subject: deep\r\n\r\nbottom\r\n",
    b"Subject: " + b"A" * 20000 + b"\r\nMessage-ID: <long@x>\r\n\r\nlong header\r\n",
]


def test_hostile_mail_is_kept_and_does_not_stop_the_fetch(world, mailbox):
    for raw in HOSTILE:
        mailbox.append(raw)
    mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id="<after@amazon.com>",
                        text="The good one after the bad ones"))
    report = imap.fetch()
    assert report.fetched == len(HOSTILE) + 1 and report.failed == 0 and report.left == 0
    assert report.filed == 1 and report.unmatched + report.refused == len(HOSTILE)
    assert len(rows()) == len(HOSTILE) + 1 and emails_on(world.case_a) == 1
    assert all("<script" not in row.body_html for row in rows())
    assert mailbox.uids() == [] and len(mailbox.messages(PROCESSED)) == len(HOSTILE) + 1


def test_a_message_that_cannot_be_filed_stays_and_the_rest_are_fetched(world, mailbox, monkeypatch, caplog):
    receive = filing.receive

    def breaks_on_one(raw, source="pipe", now=None):
        if b"<boom@x>" in raw:
            raise ValueError("a bug in the parser")
        return receive(raw, source=source, now=now)

    monkeypatch.setattr(filing, "receive", breaks_on_one)
    mailbox.append(mail(message_id="<boom@x>", subject="Breaks"))
    mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id="<fine@x>"))
    with caplog.at_level(logging.ERROR, logger="caseapp.services.inbound.imap"):
        report = imap.fetch()
    assert (report.fetched, report.filed, report.failed, report.left) == (2, 1, 1, 1)
    assert "could not be filed; it stays in INBOX" in caplog.text
    [left] = mailbox.messages()
    assert b"<boom@x>" in left and b"\\Seen" not in str(mailbox.flags()).encode()  # not even marked read
    assert [row.message_id for row in rows()] == ["<fine@x>"]


def test_a_database_that_is_away_leaves_the_mail_for_the_next_fetch(world, mailbox, monkeypatch):
    receive = filing.receive
    calls = []

    def database_goes_away(raw, source="pipe", now=None):
        calls.append(raw)
        if len(calls) == 2:
            raise OperationalError("INSERT", {}, Exception("connection to server at 10.0.0.5 refused"))
        return receive(raw, source=source, now=now)

    monkeypatch.setattr(filing, "receive", database_goes_away)
    for n in range(3):
        mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id=f"<d{n}@x>", subject=f"n{n}"))
    with pytest.raises(imap.DatabaseUnreachable) as stopped:
        imap.fetch()
    assert "stay in INBOX" in str(stopped.value) and "refused" in str(stopped.value)
    assert stopped.value.report.filed == 1 and stopped.value.report.left == 2
    assert len(mailbox.uids()) == 2 and len(mailbox.messages(PROCESSED)) == 1

    monkeypatch.setattr(filing, "receive", receive)  # the database is back
    report = imap.fetch()
    assert (report.fetched, report.filed, report.left) == (2, 2, 0)
    assert sorted(row.message_id for row in rows()) == ["<d0@x>", "<d1@x>", "<d2@x>"]


def test_two_fetches_at_once_file_each_message_once(world, mailbox, monkeypatch):
    """A second fetcher (another scheduler) runs while the first is filing its first message:
    it takes everything; the first then finds each message filed and already moved."""
    receive = filing.receive
    raced = []

    def the_other_fetcher_runs_now(raw, source="pipe", now=None):
        if not raced:
            raced.append(None)
            raced[0] = imap.fetch()
        return receive(raw, source=source, now=now)

    monkeypatch.setattr(filing, "receive", the_other_fetcher_runs_now)
    for n in range(3):
        mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id=f"<race{n}@x>"))
    first = imap.fetch()
    [second] = raced
    assert second.filed == 3 and first.filed == 0 and first.duplicates + second.duplicates == first.fetched
    assert first.left == 0 and mailbox.uids() == []
    assert len(mailbox.messages(PROCESSED)) == 3  # moving a moved message copies nothing
    assert len(rows()) == 3 and emails_on(world.case_a) == 3


@pytest.mark.parametrize("uidplus", [True, False])
def test_without_move_filed_mail_is_copied_and_only_it_removed(world, mailbox, monkeypatch, uidplus):
    hidden = {"MOVE"} | (set() if uidplus else {"UIDPLUS"})
    has = imap.IMAPClient.has_capability
    monkeypatch.setattr(imap.IMAPClient, "has_capability",
                        lambda self, name: name.upper() not in hidden and has(self, name))
    mailbox.append(mail(message_id="<flagged-by-a-person@x>", subject="Mine"), flags=[b"\\Deleted"])
    mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id="<copied@x>"))
    report = imap.fetch()
    assert (report.fetched, report.filed, report.left) == (1, 1, 0)
    assert [b"<copied@x>" in raw for raw in mailbox.messages(PROCESSED)] == [True]
    inbox = mailbox.messages()
    assert b"<flagged-by-a-person@x>" in inbox[0]  # a person's \Deleted mail is not expunged by caseapp
    assert len(inbox) == (1 if uidplus else 2)  # no UIDPLUS: our copy stays, flagged \Deleted
    assert mailbox.uids(deleted=False) == []
    assert imap.fetch().fetched == 0


def test_a_wrong_password_says_which_server_refused_and_never_the_password(app, mailbox, imap_url):
    url = wrong_password(imap_url)
    with pytest.raises(imap.MailboxUnreachable) as refused:
        imap.fetch(url)
    message = str(refused.value)
    assert "127.0.0.1" in message and "refused the login of caseapp-test" in message
    assert message.endswith("Authentication failed.")  # the server's words, not a Python repr
    assert "Not-The-Pass-42" not in message and imap.parse_url(imap_url).password not in message


def test_a_server_that_is_not_there_is_named(app):
    with pytest.raises(imap.MailboxUnreachable) as away:
        imap.fetch("imap://someone:hunter2-secret@127.0.0.1:1/INBOX")
    assert "cannot reach the IMAP server 127.0.0.1:1" in str(away.value) and "hunter2" not in str(away.value)


def test_the_url_names_user_password_and_folder():
    box = imap.parse_url("imaps://cases%40agency.example:p%40ss%2Fw%3Ard@mail.agency.example/Cases%2FIn")
    assert (box.user, box.password, box.host, box.port, box.folder, box.tls) == (
        "cases@agency.example", "p@ss/w:rd", "mail.agency.example", 993, "Cases/In", True)
    assert box.where == "imaps://cases%40agency.example@mail.agency.example:993/Cases/In"
    assert "p@ss" not in repr(box)
    assert imap.parse_url("imap://u:p@localhost:10143").folder == "INBOX"
    for bad, why in [("imap://u:p@mail.example.com/INBOX", "without TLS"), ("imaps://mail.example.com/", "no user"),
                     ("pop3://u:p@mail.example.com/", "must look like"), ("imaps://u:p@host:notaport/", "not a URL")]:
        with pytest.raises(imap.NotConfigured, match=why):
            imap.parse_url(bad)


def test_the_scheduler_fetches_when_a_mailbox_is_set(app, world, mailbox, imap_url, caplog):
    app.config["INBOUND_FETCH_SECONDS"] = 30
    sched = scheduler.build(app)
    sched.start(paused=True)
    jobs = {job.id: job for job in sched.get_jobs()}
    sched.shutdown(wait=False)
    assert jobs[scheduler.FETCH_JOB_ID].trigger.interval.total_seconds() == 30
    assert jobs[scheduler.FETCH_JOB_ID].max_instances == 1

    mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id="<sched@x>"))
    scheduler.fetch_job(app)
    assert [row.message_id for row in rows()] == ["<sched@x>"] and mailbox.uids() == []

    app.config["INBOUND_IMAP_URL"] = wrong_password(imap_url)
    with caplog.at_level(logging.WARNING, logger="caseapp.scheduler"):
        scheduler.fetch_job(app)  # logs and returns; the next run tries again
    assert "refused the login" in caplog.text and "Not-The-Pass-42" not in caplog.text

    app.config["INBOUND_IMAP_URL"] = ""
    sched = scheduler.build(app)
    sched.start(paused=True)
    assert [job.id for job in sched.get_jobs()] == [scheduler.JOB_ID]
    sched.shutdown(wait=False)


# ---- flask inbound fetch ------------------------------------------------------------------------

def fetch_command(app):
    return app.test_cli_runner().invoke(args=["inbound", "fetch"])


def test_the_command_fetches_and_prints_the_report(app, world, mailbox):
    mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id="<cli@x>"))
    result = fetch_command(app)
    assert result.exit_code == 0, result.output
    assert "fetched 1: 1 filed on a case" in result.output and "0 left in the mailbox" in result.output
    assert "imap://caseapp-test@127.0.0.1" in result.output and mailbox.uids() == []


def test_the_command_without_a_mailbox_says_so(app):
    app.config["INBOUND_IMAP_URL"] = ""
    result = fetch_command(app)
    assert result.exit_code == 1 and "INBOUND_IMAP_URL is not set" in result.stderr


def test_the_command_with_a_wrong_password_exits_1_naming_the_host(app, mailbox, imap_url):
    app.config["INBOUND_IMAP_URL"] = wrong_password(imap_url)
    result = fetch_command(app)
    assert result.exit_code == 1 and "127.0.0.1" in result.stderr and "refused the login" in result.stderr
    assert "Not-The-Pass-42" not in result.stderr + result.stdout


def test_the_command_exits_75_when_the_database_is_away(app, world, mailbox, monkeypatch):
    def away(raw, source="pipe", now=None):
        raise OperationalError("SELECT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(filing, "receive", away)
    mailbox.append(mail(to=mailtags.case_address(world.case_a.id), message_id="<later@x>"))
    result = fetch_command(app)
    assert result.exit_code == 75 and "database cannot be reached" in result.stderr
    assert len(mailbox.uids()) == 1  # still there for the next fetch
