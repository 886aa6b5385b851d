"""The client portal as the client meets it: one case through one link, nothing internal, no
cookie, the evidence pipeline's answers beside the field, limits per link, every action audited;
and the portal routes' own tenancy and signed-out matrices, generated from the URL map."""
import io
import re
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import AuditEvent, CaseEvent, DocumentRequestItem, Evidence, PoaShare, PortalLink, utcnow
from caseapp.services.cases import records
from caseapp.services.evidence import files
from caseapp.services.poa import drafts
from caseapp.services.portal import links, requests, sharing
from tests.conftest import Browser, make_case, make_client
from tests.views.test_tenancy import HARMFUL_FORM

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
MB = 1024 * 1024
FILE_ITEM = {"title": "Supplier invoices", "instructions": "Invoices from the last 365 days, showing the "
             "supplier's name and address.", "category": "invoice", "kind": "file"}
ANSWER_ITEM = {"title": "Where do you buy these products?", "instructions": "Your supplier, and since when.",
               "category": "other", "kind": "answer"}
POA = {"subject": "Appeal for the account", "root_cause": "We bought from an unverified wholesaler.",
       "corrective_actions": ["We removed every listing of that batch."],
       "preventive_measures": ["We buy only from authorized distributors."]}


def pdf(name="invoice.pdf", extra=b""):
    return (io.BytesIO(PDF + extra), name)


def ask(actor, case, items=(FILE_ITEM, ANSWER_ITEM), **data):
    data.setdefault("due_at", (utcnow() + timedelta(days=5)).isoformat())
    return requests.open_request(actor, case.id, dict(data, items=[dict(i) for i in items]))


def token_of(opened) -> str:
    return opened.portal_url.rsplit("/", 1)[1]


def share_poa(actor, case, **changes) -> PoaShare:
    return sharing.share(actor, drafts.save_version(actor, case.id, dict(POA, **changes)).id)


def element(page: str, element_id: str) -> str:
    """The HTML of the element with this id, up to the end of its tag's block."""
    start = page.index(f'id="{element_id}"')
    tag = page.rfind("<", 0, start)
    name = re.match(r"<(\w+)", page[tag:]).group(1)
    return page[tag:page.index(f"</{name}>", start)]


class Portal:
    """The client's browser: no sign-in, the link's address the only key."""

    def __init__(self, app, opened):
        self.browser = Browser(app)
        self.opened, self.token = opened, token_of(opened)
        self.base = f"/portal/{self.token}"
        self.items = {i.title: i.id for i in opened.request.items}

    def get(self, path=""):
        response = self.browser.client.get(self.base + path)
        db.session.expire_all()  # the request ran in a session of its own: the test reads afresh
        return response

    def post(self, path, data=None, **kwargs):
        response = self.browser.client.post(self.base + path, data=data or {}, **kwargs)
        db.session.expire_all()
        return response

    def upload(self, title, *files_):
        return self.post(f"/items/{self.items[title]}/files", {"files": list(files_)},
                         content_type="multipart/form-data")

    def page(self, path=""):
        response = self.get(path)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)


@pytest.fixture
def opened(world):
    return ask(world.consultant_a, world.case_a, message="Hi, we need these for your appeal.")


@pytest.fixture
def portal(app, opened):
    return Portal(app, opened)


# ---------------------------------------------------------------- what the client sees

def test_the_page_says_where_the_case_stands_what_is_needed_and_who_to_ask(world, portal):
    share_poa(world.consultant_a, world.case_a)
    page = portal.page()
    assert world.case_a.title in page and "Where your case stands" in page and "What happens next" in page
    assert "Your contact: <strong>Carl at Agency A</strong>" in page
    item = element(page, f"item-{portal.items['Supplier invoices']}")
    assert "Needed" in item and "showing the supplier&#39;s name and address" in item
    assert 'name="files" multiple' in item and "Send files" in item
    assert "up to 25 MB in total" in item and "PDF, PNG, JPEG" in item
    answer = element(page, f"item-{portal.items['Where do you buy these products?']}")
    assert 'name="answer"' in answer and "Send answer" in answer and "None" not in answer
    assert "Please send by" in page and "Hi, we need these for your appeal." in page
    poa = element(page, "poa")
    assert "version 1" in poa and "Approve version 1" in poa and "Ask for changes" in poa
    assert "We removed every listing of that batch." in poa and 'name="comment"' in poa
    assert 'name="message"' in element(page, "write") and "Send message" in page
    assert "<script" not in page and "style=" not in page  # the strict CSP allows neither


