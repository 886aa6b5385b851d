"""In a real browser (Debian's chromium): stored payloads that would set `window.__xss`
or open a dialog never run on any page; no page breaks its own Content-Security-Policy;
and the page scripts that must run under that policy still do (Bootstrap's navbar
toggler, the evidence drag and drop). The policy is also shown to hold on its own: an
inline script injected into a response is refused.

Server-side escaping, field by field: tests/views/test_stored_xss.py.
"""
from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import User
from caseapp.services.accounts import people
from caseapp.services.accounts import tokens
from caseapp.services.cases import records
from caseapp.services.cases import clients
from caseapp.services.appeals import dispatch
from caseapp.services.evidence import files
from caseapp.services.poa import drafts
from caseapp.services.poa import links as poa_links
from caseapp.services.appeals import submissions
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.browser

RUN = "window.__xss=1;alert(1)"
PAYLOADS = [
    f"<script>{RUN}</script>",
    f'"><img src=x onerror="{RUN}">',
    f"'><svg onload={RUN}>",
    f"</textarea><script>{RUN}</script>",
    f"<iframe srcdoc=\"<script>parent.{RUN}</script>\"></iframe>",
]
LINE = f'<script>{RUN}</script>"><img src=x onerror={RUN}>'  # one-line fields
TEXT = "\n".join(PAYLOADS)
NOTE = "\n\n".join(PAYLOADS + [
    f"[click me](javascript:{RUN})",
    f'<a href="javascript:{RUN}">raw link</a>',
    f"<details open ontoggle={RUN}>x</details>",
])
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"

# Records what the page itself reports, before any of its scripts run. Init scripts come
# from the browser, not the page, so the page's policy does not block this one.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@dataclass
class Watched:
    dialogs: list[str] = field(default_factory=list)
    csp_console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def watched(page) -> Watched:
    seen = Watched()

    def on_dialog(dialog):
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.csp_console.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.add_init_script(WATCH)
    return seen


def assert_nothing_ran(page, seen: Watched, url: str) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", f"{url}: a payload ran"
    assert seen.dialogs == [], f"{url}: {seen.dialogs}"
    assert page.evaluate("window.__violations") == [], f"{url}: CSP violation"
    assert seen.csp_console == [], f"{url}: {seen.csp_console}"
    assert seen.errors == [], f"{url}: {seen.errors}"


def visit(page, seen: Watched, url: str, status: int = 200) -> None:
    response = page.goto(url)
    assert response is not None and response.status == status, f"{url}: {response and response.status}"
    page.wait_for_load_state("load")
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
    assert_nothing_ran(page, seen, url)


# ---------------------------------------------------------------- an agency full of payloads

@dataclass
class Hostile:
    case_id: int
    client_id: int
    first_draft_id: int
    draft_id: int
    pdf_id: int
    image_id: int
    no_poa_case_id: int
    admin_email: str
    consultant_email: str
    action_url: str


@pytest.fixture
def hostile(app, world) -> Hostile:
    consultant = db.session.get(User, world.consultant_a.id)
    people.update_own_profile(consultant, "Carl " + LINE, None)
    make_user(world.agency_a, "nora@agency-a.example", "consultant", "Nora " + LINE)
    client = clients.create_client(consultant, {
        "name": "Client " + LINE, "seller_id": "A9B8C7D6E5F4G3", "marketplace": "US",
        "contact_name": "Contact " + LINE, "notes": TEXT})
    case = records.create_case(consultant, {
        "client_id": client.id, "title": "Case " + LINE, "kind": "account_suspension",
        "reason": "customer_complaints", "asins": ["B07XJ8C8F5"], "amazon_notice": TEXT})
    records.add_note(consultant, case.id, NOTE)
    first = drafts.start_from_starter(consultant, case.id)
    sections = {"subject": "Plan " + LINE, "introduction": TEXT, "root_cause": TEXT,
                "corrective_actions": PAYLOADS, "preventive_measures": PAYLOADS, "closure": TEXT}
    draft = drafts.save_version(consultant, case.id, sections)
    name = f"<img src=x onerror={RUN}>'><svg onload={RUN}>"
    pdf = files.upload(consultant, case.id, FileStorage(io.BytesIO(PDF), filename=name + ".pdf"),
                          "invoice", "Invoice " + TEXT)
    image = files.upload(consultant, case.id, FileStorage(io.BytesIO(png()), filename=name + ".png"),
                            "screenshot", TEXT)
    poa_links.link(consultant, draft.id, pdf.id, 0)
    tokens.create(consultant, "Token " + LINE)
    gone = clients.create_client(consultant, {"name": "Gone " + LINE, "marketplace": "US"})
    clients.delete_client(db.session.get(User, world.admin_a.id), gone.id)  # its name stays in the audit log
    # A submission two days old: the reminder goes out (held in the outbox, no mail server).
    now = datetime.now(timezone.utc)
    submission = submissions.record_submission(consultant, case.id, {
        "poa_draft_id": draft.id, "channel": "account_health_appeal",
        "submitted_at": now - timedelta(hours=49), "amazon_reference": "Ref " + LINE}, now=now)
    dispatch.run_pass(now)
    from caseapp.models import Reminder
    from caseapp.services.appeals import followup_mail

    reminder = db.session.scalar(db.select(Reminder).where(Reminder.case_id == case.id)
                                 .order_by(Reminder.id.desc()))
    action_url = f"/reminders/act/{followup_mail.action_token(reminder, consultant)}"
    other = records.create_case(consultant, {
        "client_id": client.id, "title": "Replied " + LINE, "kind": "other", "reason": "other"})
    answered = submissions.record_submission(consultant, other.id, {"channel": "email"})
    submissions.record_response(consultant, answered.id, {"outcome": "rejected", "body": TEXT})
    assert submission.id
    return Hostile(case.id, client.id, first.id, draft.id, pdf.id, image.id, other.id,
                   world.admin_a.email, world.consultant_a.email, action_url)


