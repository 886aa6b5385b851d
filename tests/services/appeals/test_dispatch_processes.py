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
