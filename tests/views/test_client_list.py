"""The client list: its search, and a length it never hides ("1–50 of 1,000+ clients")."""
from __future__ import annotations

import html

from caseapp.extensions import db
from caseapp.models import Client
from tests.conftest import make_client


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_client_list_says_how_many_clients_match(browser, world):
    make_client(world.consultant_a, name="Blue Fern Outdoors", seller_id="A2BLUEFERN0001")
    browser.login(world.consultant_a.email)
    page = _text(browser.get("/clients/"))
    assert 'id="list-length">1–2 of 2 clients<' in page  # the world's client and Blue Fern
    page = _text(browser.get("/clients/?q=fern"))
    assert 'id="list-length">1–1 of 1 client<' in page and "Blue Fern Outdoors" in page
    page = _text(browser.get("/clients/?q=nobody"))
    assert "No clients match" in page and 'id="list-length">No clients<' in page
    page = _text(browser.get("/clients/?page=7"))  # past the last page: the list is not empty
    assert 'id="list-length">None on this page: 2 clients in all<' in page


def test_a_long_client_list_counts_up_to_the_cap_and_pages_on(browser, world):
    db.session.add_all([Client(agency_id=world.agency_a.id, name=f"Seller {i:04d}", seller_id=f"A2MANY{i:08d}",
                               marketplace="US") for i in range(1_050)])
    db.session.add(Client(agency_id=world.agency_b.id, name="Seller of agency B", seller_id="A2OTHER0000001",
                          marketplace="US"))
    db.session.commit()
    browser.login(world.consultant_a.email)
    assert 'id="list-length">1–50 of 1,000+ clients<' in _text(browser.get("/clients/"))
    page = _text(browser.get("/clients/?page=3"))
    assert 'id="list-length">101–150 of 1,000+ clients<' in page and "Seller 0100" in page
    page = _text(browser.get("/clients/?q=seller 09"))  # Seller 0900 to Seller 0999: under the cap
    assert 'id="list-length">1–50 of 100 clients<' in page and "agency B" not in page
