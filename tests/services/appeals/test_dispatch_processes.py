"""The dispatcher as real processes: two at once, and one killed mid-way.

These run `flask reminders run-due` in subprocesses against the test database
(SQLite file or PostgreSQL) and a real SMTP server on loopback.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from caseapp.extensions import db
from caseapp.models import OutboxMessage, Reminder
from caseapp.services.appeals import submissions
from tests.conftest import make_case

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def env(database_url, tmp_path):
    return {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "process-test",
            "CASEAPP_ENV": "development", "CASEAPP_INSTANCE_DIR": str(tmp_path / "instance"),
            "MAIL_DEFAULT_SENDER": "caseapp@agency.example"}


def run_due(env, port: int, now: datetime = NOW) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "reminders", "run-due", "--now", now.isoformat()],
        cwd=ROOT, env={**env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def due_cases(world, count: int) -> None:
    for i in range(count):
        case = make_case(world.consultant_a, world.client_a, title=f"Case {i:03d}", asins="")
        submissions.record_submission(world.consultant_a, case.id,
                                      {"submitted_at": NOW - timedelta(hours=49)}, now=NOW)


def keys(mailbox) -> list[str]:
    return [m["X-Caseapp-Key"] for m in mailbox.messages]


def test_two_dispatchers_send_each_of_200_reminders_exactly_once(world, smtp_server, env):
    due_cases(world, 200)
    first, second = run_due(env, smtp_server.port), run_due(env, smtp_server.port)
    outputs = [p.communicate(timeout=180) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    sent = keys(smtp_server.mailbox)
    assert len(sent) == 200 and len(set(sent)) == 200
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Reminder.id)).where(Reminder.status == "sent")) == 200
    # both processes did part of the work, or one did it all while the other found nothing
    totals = [int(out.split("sent: ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(totals) == 200, totals
    print("emails per process:", totals)


class StallingSmtp:
    """Accepts connections and never greets: a dispatcher talking to it hangs mid-send."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        self.connected.set()

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_dispatcher_killed_after_choosing_loses_and_doubles_nothing(world, smtp_server, env):
    due_cases(world, 5)
    stall = StallingSmtp()
    victim = run_due(env, stall.port)
    try:
        assert stall.connected.wait(60), victim.communicate(timeout=5)
        # It has queued the mail, claimed a message and is waiting for the server: kill it.
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        stall.close()
    db.session.expire_all()
    statuses = sorted(db.session.scalars(db.select(OutboxMessage.status)))
    assert statuses == ["sending"] * 5  # leased as one batch, none sent
    # The next pass after the dead process's lease ran out (5 minutes) picks everything up.
    survivor = run_due(env, smtp_server.port, NOW + timedelta(minutes=6))
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    sent = keys(smtp_server.mailbox)
    assert len(sent) == 5 and len(set(sent)) == 5
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(Reminder.id)).where(Reminder.status == "sent")) == 5


# ---- deadline reminders: the same guarantees ---------------------------------------------

def due_deadlines(world, count: int) -> list[int]:
    """`count` cases, each with a deadline whose 24-hours-before reminder is due at NOW."""
    from caseapp.services.deadlines import clocks

    ids = []
    for i in range(count):
        case = make_case(world.consultant_a, world.client_a, title=f"Deadline case {i:03d}", asins="")
        deadline = clocks.add(world.consultant_a, case.id,
                              {"title": f"POA to client {i:03d}", "due_at": NOW + timedelta(hours=24)},
                              now=NOW - timedelta(days=1))
        ids.append(deadline.id)
    return ids


def deadline_state(ids: list[int]) -> list[tuple[int, str]]:
    from caseapp.models import Deadline

    db.session.expire_all()
    return sorted(db.session.execute(db.select(Deadline.alerts_sent, Deadline.status)
                                     .where(Deadline.id.in_(ids))).all())


