"""Hostile mail never breaks the pipe: each message of tests/data/mail/ (and the large ones
made here) is kept as a row, filed on its case or waiting with the reason, flagged in words a
person reads, and nothing raises; auto-replies and bounces are filed but never answered;
sanitised HTML runs nothing. Then the same corpus through `flask inbound receive` as a real
process on a migrated SQLite database: exit 0 for each, 75 when the database is unreachable."""
from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, Evidence, InboundMessage, OutboxMessage
from caseapp.services.appeals import dispatch
from caseapp.services.inbound import filing

ROOT = Path(__file__).resolve().parents[3]
MAIL = ROOT / "tests" / "data" / "mail"
_spec = importlib.util.spec_from_file_location("hostile_mail_make", MAIL / "make.py")
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)

# What each message must be flagged with (a substring of one flag), or None: nothing odd
# that a person needs to be told beyond what the page shows anyway.
FLAGS = {
    "missing_boundary_end.eml": "Malformed mail: CloseBoundaryNotFoundDefect.",
    "broken_base64.eml": "The base64 of a part (text/plain) is broken",
    "wrong_charset.eml": "The text says it is utf-8 but is not; read as Latin-1.",
    "missing_charset.eml": "The text has no charset; read as Latin-1.",
    "raw_latin1_subject.eml": "The Subject header has 8-bit characters without a charset; read as Latin-1.",
    "raw_utf8_subject.eml": None,  # 8-bit UTF-8 is read as UTF-8: nothing to say
    "tnef_winmail.eml": "A winmail.dat (TNEF) part from Outlook",
    "forwarded_rfc822_pdf.eml": None,
    "html_only_script.eml": None,
    "zip_with_exe.eml": "invoices.zip holds a program (setup.exe)",
    "auto_reply.eml": None,
    "amazon_auto_ack.eml": None,
    "bounce.eml": None,
    "no_message_id.eml": None,
    "references_10000.eml": None,
    "long_line_body.eml": None,  # 100,000 characters: just under TEXT_LIMIT, all kept
    "deep_nesting_50.eml": "Parts nested deeper than 8 levels were not read.",
    "nul_and_control.eml": None,
}
AUTOMATIC = {"auto_reply.eml", "amazon_auto_ack.eml", "bounce.eml"}


def corpus() -> dict[str, bytes]:
    return {name: (MAIL / name).read_bytes() for name in make.CORPUS}


def addressed(raw: bytes, address: str) -> bytes:
    """The message as sent to `address` (the case's signed plus-address) instead."""
    return raw.replace(b"To: " + make.TO, b"To: " + address.encode(), 1)


@pytest.fixture(autouse=True)
def inbound_settings(app):
    app.config["INBOUND_ADDRESS"] = "cases@agency.example"
    yield
    app.config["INBOUND_ADDRESS"] = ""


@pytest.fixture
def case(world):
    world.client_a.contact_email = "seller@example.com"
    db.session.commit()
    return world.case_a


