import pytest

from caseapp.extensions import db
from caseapp.models import Agency, User
from caseapp.services import accounts


@pytest.mark.parametrize("url", ["/admin/users", "/admin/users/new", "/admin/agency"])
def test_consultants_are_refused_admin_pages(browser, world, url):
    browser.login(world.consultant_a.email)
    assert browser.get(url).status_code == 403


def test_consultant_cannot_post_admin_actions_either(browser, world):
    browser.login(world.consultant_a.email)
    assert browser.post(f"/admin/users/{world.admin_a.id}/active/0").status_code == 403
    assert browser.post("/admin/users/new", data={
        "email": "sneaky@agency-a.example", "name": "Sneaky", "role": "admin",
        "password": "long-enough-password"}).status_code == 403
    assert browser.post(f"/clients/{world.client_a.id}/delete").status_code == 403
    db.session.expire_all()
    assert db.session.get(User, world.admin_a.id).active
    assert db.session.scalar(db.select(User).where(User.email == "sneaky@agency-a.example")) is None


def test_admin_adds_a_consultant_who_can_then_sign_in(browser, world, app):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/users/new", data={
        "email": "New.Person@Agency-A.example", "name": "New Person", "role": "consultant",
        "timezone": "", "password": "a-long-enough-password"}, follow_redirects=True)
    assert "New Person can now sign in as new.person@agency-a.example" in response.get_data(as_text=True)
    newcomer = type(browser)(app)
    response = newcomer.login("new.person@agency-a.example", "a-long-enough-password")
    assert response.headers["Location"] == "/cases"


def test_user_form_shows_errors_beside_fields(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/users/new", data={
        "email": world.consultant_b.email, "name": "Dup", "role": "consultant",
        "password": "short"})
    page = response.get_data(as_text=True)
    assert "already has an account" in page
    assert "at least 10 characters" in page


def test_deactivate_keeps_cases_and_shows_it(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post(f"/admin/users/{world.consultant_a.id}/active/0", follow_redirects=True)
    assert "deactivated; their cases keep them as assignee" in response.get_data(as_text=True)
    page = browser.get("/cases?assignee=all").get_data(as_text=True)
    assert "Carl Consultant <span class=\"text-muted\">(deactivated)</span>" in page
    browser.post(f"/admin/users/{world.consultant_a.id}/active/1")
    db.session.expire_all()
    assert db.session.get(User, world.consultant_a.id).active


def test_admin_sets_agency_time_zone_and_follow_up_hours(browser, world):
    browser.login(world.admin_a.email)
    browser.post("/admin/agency", data={"timezone": "Australia/Sydney", "follow_up_hours": "36"})
    db.session.expire_all()
    agency = db.session.get(Agency, world.agency_a.id)
    assert (agency.timezone, agency.follow_up_hours) == ("Australia/Sydney", 36)
    response = browser.post("/admin/agency", data={"timezone": "Mars/Olympus", "follow_up_hours": "0"})
    assert "Not a valid choice" in response.get_data(as_text=True)
    response = browser.post("/admin/agency", data={"timezone": "UTC", "follow_up_hours": "0"})
    assert "between 1 and 720" in response.get_data(as_text=True)


def test_role_change_from_admin_page(browser, world):
    browser.login(world.admin_a.email)
    browser.post(f"/admin/users/{world.consultant_a.id}", data={
        "name": "Carl Consultant", "role": "admin", "timezone": ""})
    db.session.expire_all()
    assert db.session.get(User, world.consultant_a.id).role == "admin"
    assert accounts.authenticate(world.consultant_a.email, "correct-horse-battery").is_admin


def test_clients_add_edit_and_validation(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/clients/new", data={
        "name": "Maple & Pine Crafts", "seller_id": "amaplepine2024", "marketplace": "CA",
        "contact_name": "Priya", "contact_email": "priya@maple.example", "notes": "Etsy too"})
    assert response.status_code == 302
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Maple &amp; Pine Crafts" in page and "AMAPLEPINE2024" in page
    response = browser.post("/clients/new", data={"name": "Bad", "seller_id": "no!", "marketplace": "US",
                                                  "contact_email": "nope"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "8 to 20 letters and digits" in page and 'value="Bad"' in page
