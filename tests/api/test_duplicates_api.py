"""Duplicates: a seller ID is one client's within an agency, a file (its bytes) is attached to
a case once. The API answers 409 naming the existing one (`existing_id`)."""
import io

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


def test_the_same_file_twice_on_a_case_is_409_with_the_existing_evidence_id(api_a, world):
    def send(name):
        return api_a.request("POST", f"/cases/{world.case_a.id}/evidence",
                             data={"file": (io.BytesIO(b"the supplier's invoice"), name)},
                             content_type="multipart/form-data")
    first = send("invoice.txt")
    assert first.status_code == 201
    again = send("invoice-copy.txt")
    assert again.status_code == 409
    assert again.get_json()["error"]["existing_id"] == first.get_json()["id"]
    assert len(api_a.get(f"/cases/{world.case_a.id}/evidence").get_json()["items"]) == 1
