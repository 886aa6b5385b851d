"""A seller ID is one client's within an agency: the API answers 409 naming the existing one."""
from caseapp.extensions import db
from caseapp.models import Client


def test_a_duplicate_seller_id_is_409_with_the_existing_clients_id(api_a, world):
    response = api_a.post("/clients", json={"name": "Twin", "seller_id": world.client_a.seller_id})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["existing_id"] == world.client_a.id
    assert "seller_id" in error["fields"]
    assert db.session.scalar(db.select(db.func.count(Client.id))) == 1


def test_a_duplicate_among_other_mistakes_is_named_in_the_422(api_a, world):
    response = api_a.post("/clients", json={"name": "", "seller_id": world.client_a.seller_id})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"name", "seller_id"}


def test_patching_into_a_duplicate_is_409_and_another_agency_may_have_it(api_a, api_b, world):
    other = api_a.post("/clients", json={"name": "Other", "seller_id": "B2C3D4E5F6G7H8"}).get_json()
    response = api_a.patch(f"/clients/{other['id']}", json={"seller_id": world.client_a.seller_id})
    assert response.status_code == 409
    assert api_b.post("/clients", json={"name": "Elsewhere",
                                        "seller_id": world.client_a.seller_id}).status_code == 201