def test_a_returned_item_says_why_and_shows_what_was_sent(world, portal):
    invoice = portal.items["Supplier invoices"]
    assert portal.upload("Supplier invoices", pdf("march.pdf")).status_code == 303
    requests.decide_item(world.consultant_a, invoice, "rejected", "The totals are cut off.")
    item = element(portal.page(), f"item-{invoice}")
    assert "Please send again" in item and "Why we need it again:" in item and "The totals are cut off." in item
    assert "march.pdf" in item and "Choose the files to send again" in item


def test_nothing_internal_shows(app, world, portal):
    case = world.case_a
    records.add_note(world.admin_a, case.id, "Internal: the seller seems evasive")
    files.upload(world.consultant_a, case.id, FileStorage(io.BytesIO(PDF + b"staff"), "staff-analysis.pdf"),
                 "other", "Our risk review, never for the client")
    other_case = make_case(world.consultant_a, world.client_a, title="Listing removed for a safety claim")
    ask(world.consultant_a, other_case, items=[dict(FILE_ITEM, title="Safety certificate from the lab")])
    other_client = make_client(world.consultant_a, name="Quiet Fox Trading")
    make_case(world.consultant_a, other_client, title="Quiet Fox's own suspension")
    portal.upload("Supplier invoices", pdf("mine.pdf"))
    page = portal.page()
    assert "mine.pdf" in page  # the client's own file is shown
    for secret in ("the seller seems evasive", "staff-analysis.pdf", "Our risk review", other_case.title,
                   "Safety certificate", "Quiet Fox", "Carl Consultant", "Consultant", "Ada", "Admin",
                   world.consultant_a.email, world.admin_a.email, "Agency B", "Bea", "Ben",
                   "Evidence added", "timeline"):
        assert secret not in page, secret
    assert "Carl" in page


# ---------------------------------------------------------------- headers and closed links

def test_no_cookie_no_store_and_no_referrer_on_every_portal_answer(world, portal):
    share = share_poa(world.consultant_a, world.case_a)
    answers = [portal.get(), portal.upload("Supplier invoices", pdf()),
               portal.post(f"/items/{portal.items['Where do you buy these products?']}/answer", {"answer": ""}),
               portal.post("/message", {"message": "Hello"}),
               portal.post(f"/poa/{share.id}", {"decision": "approve"}),
               portal.browser.client.get("/portal/not-a-link")]
    links.revoke(world.consultant_a, world.case_a.id)
    answers.append(portal.get())
    assert [r.status_code for r in answers] == [200, 303, 422, 303, 303, 404, 410]
    for response in answers:
        assert response.headers.getlist("Set-Cookie") == [], response.status_code
        assert response.headers["Cache-Control"] == "no-store", response.status_code
        assert response.headers["Referrer-Policy"] == "no-referrer", response.status_code


def test_a_revoked_link_says_whom_to_ask(world, portal):
    links.revoke(world.consultant_a, world.case_a.id)
    response = portal.get()
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "This link no longer works" in page and "switched this link off" in page
    assert "ask Carl at Agency A for a new link" in page
    assert world.case_a.title not in page and "Supplier invoices" not in page
    posted = portal.post("/message", {"message": "Are you there?"})
    assert posted.status_code == 410 and "ask Carl at Agency A" in posted.get_data(as_text=True)
    assert not db.session.query(CaseEvent).filter_by(kind="client_message").count()


def test_an_expired_link_says_whom_to_ask(world, portal):
    db.session.get(PortalLink, portal.opened.link.id).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = portal.get()
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "This link has expired" in page and "ask Carl at Agency A for a new link" in page


@pytest.mark.parametrize("path", ["/portal/not-a-link", "/portal/" + "x" * 43, "/portal/" + "x" * 300])
def test_a_wrong_link_is_a_plain_404_without_staff_pages(app, world, portal, path):
    response = Browser(app).client.get(path)
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "This link does not work" in page and "ask for a new one" in page
    for staff in ("navbar", "Sign in", "/login", "Back to your cases", "caseapp", "My day"):
        assert staff not in page, staff