def test_the_committed_corpus_is_what_make_py_writes(tmp_path):
    assert sorted(p.name for p in MAIL.glob("*.eml")) == sorted(make.CORPUS) == sorted(FLAGS)
    make.write(tmp_path)
    for name in make.CORPUS:
        assert (tmp_path / name).read_bytes() == (MAIL / name).read_bytes(), name
    assert all((MAIL / name).stat().st_size < 300_000 for name in make.CORPUS)  # the big ones are made here


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_each_hostile_message_to_a_case_is_filed_flagged_and_kept_once(world, case, name):
    raw = addressed(corpus()[name], mailtags.case_address(case.id))
    got = filing.receive(raw)
    row = db.session.get(InboundMessage, got.message.id)
    assert not got.duplicate and row.status == "matched" and row.case_id == case.id, row.flags
    assert row.raw_size == len(raw) and row.raw_sha256
    if FLAGS[name]:
        assert any(FLAGS[name] in flag for flag in row.flags), row.flags
    assert all(isinstance(flag, str) and 10 < len(flag) < 400 for flag in row.flags)
    assert len(row.flags) == len(set(row.flags))  # one line per kind of trouble
    assert row.automatic == (name in AUTOMATIC)
    [event] = [e for e in db.session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "email_received")) if e.data.get("inbound_id") == row.id]
    for value in (row.subject, row.from_name, row.from_address, row.to_addresses, event.summary):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value), value  # PostgreSQL refuses NUL
    assert "\x00" not in row.full_text + row.body_text + row.body_html
    again = filing.receive(raw)  # the MTA delivers it again, or the fetch sees it again
    assert again.duplicate and again.message.id == row.id
    assert db.session.scalar(select(db.func.count(InboundMessage.id))) == 1


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_each_hostile_message_without_a_case_waits_with_the_reason(world, name):
    row = filing.receive(corpus()[name]).message
    assert row.id is not None and row.status in ("unmatched", "refused") and row.case_id is None
    assert row.flags and any("case" in flag or "agency" in flag for flag in row.flags), row.flags


def test_what_each_message_reads_as(world, case):
    rows = {name: filing.receive(addressed(raw, mailtags.case_address(case.id))).message
            for name, raw in corpus().items()}
    assert rows["raw_latin1_subject.eml"].subject == "Einspruch für unser Konto Rückmeldung"
    assert rows["raw_latin1_subject.eml"].from_name == "Jürgen Müller"
    assert rows["raw_utf8_subject.eml"].subject == "Réponse à votre appel – 返信 ✓"
    assert rows["wrong_charset.eml"].full_text.startswith("Grüße aus München")
    assert "voilà la facture définitive" in rows["missing_charset.eml"].full_text
    assert rows["nul_and_control.eml"].subject == "Nul and [31mcontrol"
    # No Message-ID: known by its bytes, so it is still filed once.
    assert re.fullmatch(r"<sha256:[0-9a-f]{64}>", rows["no_message_id.eml"].message_id)
    assert len(rows["references_10000.eml"].in_reply_to.split()) == 50  # the newest refs, not 10,000
    assert len(rows["long_line_body.eml"].full_text) == 100_000
    # The forward's own words and Amazon's inside it; its PDF and the .eml as evidence.
    forward = rows["forwarded_rfc822_pdf.eml"]
    assert "Your account has been reinstated" in forward.full_text
    files = {e.filename: e for e in db.session.scalars(select(Evidence).where(
        Evidence.inbound_message_id == forward.id))}
    assert "decision.pdf" in files and files["decision.pdf"].source == "email"
    # The executable named .pdf is not evidence, and says so; the zip holding a program is
    # kept (the evidence pipeline takes zips) and flagged so nobody opens it unwarned.
    zipped = rows["zip_with_exe.eml"]
    assert any("invoice.pdf.exe was not kept as evidence: This file is a program" in f for f in zipped.flags), \
        zipped.flags
    assert "invoices.zip holds a program (setup.exe): do not open it" in " ".join(zipped.flags)
    assert [e.filename for e in db.session.scalars(select(Evidence).where(
        Evidence.inbound_message_id == zipped.id))] in ([], ["invoices.zip"])
    # The TNEF blob is kept as it came (as evidence when the pipeline takes it, else said why).
    tnef = rows["tnef_winmail.eml"]
    kept = db.session.scalar(select(db.func.count(Evidence.id)).where(Evidence.inbound_message_id == tnef.id))
    assert kept == 1 or any("winmail.dat was not kept as evidence" in f for f in tnef.flags)


