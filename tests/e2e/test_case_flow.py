"""The foundation flow in a real browser: sign in, add a client, open a case, move it
along the workflow, write a Markdown note, and see all of it on the case page."""
import re

import pytest
from playwright.sync_api import expect

from caseapp.extensions import db
from caseapp.services.cases import records
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_consultant_opens_a_case_and_moves_it_to_drafting(page, live_server, world):
    # Sign in through the form.
    page.goto("/login")
    page.fill("#email", world.consultant_a.email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation")).to_contain_text("Carl Consultant")

    # Add a client from the Clients page.
    page.get_by_role("navigation").get_by_role("link", name="Clients").click()
    expect(page).to_have_url(re.compile(re.escape(live_server) + r"/clients/?$"))
    expect(page.get_by_role("link", name="Harbor Lane Home Goods")).to_be_visible()
    page.get_by_role("link", name="Add a client").click()
    page.fill("#name", "Northwind Outdoor Supply")
    page.fill("#seller_id", "A2NWOUTDOOR77")
    page.select_option("#marketplace", "DE")
    page.fill("#contact_name", "Nina North")
    page.fill("#contact_email", "nina@northwind.example")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Client Northwind Outdoor Supply added.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind Outdoor Supply")

    # Open a case for it; the form arrives with the client chosen.
    page.get_by_role("link", name="Open a case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a case")
    expect(page.locator("#client_id option:checked")).to_have_text("Northwind Outdoor Supply")
    page.fill("#title", "Listing deactivated for authenticity complaints")
    page.select_option("#kind", "listing_deactivation")
    page.select_option("#reason", "customer_complaints")
    page.fill("#asins", "B07XJ8C8F5, B08N5WRWNW")
    page.fill("#amazon_notice", "Your listing has been deactivated due to customer complaints.")
    page.get_by_role("button", name="Open case").click()

    expect(page.get_by_role("alert")).to_contain_text("Case opened.")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Listing deactivated for authenticity complaints")
    expect(page.locator("[data-status=open]")).to_be_visible()
    expect(page.locator("dd code")).to_have_text(["B07XJ8C8F5", "B08N5WRWNW"])
    expect(page.locator(".notice-text")).to_contain_text("deactivated due to customer complaints")
    case_url = page.url
    assert re.search(r"/cases/\d+$", case_url), case_url

    # Change the status with the "Change status" form.
    page.select_option("#status", "drafting")
    page.get_by_role("button", name="Change status").click()
    # Case-insensitive: the flash currently lower-cases the label ("drafting poa").
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"Status is now drafting POA", re.I))
    expect(page.locator("[data-status=drafting]")).to_be_visible()
    expect(page.locator("[data-status=open]")).to_have_count(0)
    status_event = page.locator("ul.timeline li[data-kind=status_changed]")
    expect(status_event).to_have_count(1)
    expect(status_event).to_contain_text("Status: Open → Drafting POA")
    expect(status_event).to_contain_text("Carl Consultant")
    # From drafting, the form now offers the moves the workflow allows from there.
    expect(page.locator("#status option")).to_have_text(
        ["Submitted to Amazon", "Open", "Closed"])

    # A Markdown note is rendered, not shown raw.
    page.fill("#body", "**evidence** requested")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("alert")).to_contain_text("Note added.")
    note = page.locator("ul.timeline li[data-kind=note_added]")
    expect(note).to_have_count(1)
    expect(note.locator(".note-body strong")).to_have_text("evidence")
    expect(note.locator(".note-body")).to_have_text("evidence requested")
    expect(note.locator(".note-body")).not_to_contain_text("**")

    # The server thread wrote to the test's database.
    db.session.rollback()  # end this thread's read snapshot
    case_id = int(case_url.rsplit("/", 1)[1])
    case = records.get_case(world.consultant_a, case_id)
    assert case.title == "Listing deactivated for authenticity complaints"
    assert case.status == "drafting"
    assert case.client.name == "Northwind Outdoor Supply"
    assert case.asins == ["B07XJ8C8F5", "B08N5WRWNW"]
