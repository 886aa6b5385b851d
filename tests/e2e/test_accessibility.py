"""Accessibility in a real browser: axe-core over every page a person can reach (signed out,
as a consultant, as an admin) finds nothing "serious" or "critical"; the skip link comes
first; the compare page fits a 390 px phone (CASEAPP_SHOTS=/some/dir saves its screenshot).

axe-core comes pinned from PyPI (axe-playwright-python bundles axe.min.js, see the test
extras in pyproject.toml), never from a CDN. Playwright evaluates it through the DevTools
protocol, which the page's Content-Security-Policy (`script-src 'self'`) does not govern,
so the pages are checked under the policy they really have.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import Reminder
from caseapp.services.accounts import invitations, passwords
from caseapp.services.appeals import dispatch, followup_mail, submissions
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks
from caseapp.services.evidence import files
from caseapp.services.poa import drafts
from tests.conftest import latest_reset_path, make_case, sign_in

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("CASEAPP_SHOTS")  # a folder: screenshots of the phone-width pages go there


@dataclass
class Urls:
    signed_out: dict[str, str]
    consultant: dict[str, str]
    admin: dict[str, str]


@pytest.fixture
def urls(world) -> Urls:
    """A case with everything its page can show, and a URL for every page."""
    now = datetime.now(timezone.utc)
    consultant, admin, case = world.consultant_a, world.admin_a, world.case_a
    records.update_case(consultant, case.id, {"priority": "high"})
    v1 = drafts.start_from_starter(consultant, case.id)
    v2 = drafts.save_version(consultant, case.id, {**drafts.content_of(v1).as_dict(),
                                                   "subject": "Plan of Action, second pass"})
    evidence = files.upload(consultant, case.id, FileStorage(io.BytesIO(PDF), filename="invoice.pdf"),
                            "invoice", "Supplier invoice, March")
    first = submissions.record_submission(consultant, case.id, {
        "poa_draft_id": v1.id, "channel": "account_health_appeal", "amazon_reference": "APPEAL-1",
        "submitted_at": now - timedelta(hours=120)}, now=now)
    reply = submissions.record_response(consultant, first.id, {
        "outcome": "more_info_requested", "body": "Please send invoices.",
        "received_at": now - timedelta(hours=100)}, now=now)
    submissions.record_submission(consultant, case.id, {
        "poa_draft_id": v2.id, "channel": "account_health_appeal", "amazon_reference": "APPEAL-2",
        "submitted_at": now - timedelta(hours=50), "evidence_ids": [evidence.id]}, now=now)
    note = records.add_note(consultant, case.id, "Called the seller: **invoices** on the way.")
    dispatch.run_pass(now)  # a reminder goes out (held: no mail server), the outbox has mail
    reminder = db.session.scalar(select(Reminder).where(Reminder.case_id == case.id)
                                 .order_by(Reminder.id.desc()))
    act_token = followup_mail.action_token(reminder, consultant)
    fresh_case = make_case(consultant, world.client_a, title="Listing deactivated", kind="listing_deactivation")
    clocks.add(consultant, fresh_case.id, {"kind": "agency_sla", "title": "POA to the client",
                                           "due_at": now + timedelta(days=2)}, now)  # on My day

    invitation = invitations.invite(admin, "nora@agency-a.example", "Nora New", "consultant")
    invite_token = invitations.token_for(invitation)
    passwords.request_reset(world.consultant_b.email, now)
    reset_path = latest_reset_path()
    db.session.commit()

    cid, client = case.id, world.client_a.id
    shared = {
        "my day": "/my-day",
        "my day, a stale page link": "/my-day?after=garbage",
        "dashboard": "/cases",
        "dashboard, whole agency": "/cases?assignee=all",
        "board": "/board",
        "board, whole agency": "/board?assignee=all",
        "search everywhere": "/search?q=account",
        "search, no match": "/search?q=zzz-nobody",
        "import a spreadsheet": "/import",
        "case page": f"/cases/{cid}",
        "case page, whole timeline": f"/cases/{cid}?timeline=all",
        "case form (new)": f"/cases/new?client_id={client}",
        "case form (edit)": f"/cases/{cid}/edit",
        "note form": f"/cases/notes/{note.id}/edit",
        "client list": "/clients/",
        "client search, no match": "/clients/?q=zzz-nobody",
        "client page": f"/clients/{client}",
        "client form (new)": "/clients/new",
        "client form (edit)": f"/clients/{client}/edit",
        "POA start": f"/cases/{fresh_case.id}/poa",
        "POA editor": f"/poa/{v2.id}",
        "POA compare": f"/poa/{v2.id}/compare?with={v1.id}",
        "POA print": f"/poa/{v2.id}/print",
        "evidence page": f"/evidence/{evidence.id}",
        "correct a submission": f"/submissions/{first.id}/edit",
        "correct Amazon's reply": f"/responses/{reply.id}/edit",
        "settings": "/settings/",
        "not found": "/cases/999999",
    }
    return Urls(
        signed_out={
            "sign in": "/login",
            "forgot password": "/password/forgot",
            "reset password": reset_path,
            "reset password, dead link": "/password/reset/not-a-token",
            "invitation": f"/invitations/{invite_token}",
            "invitation, dead link": "/invitations/not-a-token",
            "reminder act page": f"/reminders/act/{act_token}",
            "not found": "/no-such-page",
        },
        consultant=shared,
        admin={
            **shared,
            "my day, unassigned cases": "/my-day?person=none",
            "people": "/admin/users",
            "invite a person": "/admin/users/new",
            "edit a person": f"/admin/users/{world.consultant_a.id}",
            "agency": "/admin/agency",
            "outbox": "/admin/outbox",
            "audit log": "/admin/audit",
        },
    )


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now, with every
    <details> opened so that the forms folded inside them are checked too."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(where: str, violations: list[dict]) -> list[str]:
    lines = []
    for v in violations:
        lines.append(f"{where}: {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node.get('failureSummary', '').splitlines()[-1].strip()}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return lines


def check_pages(page, pages: dict[str, str], who: str) -> list[str]:
    problems = []
    for name, url in pages.items():
        response = page.goto(url)
        assert response is not None and response.status < 500, f"{who} {name}: {url} answered {response.status}"
        problems += describe(f"{who}, {name} ({url})", axe_violations(page))
    return problems


def submit_without_checks(page, form_selector: str) -> None:
    """Send a form as it stands, past the browser's own checks and our confirm script, as a
    hurried user (or a browser without JavaScript) would: the page that answers is checked."""
    with page.expect_navigation():
        page.locator(form_selector).first.evaluate("f => f.submit()")


def check_states(page, urls: Urls, who: str) -> list[str]:
    """The pages that only a form sends you to: refused input, and the delete confirmation
    that a browser without JavaScript gets; then the daily pages at phone width."""
    problems = []
    page.goto(urls.consultant["client form (new)"])
    submit_without_checks(page, "main form")
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    problems += describe(f"{who}, client form refused", axe_violations(page))
    page.goto(urls.consultant["case page"])
    submit_without_checks(page, "form[action$='/delete'][data-confirm]")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete this note?")
    problems += describe(f"{who}, note delete confirmation", axe_violations(page))
    page.goto(urls.consultant["board"])
    board_form = page.locator("form.board-move").filter(has=page.locator("option[value=closed]")).first
    board_form.locator("select").select_option("closed")
    submit_without_checks(page, "form.board-move:has(option[value=closed]:checked)")
    expect(page.locator("#confirm-question")).to_contain_text("Close")
    problems += describe(f"{who}, board move confirmation", axe_violations(page))
    page.set_viewport_size(PHONE)
    try:
        for name in ("dashboard", "board", "case page", "POA editor", "POA compare", "evidence page"):
            page.goto(urls.consultant[name])
            problems += describe(f"{who}, {name} at 390 px", axe_violations(page))
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    return problems


def test_axe_finds_nothing_serious_on_any_page(page, urls, world):
    problems = check_pages(page, urls.signed_out, "signed out")
    page.goto("/login")
    page.fill("#email", world.consultant_a.email)
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".alert, .invalid-feedback").first).to_be_visible()
    problems += describe("signed out, sign in refused", axe_violations(page))

    sign_in(page, world.consultant_a.email)
    problems += check_pages(page, urls.consultant, "consultant")
    problems += check_states(page, urls, "consultant")
    page.context.clear_cookies()
    sign_in(page, world.admin_a.email)
    problems += check_pages(page, urls.admin, "admin")
    assert not problems, "axe-core found serious or critical violations:\n" + "\n".join(problems)


def test_the_axe_check_is_not_vacuous(page, live_server):
    """The same check on a page with an unlabelled field and grey-on-white text does fail,
    so a green run means axe ran and found nothing, not that it never ran."""
    page.goto("/login")
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend', '<input type="text" id="unlabelled"><p id="faint">faint</p>');
        document.getElementById('faint').style.color = '#aaa';  // the CSP refuses a style attribute
    }""")
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= found, found


