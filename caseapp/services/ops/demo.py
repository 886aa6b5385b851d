"""Demo data for a first look at the app: one agency, its people, clients and cases.

Cases are opened through presets.open_case, so they get the shipped presets' deadlines counted
from their notice dates; the notice dates are chosen so that Sam's My day tells the story: a
POA promised to a client is overdue, an appeal window closes today, a few clocks run out this
week, one agency clock waits on the client (paused), one deadline was added by hand, and one
case's appeal window closed early after Amazon rejected two appeals.

The client portal has its story too: Maple & Pine were asked for documents from a checklist
and sent one of the two (a carrier report, as evidence from the client), the other is still
requested; Kiefer Outdoor approved the POA version their consultant shared with them. And mail
came in: Amazon asking Kiefer's case for a licence (waiting to be recorded as Amazon's reply),
Dana's invoices by mail, and a stray message in the triage inbox."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select

from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import Agency, utcnow
from caseapp.services.accounts import people as accounts
from caseapp.services.cases import records, timeline
from caseapp.services.cases import clients
from caseapp.services.poa import drafts
from caseapp.services.deadlines import clocks, presets
from caseapp.services.evidence import files as evidence_files
from caseapp.services.inbound import filing
from caseapp.services.portal import client as portal_client
from caseapp.services.portal import links as portal_links
from caseapp.services.portal import requests as portal_requests
from caseapp.services.portal import sharing
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
    # client index, assignee index (0 admin, 1-2 consultants), fields, statuses to walk, note,
    # days since Amazon's notice, what else happens (STORIES)
    (0, 1, dict(title="Account suspended: inauthentic item complaints", kind="account_suspension",
                reason="customer_complaints", asins="B07XJ8C8F5, B08N5WRWNW", priority="urgent",
                amazon_notice="Your selling privileges have been removed because of customer "
                              "complaints that items were not authentic."),
     # 12 days: the POA promised in 5 business days is overdue, the appeal window ends in 5 days.
     ["drafting"], "Asked Dana for the **supplier invoices** from the last 365 days.", 12, "invoices"),
    (1, 2, dict(title="Listing deactivated: trademark claim on tent", kind="listing_deactivation",
                reason="intellectual_property", asins="B0C1TENT01", priority="high",
                amazon_notice="We removed the listing after a rights owner reported trademark use."),
     ["drafting", "submitted"], "Rights owner contacted; waiting for a retraction letter.", 4, None),
    (2, 1, dict(title="Late shipment rate above target", kind="account_suspension",
                reason="performance_metrics", asins="", priority="normal",
                amazon_notice="Your late shipment rate is above the 4% target."),
     # 17 days less 3 hours: the appeal window closes today; the POA waits on the client.
     [], None, 17 - 3 / 24, "waiting_on_client"),
    (3, 2, dict(title="Restricted product: supplement claims", kind="listing_deactivation",
                reason="policy_violation", asins="B09SUPP001\nB09SUPP002", priority="high",
                amazon_notice="Listings removed for disease claims in the product description."),
     ["drafting", "submitted", "more_info_requested"], "Amazon wants lab reports for both ASINs.", 8,
     None),
    (0, 2, dict(title="Order defect rate warning", kind="account_suspension",
                reason="performance_metrics", asins="", priority="low",
                amazon_notice="Your order defect rate is above 1%."),
     ["drafting", "submitted", "reinstated", "closed"], None, 10, None),
    (1, 1, dict(title="Account deactivated: related account", kind="account_suspension",
                reason="other", asins="", priority="urgent",
                amazon_notice="Your account is related to an account that may not be used to sell "
                              "on Amazon."),
     # Two appeals, two rejections: the appeal window closes early (the second-rejection rule).
     ["drafting", "submitted", "denied", "submitted", "denied"],
     "Second rejection: the deactivation may be permanent now. Escalating.", 11, "poa_sent"),
]


def seed_if_empty() -> DemoResult | None:
    """Add the demo agency with its people, clients and cases in one unit of work, then the
    mail that came in (each message is filed in units of work of its own, as the pipe does);
    None (and nothing added) when the database already has an agency."""
    result = _seed_agency()
    if result is not None:
        for raw in demo_mail():
            filing.receive(raw, source="pipe")
    return result


def demo_mail() -> list[bytes]:
    """Three messages: Amazon asking Kiefer's case for a licence (proposed as Amazon's reply,
    with its PDF), Dana sending invoices by mail (her one open case), a stray mail for the
    triage inbox."""
    def message(sender: str, subject: str, text: str, ident: str, attachment: tuple[str, bytes] | None = None):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, "cases@northwind.example", subject
        mail["Message-ID"], mail["Date"] = f"<{ident}@demo.example>", format_datetime(utcnow() - timedelta(hours=3))
        mail.set_content(text)
        if attachment:
            mail.add_attachment(attachment[1], maintype="application", subtype="pdf", filename=attachment[0])
        return mail.as_bytes()

    return [
        message("Seller Performance <seller-performance@amazon.de>", "Your appeal for ASIN B0C1TENT01",
                "Hello,\n\nWe reviewed the information you provided for ASIN B0C1TENT01. To reinstate the "
                "listing, please provide additional information: a letter of authorization from the "
                "rights owner, or a retraction of the complaint.\n\nSeller Performance Team\n", "amazon-1",
                ("amazon-notice.pdf", demo_pdf("Notice from Amazon", [
                    "ASIN B0C1TENT01: listing removed (trademark)",
                    "Required: letter of authorization or retraction"]))),
        message("Dana Whitfield <dana@harborlane.example>", "Invoices from our wholesalers",
                "Hi Sam,\n\nattached are the invoices from Lakeside Wholesale for March to October.\n\n"
                "Dana\n", "dana-1", ("lakeside-invoices.pdf", demo_pdf("Lakeside Wholesale invoices", [
                    "Invoice LW-2026-0311: 240 units", "Invoice LW-2026-0618: 180 units"]))),
        message("Chris Lowell <chris@lowell-goods.example>", "Can you help with a suspension?",
                "Hello, a friend recommended you. Our account was suspended yesterday. Can we talk?\n",
                "stray-1"),
    ]


@transactional
def _seed_agency() -> DemoResult | None:
    if db.session.scalar(select(Agency.id).limit(1)) is not None:
        return None
    agency = accounts.create_agency("Northwind Reinstatement", "America/New_York")
    # Business days of a New York agency: Monday to Friday, less New York's public holidays.
    agency.country, agency.subdivision = "US", "NY"
    people = [
        accounts.create_user(agency, "admin@northwind.example", "Alex Morgan", "admin", DEMO_PASSWORD),
        accounts.create_user(agency, "sam@northwind.example", "Sam Rivera", "consultant",
                             DEMO_PASSWORD),
        accounts.create_user(agency, "kim@northwind.example", "Kim Okafor", "consultant",
                             DEMO_PASSWORD, timezone="Europe/Berlin"),
    ]
    admin = people[0]
    client_rows = [clients.create_client(admin, data) for data in CLIENTS]
    for number, (client_i, person_i, fields, walk, note, days_ago, story) in enumerate(CASES, start=1):
        actor = people[person_i]
        data = dict(fields, client_id=client_rows[client_i].id, assignee_id=actor.id,
                    opened_at=utcnow() - timedelta(days=days_ago))
        case = presets.open_case(actor, data)
        _walk(actor, case.id, walk, silent_hours=min(30 + 25 * number, int(days_ago * 24) - 6))
        if note:
            records.add_note(actor, case.id, note)
        if story:
            STORIES[story](actor, case)
        PORTAL_STORIES.get(number, lambda *_: None)(actor, case)
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


def _agency_clock(case, kind: str = "agency_sla"):
    return next(d for d in clocks.for_case(case) if d.kind == kind and d.status == "open")


def _invoices(actor, case) -> None:
    """A deadline a person adds: the client promised the invoices in two days."""
    clocks.add(actor, case.id, {"kind": "custom", "title": "Supplier invoices from Dana",
                                "due_at": utcnow() + timedelta(days=2),
                                "note": "Dana promised them by phone; the POA cites them."})


def _waiting_on_client(actor, case) -> None:
    """The POA promised to the client waits while the client gathers the shipping data."""
    clocks.pause_by_person(actor, _agency_clock(case).id)


def _poa_sent(actor, case) -> None:
    """The agency kept its promise: the POA went to the client (and then to Amazon). After the
    second rejection the consultant gives the escalation a date of its own."""
    clocks.update(actor, _agency_clock(case).id, {"status": "met"})
    clocks.add(actor, case.id, {"kind": "custom", "title": "Escalation to Seller Performance",
                                "due_at": utcnow() + timedelta(days=4),
                                "note": "Two appeals rejected: write to the escalation address."})


STORIES = {"invoices": _invoices, "waiting_on_client": _waiting_on_client, "poa_sent": _poa_sent}


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A small one-page PDF with these lines, the same bytes every time (no dates, no ids)."""
    def escaped(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    shown = [f"BT /F1 16 Tf 72 740 Td ({escaped(title)}) Tj ET"] + [
        f"BT /F1 11 Tf 72 {710 - 18 * n} Td ({escaped(line)}) Tj ET" for n, line in enumerate(lines)]
    stream = "\n".join(shown).encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class _DemoFile:
    """What an upload hands the evidence pipeline: a name and a stream."""

    def __init__(self, filename: str, data: bytes):
        self.filename, self.stream = filename, io.BytesIO(data)


def _documents_from_the_client(actor, case) -> None:
    """Sam asked Maple & Pine for the performance checklist; the client sent the carrier report
    through the portal (evidence from the client, waiting for Sam to accept it); their own
    account of what happened is still requested."""
    opened = portal_requests.open_request(actor, case.id, {
        "checklist": "performance_metrics", "due_at": utcnow() + timedelta(days=5),
        "message": "Hi Priya, to write the plan we need these two things from you."})
    item = next(i for i in opened.request.items if i.kind == "file")
    report = _DemoFile("carrier-report-october.pdf", demo_pdf("Carrier report, October", [
        "Maple & Pine Crafts - shipments handed to the carrier",
        "Orders 114-0001 to 114-0342: 342 parcels",
        "Handed over late: 19 (carrier pick-ups missed on 7 and 8 Oct)",
        "Tracking uploaded within 24 hours: 338 of 342"]))
    row = evidence_files.store(case, report, item.category, f"Sent by the client for: {item.title}", None,
                               source="client", request_item_id=item.id, summary="Evidence from the client")
    portal_requests.item_received(item, opened.request, case, utcnow())
    timeline.record(case, "client_upload", None, f"The client sent for {item.title}: {row.filename}",
                    {"item_id": item.id, "files": [row.filename], "by": "client", "link_id": opened.link.id})


def _poa_approved(actor, case) -> None:
    """Kim shared the POA version with Kiefer Outdoor, who approved it through the portal."""
    draft = drafts.latest(actor, case.id)
    share = sharing.share(actor, draft.id)
    token = portal_links.token_for(portal_links.live_link(case, utcnow()))
    portal_client.answer_poa(token, share.id, "approve", "Reads well, thank you. Please go ahead.")


# The portal's stories, by the case's number in CASES (from 1).
PORTAL_STORIES = {3: _documents_from_the_client, 2: _poa_approved}

OUTCOME_FOR = {"more_info_requested": "more_info_requested", "reinstated": "reinstated",
               "denied": "rejected"}


def _walk(actor, case_id: int, walk: list[str], silent_hours: int) -> None:
    """Move a demo case along, the way a consultant would: a POA, a submission, Amazon's reply.
    With several submissions, they share the `silent_hours` and each earlier one is answered
    two days later; the last reply comes in now."""
    submission = None
    rounds = walk.count("submitted") or 1
    step = timedelta(hours=silent_hours / rounds)
    sent = 0
    for status in walk:
        if status == "drafting":
            workflow.change_status(actor, case_id, "drafting")
            drafts.start_from_starter(actor, case_id)
        elif status == "submitted":
            draft = drafts.latest(actor, case_id)
            if not draft.is_final:
                drafts.mark_final(actor, draft.id, accept_errors=True)  # a demo starter keeps its blanks
            sent += 1
            submission = submissions.record_submission(actor, case_id, {
                "poa_draft_id": draft.id, "channel": "account_health_appeal",
                "submitted_at": utcnow() - step * (rounds - sent + 1)})
        elif status in OUTCOME_FOR and submission is not None:
            reply = {"outcome": OUTCOME_FOR[status], "body": "Demo reply from Amazon."}
            if sent < rounds:
                reply["received_at"] = submission.submitted_at + min(timedelta(hours=48), step / 2)
            submissions.record_response(actor, submission.id, reply)
        else:
            workflow.change_status(actor, case_id, status)
