"""A refused form shows every mistake at once, each beside its field, and keeps every value:
the form's own (a date it cannot read, a choice it does not offer) and the service's
(required fields, an ASIN, an email, a duplicate seller ID) in the same round."""
import re

from caseapp.extensions import db
from caseapp.models import Case, Client, Invitation
from tests.conftest import make_client


def errors_beside(page: str) -> list[str]:
    return re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', page, re.S)


def test_client_form_shows_required_seller_id_and_email_errors_together(browser, world):
    browser.login(world.consultant_a.email)
    before = db.session.scalar(db.select(db.func.count(Client.id)))
    page = browser.post("/clients/new", data={
        "name": "", "seller_id": "no!", "marketplace": "US", "contact_name": "Priya",
        "contact_email": "priya-at-nowhere", "notes": "Met at the fair"}).get_data(as_text=True)
    shown = " ".join(errors_beside(page))
    assert "business name is required" in shown
    assert "8 to 20 letters and digits" in shown
    assert "@-sign" in shown
    assert 'value="priya-at-nowhere"' in page and 'value="Priya"' in page and "Met at the fair" in page
    assert db.session.scalar(db.select(db.func.count(Client.id))) == before


def test_case_form_shows_required_asin_and_date_errors_together(browser, world):
    browser.login(world.consultant_a.email)
    page = browser.post("/cases/new", data={
        "client_id": world.client_a.id, "title": "", "kind": "other", "reason": "other",
        "priority": "normal", "assignee_id": "", "asins": "B07XJ8C8F5, TOOSHORT",
        "opened_at": "31/31/2026", "amazon_notice": "Notice text kept"}).get_data(as_text=True)
    shown = " ".join(errors_beside(page))
    assert "Required." in shown  # the title
    assert "these are not: TOOSHORT" in shown
    assert "Give a date from" in shown
    assert "B07XJ8C8F5, TOOSHORT" in page and "Notice text kept" in page and 'value="31/31/2026"' in page
    assert db.session.scalar(db.select(db.func.count(Case.id))) == 1  # only the world's case


def test_invite_form_shows_choice_email_and_name_errors_together(browser, world):
    browser.login(world.admin_a.email)
    page = browser.post("/admin/users/new", data={
        "email": "not-an-address", "name": "", "role": "consultant",
        "timezone": "Mars/Olympus_Mons"}).get_data(as_text=True)
    shown = " ".join(errors_beside(page))
    assert "Not a valid choice" in shown  # the time zone, which the form itself refuses
    assert "@-sign" in shown  # the email, which only the service checks
    assert len(errors_beside(page)) >= 3  # and the name
    assert 'value="not-an-address"' in page
    assert db.session.scalar(db.select(db.func.count(Invitation.id))) == 0


def test_a_seller_id_of_another_client_is_refused_with_a_link_to_it(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/clients/new", data={
        "name": "Harbor Lane again", "seller_id": world.client_a.seller_id.lower(), "marketplace": "US"})
    page = response.get_data(as_text=True)
    shown = " ".join(errors_beside(page))
    assert "already has seller ID" in shown
    assert f'href="/clients/{world.client_a.id}"' in shown
    assert 'value="Harbor Lane again"' in page
    assert db.session.scalar(db.select(db.func.count(Client.id))) == 1


def test_editing_a_client_into_another_clients_seller_id_is_refused(browser, world):
    other = make_client(world.consultant_a, name="Other", seller_id="ZZZZ9999ZZZZ")
    browser.login(world.consultant_a.email)
    page = browser.post(f"/clients/{other.id}/edit", data={
        "name": "Other", "seller_id": world.client_a.seller_id, "marketplace": "US"}).get_data(as_text=True)
    assert "already has seller ID" in page
    assert db.session.get(Client, other.id).seller_id == "ZZZZ9999ZZZZ"
    # saving a client with its own seller ID is no duplicate
    assert browser.post(f"/clients/{other.id}/edit", data={
        "name": "Other renamed", "seller_id": "ZZZZ9999ZZZZ", "marketplace": "US"}).status_code == 302


def test_another_agencys_seller_id_is_fine(browser, world):
    browser.login(world.admin_b.email)
    response = browser.post("/clients/new", data={
        "name": "Same seller elsewhere", "seller_id": world.client_a.seller_id, "marketplace": "US"})
    assert response.status_code == 302
