"""The client's page and the consultant's list of requests cost the same number of SQL
statements whatever the number of requests, items and files (tests/cost.py `statements`)."""
import hashlib
from datetime import timedelta

from caseapp.extensions import db
from caseapp.models import Case, Evidence
from caseapp.services.poa import start_from_starter
from caseapp.services.portal import client, requests, sharing
from tests.cost import statements
from tests.services.portal.conftest import NOW, ask, token_of


def grow(world, case, count):
    """`count` more requests of 10 items, each item with 3 files from the client."""
    for r in range(count):
        opened = ask(world, case, now=NOW + timedelta(minutes=r), items=[
            {"title": f"Document {r}-{i}", "instructions": "", "category": "invoice"} for i in range(10)])
        for item in opened.request.items:
            for f in range(3):
                digest = hashlib.sha256(f"{item.id}-{f}".encode()).hexdigest()
                db.session.add(Evidence(case_id=case.id, sha256=digest, size=10, content_type="application/pdf",
                                        filename=f"file-{f}.pdf", category="invoice", uploaded_at=NOW,
                                        source="client", request_item_id=item.id))
            item.status = "uploaded"
        db.session.commit()
    return opened


def page_cost(token):
    db.session.expire_all()
    with statements() as seen:
        view = client.page(token, now=NOW + timedelta(hours=1))
        shown = sum(len(i.files) for r in view.requests for i in r.items)
    return len(seen), shown


def list_cost(case_id):
    db.session.expire_all()
    with statements() as seen:
        found = requests.for_case(db.session.get(Case, case_id))
        files = requests.files_by_item(found)
        shown = sum(len(files[i.id]) for r in found for i in r.items)
    return len(seen), shown


def test_the_client_page_and_the_request_list_cost_the_same_whatever_their_size(world, case):
    draft = start_from_starter(world.consultant_a, case.id)
    sharing.share(world.consultant_a, draft.id, now=NOW)
    token = token_of(grow(world, case, 1))
    small_page, small_list = page_cost(token), list_cost(case.id)
    assert small_page[1] == 30 and small_list[1] == 30
    grow(world, case, 4)
    big_page, big_list = page_cost(token), list_cost(case.id)
    assert big_page[1] == 150 and big_list[1] == 150
    assert big_page[0] == small_page[0], (small_page, big_page)
    assert big_list[0] == small_list[0], (small_list, big_list)
    print("statements", small_page, big_page, small_list, big_list)
    assert big_page[0] <= 15
