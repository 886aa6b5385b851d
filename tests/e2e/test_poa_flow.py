"""A consultant goes from a new case to a reviewed, exported POA in the browser: open the case,
start from the starter, see the review flag its blanks, write the POA, save v2 and see a clean
review, compare v1 with v2, mark v2 final, find it all on the timeline, and download the text,
Word and PDF exports and read them back.

Set CASEAPP_SHOTS=/some/dir to also save screenshots of the editor and the compare page.
"""
import os
import re
from pathlib import Path

import docx
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from caseapp.extensions import db
from caseapp.models import PoaDraft
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("CASEAPP_SHOTS")
ASIN = "B09K3LMN7Q"
CLIENT = "Harbor Lane Home Goods"
SELLER_ID = "A1B2C3D4E5F6G7"
HEADINGS = ["Subject", "Introduction", "Root cause", "Corrective actions", "Preventive measures", "Closure"]

# What the consultant writes: specific, in the seller's voice, actions already taken,
# no blame, no documents named (the case has no evidence), about 330 words.
SUBJECT = (f"Plan of Action: deactivated listing, ASIN {ASIN}, trademark complaint "
           f"({CLIENT}, seller ID {SELLER_ID})")
INTRODUCTION = (
    f"On 3 March 2026 Amazon deactivated our listing for the ceramic pour-over coffee set, ASIN {ASIN}, "
    "after a trademark complaint about the Kaffeform name in our title and two of our product photos. "
    "Those words and photos were ours to check before publishing, and we take full responsibility for "
    "using them without permission.")
ROOT_CAUSE = (
    "When we created the listing in January, our catalogue assistant copied the title wording and two "
    "lifestyle photos from a wholesale product sheet that showed the Kaffeform brand. Our listing process "
    "had no step for checking brand names or image rights before a listing went live, and nobody compared "
    "new titles with the trademark register, so the protected name and photos were published unchecked "
    "and stayed online for seven weeks.")
CORRECTIVE = [
    f"Removed the Kaffeform name from the title, bullet points and search terms of ASIN {ASIN} on 4 March 2026.",
    "Replaced both disputed photos with images taken by our own photographer on 5 March 2026.",
    "Audited all 212 active listings for other protected brand names and borrowed images; corrected 6 titles "
    "and closed 2 listings.",
    "Contacted the Kaffeform brand team on 5 March 2026 to explain the changes; they confirmed on 7 March "
    "that the issue is resolved.",
]
PREVENTIVE = [
    "Our catalogue lead, Dana Reyes, checks every new title against the USPTO trademark database before it "
    "is published.",
    "We publish only photos and text created by our own team or used under a licence we hold on file.",
    "Everyone who writes listings completed a two-hour intellectual property course on 10 March 2026 and "
    "repeats it each quarter.",
    "Dana Reyes answers any rights-owner complaint within 24 hours and can pause a listing at once.",
]
CLOSURE = (
    "Thank you for reviewing our plan. We have removed the infringing content and changed how we create "
    f"listings, and we respectfully ask that the listing for ASIN {ASIN} be reinstated.\n\n"
    f"Dana Reyes, Catalogue Lead\n{CLIENT}, seller ID {SELLER_ID}")


def shoot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def download(page, link_name: str):
    """Click an export link; return (suggested file name, bytes)."""
    with page.expect_download() as info:
        page.locator("a.btn", has_text=re.compile(f"^{link_name}$")).click()
    file = info.value
    return file.suggested_filename, Path(file.path()).read_bytes()


def in_order(text: str, needles: list[str]) -> list[int]:
    """Where each needle first occurs after the previous one; fails naming the missing one."""
    positions, start = [], 0
    for needle in needles:
        found = text.find(needle, start)
        assert found >= 0, f"{needle!r} not found (in order) in {text[:400]!r}..."
        positions.append(found)
        start = found + len(needle)
    return positions


