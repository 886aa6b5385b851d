"""Portal links: revoked and expired links close, a link opens its own case of its own
client of its own agency only, a new request renews the link, and the token is never
written anywhere: not in the database, the outbox or the audit log."""
from datetime import timedelta

import pytest

from caseapp.core.transaction import transaction
from caseapp.core.errors import Conflict, NotFound
from caseapp.extensions import db
from caseapp.models import PortalLink
from caseapp.services.cases import records
from caseapp.services.poa import start_from_starter
from caseapp.services.portal import LinkClosed, client, links, reminders, requests, sharing
from tests.conftest import make_client
from tests.services.portal.conftest import NOW, ask, pdf, token_of


def every_stored_value():
    """Every value of every row of every table, as text."""
    db.session.expire_all()
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()).all():
            for value in row:
                if value is not None:
                    yield table.name, str(value)


def test_a_revoked_or_expired_link_is_closed_for_every_client_action(app, world, case):
    opened = ask(world, case)
    token, item = token_of(opened), opened.request.items[0]
    later = opened.link.expires_at + timedelta(minutes=1)
    for act in (lambda: client.page(token, now=later),
                lambda: client.upload(token, item.id, [pdf()], now=later),
                lambda: client.answer(token, opened.request.items[1].id, "x", now=later),
                lambda: client.message(token, "hello", now=later)):
        with pytest.raises(LinkClosed) as closed:
            act()
        assert closed.value.state == "expired"
    links.revoke(world.consultant_a, case.id, now=NOW + timedelta(hours=1))
    with pytest.raises(LinkClosed) as closed:
        client.message(token, "hello", now=NOW + timedelta(hours=2))
    assert closed.value.state == "revoked"
    page = client.closed_link_page(closed.value)
    assert page["agency_name"] == "Agency A" and page["consultant"] == "Carl"
    with pytest.raises(Conflict):
        links.revoke(world.consultant_a, case.id, now=NOW + timedelta(hours=3))
    # A new request after the revocation makes a new link; the revoked one stays closed.
    second = ask(world, case, now=NOW + timedelta(hours=4))
    assert second.link.id != opened.link.id and token_of(second) != token
    assert client.page(token_of(second), now=NOW + timedelta(hours=5)).case_title == case.title
    with pytest.raises(LinkClosed):
        client.page(token, now=NOW + timedelta(hours=5))


def test_a_link_opens_nothing_of_another_agency_or_another_client(world, case):
    mine = ask(world, case)
    other_client = make_client(world.consultant_a, name="Other Seller", seller_id="B9B9B9B9B9B9B9",
                               contact_email="other@example.com")
    theirs_case = records.create_case(world.consultant_a, {"client_id": other_client.id, "title": "Theirs",
                                                           "kind": "other", "reason": "other"})
    theirs = ask(world, theirs_case)
    b_client = make_client(world.consultant_b, name="B Seller", contact_email="b@example.com")
    b_case = records.create_case(world.consultant_b, {"client_id": b_client.id, "title": "B",
                                                      "kind": "other", "reason": "other"})
    b_opened = requests.open_request(world.consultant_b, b_case.id, {
        "items": [{"title": "B doc", "instructions": "", "category": "other"}]}, now=NOW)
    token = token_of(mine)
    for foreign in (theirs.request.items[0].id, b_opened.request.items[0].id, 10 ** 9):
        with pytest.raises(NotFound):
            client.upload(token, foreign, [pdf()], now=NOW)
        with pytest.raises(NotFound):
            client.answer(token, foreign, "answer", now=NOW)
    view = client.page(token, now=NOW)
    assert [r.request.id for r in view.requests] == [mine.request.id]
    assert client.page(token_of(b_opened), now=NOW).agency_name == "Agency B"
    for bad in ("", "x" * 500, token[:-1], token + "A"):
        with pytest.raises(NotFound):
            client.page(bad, now=NOW)


def test_a_case_moved_to_another_client_closes_the_old_clients_link(world, case):
    opened = ask(world, case)
    other = make_client(world.consultant_a, name="Right Seller", seller_id="C1C1C1C1C1C1C1",
                        contact_email="right@example.com")
    requests.cancel_request(world.consultant_a, opened.request.id, now=NOW)
    records.update_case(world.consultant_a, case.id, {"client_id": other.id})
    with pytest.raises(NotFound):
        client.page(token_of(opened), now=NOW)
    assert links.build_for_mail(str(opened.link.id), NOW) is None  # queued mail to the old client goes nowhere
    second = ask(world, case, now=NOW + timedelta(hours=1))
    assert second.link.id != opened.link.id and second.link.client_id == other.id
    assert client.page(token_of(second), now=NOW + timedelta(hours=1)).client_name == "Right Seller"


def test_a_new_request_renews_the_live_link(app, world, case):
    first = ask(world, case)
    days = app.config["PORTAL_LINK_DAYS"]
    assert first.link.expires_at == NOW + timedelta(days=days)
    second = ask(world, case, now=NOW + timedelta(days=10))
    assert second.link.id == first.link.id and token_of(second) == token_of(first)
    assert db.session.get(PortalLink, first.link.id).expires_at == NOW + timedelta(days=10 + days)
    assert client.page(token_of(first), now=NOW + timedelta(days=days + 5)).case_title == case.title


def test_the_token_is_never_stored_anywhere(world, case):
    opened = ask(world, case, message="Please hurry")
    token = token_of(opened)
    items = opened.request.items
    client.upload(token, items[0].id, [pdf()], now=NOW)
    client.answer(token, items[1].id, "Acme", now=NOW)
    client.message(token, "Done, see above", now=NOW)
    requests.decide_item(world.consultant_a, items[0].id, "rejected", "Cropped", now=NOW)
    draft = start_from_starter(world.consultant_a, case.id)
    share = sharing.share(world.consultant_a, draft.id, now=NOW)
    client.answer_poa(token, share.id, "approve", "", now=NOW)
    reminders.dispatch_due(opened.request.due_at + timedelta(minutes=1))
    for table, value in every_stored_value():
        assert token not in value, f"the portal token is stored in {table}"
        assert opened.portal_url not in value, table


def test_the_old_client_of_a_moved_case_can_be_deleted_and_its_link_stays_dead(world, case):
    from caseapp.services.cases import clients

    first = make_client(world.consultant_a, name="Wrong Seller", seller_id="D1D1D1D1D1D1D1",
                        contact_email="wrong@example.com")
    records.update_case(world.consultant_a, case.id, {"client_id": first.id})
    opened = ask(world, case)
    requests.cancel_request(world.consultant_a, opened.request.id, now=NOW)
    records.update_case(world.consultant_a, case.id, {"client_id": world.client_a.id})
    with transaction():
        clients.delete_client(world.admin_a, first.id)
    with pytest.raises(NotFound):
        client.page(token_of(opened), now=NOW)