def pages_of(h: Hostile, admin: bool) -> list[str]:
    urls = ["/my-day", "/cases?assignee=all", f"/cases?assignee=all&q=<script>{RUN}</script>", "/clients/",
            f"/clients/{h.client_id}", f"/clients/{h.client_id}/edit", "/cases/new",
            f"/cases/{h.case_id}", f"/cases/{h.case_id}/edit", f"/poa/{h.draft_id}",
            f"/poa/{h.draft_id}/compare?with={h.first_draft_id}", f"/poa/{h.draft_id}/print",
            f"/evidence/{h.pdf_id}", f"/evidence/{h.image_id}", f"/cases/{h.no_poa_case_id}/poa",
            "/settings/", "/board?assignee=all", f"/search?q=<script>{RUN}</script>"]
    if admin:
        urls += ["/admin/users", "/admin/users/new", "/admin/agency", "/admin/outbox", "/admin/audit"]
    return urls


# ---------------------------------------------------------------- the tests

def test_no_stored_payload_runs_on_any_page(page, hostile, watched):
    sign_in(page, hostile.consultant_email)
    assert_nothing_ran(page, watched, "after sign-in")
    for url in pages_of(hostile, admin=False):
        visit(page, watched, url)
    # The sanitised links in the note go nowhere when clicked.
    page.goto(f"/cases/{hostile.case_id}")
    for text in ("click me", "raw link"):
        page.locator(".note-body").get_by_text(text).click()
        assert_nothing_ran(page, watched, f"click on {text!r}")
    # Expand every <details> (the outbox bodies, the reply forms): nothing hidden runs either.
    page.locator("details:not([open]) > summary").evaluate_all("els => els.forEach(e => e.click())")
    assert_nothing_ran(page, watched, "details opened")

    page.context.clear_cookies()  # the email's reminder link works without signing in
    visit(page, watched, hostile.action_url)


def test_no_stored_payload_runs_on_the_admin_pages(page, hostile, watched):
    sign_in(page, hostile.admin_email)
    for url in pages_of(hostile, admin=True):
        visit(page, watched, url)
    page.goto("/admin/outbox")
    page.locator("details > summary").evaluate_all("els => els.forEach(e => e.click())")
    expect(page.locator(".outbox-message pre").first).to_contain_text("<script>")  # shown as text
    assert_nothing_ran(page, watched, "outbox opened")


def test_signed_out_and_error_pages_keep_the_policy(page, world, watched):
    visit(page, watched, "/login")
    visit(page, watched, "/password/forgot")
    visit(page, watched, "/password/reset/not-a-token", status=404)
    visit(page, watched, f"/login?next=/cases%22%3E%3Cscript%3E{RUN}%3C/script%3E")
    sign_in(page, world.consultant_a.email)
    visit(page, watched, "/no-such-page", status=404)
    visit(page, watched, "/cases/999999", status=404)
    visit(page, watched, f"/cases?q=%3Cscript%3E{RUN}%3C/script%3E")


def test_navbar_toggler_and_evidence_drag_and_drop_work_under_the_policy(page, world, watched):
    page.set_viewport_size({"width": 500, "height": 900})  # narrow: the navbar collapses
    sign_in(page, world.consultant_a.email)
    page.goto(f"/cases/{world.case_a.id}")
    menu = page.locator("#nav")
    expect(menu).to_be_hidden()
    page.locator(".navbar-toggler").click()  # Bootstrap's collapse, from /bootstrap/static
    expect(menu).to_be_visible()
    expect(menu).to_have_class(re.compile(r"\bshow\b"))
    expect(page.get_by_role("link", name="Clients")).to_be_visible()
    page.locator(".navbar-toggler").click()
    expect(menu).to_be_hidden()

    dropped = page.evaluate_handle(
        """([name, bytes]) => {
             const transfer = new DataTransfer();
             transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
             return transfer;
           }""", ["after-fix.png", list(png())])
    zone = page.locator(".evidence-dropzone")
    zone.dispatch_event("dragenter", {"dataTransfer": dropped})
    expect(zone).to_have_class(re.compile(r"\bborder-primary\b"))  # evidence-upload.js is running
    zone.dispatch_event("drop", {"dataTransfer": dropped})
    expect(zone).not_to_have_class(re.compile(r"\bborder-primary\b"))
    expect(page.locator(".evidence-chosen")).to_contain_text("after-fix.png")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Uploaded after-fix.png.")
    assert_nothing_ran(page, watched, "navbar and drag and drop")


def test_the_policy_alone_refuses_an_injected_inline_script(page, world, watched):
    """Were escaping ever missed, the browser would still refuse the inline script."""
    sign_in(page, world.consultant_a.email)

    def inject(route):
        response = route.fetch()
        body = response.text().replace(
            "</main>", f'<script>{RUN}</script><img src=x onerror="{RUN}">'
                       '<p style="color: red">styled</p></main>')
        route.fulfill(response=response, body=body)

    page.route("**/cases", inject)
    page.goto("/cases")
    page.wait_for_load_state("load")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert watched.dialogs == []
    violations = page.evaluate("window.__violations")
    assert any(v.startswith("script-src") for v in violations), violations
    assert any(v.startswith("style-src") for v in violations), violations  # inline styles too
    # The console listener the other tests rely on hears these refusals too.
    assert any("Content Security Policy" in m for m in watched.csp_console), watched.csp_console
    watched.csp_console.clear()
    watched.errors.clear()
