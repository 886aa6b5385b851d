"""The issue-14 journey in a browser, against a running `make run` whose mail goes to this
script's own SMTP server (aiosmtpd on 127.0.0.1:2525, refusing with 550 until the Retry step):

    MAIL_SERVER=127.0.0.1 MAIL_PORT=2525 PORT=5077 make run     # in one terminal
    .venv/bin/python scripts/journey.py [BASE_URL] [OUT_DIR]       # in another

A new case -> the POA in one click, saved, marked final -> evidence -> a submission dated 50 h
ago -> the scheduler's pass, refused by the server -> the clock still open, the admins told ->
the server works again, Retry from the Outbox -> the reminder delivered once -> Amazon's reply
-> its correction. Screenshots of each step go to OUT_DIR (default docs/journey). Signs in as
the demo admin; the scheduler runs every 60 s, so it takes a few minutes.
"""
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5077"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/journey")
OUT.mkdir(parents=True, exist_ok=True)


class Mailbox:
    """Answers 550 while `refusing`, else keeps the message."""
    refusing = True
    received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        if self.refusing:
            return "550 5.1.1 mailbox unavailable"
        self.received.append(envelope.content)
        return "250 OK"


MAILBOX = Mailbox()
n = [0]


def shot(page, name, full=True):
    n[0] += 1
    path = OUT / f"{n[0]:02d}-{name}.png"
    page.screenshot(path=str(path), full_page=full)
    print("shot", path.name, flush=True)

def wait_for(page, url, selector, text, seconds=150):
    end = time.time() + seconds
    while time.time() < end:
        page.goto(url)
        if text in page.locator(selector).inner_text():
            return
        time.sleep(5)
    raise SystemExit(f"timed out waiting for {text!r} in {selector} at {url}")

smtp = Controller(MAILBOX, hostname="127.0.0.1", port=2525)
smtp.start()
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium")
    ctx = b.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    page.on("dialog", lambda d: (print("dialog:", d.message[:120], flush=True), d.accept()))
    page.goto(BASE + "/login")
    page.fill("#email", "admin@northwind.example"); page.fill("#password", "caseapp-demo-2026")
    page.get_by_role("button", name="Sign in").click()

    # A client and a case.
    page.goto(BASE + "/clients/new")
    page.fill("#name", "Juniper Trail Outfitters"); page.fill("#seller_id", "A1JUNIPERTRAIL9")
    page.fill("#contact_email", "ops@juniper.example")
    page.get_by_role("button", name=re.compile("Save|Add|Create")).first.click()
    page.goto(BASE + "/cases/new")
    page.select_option("#client_id", label="Juniper Trail Outfitters")
    page.fill("#title", "Account suspended: late shipment rate")
    page.select_option("#kind", "account_suspension"); page.select_option("#reason", "performance_metrics")
    page.select_option("#assignee_id", label="Alex Morgan")
    page.fill("#asins", "B0JUNIPER1")
    page.fill("#amazon_notice", "Your late shipment rate is 9%, above our 4% target. Your selling privileges have been removed.")
    page.get_by_role("button", name=re.compile("Save|Add|Create|Open")).first.click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    case_url = page.url
    shot(page, "case-new")

    # POA: one click, edit, save, mark final.
    page.locator("#poa-card").get_by_role("button", name="Start the POA").click()
    page.wait_for_url(re.compile(r"/poa/\d+$"))
    page.fill("#root_cause", "We shipped from one warehouse with one daily carrier pickup; orders after 2 pm missed the handling time, and nobody checked the late shipment report weekly.")
    page.get_by_role("button", name=re.compile("^Save")).first.click()
    shot(page, "poa-saved")
    page.get_by_role("button", name=re.compile("Mark .*final", re.I)).first.click()
    page.wait_for_load_state()
    shot(page, "poa-final")

    # Evidence.
    page.goto(case_url)
    pdf = Path("/tmp/carrier-pickup-schedule.pdf")
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.set_input_files("#evidence input[type=file]", str(pdf))
    page.locator("#evidence").get_by_role("button", name="Upload").click()
    page.wait_for_load_state()
    shot(page, "evidence")

    # Submission 50 hours ago, typed in the admin's zone.
    page.goto(case_url)
    local = datetime.now(ZoneInfo("America/New_York")) - timedelta(hours=50)
    form = page.locator("#submission-form")
    if not form.is_visible():
        page.get_by_text("Record a submission").click()
    form.locator("#channel").select_option("account_health_appeal")
    form.locator("#submitted_at").fill(local.strftime("%Y-%m-%dT%H:%M"))
    form.locator("#amazon_reference").fill("APPEAL-55120")
    form.get_by_role("button", name="Record submission").click()
    page.wait_for_load_state()
    shot(page, "submitted-50h")

    # The scheduler's pass: the server answers 550.
    wait_for(page, case_url, "#timeline", "not delivered")
    shot(page, "mail-refused-clock-open")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(case_url); shot(page, "mail-refused-phone", full=False)
    page.set_viewport_size({"width": 1366, "height": 900})

    # The server works again; Retry from the Outbox.
    MAILBOX.refusing = False
    page.goto(BASE + "/admin/outbox?status=failed")
    shot(page, "outbox-failed")
    page.get_by_role("button", name=re.compile("Retry all")).first.click()
    page.wait_for_load_state()
    shot(page, "outbox-retried")
    wait_for(page, case_url, "#timeline", "emailed to admin@northwind.example")
    shot(page, "reminder-delivered")
    print("mail the server accepted:", len(MAILBOX.received), flush=True)

    # Amazon's reply, then a correction.
    page.goto(case_url)
    sub = page.locator(".submission").first
    sub.get_by_text("Record Amazon's reply").click()
    sub.locator("select[name=outcome]").select_option("more_info_requested")
    sub.locator("textarea[name=body]").fill("We need invoices for the carrier contract and your new shipping cut-off settings.")
    sub.get_by_role("button", name="Save reply").click()
    page.wait_for_load_state()
    shot(page, "reply-recorded")
    page.locator(".reply").first.get_by_role("link", name="Correct").click()
    page.wait_for_load_state()
    shot(page, "correct-reply-form")
    page.select_option("select[name=outcome]", "rejected")
    page.get_by_role("button", name=re.compile("Save|Correct")).first.click()
    page.wait_for_load_state()
    if "confirm" in page.url or page.get_by_role("button", name=re.compile("Yes")).count():
        page.get_by_role("button", name=re.compile("Yes")).first.click()
    page.wait_for_url(re.compile(r"/cases/\d+"))
    shot(page, "reply-corrected")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(case_url); shot(page, "corrected-phone")
    page.goto(BASE + "/cases"); shot(page, "dashboard-phone", full=False)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(BASE + "/cases?assignee=all"); shot(page, "dashboard")
    b.close()
smtp.stop()
print("journey done")
