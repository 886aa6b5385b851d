"""Fill an empty database with a benchmark-sized agency: `python bench/seed.py --cases 100000`.

The database is DATABASE_URL (SQLite or PostgreSQL), or --database-url. It must be empty:
the script applies the migrations (`flask db upgrade`) itself and refuses a database that
already holds an agency.

What it writes, for N cases (default 100,000):
- 1 agency, 1 admin and 20 consultants (password below; the benchmark signs in as
  consultant01@bench.example), and an API token for consultant01 (printed, and written
  to --token-file);
- N/20 clients (5,000 at N=100,000), so the client list grows with the agency too;
- N cases spread over the consultants (2% unassigned) and the clients, ASINs on 85% of them;
- about 10 timeline events per case (created, assigned, status changes, notes, submissions,
  Amazon's replies, reminders sent), with the notes the note events point at;
- 30% of the cases submitted and waiting on Amazon: a submission, the follow-ups already
  sent (reminder rows "sent" with their outbox mail), and one pending reminder due in the
  future, with case.follow_up_due_at and case.awaiting_since set as the services set them;
  answered cases have their submission, Amazon's reply and a cancelled reminder;
- 3% of N evidence rows (rows only: no files; the SHA-256 is random hex);
- case 1 is the heavy one: 500 timeline events (about 280 of them notes), 5 submissions (4 answered),
  5 POA versions, 20 evidence rows. The benchmark measures its page;
- 3 open deadlines per case (300,000 at N=100,000), owned by the case's assignee: Amazon's
  clock from the notice (appeal window, or "provide within N days"), a second Amazon clock
  (funds release or inventory removal), and the agency's "POA to the client" in business days
  (5% of them paused), or on a case waiting on Amazon its follow-up (amazon_follow_up, as the
  services keep it). Each consultant has about 45 of them overdue or due within the week (9
  overdue, 6 due within 8 hours) at any size, as a person's week does not grow with the
  agency; the rest fall 1 to 17 weeks ahead; `next_alert_at` is each one's next reminder (72 h and
  24 h before, when due, daily while overdue), all at least 2 hours ahead, so a dispatch
  pass run after seeding finds none due; case.next_deadline_at is the soonest running one.

Rows go in with SQLAlchemy Core `insert()` and lists of dicts, a few thousand cases per
transaction, with explicit ids (so no RETURNING round trips); PostgreSQL's sequences are
moved past them at the end, then PostgreSQL gets a VACUUM ANALYZE, as autovacuum would do
shortly after a bulk load. SQLite is left as an application leaves it (no ANALYZE).
"""
from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-2026"
CONSULTANTS = 20
CONSULTANT_EMAIL = "consultant01@bench.example"
AGENCY_NAME = "Bench Reinstatement Co"
HEAVY_CASE_EVENTS = 500
CHUNK = 5000  # cases per transaction
DEADLINES_PER_CASE = 3
NEAR_TERM_PER_PERSON = 45  # deadlines overdue or due within the week, per consultant, at any size

STATUS_WEIGHTS = {"submitted": 30, "open": 10, "drafting": 15, "more_info_requested": 5,
                  "reinstated": 20, "denied": 8, "closed": 12}
OUTCOME_FOR = {"more_info_requested": "more_info_requested", "reinstated": "reinstated",
               "denied": "rejected"}
KINDS = ("account_suspension", "listing_deactivation", "other")
REASONS = ("policy_violation", "customer_complaints", "performance_metrics",
           "intellectual_property", "other")
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")
# A product word per notice, so that a word search finds a few hundred notices of 100,000, as
# in an agency's real mix, not every one.
PRODUCTS = tuple(f"{adjective} {thing}" for adjective in (
    "bamboo", "ceramic", "copper", "cotton", "glass", "leather", "linen", "marble", "steel", "walnut")
    for thing in ("blender", "candles", "chargers", "cushions", "earbuds", "kettle", "lamps", "mugs",
                  "planters", "rugs", "serums", "skillet", "speakers", "teapot", "toys", "vitamins",
                  "wallets", "watches", "yoga mats", "headphones"))
