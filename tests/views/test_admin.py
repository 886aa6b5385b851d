import re

import pytest

from caseapp.extensions import db
from caseapp.models import Agency, Invitation, User
from caseapp.services.accounts import people
from caseapp.services.accounts import invitations
from tests.conftest import Browser


@pytest.mark.parametrize("url", ["/admin/users", "/admin/users/new", "/admin/agency"])
def test_consultants_are_refused_admin_pages(browser, world, url):
    browser.login(world.consultant_a.email)
    assert browser.get(url).status_code == 403


def test_consultant_cannot_post_admin_actions_either(browser, world):
    browser.login(world.consultant_a.email)
    assert browser.post(f"/admin/users/{world.admin_a.id}/active/0").status_code == 403
    assert browser.post("/admin/users/new", data={
        "email": "sneaky@agency-a.example", "name": "Sneaky", "role": "admin"}).status_code == 403
    assert browser.post(f"/clients/{world.client_a.id}/delete").status_code == 403
    db.session.expire_all()
    assert db.session.get(User, world.admin_a.id).active
    assert db.session.scalar(db.select(User).where(User.email == "sneaky@agency-a.example")) is None
    assert db.session.scalar(db.select(Invitation)) is None


def test_admin_invites_a_consultant_who_then_signs_in(browser, world, app):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/users/new", data={
        "email": "New.Person@Agency-A.example", "name": "New Person", "role": "consultant",
        "timezone": ""}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Invitation sent to new.person@agency-a.example" in page
    assert "Invitations not yet accepted" in page and "New Person" in page
    invitation = db.session.scalar(db.select(Invitation))
    newcomer = Browser(app)
    url = f"/invitations/{invitations.token_for(invitation)}"
    assert "Join Agency A on caseapp" in newcomer.get(url).get_data(as_text=True)
    response = newcomer.post(url, data={"name": "New Person", "password": "short",
                                        "csrf_token": newcomer.csrf_token("/login")})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "at least 10 characters" in page
    assert 'value="New Person"' in page  # what was typed is kept
    response = newcomer.post(url, data={"name": "New Person", "password": "a-long-enough-password",
                                        "csrf_token": newcomer.csrf_token("/login")})
    assert response.headers["Location"].startswith("/login")
    assert newcomer.login("new.person@agency-a.example", "a-long-enough-password").headers["Location"] == "/my-day"
    assert newcomer.get(url).status_code == 404  # single use
    assert "Invitations not yet accepted" not in browser.get("/admin/users").get_data(as_text=True)


def test_invitation_form_shows_every_error_beside_its_field(browser, world):
    browser.login(world.admin_a.email)
    page = browser.post("/admin/users/new", data={
        "email": "not-an-address", "name": "", "role": "consultant"}).get_data(as_text=True)
    assert "not-an-address" in page  # kept
    assert "valid email address" in page or "must have an @-sign" in page
    assert "This field is required" in page or "Please give the person" in page
    page = browser.post("/admin/users/new", data={
        "email": world.consultant_a.email, "name": "Carl", "role": "consultant"}).get_data(as_text=True)
    assert "already a member of your agency" in page


def test_inviting_another_agencys_member_answers_like_any_invitation(browser, world):
    """The answer must not tell an admin which addresses have accounts in other agencies."""
    browser.login(world.admin_a.email)

    def answer(email):
        response = browser.post("/admin/users/new", data={
            "email": email, "name": "Someone", "role": "consultant"}, follow_redirects=True)
        return response.status_code, response.get_data(as_text=True).replace(email, "EMAIL")

    fresh = answer("someone@nowhere.example")
    taken = answer(world.consultant_b.email)
    assert taken[0] == fresh[0] == 200
    assert "already has an account" not in taken[1]
    flash = re.compile(r"Invitation sent to EMAIL[^<]*")
    assert flash.search(taken[1]).group(0) == flash.search(fresh[1]).group(0)
    outbox = browser.get("/admin/outbox").get_data(as_text=True)
    assert outbox.count("Join Agency A on caseapp") == 2
    assert "invites you to join" not in outbox and "already has a caseapp account" not in outbox


def test_resend_and_revoke_from_the_people_page(browser, world):
    browser.login(world.admin_a.email)
    browser.post("/admin/users/new", data={"email": "nora@agency-a.example", "name": "Nora",
                                           "role": "consultant"})
    invitation = db.session.scalar(db.select(Invitation))
    old = invitations.token_for(invitation)
    page = browser.post(f"/admin/invitations/{invitation.id}/resend",
                        follow_redirects=True).get_data(as_text=True)
    assert "A new invitation is on its way to nora@agency-a.example" in page
    db.session.expire_all()
    assert invitations.find_valid(old) is None
    page = browser.post(f"/admin/invitations/{invitation.id}/revoke",
                        follow_redirects=True).get_data(as_text=True)
    assert "is revoked" in page and "Invitations not yet accepted" not in page
    again = browser.post(f"/admin/invitations/{invitation.id}/revoke", follow_redirects=True)
    assert again.status_code == 200 and "is revoked" in again.get_data(as_text=True)  # a double click


def test_invitations_of_another_agency_are_404_and_consultants_403(browser, world):
    invitation = invitations.invite(world.admin_b, "x@agency-b.example", "X", "consultant")
    browser.login(world.admin_a.email)
    assert browser.post(f"/admin/invitations/{invitation.id}/resend").status_code == 404
    assert browser.post(f"/admin/invitations/{invitation.id}/revoke").status_code == 404
    consultant = Browser(browser.client.app)
    consultant.login(world.consultant_b.email)
    assert consultant.post(f"/admin/invitations/{invitation.id}/revoke").status_code == 403
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).revoked_at is None


def test_a_wrong_or_used_invitation_link_is_a_clear_404(browser):
    response = browser.get("/invitations/not-a-real-token")
    assert response.status_code == 404
    assert "Ask the person who invited you" in response.get_data(as_text=True)


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
    assert people.authenticate(world.consultant_a.email, "correct-horse-battery").is_admin


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