def test_skip_link_is_the_first_stop_and_lands_on_the_content(page, urls, world):
    for url in ("/login", f"/cases/{world.case_a.id}"):
        if url != "/login":
            sign_in(page, world.consultant_a.email)
        page.goto(url)
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_attached()
        first = page.evaluate("""() => {
            const focusable = 'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]';
            return [...document.querySelectorAll(focusable)].filter(e => e.tabIndex >= 0)[0].textContent.trim();
        }""")
        assert first == "Skip to content", url
        page.keyboard.press("Tab")
        expect(skip).to_be_focused()
        box = skip.bounding_box()
        assert box and box["width"] > 20 and box["height"] > 10, f"skip link not visible on focus: {box}"
        if SHOTS:
            page.screenshot(path=os.path.join(SHOTS, f"skip-link-{'signed-out' if url == '/login' else 'case'}.png"))
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#content"
        expect(page.locator("main#content")).to_be_attached()
        # The next Tab goes on from the content, past the navigation.
        page.keyboard.press("Tab")
        inside = page.evaluate("document.activeElement.closest('main') !== null")
        assert inside, f"{url}: after the skip link, Tab went to {page.evaluate('document.activeElement.outerHTML')[:200]}"


def test_compare_page_fits_a_phone(page, urls, world):
    page.set_viewport_size(PHONE)
    sign_in(page, world.consultant_a.email)
    page.goto(urls.consultant["POA compare"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compare POA v1 and v2")
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "compare-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the compare page is {width} px wide at a {PHONE['width']} px viewport"