def test_sanitised_html_runs_nothing(world, case):
    for name, raw in corpus().items():
        row = filing.receive(addressed(raw, mailtags.case_address(case.id))).message
        for shown in (row.body_html, html.unescape(row.body_html)):
            lowered = shown.lower()
            assert "<script" not in lowered and "javascript:" not in lowered, name
            assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered), name
            assert "<iframe" not in lowered and "<svg" not in lowered and "<form" not in lowered, name
            assert "style=" not in lowered, name
        assert "alert(" not in row.full_text and "document.cookie" not in row.full_text, name
    page = db.session.scalar(select(InboundMessage).where(InboundMessage.subject == "HTML only"))
    assert "<b>invoice</b>" in page.body_html and 'href="https://sellercentral.amazon.com/"' in page.body_html
    assert page.full_text.startswith("Dear seller,\nYour invoice is attached.")


def test_auto_replies_and_bounces_are_filed_and_never_answered(world, case, smtp_server):
    from caseapp.services.appeals import submissions

    submissions.record_submission(world.consultant_a, case.id, {})
    before = db.session.scalar(select(db.func.count(OutboxMessage.id)))
    for name in sorted(AUTOMATIC):
        row = filing.receive(addressed(corpus()[name], mailtags.case_address(case.id))).message
        assert row.status == "matched" and row.automatic, name
        assert row.proposal is None, name  # Amazon's automatic acknowledgement is not its reply
    assert db.session.get(Case, case.id).amazon_wrote_at is None
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == before
    dispatch.run_pass(db.session.get(Case, case.id).updated_at)
    assert smtp_server.mailbox.messages == []


def test_a_header_line_of_one_megabyte(world, case):
    raw = addressed(make.large("header_line_1mb"), mailtags.case_address(case.id))
    assert len(raw) > 1024 * 1024
    row = filing.receive(raw).message
    assert row.status == "matched" and row.subject == "A huge header"


def test_a_message_over_inbound_max_mb_is_refused_and_one_just_under_is_filed(app, world, case):
    app.config["INBOUND_MAX_MB"] = 1
    try:
        limit = 1024 * 1024
        over = addressed(make.large("sized", limit + 4096), mailtags.case_address(case.id))
        under = addressed(make.large("sized", limit - 4096), mailtags.case_address(case.id))
        assert len(over) > limit >= len(under) > limit - 8192
        refused = filing.receive(over).message
        assert refused.status == "refused" and refused.raw_size == len(over)
        assert any("Larger than INBOUND_MAX_MB (1 MB): refused" in f for f in refused.flags), refused.flags
        assert refused.subject == "A large scan"  # its headers are kept
        kept = filing.receive(under).message
        assert kept.status == "matched" and not any("INBOUND_MAX_MB" in f for f in kept.flags)
        [scan] = db.session.scalars(select(Evidence).where(Evidence.inbound_message_id == kept.id))
        assert scan.filename == "scan.pdf" and scan.size > limit // 2
    finally:
        app.config["INBOUND_MAX_MB"] = 50


# ---- the pipe, as an MTA runs it --------------------------------------------------------------

@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    """A migrated temporary SQLite database with one agency, and how to pipe mail into it."""
    folder = tmp_path_factory.mktemp("pipe")
    url = f"sqlite:///{folder / 'pipe.sqlite'}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "pipe-test", "CASEAPP_ENV": "development",
           "CASEAPP_INSTANCE_DIR": str(folder / "instance"), "INBOUND_ADDRESS": "cases@agency.example",
           "INBOUND_MAX_MB": "1"}
    for args in (["db", "upgrade"], ["agencies", "create", "Pipe Agency"]):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def receive(raw: bytes, **extra) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "inbound", "receive"], cwd=ROOT,
                              env={**env, **extra}, input=raw, capture_output=True, timeout=120)

    receive.url = url
    return receive


