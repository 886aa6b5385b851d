"""Soak test: mixed traffic against gunicorn, PostgreSQL and two scheduler processes, with faults.

    .venv/bin/python bench/soak.py [--minutes 10] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/]

What it does, everything on 127.0.0.1:
- creates a fresh PostgreSQL database (createdb; dropped at the end unless --keep), runs
  `flask db upgrade` and seeds a small agency with bench/seed.py (--cases, default 200);
- starts an SMTP server (aiosmtpd, tests/smtp.py's Mailbox) in a process of its own, which
  appends the X-Caseapp-Key header of every message it accepts to a file before it answers 250;
- starts `gunicorn -w 2` and two `flask scheduler` processes (a dispatch pass every 60 s each,
  the second started 30 s after the first);
- records submissions backdated by FOLLOW_UP_HOURS so that their follow-ups fall due at
  various moments of the run (a few already due before the schedulers start), and deadlines
  (services/deadlines) whose one reminder of the run falls due likewise: a lead reminder
  72 h before, a "due now", and an overdue Amazon clock (escalated to the admins); each
  fault's cluster gets a deadline reminder due with its follow-ups, so the kill, the SMTP
  outage and the reply race strike deadline mail too;
- drives mixed traffic from --threads client threads for --minutes: sign-in (form and CSRF),
  the dashboard with filters, case pages, notes, submissions (some backdated to fall due
  during the run), Amazon's replies, POA saves, and API calls with a bearer token;
- at 1/3 of the run SIGKILLs one scheduler and restarts it 20 s later; at 1/2 stops the SMTP
  server (SIGKILL) for 60 s and starts it again on the same port; at 0.72 and 0.86 records
  Amazon's reply to submissions whose reminders are going out at that moment (the reply race;
  --reply-races 0 leaves it out). Each fault is timed to land while a scheduler is delivering:
  12 follow-ups (--cluster) are made due 3 s before the pass, and the fault strikes as soon as
  that pass has leased their emails;
- afterwards waits for a dispatch pass that started after the traffic ended (and for the
  outbox to drain, at most LEASE + 2 minutes), stops the schedulers, runs
  `flask reminders run-due` once, and checks: every reminder and every deadline reminder
  that fell due was dispatched once (no deadline reminder chosen twice) and delivered,
  each idempotency key reached the SMTP server exactly once, nothing the database calls sent
  is missing from the server, nothing is stuck, and no request got a 5xx (or no answer).
  One window is reported, not failed: a message the SMTP server accepted in the instant
  before the scheduler was SIGKILLed, whose reminder a reply then cancelled, went out once
  but is "cancelled (may already have been delivered)" in the database; only the receiving
  side could tell it otherwise.

Prints a table and one JSON line (`{"bench": "caseapp-soak", ...}`); exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import shutil
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BIN = Path(sys.executable).parent

PASSWORD = "bench-password-2026"  # bench/seed.py's
FOLLOW_UP_HOURS = 48
FOLLOW_UP_REPEAT_HOURS = 1  # the smallest allowed: repeats fall due only in runs over an hour
LEASE_MINUTES = 5  # caseapp.services.mail.delivery.LEASE
SUBMITTABLE = ("open", "drafting", "submitted", "more_info_requested", "denied")
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
RESPOND_RE = re.compile(r'action="/submissions/(\d+)/responses"')
SCHEDULER_BOOT = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.INFO, stream=sys.stderr,\n"
    "    format='%(created).3f %(process)d %(name)s %(levelname)s %(message)s')\n"
    "from flask.cli import main\n"
    "sys.argv = ['flask', '--app', 'wsgi', 'scheduler']\n"
    "main()\n"
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="traffic duration (default 10)")
    p.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL",
                                                            "postgresql+psycopg://postgres@127.0.0.1:5432/"),
                   help="PostgreSQL server URL; a database name in it is created (it must not exist), "
                        "without one caseapp_soak_<pid> is")
    p.add_argument("--cases", type=int, default=200)
    p.add_argument("--threads", type=int, default=6)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--max-requests", type=int, default=20000, help="per client thread")
    p.add_argument("--smtp-down-seconds", type=float, default=60.0)
    p.add_argument("--restart-after", type=float, default=20.0,
                   help="seconds between killing a scheduler and starting it again")
    p.add_argument("--cluster", type=int, default=12,
                   help="follow-ups made due just before the pass each fault strikes")
    p.add_argument("--reply-races", type=int, default=2, choices=(0, 1, 2),
                   help="rounds of Amazon replies recorded while their reminders go out (0: none)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--keep", action="store_true", help="keep the database and the work folder")
    p.add_argument("--serve-smtp", metavar="PORT", type=int, help=argparse.SUPPRESS)
    p.add_argument("--record", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ---- the SMTP server process ------------------------------------------------------------------

def serve_smtp(port: int, record: str) -> int:
    """Accept mail on 127.0.0.1:port; write each message's key to `record` before answering 250."""
    sys.path.insert(0, str(ROOT))
    from aiosmtpd.controller import Controller

    from tests.smtp import Mailbox

    out = open(record, "a", buffering=1)

    class RecordingMailbox(Mailbox):
        async def handle_DATA(self, server, session, envelope):
            reply = await super().handle_DATA(server, session, envelope)
            if reply.startswith("250"):
                message = self.messages.pop()
                out.write(f"{time.time():.3f} {message['X-Caseapp-Key'] or '-'} {message['To']}\n")
                out.flush()
                os.fsync(out.fileno())
            return reply

    controller = Controller(RecordingMailbox(), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass
    controller.stop()
    out.close()
    return 0


# ---- helpers ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def utc(ts: float | None = None) -> datetime:
    return datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def wait_port(port: int, seconds: float) -> bool:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Log:
    def __init__(self):
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[soak {time.monotonic() - self.started:7.1f}s] {message}", flush=True)


log = Log()


# ---- processes ----------------------------------------------------------------------------------

class Processes:
    """Every child process this run starts, so that all of them are stopped at the end."""

    def __init__(self, work: Path, env: dict):
        self.work, self.env = work, env
        self.children: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.files = []

    def start(self, name: str, command: list[str], logname: str | None = None) -> subprocess.Popen:
        path = self.work / f"{logname or name}.log"
        handle = open(path, "ab")
        self.files.append(handle)
        proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        self.children[name], self.logs[name] = proc, path
        return proc

    def stop(self, name: str, sig=signal.SIGTERM, wait: float = 30.0) -> int | None:
        proc = self.children.get(name)
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return proc.wait(wait)
        except subprocess.TimeoutExpired:
            log(f"{name} (pid {proc.pid}) did not stop in {wait:.0f} s: SIGKILL")
            proc.kill()
            return proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name, signal.SIGINT if name.startswith("scheduler") else signal.SIGTERM, 20)
        for handle in self.files:
            handle.close()


# ---- the client threads -------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.rows: list[tuple[str, object, float]] = []  # (endpoint, status or error name, ms)
        self.unexpected: list[str] = []
        self.lock = threading.Lock()

    def add(self, endpoint: str, status, ms: float, expected, detail: str) -> None:
        with self.lock:
            self.rows.append((endpoint, status, ms))
            if status not in expected and len(self.unexpected) < 200:
                self.unexpected.append(f"{utc():%H:%M:%S.%f} {endpoint} -> {status}: {detail}"[:400])


class CaseState:
    __slots__ = ("id", "status", "latest_at", "open_submission", "due_at")

    def __init__(self, case_id, status, latest_at, open_submission, due_at):
        self.id, self.status, self.latest_at = case_id, status, latest_at
        self.open_submission = open_submission  # the latest submission's id while unanswered
        self.due_at = due_at  # the pending follow-up's due time, if any