MARKETPLACES = ("US", "US", "US", "CA", "UK", "DE", "FR", "IT", "ES", "JP", "AU", "MX")
CATEGORIES = ("invoice", "supplier_letter", "screenshot", "customer_correspondence",
              "listing_change", "other")
TITLES = {
    "policy_violation": ["Restricted product claims", "Prohibited listing content",
                         "Product safety policy warning"],
    "customer_complaints": ["Inauthentic item complaints", "Used sold as new complaints",
                            "Condition complaints on returns"],
    "performance_metrics": ["Order defect rate above 1%", "Late shipment rate above 4%",
                            "Pre-fulfilment cancellation rate"],
    "intellectual_property": ["Trademark claim from a rights owner", "Copyright claim on images",
                              "Patent infringement notice"],
    "other": ["Related account flagged", "Verification documents requested",
              "Section 3 deactivation"],
}
WORDS_A = ("Harbor", "Maple", "Sunrise", "Kiefer", "Northline", "Bluebird", "Granite", "Cedar",
           "Silver", "Lakeside", "Summit", "Willow", "Copper", "Redwood", "Atlas", "Juniper")
WORDS_B = ("Home Goods", "Outdoor", "Crafts", "Supplements", "Kitchen", "Pet Supply", "Toys",
           "Apparel", "Electronics", "Garden", "Beauty", "Books", "Sports", "Tools", "Baby")
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--clients", type=int, default=None, help="default: cases / 20, at least 20")
    p.add_argument("--database-url", default=None, help="default: $DATABASE_URL")
    p.add_argument("--token-file", default=str(ROOT / "bench" / ".token"))
    p.add_argument("--seed", type=int, default=7, help="random seed (the data is reproducible)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def bench_environment(database_url: str | None) -> None:
    """Environment for an app made only to reach the database: read before `config` is imported."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("Set DATABASE_URL (or --database-url) to the database to fill.")
    os.environ.setdefault("CASEAPP_ENV", "development")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key")
    os.environ.setdefault("SCHEDULER_ENABLED", "false")
    os.environ.setdefault("RATELIMIT_ENABLED", "false")
    if not os.environ.get("CASEAPP_INSTANCE_DIR"):  # nothing of the bench goes into instance/
        instance = tempfile.mkdtemp(prefix="caseapp-bench-")
        atexit.register(shutil.rmtree, instance, ignore_errors=True)
        os.environ["CASEAPP_INSTANCE_DIR"] = instance
    sys.path.insert(0, str(ROOT))


class Seeder:
    def __init__(self, n_cases: int, n_clients: int, rng: random.Random, now: datetime, log):
        self.n = n_cases
        self.n_clients = n_clients
        self.rng = rng
        self.now = now
        self.log = log
        self.ids = {name: 0 for name in (
            "events", "notes", "submissions", "responses", "reminders", "outbox", "evidence",
            "drafts", "deadlines")}
        self.counts: dict[str, int] = {}
        per_person = DEADLINES_PER_CASE * n_cases / CONSULTANTS
        self.near_term_share = min(0.5, NEAR_TERM_PER_PERSON / per_person)

    def next_id(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    # ---- people and clients -------------------------------------------------------------

    def people(self, password_hash: str) -> list[dict]:
        rows = [dict(id=1, agency_id=1, email="admin@bench.example", name="Avery Admin", role="admin",
                     password_hash=password_hash, timezone=None, active=True,
                     notify_each_reminder=True, notify_daily_digest=False,
                     quiet_hours_enabled=False, quiet_start="20:00", quiet_end="08:00",
                     created_at=self.now - timedelta(days=1200))]
        for k in range(1, CONSULTANTS + 1):
            rows.append(dict(rows[0], id=k + 1, email=f"consultant{k:02d}@bench.example",
                             name=f"Consultant {k:02d}", role="consultant"))
        self.users = rows
        self.consultant_ids = [row["id"] for row in rows[1:]]
        self.email_of = {row["id"]: row["email"] for row in rows}
        return rows

    def clients(self) -> list[dict]:
        rng = self.rng
        rows = []
        for i in range(1, self.n_clients + 1):
            name = f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)} {i:05d}"
            rows.append(dict(
                id=i, agency_id=1, name=name,
                seller_id="A" + "".join(rng.choices(ALNUM, k=13)),
                marketplace=rng.choice(MARKETPLACES), contact_name=f"Contact {i}",
                contact_email=f"owner{i}@seller{i}.example", notes="",
                created_at=self.now - timedelta(days=rng.uniform(30, 1200))))
        return rows

    # ---- cases ------------------------------------------------------------------------------

    def asin(self) -> str:
        return "B0" + "".join(self.rng.choices(ALNUM, k=8))

    def case_rows(self, case_id: int, out: dict[str, list]) -> None:
        """Append the case and everything that hangs off it to the lists in `out`."""
        rng, now = self.rng, self.now
        heavy = case_id == 1
        status = "submitted" if heavy else rng.choices(
            list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        assignee = self.consultant_ids[0] if heavy else (
            None if rng.random() < 0.02 else rng.choice(self.consultant_ids))
        actor = assignee or 1
        reason = rng.choice(REASONS)
        opened = now - timedelta(days=rng.uniform(8, 3 * 365))
        if heavy:
            opened = now - timedelta(days=200)
        created = opened + timedelta(hours=rng.uniform(0, 48))
        updated = min(created + timedelta(days=rng.uniform(0, 60)), now - timedelta(hours=1))
        if status == "submitted":
            # Submitted 1 hour to 7 days ago; the pending follow-up then stays at least 6 hours
            # ahead, so a dispatch pass run after seeding finds nothing due.
            updated = max(now - timedelta(hours=rng.uniform(1, 7 * 24)), created + timedelta(hours=1))
            if heavy:
                updated = now - timedelta(hours=60)
        case = dict(
            id=case_id, agency_id=1, client_id=rng.randint(1, self.n_clients), assignee_id=assignee,
            title=f"{rng.choice(TITLES[reason])}" + ("" if rng.random() < 0.5 else
                                                     f" ({rng.choice(MARKETPLACES)})"),
            kind=rng.choice(KINDS), reason=reason, status=status, priority=rng.choice(PRIORITIES),
            amazon_notice="We have deactivated your selling privileges after complaints about the "
                          f"{rng.choice(PRODUCTS)} you sell. To reactivate, send a plan of action that "
                          "addresses the root cause.",
            opened_at=opened, closed_at=None, follow_up_due_at=None, awaiting_since=None,
            next_deadline_at=None, created_at=created, updated_at=updated)
        if heavy:
            case["title"] = "Heavy case: 500 timeline events"
        out["cases"].append(case)

        if heavy or rng.random() < 0.85:
            for position, asin in enumerate({self.asin() for _ in range(rng.choice((1, 1, 2, 3)))}):
                out["case_asins"].append(dict(case_id=case_id, asin=asin, position=position))

        events: list[dict] = []

        def event(kind: str, at: datetime, summary: str, data: dict | None = None,
                  by: int | None = actor) -> None:
            events.append(dict(id=None, case_id=case_id, kind=kind, occurred_at=at, actor_id=by,
                               summary=summary, data=data or {}))

        event("created", created, f"Case opened: {case['title']}")
        if assignee:
            event("assigned", created, f"Assigned to {self.email_of[assignee]}",
                  {"assignee_id": assignee})

        walk = {"open": [], "drafting": ["drafting"], "submitted": ["drafting"],
                "more_info_requested": ["drafting"], "reinstated": ["drafting"],
                "denied": ["drafting"], "closed": ["drafting", "closed"]}[status]
        previous = "open"
        for i, target in enumerate(walk):
            at = created + (updated - created) * (i + 1) / (len(walk) + 2)
            event("status_changed", at, f"Status: {previous} → {target}",
                  {"from": previous, "to": target})
            previous = target
        if status in ("closed", "reinstated"):
            case["closed_at"] = updated

        drafts: list[int] = []
        if heavy:
            for version in range(1, 6):
                draft_id = self.next_id("drafts")
                drafts.append(draft_id)
                at = created + timedelta(days=10 * version)
                out["poa_drafts"].append(dict(
                    id=draft_id, case_id=case_id, version=version, author_id=actor,
                    subject=f"Plan of action, version {version}",
                    introduction="We take this seriously.", root_cause="Supplier paperwork gaps.",
                    corrective_actions=["Audited every supplier", "Removed the listings"],
                    preventive_measures=["Quarterly supplier checks"], closure="Thank you.",
                    created_at=at, final_at=at if version == 5 else None,
                    submitted_at=created + timedelta(days=10 * version + 1) if version < 5 else None))
                event("poa_created" if version == 1 else "poa_version", at, f"POA v{version} saved",
                      {"poa_draft_id": draft_id, "version": version})

        if status == "submitted":
            self.waiting_submission(case, out, event, drafts, actor, heavy, updated)
        elif status in OUTCOME_FOR:
            submitted_at = created + (updated - created) * 0.6
            event("status_changed", submitted_at, "Status: drafting → submitted",
                  {"from": "drafting", "to": "submitted"})
            self.answered_submission(case, out, event, submitted_at,
                                     updated, OUTCOME_FOR[status], actor)
            event("status_changed", updated, f"Status: submitted → {status}",
                  {"from": "submitted", "to": status})

        target = HEAVY_CASE_EVENTS if heavy else rng.randint(8, 12)
        while len(events) < target:
            at = created + (case["updated_at"] - created) * rng.random()
            if rng.random() < 0.6:
                note_id = self.next_id("notes")
                out["notes"].append(dict(id=note_id, case_id=case_id, author_id=actor,
                                         body=f"Called the seller; **next step** agreed ({note_id}).",
                                         created_at=at))
                event("note_added", at, "Note: Called the seller; next step agreed",
                      {"note_id": note_id})
            else:
                event("edited", at, "Edited priority", {"fields": ["priority"]})

        for e in events:
            e["id"] = self.next_id("events")
        out["case_events"].extend(events)
        self.deadline_rows(case, out)

    # ---- deadlines --------------------------------------------------------------------------

    def due_time(self) -> datetime:
        """A person's week is human-sized whatever the agency's size: about NEAR_TERM_PER_PERSON
        of each person's deadlines are overdue or due within the week (a fifth overdue, up to
        10 days; an eighth within 8 hours; the rest within 7 days), at 1,000 cases as at 100,000;
        the others fall 1 to 17 weeks ahead."""
        rng, now = self.rng, self.now
        if rng.random() < self.near_term_share:
            r = rng.random()
            if r < 0.2:
                return now - timedelta(hours=rng.uniform(1, 240))  # overdue
            if r < 0.33:
                return now + timedelta(hours=rng.uniform(1, 8))  # due today
            return now + timedelta(days=rng.uniform(1, 7))  # this week
        return now + timedelta(days=rng.uniform(7, 120))

    def next_alert(self, due: datetime, leads=(72, 24)) -> tuple[datetime, int]:
        """clocks.alert_points after now + 2 h, and how many reminders went before it."""
        after = self.now + timedelta(hours=2)
        points = [due - timedelta(hours=h) for h in leads] + [due]
        for sent, point in enumerate(points):
            if point > after:
                return point, sent
        days = int((after - due) / timedelta(hours=24)) + 1
        return due + days * timedelta(hours=24), len(points) + days - 1

    def deadline_rows(self, case: dict, out: dict[str, list]) -> None:
        rng, now = self.rng, self.now
        owner = case["assignee_id"]
        base = dict(agency_id=1, case_id=case["id"], owner_id=owner, note="", status="open",
                    paused_at=None, remaining_seconds=None, preset_id=None, lead_hours="72,24",
                    met_at=None, closed_at=None, closed_by_id=None, closed_reason="",
                    created_by_id=None, created_at=case["created_at"], updated_at=case["created_at"],
                    business_days=False, source="notice", source_id=None, clock="amazon")
        rows = []
        first, second = rng.choice((
            (("appeal_window", "Appeal window (17 days from the notice)"),
             ("funds_release", "Request release of held funds")),
            (("amazon_reply_due", "Amazon's notice: provide within 30 days"),
             ("inventory_removal", "Remove FBA inventory"))))
        for kind, title in (first, second):
            rows.append(dict(base, kind=kind, title=title, due_at=self.due_time()))
        if case["status"] == "submitted":  # the follow-up, as services/appeals/followups.py keeps it
            rows.append(dict(base, kind="amazon_follow_up", title="Follow up with Amazon",
                             due_at=case["follow_up_due_at"], source="submission",
                             source_id=self.waiting_submission_id, lead_hours=""))
        else:
            sla = dict(base, kind="agency_sla", title="POA to the client", clock="agency",
                       business_days=True, due_at=self.due_time())
            if rng.random() < 0.05:  # waiting on the client: paused with what was left
                sla.update(paused_at=now - timedelta(days=rng.uniform(0.5, 5)),
                           remaining_seconds=rng.uniform(1, 5) * 8 * 3600)
            rows.append(sla)
        running = []
        for row in rows:
            row["id"] = self.next_id("deadlines")
            if row["kind"] == "amazon_follow_up" or row["paused_at"] is not None:
                row["next_alert_at"], row["alerts_sent"] = None, 0
            else:
                row["next_alert_at"], row["alerts_sent"] = self.next_alert(row["due_at"])
            if row["paused_at"] is None:
                running.append(row["due_at"])
        case["next_deadline_at"] = min(running) if running else None
        out["deadlines"].extend(rows)

    def answered_submission(self, case, out, event, submitted_at, received_at, outcome, actor,
                            draft_id=None) -> None:
        submission_id = self.next_id("submissions")
        out["submissions"].append(dict(
            id=submission_id, case_id=case["id"], poa_draft_id=draft_id, submitted_at=submitted_at,
            channel="account_health_appeal", amazon_reference="", recorded_by_id=actor,
            created_at=submitted_at))
        event("submitted", submitted_at, "Submitted to Amazon (Account Health appeal)",
              {"submission_id": submission_id, "poa_draft_id": draft_id})
        response_id = self.next_id("responses")
        out["amazon_responses"].append(dict(
            id=response_id, submission_id=submission_id, case_id=case["id"],
            received_at=received_at, outcome=outcome, body="Thank you for your appeal.",
            recorded_by_id=actor, created_at=received_at))
        event("amazon_replied", received_at, f"Amazon replied: {outcome}",
              {"submission_id": submission_id, "response_id": response_id, "outcome": outcome})
        reminder_id = self.next_id("reminders")
        out["reminders"].append(dict(
            id=reminder_id, agency_id=1, case_id=case["id"], submission_id=submission_id,
            sequence=1, due_at=submitted_at + timedelta(hours=48), status="cancelled",
            dispatched_at=None, sent_at=None, recipient="", cancelled_reason="Amazon replied",
            created_at=submitted_at))
        event("reminder_cancelled", received_at, "Follow-up reminder 1 cancelled: Amazon replied",
              {"reminder_id": reminder_id, "submission_id": submission_id}, by=None)

    def waiting_submission(self, case, out, event, drafts, actor, heavy, submitted_at) -> None:
        """A submission still unanswered: follow-ups sent so far, and the next one pending."""
        rng, now = self.rng, self.now
        if heavy:
            for k, outcome in enumerate(("rejected", "more_info_requested", "rejected", "rejected")):
                at = case["created_at"] + timedelta(days=10 * (k + 1) + 1)
                self.answered_submission(case, out, event, at, at + timedelta(days=3), outcome,
                                         actor, drafts[k])
        elif rng.random() < 0.1:  # an earlier appeal that Amazon answered with questions
            earlier = submitted_at - timedelta(days=rng.uniform(5, 30))
            self.answered_submission(case, out, event, earlier, earlier + timedelta(days=2),
                                     "more_info_requested", actor)
        submission_id = self.next_id("submissions")
        draft_id = drafts[-1] if drafts else None
        out["submissions"].append(dict(
            id=submission_id, case_id=case["id"], poa_draft_id=draft_id, submitted_at=submitted_at,
            channel="account_health_appeal", amazon_reference=f"CASE-{case['id']:08d}",
            recorded_by_id=actor, created_at=submitted_at))
        self.waiting_submission_id = submission_id
        event("submitted", submitted_at, "Submitted to Amazon (Account Health appeal)",
              {"submission_id": submission_id, "poa_draft_id": draft_id})
        event("status_changed", submitted_at, "Status: drafting → submitted",
              {"from": "drafting", "to": "submitted"})
        recipient = self.email_of.get(case["assignee_id"], "admin@bench.example")
        sequence, due = 1, submitted_at + timedelta(hours=48)
        horizon = now + timedelta(hours=6)
        while due <= horizon:  # follow-ups that already went out, each on time
            reminder_id = self.next_id("reminders")
            out["reminders"].append(dict(
                id=reminder_id, agency_id=1, case_id=case["id"], submission_id=submission_id,
                sequence=sequence, due_at=due, status="sent", dispatched_at=due, sent_at=due,
                recipient=recipient, cancelled_reason="", created_at=due - timedelta(hours=24)))
            out["outbox_messages"].append(dict(
                id=self.next_id("outbox"), idempotency_key=f"reminder:{reminder_id}:{actor}",
                agency_id=1, case_id=case["id"], reminder_id=reminder_id, kind="reminder",
                recipient=recipient, subject=f"Follow up with Amazon: case {case['id']}",
                body_text="Amazon has not replied yet.", body_html="<p>Amazon has not replied yet.</p>",
                status="sent", send_after=due, attempts=1, lease_until=None, last_error="",
                created_at=due, sent_at=due))
            event("reminder_sent", due, f"Follow-up reminder {sequence} emailed to {recipient}",
                  {"reminder_id": reminder_id, "submission_id": submission_id}, by=None)
            sequence, due = sequence + 1, due + timedelta(hours=24)
        out["reminders"].append(dict(
            id=self.next_id("reminders"), agency_id=1, case_id=case["id"],
            submission_id=submission_id, sequence=sequence, due_at=due, status="pending",
            dispatched_at=None, sent_at=None, recipient="", cancelled_reason="",
            created_at=submitted_at))
        case.update(status="submitted", awaiting_since=submitted_at, follow_up_due_at=due,
                    updated_at=submitted_at)

    def evidence_rows(self, count: int, out: dict[str, list]) -> None:
        rng = self.rng
        picks = [1] * 20 + [rng.randint(2, self.n) if self.n > 1 else 1 for _ in range(count)]
        for case_id in picks:
            category = rng.choice(CATEGORIES)
            out["evidence"].append(dict(
                id=self.next_id("evidence"), case_id=case_id, sha256=f"{rng.getrandbits(256):064x}",
                size=rng.randint(20_000, 4_000_000), content_type="application/pdf",
                filename=f"{category}-{self.ids['evidence']}.pdf", category=category,
                description="", uploaded_by_id=rng.choice(self.consultant_ids),
                uploaded_at=self.now - timedelta(days=rng.uniform(1, 700))))


ORDER = ("cases", "case_asins", "notes", "poa_drafts", "submissions", "amazon_responses",
         "reminders", "outbox_messages", "case_events", "evidence", "deadlines")


def main(argv=None) -> int:
    args = parse_args(argv)
    bench_environment(args.database_url)

    from flask_migrate import upgrade
    from sqlalchemy import func, insert, inspect, select
    from werkzeug.security import generate_password_hash

    from caseapp import create_app
    from caseapp.extensions import db
    from caseapp.models import Agency, User
    from caseapp.services.accounts import tokens

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[seed {time.monotonic() - started:6.1f}s] {message}", flush=True)

    started = time.monotonic()
    app = create_app()
    n_clients = args.clients or max(20, args.cases // 20)
    with app.app_context():
        engine = db.engine
        if "agencies" in inspect(engine).get_table_names():
            if db.session.scalar(select(func.count()).select_from(Agency)):
                raise SystemExit(f"{engine.url.render_as_string(hide_password=True)} is not empty; "
                                 "the benchmark seeds an empty database only.")
        db.session.remove()
        upgrade(directory=str(ROOT / "migrations"))
        log(f"migrated {engine.url.render_as_string(hide_password=True)}")

        now = datetime.now(timezone.utc)
        seeder = Seeder(args.cases, n_clients, random.Random(args.seed), now, log)
        tables = db.metadata.tables
        password_hash = generate_password_hash(
            PASSWORD, method=app.config.get("PASSWORD_HASH_METHOD", "scrypt"))
        totals: dict[str, int] = {}

        def write(conn, name: str, rows: list[dict]) -> None:
            for start in range(0, len(rows), 10_000):
                conn.execute(insert(tables[name]), rows[start:start + 10_000])
            totals[name] = totals.get(name, 0) + len(rows)

        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
            write(conn, "agencies", [dict(id=1, name=AGENCY_NAME, timezone="America/New_York",
                                          follow_up_hours=None, created_at=now - timedelta(days=1300))])
            write(conn, "users", seeder.people(password_hash))
            write(conn, "clients", seeder.clients())
        log(f"agency, {len(seeder.users)} people, {n_clients} clients")

        for first in range(1, args.cases + 1, CHUNK):
            out: dict[str, list] = {name: [] for name in ORDER}
            for case_id in range(first, min(first + CHUNK, args.cases + 1)):
                seeder.case_rows(case_id, out)
            if first + CHUNK > args.cases:
                seeder.evidence_rows(max(30, args.cases * 3 // 100), out)
            with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA synchronous=OFF")
                for name in ORDER:
                    if out[name]:
                        write(conn, name, out[name])
            log(f"cases {first:,}-{min(first + CHUNK - 1, args.cases):,}: "
                f"{totals.get('case_events', 0):,} events so far")

        # The rows went in around the ORM, whose flush hook keeps the search index: index them.
        from caseapp.models.search import rebuild

        with engine.begin() as conn:
            indexed = rebuild(conn)
        log(f"search index: {indexed:,} rows")

        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                for table in ("agencies", "users", "clients", *ORDER):
                    if "id" in tables[table].c:
                        conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"COALESCE((SELECT max(id) FROM {table}), 1))")
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
            log("sequences moved past the seeded ids; VACUUM ANALYZE done")

        consultant = db.session.scalar(select(User).where(User.email == CONSULTANT_EMAIL))
        _, token = tokens.create(consultant, "benchmark")
        Path(args.token_file).parent.mkdir(parents=True, exist_ok=True)
        Path(args.token_file).write_text(token + "\n")
        os.chmod(args.token_file, 0o600)
        db.session.remove()

    summary = ", ".join(f"{name} {count:,}" for name, count in totals.items())
    log(f"done: {summary}")
    print(f"Seeded {args.cases:,} cases in {time.monotonic() - started:.1f} s.")
    print(f"Sign in as {CONSULTANT_EMAIL} / {PASSWORD}; API token in {args.token_file}:")
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
