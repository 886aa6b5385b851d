"""Demo data for a first look at the app: one agency, its people, clients and cases."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import Agency, utcnow
from caseapp.services.accounts import people as accounts
from caseapp.services.cases import records
from caseapp.services.cases import clients
from caseapp.services.poa import drafts
from caseapp.services.deadlines import presets
from caseapp.services.appeals import submissions, workflow

DEMO_PASSWORD = "caseapp-demo-2026"
DEMO_EMAILS = ("admin@northwind.example", "sam@northwind.example", "kim@northwind.example")


@dataclass
class DemoResult:
    logins: list[tuple[str, str]]
    password: str = DEMO_PASSWORD


CLIENTS = [
    dict(name="Harbor Lane Home Goods", seller_id="A1B2C3D4E5F6G7", marketplace="US",
         contact_name="Dana Whitfield", contact_email="dana@harborlane.example",
         notes="Sells kitchenware sourced from two wholesalers in Ohio."),
    dict(name="Kiefer Outdoor GmbH", seller_id="A3KIEFER0UTD00", marketplace="DE",
         contact_name="Jonas Kiefer", contact_email="jonas@kiefer-outdoor.example",
         notes="Camping gear, own brand registered in Brand Registry."),
    dict(name="Maple & Pine Crafts", seller_id="AMAPLEPINE2024", marketplace="CA",
         contact_name="Priya Natarajan", contact_email="priya@mapleandpine.example", notes=""),
    dict(name="Sunrise Supplements", seller_id="A9SUNRISE77SUP", marketplace="UK",
         contact_name="Tom Avery", contact_email="tom@sunrise-supps.example",
         notes="Dietary supplements; keep certificates of analysis on file."),
]

CASES = [
    # client index, assignee index (0 admin, 1-2 consultants), fields, statuses to walk, note
    (0, 1, dict(title="Account suspended: inauthentic item complaints", kind="account_suspension",
                reason="customer_complaints", asins="B07XJ8C8F5, B08N5WRWNW", priority="urgent",
                amazon_notice="Your selling privileges have been removed because of customer "
                              "complaints that items were not authentic."),
     ["drafting"], "Asked Dana for the **supplier invoices** from the last 365 days."),
    (1, 2, dict(title="Listing deactivated: trademark claim on tent", kind="listing_deactivation",
                reason="intellectual_property", asins="B0C1TENT01", priority="high",
                amazon_notice="We removed the listing after a rights owner reported trademark use."),
     ["drafting", "submitted"], "Rights owner contacted; waiting for a retraction letter."),
    (2, 1, dict(title="Late shipment rate above target", kind="account_suspension",
                reason="performance_metrics", asins="", priority="normal",
                amazon_notice="Your late shipment rate is above the 4% target."),
     [], None),
    (3, 2, dict(title="Restricted product: supplement claims", kind="listing_deactivation",
                reason="policy_violation", asins="B09SUPP001\nB09SUPP002", priority="high",
                amazon_notice="Listings removed for disease claims in the product description."),
     ["drafting", "submitted", "more_info_requested"], "Amazon wants lab reports for both ASINs."),
    (0, 2, dict(title="Order defect rate warning", kind="account_suspension",
                reason="performance_metrics", asins="", priority="low",
                amazon_notice="Your order defect rate is above 1%."),
     ["drafting", "submitted", "reinstated", "closed"], None),
]


@transactional
def seed_if_empty() -> DemoResult | None:
    """Add the demo agency with its people, clients and cases in one unit of work; None
    (and nothing added) when the database already has an agency."""
    if db.session.scalar(select(Agency.id).limit(1)) is not None:
        return None
    agency = accounts.create_agency("Northwind Reinstatement", "America/New_York")
    people = [
        accounts.create_user(agency, "admin@northwind.example", "Alex Morgan", "admin", DEMO_PASSWORD),
        accounts.create_user(agency, "sam@northwind.example", "Sam Rivera", "consultant",
                             DEMO_PASSWORD),
        accounts.create_user(agency, "kim@northwind.example", "Kim Okafor", "consultant",
                             DEMO_PASSWORD, timezone="Europe/Berlin"),
    ]
    admin = people[0]
    client_rows = [clients.create_client(admin, data) for data in CLIENTS]
    for days_ago, (client_i, person_i, fields, walk, note) in enumerate(CASES, start=1):
        actor = people[person_i]
        data = dict(fields, client_id=client_rows[client_i].id, assignee_id=actor.id,
                    opened_at=utcnow() - timedelta(days=days_ago * 2))
        case = presets.open_case(actor, data)
        _walk(actor, case.id, walk, silent_hours=30 + 25 * days_ago)
        if note:
            records.add_note(actor, case.id, note)
    return DemoResult(logins=[(p.email, p.role) for p in people])


def demo_logins() -> DemoResult | None:
    """The demo people who can still sign in with the demo password, or None when there are
    none (no demo data, or its passwords were changed): what `flask serve` prints at each start."""
    found = []
    for email in DEMO_EMAILS:
        person = accounts.find_user(email)
        if person is not None and person.active and person.check_password(DEMO_PASSWORD):
            found.append((person.email, person.role))
    return DemoResult(logins=found) if found else None


OUTCOME_FOR = {"more_info_requested": "more_info_requested", "reinstated": "reinstated",
               "denied": "rejected"}


def _walk(actor, case_id: int, walk: list[str], silent_hours: int) -> None:
    """Move a demo case along, the way a consultant would: a POA, a submission, Amazon's reply."""
    submission = None
    for status in walk:
        if status == "drafting":
            workflow.change_status(actor, case_id, "drafting")
            drafts.start_from_starter(actor, case_id)
        elif status == "submitted":
            draft = drafts.latest(actor, case_id)
            drafts.mark_final(actor, draft.id, accept_errors=True)  # a demo starter keeps its blanks
            submission = submissions.record_submission(actor, case_id, {
                "poa_draft_id": draft.id, "channel": "account_health_appeal",
                "submitted_at": utcnow() - timedelta(hours=silent_hours)})
        elif status in OUTCOME_FOR and submission is not None:
            submissions.record_response(actor, submission.id, {
                "outcome": OUTCOME_FOR[status], "body": "Demo reply from Amazon."})
        else:
            workflow.change_status(actor, case_id, status)