# ---------------------------------------------------------------- actions, errors, limits, audit

def test_errors_are_beside_their_field_and_what_was_typed_is_kept(world, portal):
    share = share_poa(world.consultant_a, world.case_a)
    question = portal.items["Where do you buy these products?"]
    long = "From Acme since 2019. " * 300
    response = portal.post(f"/items/{question}/answer", {"answer": long})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    item = element(page, f"item-{question}")
    assert "At most 5,000 characters" in item and long.strip() in item
    assert "At most 5,000" not in element(page, f"item-{portal.items['Supplier invoices']}")
    response = portal.post(f"/poa/{share.id}", {"decision": "changes", "comment": "  "})
    assert response.status_code == 422
    assert "Tell us what to change." in element(response.get_data(as_text=True), "poa")
    response = portal.post("/message", {"message": "  "})
    assert response.status_code == 422 and "Write your message first." in element(
        response.get_data(as_text=True), "write")
    response = portal.post("/message", {"message": "Hello\x00there"})
    assert response.status_code == 400 and "NUL characters" in response.get_data(as_text=True)
    assert not db.session.query(CaseEvent).filter_by(kind="client_message").count()


def test_the_client_approves_or_asks_for_changes_and_the_page_says_so(world, portal):
    share = share_poa(world.consultant_a, world.case_a)
    response = portal.post(f"/poa/{share.id}", {"decision": "changes", "comment": "Name the wholesaler."})
    assert response.status_code == 303
    page = portal.page(response.headers["Location"].split(portal.base, 1)[1])
    assert "we will change the plan" in page and "Name the wholesaler." in element(page, "poa")
    assert "Approve version 1" not in page
    again = portal.post(f"/poa/{share.id}", {"decision": "approve"})
    assert again.status_code == 409 and "answered this version already" in element(again.get_data(as_text=True), "poa")
    second = share_poa(world.consultant_a, world.case_a, root_cause="We bought from Wholesale Ltd unchecked.")
    assert "Approve version 2" in portal.page()
    assert portal.post(f"/poa/{second.id}", {"decision": "approve"}).status_code == 303
    assert "You approved version 2" in portal.page()


def test_every_portal_action_is_audited_with_the_link_id(world, portal):
    share = share_poa(world.consultant_a, world.case_a)
    link_id = portal.opened.link.id

    def portal_events():
        return [e for e in db.session.query(AuditEvent).filter_by(kind="portal").all()
                if f"portal link {link_id} " in e.target + " "]

    before = len(portal_events())
    actions = [lambda: portal.upload("Supplier invoices", pdf()),
               lambda: portal.post(f"/items/{portal.items['Where do you buy these products?']}/answer",
                                   {"answer": "From Acme."}),
               lambda: portal.post("/message", {"message": "Hello"}),
               lambda: portal.post(f"/poa/{share.id}", {"decision": "approve"})]
    for action in actions:
        assert action().status_code == 303
        db.session.expire_all()
        after = len(portal_events())
        assert after > before
        before = after
    details = " | ".join(e.detail for e in portal_events())
    for said in ("uploaded invoice.pdf", "answer for item", "message sent", "approved POA version 1"):
        assert said in details


def test_changes_are_limited_per_link_and_another_link_is_not(app, world, portal):
    app.config["PORTAL_RATE_LIMIT"] = "3 per hour"
    other = Portal(app, ask(world.consultant_a, make_case(world.consultant_a, world.client_a, title="Second")))
    assert portal.upload("Supplier invoices", pdf("a.pdf", b"a")).status_code == 303
    assert portal.upload("Supplier invoices", pdf("b.pdf", b"b")).status_code == 303
    assert portal.post("/message", {"message": "one"}).status_code == 303
    limited = portal.post("/message", {"message": "Kept while I wait"})
    assert limited.status_code == 429
    page = limited.get_data(as_text=True)
    assert "wait a while" in element(page, "write") and "Kept while I wait</textarea>" in page
    assert portal.upload("Supplier invoices", pdf("c.pdf", b"c")).status_code == 429
    assert "c.pdf" not in portal.page()
    assert other.upload("Supplier invoices", pdf("d.pdf", b"d")).status_code == 303
    assert other.post("/message", {"message": "from the other link"}).status_code == 303