def test_the_pipe_exits_0_for_every_hostile_message_and_keeps_each(pipe):
    messages = dict(corpus())
    messages["header_line_1mb"] = make.large("header_line_1mb")
    messages["over_max"] = make.large("sized", 1024 * 1024 + 4096)  # INBOUND_MAX_MB is 1 here
    messages["under_max"] = make.large("sized", 1024 * 1024 - 4096)
    outputs = {}
    for name, raw in messages.items():
        done = pipe(raw)
        assert done.returncode == 0, (name, done.stderr.decode(errors="replace")[-2000:])
        outputs[name] = done.stdout.decode()
    again = pipe(messages["bounce.eml"])
    assert again.returncode == 0 and "a copy of one filed before" in again.stdout.decode()
    engine = create_engine(pipe.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT message_id, status, flags FROM inbound_messages")).all()
    finally:
        engine.dispose()
    assert len(rows) == len(messages)  # each kept once, the duplicate not again
    status = {message_id: state for message_id, state, _ in rows}
    assert status["<hostile-sized-%d@example.com>" % (1024 * 1024 + 4096)] == "refused"
    assert status["<hostile-sized-%d@example.com>" % (1024 * 1024 - 4096)] == "unmatched"
    assert status["<hostile-html@example.com>"] == "unmatched"  # the one agency's triage inbox
    assert "unmatched" in outputs["deep_nesting_50.eml"]


def test_the_pipe_exits_75_when_the_database_cannot_be_reached(pipe):
    done = pipe(corpus()["auto_reply.eml"], DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    assert done.returncode == 75, done.stderr.decode(errors="replace")[-2000:]
    assert b"the database cannot be reached" in done.stderr and b"try again later" in done.stderr


# ---- the reply parser on adversarial text ------------------------------------------------------

from caseapp.services.inbound import parsing  # noqa: E402
from tests import cost  # noqa: E402

ADVERSARIAL = {
    "On without wrote, one line": lambda n: "On Mon, 1 Dec 2026 at 10:00, Someone " * (n // 38),
    "On ... wrote: lines": lambda n: "On Mon, 1 Dec 2026 at 10:00, Someone <a@b.example> wrote:\n" * (n // 58),
    "quote markers, one line": lambda n: "> " * (n // 2),
    "quoted lines": lambda n: "> quoted line\n" * (n // 14),
    "Am ... schrieb without colon": lambda n: "Am Montag Am " * (n // 13),
    "Le ... a écrit": lambda n: "Le lundi Le " * (n // 12),
    "From/Sent headers": lambda n: "From: a@b.example\nSent: Monday\n" * (n // 31),
    "signature markers": lambda n: "--\n" * (n // 3),
    "one long line": lambda n: "x" * n,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_the_reply_parser_costs_linear_time_on_adversarial_text(name):
    # 4,000 and 16,000 characters: both under REPLY_LIMIT, where the parser reads them all.
    ratio = cost.growth(ADVERSARIAL[name], parsing.new_text, 4000)
    assert ratio < cost.LINEAR_RATIO, f"{name}: 4x the text cost {ratio:.1f}x the CPU time"


def test_the_longest_adversarial_text_is_read_in_well_under_a_second():
    text = ADVERSARIAL["On without wrote, one line"](parsing.TEXT_LIMIT)
    assert cost.cpu_per_call(lambda: parsing.new_text(text), rounds=1, at_least=0) < 1.0
    assert parsing.new_text(text) == text.strip()  # no history in it: all of it is new, uncut


def test_the_reply_above_the_history_is_still_found():
    text = ("Here are the invoices.\n\nOn Mon, 30 Nov 2026 at 10:00, Carl <carl@agency.example> wrote:\n"
            "> Please send the invoices.\n")
    assert parsing.new_text(text) == "Here are the invoices."
    long_reply = "word " * 3000 + "\n\nOn Mon, 30 Nov 2026 at 10:00, Carl <carl@agency.example> wrote:\n> quoted\n"
    assert "quoted" not in parsing.new_text(long_reply)
    only_new = "A long paragraph without any quote. " * 1000  # over REPLY_LIMIT, one line
    assert parsing.new_text(only_new) == only_new.strip()