def test_two_dispatchers_send_each_deadline_and_follow_up_reminder_exactly_once(world, smtp_server, env):
    due_cases(world, 100)
    ids = due_deadlines(world, 100)
    first, second = run_due(env, smtp_server.port), run_due(env, smtp_server.port)
    outputs = [p.communicate(timeout=180) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    sent = keys(smtp_server.mailbox)
    assert len(sent) == 200 and len(set(sent)) == 200
    expected = {f"deadline:{i}:1:{world.consultant_a.id}" for i in ids}
    assert {k for k in sent if k.startswith("deadline:")} == expected
    assert deadline_state(ids) == [(1, "open")] * 100  # each reminded once, and still open
    due = [int(out.split("deadline reminders due: ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(due) == 100, due
    # A later pass before the next reminder point sends nothing more.
    again = run_due(env, smtp_server.port, NOW + timedelta(hours=1))
    assert again.communicate(timeout=120)[0] and again.returncode == 0
    assert len(keys(smtp_server.mailbox)) == 200


def test_dispatcher_killed_after_choosing_deadline_reminders_loses_and_doubles_nothing(
        world, smtp_server, env):
    ids = due_deadlines(world, 5)
    stall = StallingSmtp()
    victim = run_due(env, stall.port)
    try:
        assert stall.connected.wait(60), victim.communicate(timeout=5)
        victim.send_signal(signal.SIGKILL)  # reminders chosen and queued, none sent
        victim.wait(10)
    finally:
        stall.close()
    db.session.expire_all()
    assert sorted(db.session.scalars(db.select(OutboxMessage.status))) == ["sending"] * 5
    assert deadline_state(ids) == [(1, "open")] * 5  # chosen once: not to be chosen again
    survivor = run_due(env, smtp_server.port, NOW + timedelta(minutes=6))
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    assert "deadline reminders due: 0" in out  # nothing chosen twice
    sent = keys(smtp_server.mailbox)
    assert sorted(sent) == sorted(f"deadline:{i}:1:{world.consultant_a.id}" for i in ids)
    assert deadline_state(ids) == [(1, "open")] * 5


def test_deadline_reminders_through_4xx_and_5xx_in_real_processes(world, smtp_server, env):
    """A 4xx is tried again after a wait (not at once, not lost); a 5xx fails for good, is
    shown on the case and in the Outbox, and leaves the deadline open."""
    from caseapp.models import CaseEvent

    ids = due_deadlines(world, 2)
    smtp_server.mailbox.fail_next(451)
    smtp_server.mailbox.fail_next(550)
    first = run_due(env, smtp_server.port)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "retried: 1" in out and "failed: 1" in out, out
    db.session.expire_all()
    rows = {m.status: m for m in db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.kind == "deadline"))}
    assert set(rows) == {"pending", "failed"}
    waiting, failed = rows["pending"], rows["failed"]
    assert waiting.send_after > NOW and "451" in waiting.last_error
    assert "550" in failed.last_error
    shown = db.session.scalars(db.select(CaseEvent.summary).where(
        CaseEvent.case_id == failed.case_id, CaseEvent.kind == "deadline_reminder_failed")).all()
    assert len(shown) == 1 and "550" in shown[0] and "still open" in shown[0]
    assert deadline_state(ids) == [(1, "open")] * 2

    too_soon = run_due(env, smtp_server.port, NOW + timedelta(seconds=10))
    assert "sent: 0" in too_soon.communicate(timeout=120)[0]
    retry = run_due(env, smtp_server.port, waiting.send_after)
    assert "sent: 1" in retry.communicate(timeout=120)[0]
    db.session.expire_all()
    assert [k for k in keys(smtp_server.mailbox) if k.startswith("deadline:")] == [
        db.session.get(OutboxMessage, waiting.id).idempotency_key]
    assert [k.split(":")[0] for k in keys(smtp_server.mailbox)].count("mail_problem") == 1
    assert db.session.get(OutboxMessage, failed.id).status == "failed"  # until an admin retries
    assert deadline_state(ids) == [(1, "open")] * 2
