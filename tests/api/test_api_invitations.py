"""POST /api/v1/invitations: admins invite by email."""
from caseapp.extensions import db
from caseapp.models import Invitation, OutboxMessage


def test_admin_invites_through_the_api(admin_api_a, world):
    response = admin_api_a.post("/invitations", json={"email": "Nora@Agency-A.example", "name": "Nora",
                                                      "role": "consultant"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["email"] == "nora@agency-a.example" and body["role"] == "consultant"
    assert body["expires_at"].endswith("+00:00")
    assert "token" not in body and "url" not in body  # the link goes to the person, nobody else
    assert db.session.scalar(db.select(OutboxMessage.recipient)) == "nora@agency-a.example"


def test_consultants_may_not_invite(api_a):
    response = api_a.post("/invitations", json={"email": "x@agency-a.example", "name": "X",
                                                "role": "admin"})
    assert response.status_code == 403
    assert db.session.scalar(db.select(Invitation)) is None


def test_invalid_invitation_names_each_field(admin_api_a):
    response = admin_api_a.post("/invitations", json={"email": 7, "name": ["x"], "role": "boss"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"email", "name"}
    response = admin_api_a.post("/invitations", json={"email": "nope", "name": "", "role": "boss"})
    assert set(response.get_json()["error"]["fields"]) == {"email", "name", "role"}
    response = admin_api_a.post("/invitations", json={"email": "a@b.example", "name": "A",
                                                      "role": "consultant", "colour": "red"})
    assert response.get_json()["error"]["fields"] == {"colour": "Unknown field."}