# ---------------------------------------------------------------- the evidence pipeline

def test_several_files_at_once_each_listed(portal):
    assert portal.upload("Supplier invoices", pdf("jan.pdf", b"1"), pdf("feb.pdf", b"2"),
                         (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64), "scan.png")).status_code == 303
    item = element(portal.page("?done=sent"), f"item-{portal.items['Supplier invoices']}")
    assert all(name in item for name in ("jan.pdf", "feb.pdf", "scan.png"))
    assert "Received: we are checking it" in item
    rows = db.session.query(Evidence).filter_by(request_item_id=portal.items["Supplier invoices"]).all()
    assert sorted(r.filename for r in rows) == ["feb.pdf", "jan.pdf", "scan.png"]
    assert {r.source for r in rows} == {"client"} and {r.category for r in rows} == {"invoice"}


def test_a_refused_type_is_named_beside_the_field_and_the_good_file_is_kept(portal):
    invoice = portal.items["Supplier invoices"]
    response = portal.upload("Supplier invoices", pdf("good.pdf"), (io.BytesIO(b"MZ\x90\x00" + b"\0" * 64), "tool.exe"),
                             (io.BytesIO(b"<html><body>hi</body></html>"), "page.html"))
    assert response.status_code == 200
    item = element(response.get_data(as_text=True), f"item-{invoice}")
    assert "These files were not taken" in item and "Received: good.pdf" in item
    assert re.search(r"tool\.exe</strong>: This file is a program", item)
    assert re.search(r"page\.html</strong>: This file is a web page", item)
    assert "Accepted file types: PDF" in item
    assert [r.filename for r in db.session.query(Evidence).filter_by(request_item_id=invoice)] == ["good.pdf"]
    only_bad = portal.upload("Supplier invoices", (io.BytesIO(b"MZ\x90\x00" + b"\0" * 64), "tool.exe"))
    assert only_bad.status_code == 422 and "Nothing was sent" in element(only_bad.get_data(as_text=True), f"item-{invoice}")


def test_the_same_file_twice_is_refused_politely(portal):
    invoice = portal.items["Supplier invoices"]
    assert portal.upload("Supplier invoices", pdf("invoice.pdf")).status_code == 303
    response = portal.upload("Supplier invoices", pdf("invoice-again.pdf"))
    assert response.status_code == 422
    item = element(response.get_data(as_text=True), f"item-{invoice}")
    assert "invoice-again.pdf</strong>: You sent this exact file for this item already." in item
    assert db.session.query(Evidence).filter_by(request_item_id=invoice).count() == 1


def test_no_file_chosen_is_said_beside_the_field(portal):
    invoice = portal.items["Supplier invoices"]
    response = portal.post(f"/items/{invoice}/files", {}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose one or more files to send." in element(response.get_data(as_text=True), f"item-{invoice}")


def test_a_file_over_the_size_limit_is_a_clear_error(app, portal):
    invoice = portal.items["Supplier invoices"]
    app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=4 * MB)
    response = portal.upload("Supplier invoices", pdf("small.pdf"), pdf("huge.pdf", b"0" * (2 * MB)))
    assert response.status_code == 200
    item = element(response.get_data(as_text=True), f"item-{invoice}")
    assert "huge.pdf</strong>: The file is larger than the 1 MB limit." in item and "Received: small.pdf" in item
    app.config.update(MAX_CONTENT_LENGTH=1 * MB)  # the whole body over the limit: nothing is read
    response = portal.upload("Supplier invoices", pdf("bigger.pdf", b"1" * (2 * MB)))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "larger than the 1 MB limit, so nothing was sent" in element(page, f"item-{invoice}")
    assert "navbar" not in page and "Back to your cases" not in page
    assert response.headers.getlist("Set-Cookie") == [] and response.headers["Cache-Control"] == "no-store"
    assert db.session.query(Evidence).filter_by(request_item_id=invoice).count() == 1


# ---------------------------------------------------------------- the URL-map matrices of the portal

# What each portal route argument is; a portal route with another argument fails here first.
PORTAL_ARGUMENTS = {"token", "item_id", "share_id"}


