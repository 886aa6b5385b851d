"""Photograph the main pages of a running caseapp (`make run`) for the README.

usage: .venv/bin/python scripts/screenshots.py [BASE_URL] [OUT_DIR]
Signs in as the demo admin, so run it against the demo data.
"""
import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # config.py, caseapp
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5000"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/screenshots")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def portal_link() -> tuple[str, int] | None:
    """The path of a demo case's live portal link, and the case: the link is never shown
    twice in the app, so it is rebuilt here from the database and SECRET_KEY of `make run`."""
    from urllib.parse import urlsplit

    from caseapp import create_app
    from caseapp.models import DocumentRequest, PortalLink, utcnow
    from caseapp.extensions import db
    from caseapp.services.portal import links

    with create_app().app_context():
        link = db.session.scalars(  # a case that asks the client for documents
            db.select(PortalLink).join(DocumentRequest, DocumentRequest.case_id == PortalLink.case_id)
            .where(PortalLink.revoked_at.is_(None), PortalLink.expires_at > utcnow(),
                   DocumentRequest.status == "open").order_by(PortalLink.id)).first()
        return (urlsplit(links.url_for_link(link)).path, link.case_id) if link else None


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{BASE}/login")
        page.fill("#email", "admin@northwind.example")
        page.fill("#password", "caseapp-demo-2026")
        page.click("button[type=submit]")
        page.goto(f"{BASE}/my-day")  # where people land; an admin sees everyone's
        page.screenshot(path=OUT / "my-day.png", full_page=True)
        page.goto(f"{BASE}/admin/deadline-presets")
        page.screenshot(path=OUT / "presets.png", full_page=True)
        page.goto(f"{BASE}/cases?assignee=all")
        page.screenshot(path=OUT / "dashboard.png", full_page=True)
        page.get_by_role("link", name="Listing deactivated: trademark claim on tent").first.click()
        page.screenshot(path=OUT / "case.png", full_page=True)
        case_url = page.url
        page.get_by_role("link", name="Open the POA").click()
        page.screenshot(path=OUT / "poa.png", full_page=True)
        page.goto(f"{BASE}/admin/outbox")
        page.screenshot(path=OUT / "outbox.png")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(case_url)
        page.screenshot(path=OUT / "case-phone.png")
        page.goto(f"{BASE}/my-day")
        page.screenshot(path=OUT / "my-day-phone.png")
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"{BASE}/admin/checklists")
        page.screenshot(path=OUT / "checklists.png", full_page=True)
        portal = portal_link()
        if portal:
            page.goto(f"{BASE}/cases/{portal[1]}#requests-card")
            page.locator("#requests-card").screenshot(path=OUT / "documents-card.png")
            client = browser.new_page(viewport={"width": 390, "height": 844})  # no sign-in
            client.goto(BASE + portal[0])
            client.screenshot(path=OUT / "portal-phone.png", full_page=True)
        browser.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