def test_consultant_takes_a_new_case_to_a_reviewed_exported_poa(page, live_server, world, tmp_path):
    # Sign in.
    page.goto("/login")
    page.fill("#email", world.consultant_a.email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation")).to_contain_text("Carl Consultant")

    # Open a listing-deactivation case for an IP complaint from the dashboard (sign-in lands
    # on My day; "Cases" in the nav is the dashboard).
    page.get_by_role("navigation").get_by_role("link", name="Cases").click()
    page.get_by_role("link", name="Open a case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a case")
    page.select_option("#client_id", label=CLIENT)
    page.fill("#title", "Coffee set listing deactivated for a trademark complaint")
    page.select_option("#kind", "listing_deactivation")
    page.select_option("#reason", "intellectual_property")
    page.fill("#asins", ASIN.lower())
    page.fill("#opened_at", "2026-03-03")
    page.fill("#amazon_notice", "We removed your listing because the rights owner reported an infringement.")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("alert")).to_contain_text("Case opened.")
    expect(page.locator("#poa-card")).to_contain_text("No draft yet.")
    case_url = page.url
    case_id = int(re.search(r"/cases/(\d+)$", case_url).group(1))

    # Start the POA from the starter written for the case: one click on the case page.
    expect(page.locator("#poa-card")).to_contain_text("starter for intellectual property")
    page.locator("#poa-card").get_by_role("button", name="Start the POA").click()
    expect(page.get_by_role("alert")).to_contain_text("Version 1 started from the starter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("v1")

    # The starter carries the case's facts; the notice date is the one typed, in Berlin.
    expect(page.locator("#subject")).to_have_value(re.compile(rf"{ASIN}.*{CLIENT}"))
    expect(page.locator("#introduction")).to_have_value(re.compile(r"^On 3 March 2026 we, " + CLIENT))
    expect(page.locator("#corrective_actions")).to_have_value(re.compile(ASIN))

    # The review beside the editor flags the blanks and the starter wording.
    review = page.locator("#review")
    expect(review).to_contain_text("Review of v1")
    expect(review.locator("li.finding[data-code=placeholder]").first).to_be_visible()
    expect(review.locator("li.finding[data-code=placeholder][data-severity=error]")).not_to_have_count(0)
    expect(review.locator("li.finding[data-code=generic_starter_text]")).not_to_have_count(0)
    expect(review.locator("li.finding[data-code=placeholder]").first).to_contain_text("Replace each blank")
    expect(page.get_by_role("button", name="Save as v2")).to_be_visible()
    shoot(page, "editor-v1-starter")

    # Write the POA, section by section, and save it as v2.
    page.fill("#subject", SUBJECT)
    page.fill("#introduction", INTRODUCTION)
    page.fill("#root_cause", ROOT_CAUSE)
    page.fill("#corrective_actions", "\n".join(CORRECTIVE))
    page.fill("#preventive_measures", "\n".join(PREVENTIVE))
    page.fill("#closure", CLOSURE)
    page.get_by_role("button", name="Save as v2").click()
    expect(page.get_by_role("alert")).to_contain_text("Saved as version 2.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("v2")

    # The review is of v2 now, and it finds nothing to fix.
    expect(review).to_contain_text("Review of v2")
    expect(review).to_contain_text("0 errors, 0 warnings")
    expect(review.locator("li.finding[data-severity=error]")).to_have_count(0)
    expect(review.locator("li.finding")).to_have_count(0)
    expect(page.locator("#review-clean")).to_be_visible()
    expect(page.locator("#corrective_actions")).to_have_value("\n".join(CORRECTIVE))
    expect(page.locator("#versions li")).to_have_count(2)
    shoot(page, "editor-v2-clean")

    # Compare v1 with v2: every section was rewritten.
    page.locator("#versions select[name=with]").select_option(label="v1")
    page.get_by_role("button", name="Compare with v2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare POA v1 and v2")
    changed = page.locator("tr[data-changed=yes]")
    expect(changed).to_have_count(6)
    expect(changed.locator("th")).to_have_text(HEADINGS)
    root_cause_row = page.locator("tr[data-section=root_cause]")
    expect(root_cause_row.locator("td").nth(0).locator("del").first).to_be_visible()
    expect(root_cause_row.locator("td").nth(1)).to_contain_text("seven weeks")
    expect(root_cause_row.locator("td").nth(1).locator("ins").first).to_be_visible()
    shoot(page, "compare-v1-v2")

    # Back to v2 and mark it final.
    page.locator("thead").get_by_role("link", name="v2").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("v2")
    page.get_by_role("button", name="Mark v2 final").click()
    expect(page.get_by_role("alert")).to_contain_text("Version 2 is now the final one.")
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("final")
    expect(page.get_by_role("button", name="Mark v2 final")).to_have_count(0)

    # The case page: the POA card and the timeline, newest first.
    page.locator("main").get_by_role("link", name="Coffee set listing deactivated for a trademark complaint").click()
    expect(page).to_have_url(case_url)
    expect(page.locator("#poa-card")).to_contain_text("Latest v2")
    expect(page.locator("#poa-card")).to_contain_text("Final: v2.")
    poa_events = page.locator("ul.timeline li[data-kind^=poa_]")
    expect(poa_events).to_have_count(3)
    expect(poa_events.locator("strong")).to_have_text(
        ["POA v2 marked final", "POA v2 saved", re.compile(r"^POA draft v1 started")])
    expect(page.locator("ul.timeline li[data-kind=poa_created]")).to_contain_text("Carl Consultant")
    expect(page.locator("ul.timeline li[data-kind=poa_final]")).to_contain_text("Carl Consultant")

    # "Open the POA" goes to the latest version; download its exports.
    page.locator("#poa-card").get_by_role("link", name="Open the POA").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("v2")
    basename = f"POA-Harbor-Lane-Home-Goods-case{case_id}-v2"

    name, data = download(page, "Text")
    assert name == f"{basename}.txt"
    text = data.decode("utf-8")
    in_order(text, [f"{h}\n" for h in HEADINGS])
    assert text.startswith(f"Subject\n{SUBJECT}\n")
    in_order(text, [f"{n}. {item}\n" for n, item in enumerate(CORRECTIVE, start=1)])
    in_order(text, [f"{n}. {item}\n" for n, item in enumerate(PREVENTIVE, start=1)])
    assert "<" not in text and ">" not in text and "**" not in text and "\r" not in text

    name, data = download(page, "Word")
    assert name == f"{basename}.docx"
    (tmp_path / name).write_bytes(data)
    document = docx.Document(str(tmp_path / name))
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    headings = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    assert headings == HEADINGS
    body = "\n".join(p.text for p in paragraphs)
    in_order(body, HEADINGS)
    subject_at = [p.text for p in paragraphs].index("Subject")
    assert paragraphs[subject_at + 1].text == SUBJECT
    in_order(body, [ROOT_CAUSE, *CORRECTIVE, *PREVENTIVE])

    name, data = download(page, "PDF")
    assert name == f"{basename}.pdf"
    assert data.startswith(b"%PDF-")
    (tmp_path / name).write_bytes(data)
    reader = PdfReader(str(tmp_path / name))
    pdf_text = "\n".join(p.extract_text() for p in reader.pages)
    flat = " ".join(pdf_text.split())  # lines wrap wherever the page is full
    title_end = flat.index(f"Plan of Action: {CLIENT}") + len(f"Plan of Action: {CLIENT}")
    in_order(flat[title_end:], [f"{h} " for h in HEADINGS])
    assert f"Subject {SUBJECT} Introduction" in flat
    assert f"seller ID {SELLER_ID}" in flat.rsplit("Closure", 1)[1]

    # What the browser did is in the database: two versions, v2 final, v1 untouched.
    db.session.rollback()
    drafts = db.session.scalars(
        db.select(PoaDraft).where(PoaDraft.case_id == case_id).order_by(PoaDraft.version)).all()
    assert [(d.version, d.is_final) for d in drafts] == [(1, False), (2, True)]
    assert "[" in drafts[0].root_cause
    assert drafts[1].corrective_actions == CORRECTIVE and drafts[1].closure == CLOSURE