def portal_rules(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("portal.")]
    for rule in rules:
        unknown = rule.arguments - PORTAL_ARGUMENTS
        assert not unknown, f"{rule.rule}: teach tests/views/test_portal.py what {unknown} is"
    assert {"portal.home", "portal.upload", "portal.answer", "portal.message", "portal.poa"} <= {
        r.endpoint for r in rules}
    return rules


def portal_requests(app, token, item_id, share_id):
    values = {"token": token, "item_id": item_id, "share_id": share_id}
    for rule in portal_rules(app):
        url = rule.build({arg: values[arg] for arg in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, url


def send(browser, method, url):
    if method == "GET":
        return browser.client.get(url)
    data = dict(HARMFUL_FORM, decision="approve", comment="planted", answer="planted", message="planted",
                files=[pdf("planted.pdf", b"planted")])
    return browser.client.post(url, data=data, content_type="multipart/form-data")


@pytest.fixture
def targets(world):
    """Agency A's client's case with a request and a shared POA; links of other clients."""
    share = share_poa(world.consultant_a, world.case_a)
    opened = ask(world.consultant_a, world.case_a)
    neighbour = make_client(world.consultant_a, name="Neighbour of the same agency")
    neighbours = ask(world.consultant_a, make_case(world.consultant_a, neighbour, title="Neighbour's case"))
    stranger = make_client(world.consultant_b, name="Client of agency B")
    strangers = ask(world.consultant_b, make_case(world.consultant_b, stranger, title="Agency B's case"))
    return opened, share, {"another client of agency A": neighbours, "a client of agency B": strangers}


def test_a_link_of_another_client_gets_404_on_every_portal_route(app, world, targets):
    opened, share, others = targets
    item_id = opened.request.items[0].id
    for who, theirs in others.items():
        for signed_in in (None, world.admin_a):  # agency A's admin signed in changes nothing
            browser = Browser(app)
            if signed_in:
                browser.login(signed_in.email)
            checked = []
            for rule, method, url in portal_requests(app, token_of(theirs), item_id, share.id):
                if not rule.arguments & {"item_id", "share_id"}:
                    continue  # the other client's own page, nothing of A's in the address
                response = send(browser, method, url)
                assert response.status_code == 404, f"{who}: {method} {url} answered {response.status_code}"
                assert world.case_a.title not in response.get_data(as_text=True)
                checked.append(f"{method} {rule.endpoint}")
            assert sorted(checked) == ["POST portal.answer", "POST portal.poa", "POST portal.upload"], checked
    db.session.expire_all()
    assert [i.status for i in db.session.get(type(opened.request), opened.request.id).items] == ["requested"] * 2
    assert db.session.get(PoaShare, share.id).status == "pending"
    assert db.session.query(Evidence).filter_by(source="client").count() == 0
    assert db.session.query(CaseEvent).filter(CaseEvent.kind.like("client_%")).count() == 0
    assert db.session.query(DocumentRequestItem).filter_by(answer="planted").count() == 0


def test_every_portal_route_opens_by_its_link_without_signing_in(app, world, targets):
    opened, share, _ = targets
    stranger = Browser(app)
    seen = set()
    for rule, method, url in portal_requests(app, token_of(opened), opened.request.items[0].id, share.id):
        response = send(stranger, method, url)
        assert response.status_code < 500 and response.status_code not in (401, 403, 404), (method, url)
        assert "/login" not in response.headers.get("Location", ""), (method, url)
        assert response.headers.getlist("Set-Cookie") == [], (method, url)
        seen.add(rule.endpoint)
    assert {"portal.home", "portal.upload", "portal.answer", "portal.message", "portal.poa"} <= seen
    assert stranger.client.get(f"/portal/{token_of(opened)}").status_code == 200


def test_a_consultant_whose_sign_in_lapsed_still_sees_the_clients_page(app, world, opened):
    """A consultant opening the client's link to check it is not sent to sign in, and their
    lapsed staff session is left for the staff pages to end."""
    import time_machine

    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        staff = Browser(app)
        staff.login(world.consultant_a.email)
        clock.shift(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
        response = staff.client.get(f"/portal/{token_of(opened)}")
        assert response.status_code == 200 and "Supplier invoices" in response.get_data(as_text=True)
        assert "/login" in staff.get("/cases").headers["Location"]
