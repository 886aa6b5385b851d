"""Two things at once on one request, on SQLite and PostgreSQL alike: the case row is locked
first everywhere, and what a writer read before the lock is read again after it."""
import threading
import time
from datetime import timedelta


from caseapp.core.errors import Conflict
from caseapp.core.transaction import transaction
from caseapp.extensions import db
from caseapp.models import CaseEvent, DocumentRequest, DocumentRequestItem, Evidence, User
from caseapp.services.cases import records
from caseapp.services.portal import client, requests
from tests.services.portal.conftest import NOW, ask, pdf, token_of


def run_together(app, *calls, timeout=60):
    """Run each call in a thread of its own (its own app context and session), started at
    once; returns what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        with app.app_context():
            try:
                barrier.wait(10)
                results[index] = call()
            except Exception as error:  # noqa: BLE001 - the test looks at it
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "deadlocked"
    return results


def one_item(world, case):
    return ask(world, case, items=[{"title": "Invoice", "instructions": "", "category": "invoice"}])


def test_two_uploads_to_the_same_item_at_once_both_land(app, world, case):
    opened = one_item(world, case)
    token, item_id = token_of(opened), opened.request.items[0].id
    results = run_together(app, lambda: client.upload(token, item_id, [pdf("a.pdf", b"a")], now=NOW),
                           lambda: client.upload(token, item_id, [pdf("b.pdf", b"b")], now=NOW))
    assert [type(r).__name__ for r in results] == ["Uploaded", "Uploaded"], results
    db.session.expire_all()
    assert sorted(e.filename for e in db.session.query(Evidence).filter_by(request_item_id=item_id)) == [
        "a.pdf", "b.pdf"]
    assert db.session.get(DocumentRequestItem, item_id).status == "uploaded"
    assert db.session.query(CaseEvent).filter_by(case_id=case.id, kind="client_upload").count() == 2


def test_the_same_file_twice_at_once_is_stored_once(app, world, case):
    opened = one_item(world, case)
    token, item_id = token_of(opened), opened.request.items[0].id
    results = run_together(app, lambda: client.upload(token, item_id, [pdf("a.pdf")], now=NOW),
                           lambda: client.upload(token, item_id, [pdf("a.pdf")], now=NOW))
    assert sorted(len(r.saved) for r in results) == [0, 1], results
    db.session.expire_all()
    assert db.session.query(Evidence).filter_by(request_item_id=item_id).count() == 1


def test_a_decision_racing_an_upload_neither_deadlocks_nor_loses_either(app, world, case):
    opened = one_item(world, case)
    token, item_id = token_of(opened), opened.request.items[0].id
    client.upload(token, item_id, [pdf("first.pdf", b"1")], now=NOW)
    consultant_id = world.consultant_a.id

    def decide():
        return requests.decide_item(db.session.get(User, consultant_id), item_id, "rejected", "Blurred.",
                                    now=NOW + timedelta(minutes=1))

    results = run_together(app, decide, lambda: client.upload(token, item_id, [pdf("second.pdf", b"2")],
                                                              now=NOW + timedelta(minutes=1)))
    assert not any(isinstance(r, Exception) for r in results), results
    db.session.expire_all()
    item = db.session.get(DocumentRequestItem, item_id)
    files = {e.filename for e in db.session.query(Evidence).filter_by(request_item_id=item_id)}
    assert files == {"first.pdf", "second.pdf"}
    # Either order is right, and the item's state is that of whichever came last.
    # (evidence_added is written with the file, in its unit of work; client_upload after it)
    kinds = [e.kind for e in db.session.query(CaseEvent).filter(
        CaseEvent.case_id == case.id, CaseEvent.kind.in_(("evidence_added", "document_item_rejected")))
        .order_by(CaseEvent.id)]
    assert kinds.count("evidence_added") == 2 and kinds.count("document_item_rejected") == 1
    assert item.status == ("rejected" if kinds[-1] == "document_item_rejected" else "uploaded")
    assert db.session.query(CaseEvent).filter_by(case_id=case.id, kind="client_upload").count() == 2


def test_a_decision_waiting_for_the_lock_sees_the_cancel_that_held_it(app, world, case):
    opened = one_item(world, case)
    token, item_id = token_of(opened), opened.request.items[0].id
    client.upload(token, item_id, [pdf()], now=NOW)
    consultant_id, case_id, request_id = world.consultant_a.id, case.id, opened.request.id
    locked = threading.Event()

    def cancel_holding_the_case():
        with transaction():
            actor = db.session.get(User, consultant_id)
            records.get_case(actor, case_id, for_update=True)
            locked.set()
            time.sleep(0.8)  # the decision reads the item and request, then waits for the case
            requests.cancel_request(actor, request_id, now=NOW + timedelta(minutes=1))
        return "cancelled"

    def accept():
        assert locked.wait(10)
        return requests.decide_item(db.session.get(User, consultant_id), item_id, "accepted",
                                    now=NOW + timedelta(minutes=2))

    results = run_together(app, cancel_holding_the_case, accept)
    assert results[0] == "cancelled"
    assert isinstance(results[1], Conflict), results[1]
    db.session.expire_all()
    assert db.session.get(DocumentRequest, request_id).status == "cancelled"
    assert db.session.get(DocumentRequestItem, item_id).status == "uploaded"