class Client(threading.Thread):
    """One consultant: a browser session and an API token, working on its own share of the cases."""

    ACTIONS = (("dashboard", 18), ("case_page", 18), ("note", 8), ("api_cases", 9), ("api_case", 3),
               ("api_note", 5), ("submission", 3), ("api_submission", 2), ("reply", 2),
               ("api_reply", 1), ("poa_save", 5), ("api_reminders", 2), ("healthz", 2), ("relogin", 1))

    def __init__(self, index: int, port: int, email: str, token: str, tz: str,
                 cases: list[CaseState], deadline: float, run_end: datetime, stats: Stats,
                 max_requests: int, seed: int, asins: list[str], client_ids: list[int]):
        super().__init__(name=f"client-{index}", daemon=True)
        self.port, self.email, self.token, self.zone = port, email, token, ZoneInfo(tz)
        self.cases = {c.id: c for c in cases}
        self.deadline, self.run_end, self.stats = deadline, run_end, stats
        self.max_requests, self.rng = max_requests, random.Random(seed)
        self.asins, self.client_ids = asins, client_ids
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.requests = 0
        self.counts = collections.Counter()
        self.names = [name for name, _ in self.ACTIONS]
        self.weights = [weight for _, weight in self.ACTIONS]

    # -- HTTP --
    def more(self) -> bool:
        return time.monotonic() < self.deadline and self.requests < self.max_requests

    def request(self, endpoint: str, method: str, path: str, *, form: dict | None = None,
                json_body: dict | None = None, api: bool = False, expected=(200,)):
        """One request on a new connection; returns (status, location, body) or None on no answer."""
        self.requests += 1
        headers = {}
        body = None
        if api:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            body = json.dumps(json_body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            status, location = response.status, response.getheader("Location") or ""
            cookies = response.msg.get_all("Set-Cookie") or []
        except (OSError, http.client.HTTPException) as exc:
            ms = (time.perf_counter() - started) * 1000
            self.stats.add(endpoint, f"no answer ({type(exc).__name__})", ms, expected, f"{method} {path}: {exc}")
            return None
        finally:
            connection.close()
        ms = (time.perf_counter() - started) * 1000
        if not api:
            for cookie in cookies:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if "Expires=Thu, 01 Jan 1970" in cookie or value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            found = CSRF_RE.search(text)
            if found:
                self.csrf = found.group(1)
        detail = f"{method} {path} {location} {text[:200]!r}" if status not in expected else ""
        self.stats.add(endpoint, status, ms, expected, detail)
        return status, location, text

    def sign_in(self) -> bool:
        self.cookies.clear()
        got = self.request("GET /login", "GET", "/login")
        if not got or not self.csrf:
            return False
        got = self.request("POST /login", "POST", "/login", expected=(302,), form={
            "email": self.email, "password": PASSWORD, "csrf_token": self.csrf})
        if not got or got[0] != 302 or not got[1].endswith("/cases"):
            return False
        self.csrf = ""  # a new session on sign-in: its forms carry a new token
        got = self.request("GET /cases", "GET", "/cases")
        return bool(got) and got[0] == 200

    def page(self, endpoint: str, path: str, expected=(200,)):
        got = self.request(endpoint, "GET", path, expected=expected)
        if got and got[0] == 302 and "/login" in got[1]:
            self.counts["signed_out"] += 1
            self.sign_in()
        return got

    def post_form(self, endpoint: str, path: str, fields: dict, expected=(302,)):
        if not self.csrf:
            self.page("GET /cases", "/cases")
        got = self.request(endpoint, "POST", path, form=dict(fields, csrf_token=self.csrf), expected=expected)
        if got and got[0] == 302 and got[1] and "/login" not in got[1]:
            target = urllib.parse.urlsplit(got[1])
            self.follow(target.path + (f"?{target.query}" if target.query else ""))
        return got

    def follow(self, path: str) -> None:
        label = re.sub(r"/\d+", "/<id>", path)
        self.page(f"GET {label}", path)

    # -- choosing cases --
    def now(self) -> datetime:
        return utc()

    def pick(self, condition) -> CaseState | None:
        found = [c for c in self.cases.values() if condition(c)]
        return self.rng.choice(found) if found else None

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def submission_plan(self) -> tuple[CaseState | None, datetime | None]:
        """A case and a submitted_at: mostly backdated so the follow-up falls due during the run."""
        now = self.now()
        remaining = (self.run_end - now).total_seconds()
        roll = self.rng.random()
        if roll < 0.7 and remaining > 150:
            at = now - timedelta(hours=FOLLOW_UP_HOURS) + timedelta(seconds=self.rng.uniform(20, remaining - 90))
        elif roll < 0.85:  # fell due a little while ago: the next pass sends it
            at = now - timedelta(hours=FOLLOW_UP_HOURS, minutes=self.rng.uniform(1, 30))
        else:
            at = None  # now: due in FOLLOW_UP_HOURS, after the run

        def free(moment: datetime):
            def ok(c: CaseState) -> bool:
                waiting = c.due_at is not None and c.due_at > now - timedelta(minutes=2)
                return (c.status in SUBMITTABLE and not waiting
                        and (c.latest_at is None or c.latest_at < moment - timedelta(minutes=1)))
            return ok
        case = self.pick(free(at or now))
        if case is None and at is not None:  # no case can take it backdated: submit it as of now
            case, at = self.pick(free(now)), None
        return case, at

    def after_submission(self, case: CaseState, at: datetime | None, submission_id: int | None) -> None:
        moment = at or self.now()
        case.status, case.latest_at = "submitted", moment
        case.open_submission = submission_id or -1  # -1: its id is read from the case page
        case.due_at = moment + timedelta(hours=FOLLOW_UP_HOURS)

    def after_reply(self, case: CaseState, outcome: str) -> None:
        case.status = {"reinstated": "reinstated", "rejected": "denied",
                       "more_info_requested": "more_info_requested"}.get(outcome, case.status)
        case.open_submission, case.due_at = None, None

    def reply_target(self) -> CaseState | None:
        now = self.now()
        if self.rng.random() < 0.2:  # sometimes while its follow-up is about to go out
            return self.pick(lambda c: c.open_submission is not None)
        return self.pick(lambda c: c.open_submission is not None
                         and (c.due_at is None or c.due_at < now - timedelta(minutes=2)
                              or c.due_at > self.run_end))

    def outcome(self) -> str:
        return self.rng.choices(("rejected", "more_info_requested", "other", "reinstated"), (45, 35, 10, 10))[0]

    # -- actions --
    def do_dashboard(self):
        rng = self.rng
        query = {"assignee": rng.choice(("me", "all", "all", "none"))}
        if rng.random() < 0.5:
            query["status"] = rng.choice(("submitted", "open", "drafting", "denied", "more_info_requested"))
        if rng.random() < 0.2:
            query["q"] = rng.choice(self.asins) if self.asins and rng.random() < 0.7 else rng.choice(
                ("Trademark", "Harbor", "complaints", "Kitchen"))
        if rng.random() < 0.3:
            query["sort"] = rng.choice(("updated", "opened", "oldest", "priority", "client", "follow_up"))
        if rng.random() < 0.15 and self.client_ids:
            query["client_id"] = rng.choice(self.client_ids)
        if rng.random() < 0.2:
            query["page"] = rng.choice((2, 3))
        self.page("GET /cases?filters", "/cases?" + urllib.parse.urlencode(query))

    def do_case_page(self):
        case_id = self.rng.choice(list(self.cases)) if self.rng.random() < 0.97 else 1
        self.page("GET /cases/<id>", f"/cases/{case_id}")

    def do_note(self):
        case_id = self.rng.choice(list(self.cases))
        self.post_form("POST /cases/<id>/notes", f"/cases/{case_id}/notes",
                       {"body": f"Soak note {self.rng.getrandbits(32):08x}: **called** the seller."})

    def do_api_cases(self):
        query = {"page": self.rng.choice((1, 1, 2, 3))}
        if self.rng.random() < 0.5:
            query["status"] = self.rng.choice(("submitted", "open", "denied"))
        self.request("GET /api/v1/cases", "GET", "/api/v1/cases?" + urllib.parse.urlencode(query), api=True)

    def do_api_case(self):
        self.request("GET /api/v1/cases/<id>", "GET", f"/api/v1/cases/{self.rng.choice(list(self.cases))}",
                     api=True)

    def do_api_note(self):
        case_id = self.rng.choice(list(self.cases))
        self.request("POST /api/v1/cases/<id>/notes", "POST", f"/api/v1/cases/{case_id}/notes", api=True,
                     json_body={"body": f"API note {self.rng.getrandbits(32):08x}"}, expected=(201,))

    def do_submission(self):
        case, at = self.submission_plan()
        if case is None:
            return self.do_case_page()
        got = self.post_form("POST /cases/<id>/submissions", f"/cases/{case.id}/submissions", {
            "poa_draft_id": "", "channel": self.rng.choice(("account_health_appeal", "email")),
            "amazon_reference": f"SOAK-{case.id}", "submitted_at": self.local(at) if at else ""})
        if got and got[0] == 302:
            self.counts["submissions"] += 1
            self.counts["submissions_due_in_run" if at else "submissions_now"] += 1
            # The form takes minutes: the follow-up is due at the start of that minute.
            self.after_submission(case, at.replace(second=0, microsecond=0) if at else None, None)

    def do_api_submission(self):
        case, at = self.submission_plan()
        if case is None:
            return self.do_api_cases()
        body = {"channel": "notification_reply"}
        if at:
            body["submitted_at"] = at.isoformat()
        got = self.request("POST /api/v1/cases/<id>/submissions", "POST", f"/api/v1/cases/{case.id}/submissions",
                           api=True, json_body=body, expected=(201,))
        if got and got[0] == 201:
            self.counts["submissions"] += 1
            self.counts["submissions_due_in_run" if at else "submissions_now"] += 1
            self.after_submission(case, at, json.loads(got[2])["id"])

    def _submission_id(self, case: CaseState) -> int | None:
        if case.open_submission and case.open_submission > 0:
            return case.open_submission
        got = self.page("GET /cases/<id>", f"/cases/{case.id}")
        ids = [int(i) for i in RESPOND_RE.findall(got[2])] if got and got[0] == 200 else []
        return max(ids) if ids else None

    def do_reply(self):
        case = self.reply_target()
        if case is None:
            return self.do_case_page()
        submission_id = self._submission_id(case)
        if submission_id is None:
            case.open_submission = None
            return None
        outcome = self.outcome()
        got = self.post_form("POST /submissions/<id>/responses", f"/submissions/{submission_id}/responses",
                             {"outcome": outcome, "received_at": "", "body": "Thank you for your appeal."})
        if got and got[0] == 302:
            self.counts["replies"] += 1
            self.after_reply(case, outcome)

    def do_api_reply(self):
        case = self.reply_target()
        if case is None or not case.open_submission or case.open_submission < 0:
            return self.do_reply()
        outcome = self.outcome()
        got = self.request("POST /api/v1/submissions/<id>/responses", "POST",
                           f"/api/v1/submissions/{case.open_submission}/responses", api=True,
                           json_body={"outcome": outcome, "body": "Reply logged by the API."}, expected=(201,))
        if got and got[0] == 201:
            self.counts["replies"] += 1
            self.after_reply(case, outcome)

    def do_poa_save(self):
        case_id = self.rng.choice(list(self.cases))
        got = self.page("GET /cases/<id>/poa", f"/cases/{case_id}/poa", expected=(200, 302))
        if not got:
            return
        if got[0] == 200:  # no draft yet: start one from the starter
            got = self.request("POST /cases/<id>/poa/start", "POST", f"/cases/{case_id}/poa/start",
                               form={"csrf_token": self.csrf}, expected=(302,))
            if not got or got[0] != 302:
                return
        if got[0] != 302 or "/poa/" not in got[1]:
            return
        path = urllib.parse.urlsplit(got[1]).path
        self.page("GET /poa/<id>", path)
        tag = self.rng.getrandbits(24)
        self.post_form("POST /poa/<id>", path, {
            "subject": f"Plan of action for case {case_id}",
            "introduction": "We take this seriously and have acted on every point.",
            "root_cause": f"Supplier invoices did not match the listings ({tag:06x}).",
            "corrective_actions": "Audited every supplier\nRemoved the affected listings",
            "preventive_measures": "Quarterly supplier checks\nA second review before listing",
            "closure": "Thank you for reviewing our plan."})
        self.counts["poa_saves"] += 1

    def do_api_reminders(self):
        self.request("GET /api/v1/reminders", "GET", "/api/v1/reminders?status=pending", api=True)

    def do_healthz(self):
        self.request("GET /healthz", "GET", "/healthz")

    def do_relogin(self):
        if self.csrf:
            self.request("POST /logout", "POST", "/logout", form={"csrf_token": self.csrf}, expected=(302,))
        self.sign_in()

    def run(self) -> None:
        try:
            for _ in range(5):
                if self.sign_in() or not self.more():
                    break
                time.sleep(1)
            while self.more():
                action = self.rng.choices(self.names, self.weights)[0]
                self.counts[action] += 1
                getattr(self, f"do_{action}")()
                time.sleep(self.rng.uniform(0.1, 0.6))  # people read what they asked for
        except Exception as exc:  # a bug here must not hang the run: count it and stop this client
            self.stats.add("client error", f"client exception ({type(exc).__name__})", 0, (), repr(exc))
            self.counts["client_exception"] += 1
            import traceback
            traceback.print_exc()


# ---- the run ------------------------------------------------------------------------------------

def database_url(raw: str) -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    url = make_url(raw)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit("The soak runs on PostgreSQL: give --database-url postgresql+psycopg://...")
    name = url.database or f"caseapp_soak_{os.getpid()}"
    return url.set(database=name).render_as_string(hide_password=False), name


def pg_args(url: str) -> tuple[list[str], dict]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    env = dict(os.environ, PGPASSWORD=u.password) if u.password else dict(os.environ)
    return args, env


def scheduler_passes(path: Path, after: float) -> int:
    """Dispatch passes that started after `after` (epoch) and finished, from one scheduler's log."""
    started, done = None, 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return 0
    for line in lines:
        parts = line.split(" ", 1)
        try:
            ts = float(parts[0])
        except ValueError:
            continue
        if ts <= after:
            continue
        if "Running job" in line:
            started = ts
        elif "executed successfully" in line and started is not None:
            done += 1
    return done


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve_smtp:
        return serve_smtp(args.serve_smtp, args.record)

    url, dbname = database_url(args.database_url)
    pg, pg_env = pg_args(url)
    work = Path(tempfile.mkdtemp(prefix="caseapp-soak-"))
    web_port, smtp_port = free_port(), free_port()
    record = work / "smtp-received.txt"
    record.touch()
    env = dict(os.environ, CASEAPP_ENV="production", DATABASE_URL=url, SECRET_KEY=secrets.token_urlsafe(32),
               RATELIMIT_ENABLED="false", SCHEDULER_ENABLED="false", CASEAPP_INSTANCE_DIR=str(work),
               EVIDENCE_DIR=str(work / "evidence"), MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port),
               MAIL_DEFAULT_SENDER="caseapp@soak.example", APP_BASE_URL="https://caseapp.soak.example",
               FOLLOW_UP_HOURS=str(FOLLOW_UP_HOURS), FOLLOW_UP_REPEAT_HOURS=str(FOLLOW_UP_REPEAT_HOURS),
               PYTHONUNBUFFERED="1")
    env.pop("MAIL_USERNAME", None)
    env.pop("MAIL_USE_TLS", None)
    env.pop("MAIL_USE_SSL", None)
    procs = Processes(work, env)
    created = False
    failed_checks: list[str] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        log(f"work folder {work}; database {dbname}; gunicorn :{web_port}; SMTP :{smtp_port}")
        subprocess.run(["createdb", *pg, dbname], check=True, env=pg_env)
        created = True
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seeded = subprocess.run([sys.executable, str(BENCH_DIR / "seed.py"), "--cases", str(args.cases),
                                 "--quiet", "--token-file", str(work / "token")], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        if seeded.returncode:
            raise SystemExit(f"bench/seed.py failed:\n{seeded.stdout}{seeded.stderr}")
        log(f"migrated (flask db upgrade) and seeded {args.cases} cases (bench/seed.py)")

        os.environ.update(env)  # this process reads and checks the same database
        sys.path.insert(0, str(ROOT))
        result = run(args, procs, env, work, web_port, smtp_port, record, failed_checks)
        return result
    finally:
        procs.stop_all()
        if "caseapp.extensions" in sys.modules:
            try:
                from caseapp.extensions import db
                if getattr(main, "app", None) is not None:
                    with main.app.app_context():
                        db.session.remove()
                        db.engine.dispose()
            except Exception as exc:  # cleanup goes on
                print(f"closing the database connections: {exc}", file=sys.stderr)
        if created and not args.keep:
            subprocess.run(["dropdb", "--force", *pg, dbname], env=pg_env, check=False)
            log(f"dropped {dbname}")
        if args.keep or failed_checks:
            log(f"kept {work} (logs: gunicorn.log, scheduler*.log, smtp*.log, smtp-received.txt)")
            if args.keep:
                log(f"kept the database {url}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def setup_data(args, app, run_start: datetime, run_end: datetime, rng: random.Random, reserve: int):
    """API tokens, the client threads' shares of the cases, the cases kept for the faults, and
    submissions whose follow-ups fall due during the run."""
    from sqlalchemy import func, select, text

    from caseapp.extensions import db
    from caseapp.models import AmazonResponse, Case, Reminder, Submission, User
    from caseapp.services.accounts import tokens
    from caseapp.services.appeals import submissions

    with app.app_context():
        base = {"reminder_id": db.session.scalar(select(func.coalesce(func.max(Reminder.id), 0))),
                "deadline_id": db.session.scalar(text("SELECT coalesce(max(id), 0) FROM deadlines")),
                "outbox_id": db.session.scalar(text("SELECT coalesce(max(id), 0) FROM outbox_messages")),
                "event_id": db.session.scalar(text("SELECT coalesce(max(id), 0) FROM case_events"))}
        people = list(db.session.scalars(select(User).where(User.role == "consultant").order_by(User.id)))
        admin = db.session.scalar(select(User).where(User.role == "admin"))
        clients = []
        for k in range(args.threads):
            person = people[k % len(people)]
            _, token = tokens.create(person, f"soak client {k}")
            clients.append((person.email, token, person.effective_timezone))
        _, fault_token = tokens.create(people[-1], "soak faults")

        latest = dict(db.session.execute(select(Submission.case_id, func.max(Submission.submitted_at))
                                         .group_by(Submission.case_id)).all())
        cases = list(db.session.scalars(select(Case).order_by(Case.id)))
        limit = run_start - timedelta(hours=FOLLOW_UP_HOURS, minutes=31)
        eligible = [c for c in cases if c.status in SUBMITTABLE and c.id != 1
                    and (latest.get(c.id) is None or latest[c.id] < limit)]
        rng.shuffle(eligible)
        if len(eligible) < reserve + 10:
            raise SystemExit(f"only {len(eligible)} cases can take a backdated submission; give more --cases")
        reserved = sorted(c.id for c in eligible[:reserve])
        # A few follow-ups already due before the schedulers start (they "fell due while nothing
        # ran"), the rest spread over the run, the last 90 s before its end.
        span = (run_end - run_start).total_seconds()
        wanted = min(max(10, int(args.minutes * 3)), (len(eligible) - reserve) // 2)
        initial = 0
        eligible_ids = [c.id for c in eligible]
        rest_ids = eligible_ids[reserve + wanted:]
        for case in eligible[reserve:reserve + wanted]:
            offset = -rng.uniform(60, 1800) if initial < max(2, wanted // 10) else rng.uniform(10, span - 90)
            at = run_start + timedelta(seconds=offset) - timedelta(hours=FOLLOW_UP_HOURS)
            actor = db.session.get(User, case.assignee_id) if case.assignee_id else admin
            submissions.record_submission(actor, case.id, {"submitted_at": at, "channel": "email",
                                                           "amazon_reference": "SOAK-SETUP"})
            initial += 1
        db.session.remove()
        # Deadline reminders: as many, spread alike, on other cases.
        rest = rest_ids or eligible_ids[reserve:]
        for k in range(wanted):
            offset = -rng.uniform(60, 1800) if k < max(2, wanted // 10) else rng.uniform(10, span - 90)
            add_deadline(rest[k % len(rest)], run_start + timedelta(seconds=offset), k % 3, f"setup {k}")
        initial_deadlines = wanted
        db.session.remove()

        latest = dict(db.session.execute(select(Submission.case_id, func.max(Submission.submitted_at))
                                         .group_by(Submission.case_id)).all())
        pending = dict(db.session.execute(select(Reminder.case_id, func.min(Reminder.due_at)).where(
            Reminder.status == "pending", Reminder.dispatched_at.is_(None)).group_by(Reminder.case_id)).all())
        answered = {sid for (sid,) in db.session.execute(select(AmazonResponse.submission_id))}
        open_of = {}
        for case_id, sub_id, at in db.session.execute(select(Submission.case_id, Submission.id,
                                                             Submission.submitted_at)):
            if latest.get(case_id) == at:
                open_of[case_id] = None if sub_id in answered else sub_id
        states = [CaseState(c.id, c.status, latest.get(c.id), open_of.get(c.id), pending.get(c.id))
                  for c in db.session.scalars(select(Case).order_by(Case.id)) if c.id not in reserved]
        asins = [a for (a,) in db.session.execute(text("SELECT asin FROM case_asins ORDER BY case_id LIMIT 50"))]
        client_ids = [i for (i,) in db.session.execute(text("SELECT id FROM clients ORDER BY id LIMIT 20"))]
        db.session.remove()
    return base, clients, fault_token, reserved, states, asins, client_ids, (initial, initial_deadlines)


DEADLINE_MARK = "soak: one reminder due at "


def add_deadline(case_id: int, alert_at: datetime, shape: int, label: str) -> int:
    """A deadline on the case whose next reminder falls due at `alert_at` (its only one in the
    run): shape 0 a lead reminder (due 72 h later), 1 due at `alert_at`, 2 an Amazon clock
    overdue by a day then (its admins are told too). The note says when, for the checks.
    Call inside an app context."""
    from caseapp.extensions import db
    from caseapp.models import Case, User
    from caseapp.services.deadlines import clocks

    case = db.session.get(Case, case_id)
    actor = (db.session.get(User, case.assignee_id) if case.assignee_id else
             db.session.scalar(db.select(User).where(User.agency_id == case.agency_id, User.role == "admin")))
    due = {0: alert_at + timedelta(hours=72), 1: alert_at, 2: alert_at - timedelta(hours=24)}[shape]
    kind = "appeal_window" if shape == 2 else "custom"
    deadline = clocks.add(actor, case_id, {"kind": kind, "title": f"Soak deadline {label}", "due_at": due,
                                           "note": DEADLINE_MARK + alert_at.isoformat()},
                          now=alert_at - timedelta(seconds=30))
    return deadline.id


NEXT_RUN_RE = re.compile(r"next run at: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def next_pass(path: Path, not_before: float) -> float | None:
    """When the scheduler writing this log runs its next pass at or after `not_before` (epoch)."""
    try:
        found = NEXT_RUN_RE.findall(path.read_text(errors="replace"))
    except OSError:
        found = []
    if not found:
        return None
    moment = datetime.strptime(found[-1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    while moment < not_before:
        moment += 60
    return moment


class Faults:
    """The faults, each in a thread of its own, timed to land while mail is being delivered.

    Each one first records a cluster of submissions (through the API) whose follow-ups fall due
    3 s before a scheduler's next pass, waits until that pass has leased their emails (outbox
    rows 'sending'), and then strikes: SIGKILL the scheduler, SIGKILL the SMTP server, or
    (the reply race) record Amazon's reply to each of those submissions while they go out.
    """

    def __init__(self, app, procs: Processes, stats: Stats, port: int, token: str, smtp_cmd: list[str],
                 smtp_port: int, rng: random.Random):
        self.app, self.procs, self.stats, self.port, self.token = app, procs, stats, port, token
        self.smtp_cmd, self.smtp_port, self.rng = smtp_cmd, smtp_port, rng
        self.info: dict = {}
        self.down: set[str] = set()  # processes stopped on purpose
        self.lock = threading.Lock()
        self.deadlines: list[int] = []  # the clusters' deadlines

    def note(self, key: str, value) -> None:
        with self.lock:
            self.info[key] = value

    def api(self, endpoint: str, method: str, path: str, body: dict, expected=(201,)):
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=json.dumps(body), headers={
                "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            self.stats.add(endpoint, f"no answer ({type(exc).__name__})", (time.perf_counter() - started) * 1000,
                           expected, f"{method} {path}: {exc}")
            return None, ""
        finally:
            connection.close()
        self.stats.add(endpoint, response.status, (time.perf_counter() - started) * 1000, expected,
                       f"{method} {path} {text[:200]!r}")
        return response.status, text

    def cluster(self, case_ids: list[int], due: float, tag: str) -> list[int]:
        """Backdated submissions on these cases, their follow-ups due at `due` (epoch)."""
        at = (utc(due) - timedelta(hours=FOLLOW_UP_HOURS)).isoformat()
        ids = []
        for case_id in case_ids:
            status, text = self.api("POST /api/v1/cases/<id>/submissions (fault)", "POST",
                                    f"/api/v1/cases/{case_id}/submissions",
                                    {"submitted_at": at, "channel": "email", "amazon_reference": tag})
            if status == 201:
                ids.append(json.loads(text)["id"])
        with self.app.app_context():  # and a deadline reminder due with them, on each case
            for k, case_id in enumerate(case_ids):
                self.deadlines.append(add_deadline(case_id, utc(due), k % 3, f"{tag} {case_id}"))
            from caseapp.extensions import db
            db.session.remove()
        return ids

    def mail_of(self, submission_ids: list[int]) -> collections.Counter:
        from sqlalchemy import text

        from caseapp.extensions import db

        with self.app.app_context():
            rows = db.session.execute(text(
                "SELECT o.status FROM outbox_messages o JOIN reminders r ON r.id = o.reminder_id "
                "WHERE r.submission_id = ANY(:ids)"), {"ids": submission_ids}).all()
            db.session.remove()
        return collections.Counter(status for (status,) in rows)

    def wait_leased(self, submission_ids: list[int], pass_at: float) -> bool:
        """Sleep until just before the pass, then poll until it has leased one of these emails."""
        time.sleep(max(0.0, pass_at - 0.5 - time.time()))
        until = pass_at + 30
        while time.time() < until:
            if self.mail_of(submission_ids).get("sending"):
                return True
            time.sleep(0.002)
        return False

    def prepare(self, case_ids: list[int], tag: str, logs: list[Path]) -> tuple[list[int], float]:
        known = [t for t in (next_pass(path, time.time() + 12) for path in logs) if t is not None]
        pass_at = min(known, default=time.time() + 12)
        time.sleep(max(0.0, pass_at - 8 - time.time()))
        return self.cluster(case_ids, pass_at - 3, tag), pass_at

    def kill_scheduler(self, at: float, restart_after: float, case_ids: list[int], boot: list[str]) -> None:
        time.sleep(max(0.0, at - time.time()))
        subs, pass_at = self.prepare(case_ids, "SOAK-KILL", [self.procs.logs["scheduler1"]])
        leased = self.wait_leased(subs, pass_at)
        time.sleep(self.rng.uniform(0, 0.015))
        proc = self.procs.children["scheduler1"]
        self.down.add("scheduler1")
        killed = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        mail = self.mail_of(subs)
        self.note("scheduler_kill", {"at": utc(killed).isoformat(timespec="milliseconds"), "epoch": killed,
                                     "pid": proc.pid,
                                     "cluster": len(subs), "mid_delivery": leased, "cluster_mail_at_kill": dict(mail)})
        log(f"SIGKILL scheduler1 (pid {proc.pid}) {'during' if leased else 'NOT during'} a delivery; "
            f"its cluster's mail right after: {dict(mail)}")
        time.sleep(restart_after)
        proc = self.procs.start("scheduler1", boot, "scheduler1-restarted")
        self.down.discard("scheduler1")
        self.note("scheduler_restart", {"at": utc().isoformat(timespec="seconds"), "pid": proc.pid})
        log(f"scheduler1 started again (pid {proc.pid})")

    def stop_smtp(self, at: float, down_for: float, case_ids: list[int]) -> None:
        time.sleep(max(0.0, at - time.time()))
        subs, pass_at = self.prepare(case_ids, "SOAK-SMTP", [self.procs.logs["scheduler1"],
                                                             self.procs.logs["scheduler2"]])
        leased = self.wait_leased(subs, pass_at)
        time.sleep(self.rng.uniform(0, 0.015))
        self.down.add("smtp")
        killed = time.time()
        self.procs.stop("smtp", signal.SIGKILL, 10)
        mail = self.mail_of(subs)
        self.note("smtp_stop", {"at": utc(killed).isoformat(timespec="milliseconds"), "epoch": killed,
                                "cluster": len(subs),
                                "mid_delivery": leased, "cluster_mail_at_stop": dict(mail)})
        log(f"SMTP server killed {'during' if leased else 'NOT during'} a delivery; its cluster's mail: {dict(mail)}")
        time.sleep(down_for)
        self.procs.start("smtp", self.smtp_cmd, "smtp-2")
        up = wait_port(self.smtp_port, 30)
        self.down.discard("smtp")
        self.note("smtp_start", {"at": utc().isoformat(timespec="seconds"), "up": up})
        log(f"SMTP server started again on the same port: {'up' if up else 'NOT UP'}")

    def reply_race(self, name: str, at: float, case_ids: list[int]) -> None:
        time.sleep(max(0.0, at - time.time()))
        until = time.time() + 200
        while ("smtp" in self.down or "smtp_start" not in self.info) and time.time() < until:
            time.sleep(0.5)  # the mail must be able to go out
        subs, pass_at = self.prepare(case_ids, "SOAK-RACE", [self.procs.logs["scheduler1"],
                                                             self.procs.logs["scheduler2"]])
        leased = self.wait_leased(subs, pass_at)
        answers = collections.Counter()

        def reply(submission_id: int) -> None:
            time.sleep(self.rng.uniform(0, 0.08))
            status, _ = self.api("POST /api/v1/submissions/<id>/responses (race)", "POST",
                                 f"/api/v1/submissions/{submission_id}/responses",
                                 {"outcome": "rejected", "body": "Replied while the reminder went out."})
            with self.lock:
                answers[str(status)] += 1

        threads = [threading.Thread(target=reply, args=(sid,), daemon=True) for sid in subs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.note(name, {"at": utc().isoformat(timespec="seconds"), "cluster": len(subs), "mid_delivery": leased,
                         "reply_status": dict(answers), "cluster_mail_after": dict(self.mail_of(subs))})
        log(f"{name}: {len(subs)} replies while their reminders went out: {dict(answers)}")


def run(args, procs: Processes, env: dict, work: Path, web_port: int, smtp_port: int, record: Path,
        failed_checks: list[str]) -> int:
    from caseapp import create_app
    from caseapp.extensions import db
    from sqlalchemy import text

    app = create_app()
    main.app = app
    rng = random.Random(args.seed)
    duration = args.minutes * 60
    cluster = args.cluster
    races = [0.72, 0.86][:args.reply_races]
    reserve = cluster * (2 + len(races))
    # The traffic starts once the servers answer; about 15 s from now.
    run_start = utc(time.time() + 15)
    run_end = run_start + timedelta(seconds=duration)
    base, clients, fault_token, reserved, states, asins, client_ids, (initial, initial_deadlines) = setup_data(
        args, app, run_start, run_end, rng, reserve)
    log(f"{initial} submissions and {initial_deadlines} deadlines recorded with follow-ups and deadline "
        f"reminders due from 30 min before the start to 90 s before the end; {len(reserved)} cases kept "
        f"for the faults; {len(clients) + 1} API tokens")

    smtp_cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-smtp", str(smtp_port),
                "--record", str(record)]
    boot = [sys.executable, "-c", SCHEDULER_BOOT]
    procs.start("smtp", smtp_cmd, "smtp-1")
    procs.start("gunicorn", [str(BIN / "gunicorn"), "-w", str(args.workers), "-b", f"127.0.0.1:{web_port}",
                             "--log-level", "warning", "--access-logfile", str(work / "access.log"),
                             "--access-logformat", '%(t)s "%(r)s" %(s)s %(M)sms', "wsgi:app"])
    if not wait_port(smtp_port, 30):
        raise SystemExit("the SMTP server did not start")
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", web_port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        raise SystemExit("gunicorn did not answer /healthz")
    procs.start("scheduler1", boot, "scheduler1")
    procs.logs["scheduler2"] = work / "scheduler2.log"
    log(f"gunicorn -w {args.workers}, scheduler1 and the SMTP server (pid {procs.children['smtp'].pid}) up; "
        "scheduler2 follows in 30 s")

    stats = Stats()
    traffic_start = time.time()
    deadline = time.monotonic() + duration
    run_end = utc(traffic_start + duration)
    shares: list[list[CaseState]] = [[] for _ in clients]
    for i, state in enumerate(states):
        shares[i % len(clients)].append(state)
    threads = [Client(k, web_port, email, token, tz, shares[k], deadline, run_end, stats, args.max_requests,
                      args.seed * 100 + k, asins, client_ids)
               for k, (email, token, tz) in enumerate(clients)]
    for t in threads:
        t.start()
    log(f"traffic: {len(threads)} client threads for {args.minutes:g} min")

    faults = Faults(app, procs, stats, web_port, fault_token, smtp_cmd, smtp_port, random.Random(args.seed + 1))
    groups = [reserved[i * cluster:(i + 1) * cluster] for i in range(2 + len(races))]
    fault_threads = [
        threading.Thread(target=faults.kill_scheduler, daemon=True, name="fault-kill",
                         args=(traffic_start + duration / 3, args.restart_after, groups[0], boot)),
        threading.Thread(target=faults.stop_smtp, daemon=True, name="fault-smtp",
                         args=(traffic_start + duration / 2, args.smtp_down_seconds, groups[1])),
    ] + [threading.Thread(target=faults.reply_race, daemon=True, name=f"fault-race{k + 1}",
                          args=(f"reply_race_{k + 1}", traffic_start + duration * share, groups[2 + k]))
         for k, share in enumerate(races)]
    for t in fault_threads:
        t.start()

    died: dict[str, int] = {}
    next_report = time.time() + 60
    while any(t.is_alive() for t in threads):
        now = time.time()
        if "scheduler2" not in procs.children and now >= traffic_start + 30:
            procs.start("scheduler2", boot, "scheduler2")
        for name, proc in list(procs.children.items()):
            if name not in faults.down and proc.poll() is not None and name not in died:
                died[name] = proc.returncode
                log(f"{name} exited unexpectedly with {proc.returncode}")
        if now >= next_report:
            with stats.lock:
                n, bad = len(stats.rows), sum(1 for r in stats.rows if not isinstance(r[1], int) or r[1] >= 500)
            log(f"{n} requests so far, {bad} 5xx or unanswered; mails received: "
                f"{len(record.read_text().splitlines())}")
            next_report = now + 60
        time.sleep(0.2)
    for t in threads:
        t.join(60)
    traffic_end = time.time()
    log(f"traffic stopped; {len(stats.rows)} requests")
    for t in fault_threads:
        t.join(max(1.0, traffic_end + 200 - time.time()))
    unfinished = [t.name for t in fault_threads if t.is_alive()]
    if unfinished:
        log(f"faults still running (the run is too short for them): {unfinished}")

    # ---- settle: a pass that started after the end, then let the outbox drain ----------------
    schedulers = [procs.logs["scheduler1"], procs.logs["scheduler2"]]
    wait_until = traffic_end + 150
    while time.time() < wait_until and not all(scheduler_passes(p, traffic_end) for p in schedulers):
        time.sleep(2)
    passes_after = [scheduler_passes(p, traffic_end) for p in schedulers]
    log(f"dispatch passes started after the end: {passes_after}")
    drain_until = traffic_end + (LEASE_MINUTES + 2) * 60
    while True:
        with app.app_context():
            waiting = db.session.execute(text(
                "SELECT count(*) FROM outbox_messages WHERE id > :b AND ((status = 'pending' AND send_after <= now()) "
                "OR (status = 'sending'))"), {"b": base["outbox_id"]}).scalar()
            undispatched = db.session.execute(text(
                "SELECT count(*) FROM reminders WHERE id > :b AND status = 'pending' AND dispatched_at IS NULL "
                "AND due_at <= now()"), {"b": base["reminder_id"]}).scalar()
            undispatched += db.session.execute(text(
                "SELECT count(*) FROM deadlines WHERE status = 'open' AND paused_at IS NULL "
                "AND next_alert_at <= now()")).scalar()
            db.session.remove()
        if (not waiting and not undispatched) or time.time() > drain_until:
            break
        time.sleep(5)
    drained_s = time.time() - traffic_end
    log(f"outbox settled {drained_s:.0f} s after the end (still deliverable or leased: {waiting}, "
        f"due but not dispatched: {undispatched})")
    faults.down.update(("scheduler1", "scheduler2"))
    for name in ("scheduler1", "scheduler2"):
        procs.stop(name, signal.SIGINT, 30)
    sweep_at = utc()
    sweep = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "reminders", "run-due"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    sweep_text = (sweep.stdout.strip() or sweep.stderr.strip()).splitlines()[-1:] or [""]
    log(f"final `flask reminders run-due`: {sweep_text[0]}")
    time.sleep(1)
    faults.down.update(("gunicorn", "smtp"))
    procs.stop("gunicorn", signal.SIGTERM, 30)
    procs.stop("smtp", signal.SIGTERM, 20)
    final = utc()
    info = dict(faults.info)
    if died:
        info["died"] = died

    return report(args, app, base, stats, threads, record, procs, work, info, dict(
        traffic_start=utc(traffic_start), traffic_end=utc(traffic_end), sweep_at=sweep_at, final=final,
        passes_after=passes_after, drained_s=drained_s, sweep=sweep_text[0], initial=initial,
        initial_deadlines=initial_deadlines, cluster_deadlines=len(faults.deadlines),
        races=len(races)), failed_checks)


def pass_failures(work: Path) -> list[tuple[float, str, str]]:
    """(epoch, log file, exception) of every failed dispatch pass in the scheduler logs."""
    found = []
    for path in sorted(work.glob("scheduler*.log")):
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if "dispatch pass failed" in line:
                error = next((l for l in lines[i + 1:i + 200] if re.match(r"^(sqlalchemy\.exc|psycopg)\.\S+:", l)), "?")
                found.append((float(line.split(" ", 1)[0]), path.name, error[:160]))
    return found


def explain_duplicate(times: list[float], faults: dict, failures: list[tuple[float, str, str]]) -> str:
    """The likely cause of a key received twice, from when its first copy arrived."""
    first = times[0]
    kill = faults.get("scheduler_kill", {}).get("epoch")
    if kill and kill - 2 <= first <= kill + 0.05:
        return (f"accepted by the SMTP server {1000 * (kill - first):.0f} ms before scheduler1 was SIGKILLed, "
                "which had not yet recorded it as sent; re-sent when its lease ran out")
    stop = faults.get("smtp_stop", {}).get("epoch")
    if stop and stop - 2 <= first <= stop + 0.05:
        return (f"recorded by the SMTP server {1000 * (stop - first):.0f} ms before it was killed; the "
                "sender did not get the 250 and tried again")
    for at, name, error in failures:
        if first <= at <= first + 10:
            return (f"the dispatch pass that sent it failed {at - first:.1f} s later before recording it "
                    f"({name}: {error}); re-sent when its lease ran out")
    return "no fault or failed pass near its first delivery: unexplained"


def report(args, app, base, stats: Stats, threads, record: Path, procs: Processes, work: Path,
           faults: dict, info: dict, failed_checks: list[str]) -> int:
    from sqlalchemy import text

    from caseapp.extensions import db

    # ---- requests --------------------------------------------------------------------------
    by_endpoint: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    times: dict[str, list[float]] = collections.defaultdict(list)
    statuses = collections.Counter()
    for endpoint, status, ms in stats.rows:
        by_endpoint[endpoint][status] += 1
        statuses[status] += 1
        if isinstance(status, int):
            times[endpoint].append(ms)
    all_ms = [ms for _, status, ms in stats.rows if isinstance(status, int)]
    five_xx = sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500)
    no_answer = sum(n for s, n in statuses.items() if not isinstance(s, int))
    actions = collections.Counter()
    for t in threads:
        actions.update(t.counts)

    # ---- mail: the server's record and the database ----------------------------------------
    received = collections.Counter()
    received_at: dict[str, list[float]] = collections.defaultdict(list)
    for line in record.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            received[parts[1]] += 1
            received_at[parts[1]].append(float(parts[0]))
    start, end, sweep_at = info["traffic_start"], info["traffic_end"], info["sweep_at"]
    end_dt = end
    stuck_before = end_dt - timedelta(minutes=LEASE_MINUTES + 2)
    with app.app_context():
        q = lambda sql, **kw: db.session.execute(text(sql), kw).mappings().all()  # noqa: E731
        outbox = q("SELECT o.id, o.idempotency_key AS key, o.kind, o.status, o.attempts, o.send_after, "
                   "o.lease_until, o.sent_at, o.last_error, o.reminder_id, o.deadline_id, o.created_at, r.due_at "
                   "FROM outbox_messages o LEFT JOIN reminders r ON r.id = o.reminder_id "
                   "WHERE o.id > :b ORDER BY o.id", b=base["outbox_id"])
        reminders = q("SELECT id, case_id, submission_id, sequence, status, due_at, dispatched_at, sent_at, "
                      "cancelled_reason FROM reminders WHERE id > :b ORDER BY id", b=base["reminder_id"])
        sent_reminders_without_mail = q(
            "SELECT r.id, r.case_id, r.due_at, r.dispatched_at FROM reminders r WHERE r.id > :b "
            "AND r.status = 'sent' AND r.dispatched_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outbox_messages o "
            "WHERE o.reminder_id = r.id AND o.kind = 'reminder' AND o.status = 'sent')", b=base["reminder_id"])
        failure_events = q("SELECT case_id, summary, occurred_at FROM case_events WHERE id > :b AND "
                           "kind IN ('reminder_failed', 'deadline_reminder_failed') ORDER BY id",
                           b=base["event_id"])
        soak_deadlines = q("SELECT id, case_id, note, status, alerts_sent, next_alert_at FROM deadlines "
                           "WHERE id > :b AND note LIKE :mark ORDER BY id", b=base["deadline_id"],
                           mark=DEADLINE_MARK + "%")
        db.session.remove()
    by_key = {row["key"]: row for row in outbox}
    outbox_status = collections.Counter((row["kind"], row["status"]) for row in outbox)
    sent_keys = {row["key"] for row in outbox if row["status"] == "sent"}
    duplicates = {key: n for key, n in received.items() if n > 1}
    failures = pass_failures(work)
    explained = {key: explain_duplicate(received_at[key], faults, failures) for key in duplicates}
    with app.app_context():
        duplicate_rows = {row["key"]: row for row in db.session.execute(text(
            "SELECT o.idempotency_key AS key, o.status, o.attempts, o.case_id, r.id AS reminder_id, "
            "r.status AS reminder_status, s.amazon_reference AS reference FROM outbox_messages o "
            "LEFT JOIN reminders r ON r.id = o.reminder_id LEFT JOIN submissions s ON s.id = r.submission_id "
            "WHERE o.idempotency_key = ANY(:keys)"), {"keys": list(duplicates)}).mappings()}
        db.session.remove()
    lost = sorted(key for key in sent_keys if key not in received)
    unknown = sorted(key for key in received if key not in by_key)
    received_not_sent = sorted(key for key in received if key in by_key and by_key[key]["status"] != "sent")
    # A copy the killed scheduler got accepted just before SIGKILL, whose reminder a reply
    # then cancelled: delivered once, and the outbox row says its outcome is unknown.
    # Nothing but the receiving side could tell the database; counted, not failed.
    kill = faults.get("scheduler_kill", {}).get("epoch")
    accepted_before_kill = [
        key for key in received_not_sent
        if received[key] == 1 and kill and kill - 2 <= received_at[key][0] <= kill + 0.05
        and by_key[key]["status"] == "cancelled" and "may already have delivered" in by_key[key]["last_error"]]
    received_not_sent = [key for key in received_not_sent if key not in accepted_before_kill]
    waiting = [row for row in outbox if row["status"] in ("pending", "sending")]
    backoff = [row for row in waiting if row["status"] == "pending" and row["attempts"] > 0
               and row["send_after"] > info["final"]]
    stuck = [row for row in waiting if row not in backoff
             and (row["due_at"] or row["send_after"]) < stuck_before]
    reminder_status = collections.Counter(r["status"] for r in reminders)
    fell_due = [r for r in reminders if r["due_at"] <= sweep_at]
    dispatched = [r for r in reminders if r["dispatched_at"] is not None]
    missed = [r for r in reminders if r["status"] == "pending" and r["dispatched_at"] is None
              and r["due_at"] <= sweep_at]
    by_sweep = [r for r in dispatched if r["dispatched_at"] >= sweep_at]
    lateness = [(r["dispatched_at"] - r["due_at"]).total_seconds() for r in dispatched
                if r["due_at"] >= start]
    delivery = [(row["sent_at"] - row["due_at"]).total_seconds() for row in outbox
                if row["status"] == "sent" and row["due_at"] is not None and row["due_at"] >= start]
    reminder_mail_sent = sum(1 for row in outbox if row["kind"] == "reminder" and row["status"] == "sent")

    # ---- deadline reminders: each that fell due chosen once, its mail received once -----------
    alert_at = {d["id"]: datetime.fromisoformat(d["note"][len(DEADLINE_MARK):]) for d in soak_deadlines}
    deadline_due = [d for d in soak_deadlines if alert_at[d["id"]] <= sweep_at]
    deadline_not_yet = [d for d in soak_deadlines if alert_at[d["id"]] > sweep_at]
    deadline_mail: dict[int, list] = collections.defaultdict(list)
    for row in outbox:
        if row["kind"] == "deadline" and row["deadline_id"] in alert_at:
            deadline_mail[row["deadline_id"]].append(row)
    deadline_not_once = [d for d in deadline_due if d["alerts_sent"] != 1 or d["status"] != "open"
                         or d["next_alert_at"] is None or d["next_alert_at"] <= alert_at[d["id"]]]
    deadline_not_once += [d for d in deadline_not_yet if d["alerts_sent"] != 0]
    deadline_without_mail = [d for d in deadline_due if not deadline_mail.get(d["id"])]
    deadline_mail_wrong = [
        row for rows in deadline_mail.values() for row in rows
        if row["key"].split(":")[2] != "1" or row["status"] != "sent" or received.get(row["key"]) != 1]
    deadline_mail_sent = sum(1 for rows in deadline_mail.values() for row in rows if row["status"] == "sent")
    deadline_received = sum(received.get(row["key"], 0) for rows in deadline_mail.values() for row in rows)

    # ---- logs ----------------------------------------------------------------------------------
    log_lines = collections.Counter()
    log_samples: list[str] = []
    for path in sorted(work.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            for marker in ("dispatch pass failed", "mail server unusable", "Exception on", "WORKER TIMEOUT",
                           "could not be sent", "could not be prepared", "DeadlockDetected", "ERROR"):
                if marker in line:
                    log_lines[f"{path.name}: {marker}"] += 1
                    if marker not in ("mail server unusable",) and len(log_samples) < 30:
                        log_samples.append(f"{path.name}: {line[:300]}")

    # ---- checks ---------------------------------------------------------------------------------
    checks = {
        "no 5xx": five_xx == 0,
        "every request answered": no_answer == 0,
        "no key received twice": not duplicates,
        "every 'sent' outbox row received": not lost,
        "every received key recorded as sent (or cut off by the kill, see above)":
            not received_not_sent and not unknown,
        "every sent reminder has its mail sent": not sent_reminders_without_mail,
        "no due reminder left undispatched": not missed,
        "every deadline reminder that fell due chosen exactly once (none early, none twice)":
            bool(deadline_due) and not deadline_not_once,
        "every deadline reminder's mail: reminder 1 only, sent, received exactly once":
            not deadline_without_mail and not deadline_mail_wrong,
        f"nothing pending/sending due more than {LEASE_MINUTES + 2} min before the end": not stuck,
        "no reminder mail failed": not failure_events and not any(
            row["status"] == "failed" for row in outbox),
        "no process died": not faults.get("died"),
        "the faults happened during deliveries": all(
            faults.get(k, {}).get("mid_delivery") for k in ("scheduler_kill", "smtp_stop")) and all(
            k in faults for k in ("scheduler_restart", "smtp_start")) and all(
            faults.get(f"reply_race_{k + 1}", {}).get("mid_delivery") for k in range(info["races"])),
        "the client threads ran without errors": not actions.get("client_exception"),
    }
    failed_checks.extend(name for name, ok in checks.items() if not ok)

    # ---- print ------------------------------------------------------------------------------------
    load1 = os.getloadavg()[0]
    print()
    print(f"Soak: {args.minutes:g} min of traffic from {len(threads)} clients against gunicorn -w {args.workers}, "
          f"2 schedulers, PostgreSQL; {args.cases} cases; load average now {load1:.2f} on {os.cpu_count()} CPUs")
    print(f"  traffic {start:%H:%M:%S}–{end:%H:%M:%S} UTC")
    for name, value in faults.items():
        print(f"  {name}: {json.dumps(value, default=str)}")
    print()
    codes = sorted({s for c in by_endpoint.values() for s in c}, key=str)
    width = max(len(e) for e in by_endpoint) if by_endpoint else 10
    header = f"{'endpoint':<{width}} {'requests':>8} " + " ".join(f"{str(c):>6}" for c in codes) + \
        f" {'p50 ms':>8} {'p95 ms':>8}"
    print(header)
    print("-" * len(header))
    for endpoint in sorted(by_endpoint):
        counter = by_endpoint[endpoint]
        print(f"{endpoint:<{width}} {sum(counter.values()):>8} " + " ".join(
            f"{counter.get(c, 0) or '':>6}" for c in codes) +
            f" {percentile(times[endpoint], 50):>8.1f} {percentile(times[endpoint], 95):>8.1f}")
    total = sum(statuses.values())
    print(f"{'all':<{width}} {total:>8} " + " ".join(f"{statuses.get(c, 0) or '':>6}" for c in codes) +
          f" {percentile(all_ms, 50):>8.1f} {percentile(all_ms, 95):>8.1f}")
    print()
    mail_rows = [
        ("submissions recorded by the clients", actions.get("submissions", 0)),
        ("  of them backdated to fall due in the run", actions.get("submissions_due_in_run", 0)),
        ("submissions recorded at setup (due in the run or just before)", info["initial"]),
        ("replies recorded", actions.get("replies", 0)),
        ("reminders created during the run", len(reminders)),
        ("reminders due by the final pass", len(fell_due)),
        ("reminders dispatched (fell due and were still awaited)", len(dispatched)),
        ("reminders by status", dict(reminder_status)),
        ("dispatch lateness p50 / p95 / max s", f"{percentile(lateness, 50):.0f} / {percentile(lateness, 95):.0f}"
                                                 f" / {max(lateness, default=0):.0f}"),
        ("due -> delivered p50 / p95 / max s", f"{percentile(delivery, 50):.0f} / {percentile(delivery, 95):.0f}"
                                               f" / {max(delivery, default=0):.0f}"),
        ("dispatched by the final run-due (not by a scheduler)", len(by_sweep)),
        ("outbox rows by kind/status", {f"{k}/{s}": n for (k, s), n in sorted(outbox_status.items())}),
        ("reminder emails sent (database)", reminder_mail_sent),
        ("deadlines with one reminder in the run (setup / fault clusters)",
         f"{len(soak_deadlines)} ({info['initial_deadlines']} / {info['cluster_deadlines']})"),
        ("deadline reminders due by the final pass / chosen exactly once",
         f"{len(deadline_due)} / {len(deadline_due) - len([d for d in deadline_not_once if d in deadline_due])}"),
        ("deadline reminder emails sent (database) / received (SMTP server)",
         f"{deadline_mail_sent} / {deadline_received}"),
        ("deadline reminders not chosen exactly once", len(deadline_not_once)),
        ("deadline reminders without mail / mail not sent once", f"{len(deadline_without_mail)} / "
                                                                  f"{len(deadline_mail_wrong)}"),
        ("emails sent (database, all kinds)", len(sent_keys)),
        ("emails received (SMTP server, lines / distinct keys)", f"{sum(received.values())} / {len(received)}"),
        ("duplicates (key received more than once)", len(duplicates)),
        ("lost (sent in the database, never received)", len(lost)),
        ("received but not 'sent' in the database", len(received_not_sent) + len(unknown)),
        ("  accepted just before the scheduler kill, then its reminder cancelled (outcome unknown"
         " to the database, delivered once)", len(accepted_before_kill)),
        ("sent reminders without a sent reminder email", len(sent_reminders_without_mail)),
        ("due reminders never dispatched", len(missed)),
        ("pending/sending, waiting for retry backoff", len(backoff)),
        (f"pending/sending due > {LEASE_MINUTES + 2} min before the end (stuck)", len(stuck)),
        ("dispatch passes started after the end (scheduler1, scheduler2)", info["passes_after"]),
        ("outbox settled, seconds after the end", f"{info['drained_s']:.0f}"),
        ("final flask reminders run-due", info["sweep"]),
        ("5xx responses", five_xx),
        ("requests without an answer", no_answer),
    ]
    for label, value in mail_rows:
        print(f"{label:<66} {value}")
    if log_lines:
        print("\nlog lines:", dict(log_lines))
    if log_samples:
        print("\n".join("  " + s for s in log_samples[:15]))
    if stats.unexpected:
        print(f"\nunexpected answers ({len(stats.unexpected)}, first 15):")
        print("\n".join("  " + s for s in stats.unexpected[:15]))
    duplicate_lines = []
    for key, n in duplicates.items():
        row = duplicate_rows.get(key, {})
        times = ", ".join(f"{utc(t):%H:%M:%S.%f}"[:-3] for t in received_at[key])
        duplicate_lines.append(
            f"{key} x{n} (received {times}; case {row.get('case_id')}, submission ref "
            f"{row.get('reference') or '-'}, outbox {row.get('status')} after {row.get('attempts')} tries, "
            f"reminder {row.get('reminder_status')}): {explained[key]}")
    for title, rows in (("duplicates", duplicate_lines), ("lost", lost),
                        ("received, not sent", received_not_sent + unknown),
                        ("accepted before the kill, reminder then cancelled", accepted_before_kill),
                        ("stuck", [f"{r['key']} {r['status']} attempts={r['attempts']} due={r['due_at']} "
                                   f"lease={r['lease_until']} error={r['last_error'][:80]}" for r in stuck]),
                        ("waiting for backoff", [f"{r['key']} send_after={r['send_after']:%H:%M:%S}"
                                                 f" attempts={r['attempts']} {r['last_error'][:80]}" for r in backoff]),
                        ("never dispatched", [f"reminder {r['id']} case {r['case_id']} due {r['due_at']}"
                                              for r in missed]),
                        ("sent without mail", [str(dict(r)) for r in sent_reminders_without_mail]),
                        ("deadline reminders not chosen exactly once", [str(dict(d)) for d in deadline_not_once]),
                        ("deadline reminders without mail", [str(dict(d)) for d in deadline_without_mail]),
                        ("deadline mail not sent once", [f"{r['key']} {r['status']} received "
                                                         f"{received.get(r['key'], 0)}x {r['last_error'][:80]}"
                                                         for r in deadline_mail_wrong]),
                        ("reminder_failed events", [f"case {r['case_id']}: {r['summary']}"
                                                    for r in failure_events])):
        if rows:
            print(f"\n{title} ({len(rows)}):")
            print("\n".join("  " + str(r) for r in rows[:20]))
    print()
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    verdict = "ok" if not failed_checks else "FAIL"
    print(f"verdict: {verdict}")
    print(json.dumps({
        "bench": "caseapp-soak", "minutes": args.minutes, "threads": len(threads), "workers": args.workers,
        "cases": args.cases, "requests": total,
        "by_status": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "by_endpoint": {e: {str(k): v for k, v in c.items()} for e, c in sorted(by_endpoint.items())},
        "p50_ms": round(percentile(all_ms, 50), 1), "p95_ms": round(percentile(all_ms, 95), 1),
        "status_5xx": five_xx, "no_answer": no_answer,
        "reminders_created": len(reminders), "reminders_due": len(fell_due),
        "reminders_dispatched": len(dispatched), "reminders_by_status": dict(reminder_status),
        "dispatched_by_final_sweep": len(by_sweep), "emails_sent": len(sent_keys),
        "reminder_emails_sent": reminder_mail_sent, "emails_received": sum(received.values()),
        "deadlines": len(soak_deadlines), "deadline_reminders_due": len(deadline_due),
        "deadline_reminders_not_once": len(deadline_not_once), "deadline_emails_sent": deadline_mail_sent,
        "deadline_emails_received": deadline_received,
        "distinct_keys_received": len(received), "duplicates": len(duplicates),
        "duplicate_causes": explained, "lost": len(lost),
        "received_not_sent": len(received_not_sent) + len(unknown),
        "accepted_before_kill_then_cancelled": accepted_before_kill, "stuck": len(stuck),
        "waiting_backoff": len(backoff), "missed": len(missed),
        "dispatch_lateness_s": {"p50": percentile(lateness, 50), "p95": percentile(lateness, 95),
                                "max": max(lateness, default=0)},
        "faults": faults, "checks": checks, "verdict": verdict}, default=str))
    return 0 if not failed_checks else 1


if __name__ == "__main__":
    sys.exit(main())
