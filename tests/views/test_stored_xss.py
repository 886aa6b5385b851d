"""Stored scripting: hostile text typed into every field that is shown again comes back
escaped (or, for Markdown notes, sanitised) on every page, in the emails and in the
POA exports; never as live markup.

The payloads go in the way a user types them: through the HTML forms, as the signed-in
consultant or admin. Each page is then parsed (html.parser, as a browser tokenises) and
must contain no element or attribute the payloads could have created: no inline script,
no script from elsewhere, no event handler attribute, no javascript: URL, no svg, no
img or iframe that is not ours. The escaped payload must be there too, so a page that
silently dropped the text would not pass for a safe one.

A browser proof that nothing runs: tests/e2e/test_no_script_runs.py.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from markupsafe import escape
from werkzeug.datastructures import FileStorage

from caseapp.extensions import db
from caseapp.models import Evidence, Invitation, OutboxMessage, PoaDraft, User, utcnow
from caseapp.services.accounts import people
from caseapp.services.cases import records
from caseapp.services.appeals import dispatch
from caseapp.services.evidence import files
from caseapp.services.accounts import invitations
from caseapp.services.appeals import followup_mail
from caseapp.services.appeals import submissions
from caseapp.services.deadlines import clocks
from caseapp.services.evidence.filenames import safe_display_name
from tests.conftest import PASSWORD, Browser

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
ATTR = "' onmouseover='alert(1)"
TEXTAREA = "</textarea><script>alert(1)</script>"
SVG = "<svg onload=alert(1)><script>alert(1)</script></svg>"
JS_LINK = "[click me](javascript:alert(1))"

LINE = SCRIPT + IMG + ATTR  # one-line fields; 78 characters, single spaces only
TEXT = "\n".join([SCRIPT, IMG, ATTR, TEXTAREA, SVG, JS_LINK])  # multi-line fields

CLIENT_NAME = "Client " + LINE
CONTACT_NAME = "Contact " + LINE
CASE_TITLE = "Case " + LINE
USER_NAME = "Carl " + LINE
NEW_USER_NAME = "Nora " + LINE
TOKEN_NAME = "Token " + LINE
REFERENCE = "Ref " + LINE
# Browsers send a '"' in a file name as %22 (and a name has no folders, so no "/");
# QUOTED_FILENAME goes in through the service, as an API client could send it (filename*).
FILENAME = "<img src=x onerror=alert(1)><svg onload=alert(1)>" + ATTR + ".pdf"
QUOTED_FILENAME = IMG + ".pdf"
DESCRIPTION = "Invoice " + TEXT
NOTE = "\n\n".join([
    SCRIPT, IMG, TEXTAREA, SVG, JS_LINK,
    '<a href="javascript:alert(1)">raw link</a>',
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "![pic](javascript:alert(1))",
])
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
SVG_FILE = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
            b"<script>alert(1)</script></svg>")

OUR_SCRIPTS = ("/static/", "/bootstrap/static/")
UNSAFE_TAGS = {"svg", "math", "object", "embed", "applet", "base", "frame", "frameset", "portal"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster",
                  "background", "srcset", "ping"}


class LiveMarkup(HTMLParser):
    """Everything in a document that could run script or load something not ours."""

    def __init__(self, allow_inline_style: bool = False):
        super().__init__(convert_charrefs=True)
        self.allow_inline_style = allow_inline_style
        self.problems: list[str] = []
        self._script_depth = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and value and _dangerous_url(value):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and not self.allow_inline_style:
                self.problems.append(f"<{tag} style=...>")
        if tag in UNSAFE_TAGS:
            self.problems.append(f"<{tag}>")
        elif tag == "script":
            self._script_depth += 1
            if not (values.get("src") or "").startswith(OUR_SCRIPTS):
                self.problems.append(f"<script src={values.get('src')!r}>")
        elif tag == "style" and not self.allow_inline_style:
            self.problems.append("<style>")
        elif tag == "img" and not (values.get("src") or "").startswith("/evidence/"):
            self.problems.append(f"<img src={values.get('src')!r}>")
        elif tag == "iframe" and not (values.get("src") or "").startswith("/evidence/"):
            self.problems.append(f"<iframe src={values.get('src')!r}>")
        elif tag == "meta" and "http-equiv" in values:
            self.problems.append("<meta http-equiv>")

    def handle_endtag(self, tag):
        if tag == "script" and self._script_depth:
            self._script_depth -= 1

    def handle_data(self, data):
        if self._script_depth and data.strip():
            self.problems.append(f"inline script {data.strip()[:40]!r}")


def _dangerous_url(value: str) -> bool:
    compact = re.sub(r"[\x00-\x20]", "", value).lower()
    return compact.startswith(("javascript:", "vbscript:", "data:text/html", "data:image/svg",
                               "data:application"))


def live_markup(html: str, allow_inline_style: bool = False) -> list[str]:
    parser = LiveMarkup(allow_inline_style)
    parser.feed(html)
    parser.close()
    return parser.problems


def escaped(text: str) -> str:
    return str(escape(text))


def assert_safe(html: str, *shown: str, where: str = "", allow_inline_style: bool = False):
    """No live markup, and each stored text present in its escaped form."""
    assert live_markup(html, allow_inline_style) == [], where
    for text in shown:
        assert escaped(text) in html, f"{where}: {text!r} is not shown escaped"
    # The payloads' own markers never appear raw.
    for raw in ("<script>alert", "<img src=x", "<svg onload", "</textarea><script"):
        assert raw not in html, f"{where}: raw {raw!r}"


@pytest.mark.parametrize("html", [
    f"<p>{SCRIPT}</p>", f'<input value="{IMG}">', f"<textarea>{TEXTAREA}</textarea>",
    f"<div>{SVG}</div>", f"<input value='{ATTR}'>", '<a href="javascript:alert(1)">x</a>',
    '<a href=" JaVaScRiPt:alert(1)">x</a>', '<iframe src="data:text/html,x"></iframe>',
    '<script src="https://evil.example/x.js"></script>', "<p style=\"background:red\">x</p>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
])
def test_the_checker_finds_live_markup(html):
    """The check is not vacuous: each of these is what a missing escape would produce."""
    assert live_markup(html) != []


def test_the_checker_accepts_escaped_payloads_and_our_own_scripts():
    html = (f"<p>{escaped(TEXT)}</p><input value=\"{escaped(IMG)}\"><textarea>{escaped(TEXTAREA)}</textarea>"
            '<script src="/static/evidence-upload.js" defer></script><img src="/evidence/1/preview" alt="x">')
    assert live_markup(html) == []


# ---------------------------------------------------------------- storing the payloads

@dataclass
class Stored:
    case_id: int
    client_id: int
    first_draft_id: int
    draft_id: int
    evidence_id: int
    new_user_id: int
    filename: str


def created_id(response, pattern: str) -> int:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    match = re.search(pattern, response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def poa_form(**overrides) -> dict:
    data = {
        "subject": "Plan of Action " + LINE,
        "introduction": TEXT,
        "root_cause": "Root cause " + TEXT,
        "corrective_actions": "Removed " + LINE + "\r\nChecked " + TEXTAREA + "\r\n" + SVG,
        "preventive_measures": "Weekly " + LINE + "\r\n" + IMG,
        "closure": "Thanks " + TEXT,
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin(browser, world):
    browser.login(world.admin_a.email)
    return browser


@pytest.fixture
def consultant(other_browser, world):
    other_browser.login(world.consultant_a.email)
    return other_browser


@pytest.fixture
def stored(admin, consultant, world, app) -> Stored:
    """Every hostile text, typed into the forms by the people who would type it."""
    response = admin.post("/admin/users/new", data={
        "email": "nora@agency-a.example", "name": NEW_USER_NAME, "role": "consultant",
        "timezone": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert_safe(admin.get("/admin/users").get_data(as_text=True), NEW_USER_NAME, where="invitations")
    invitation = db.session.scalar(db.select(Invitation).where(Invitation.email == "nora@agency-a.example"))
    newcomer = Browser(app)
    accept_url = f"/invitations/{invitations.token_for(invitation)}"
    assert_safe(newcomer.get(accept_url).get_data(as_text=True), NEW_USER_NAME, where="invitation")
    response = newcomer.post(accept_url, data={"name": NEW_USER_NAME, "password": PASSWORD,
                                               "csrf_token": newcomer.csrf_token("/login")})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    new_user_id = db.session.scalar(db.select(User.id).where(User.email == "nora@agency-a.example"))

    response = consultant.post("/settings/", data={"name": USER_NAME, "timezone": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    client_id = created_id(consultant.post("/clients/new", data={
        "name": CLIENT_NAME, "seller_id": "A9B8C7D6E5F4G3", "marketplace": "US",
        "contact_name": CONTACT_NAME, "contact_email": "ops@seller.example", "notes": TEXT}),
        r"/clients/(\d+)")
    case_id = created_id(consultant.post("/cases/new", data={
        "client_id": str(client_id), "title": CASE_TITLE, "kind": "account_suspension",
        "reason": "customer_complaints", "priority": "normal",
        "assignee_id": str(world.consultant_a.id), "asins": "B07XJ8C8F5", "opened_at": "",
        "amazon_notice": "Notice " + TEXT}), r"/cases/(\d+)")

    assert consultant.post(f"/cases/{case_id}/notes", data={"body": NOTE}).status_code == 302

    first_draft_id = created_id(consultant.post(f"/cases/{case_id}/poa/start"), r"/poa/(\d+)")
    draft_id = created_id(consultant.post(f"/poa/{first_draft_id}", data=poa_form()), r"/poa/(\d+)")

    response = consultant.post(f"/cases/{case_id}/evidence", content_type="multipart/form-data", data={
        "evidence-files": [(io.BytesIO(PDF), FILENAME)], "evidence-category": "invoice",
        "evidence-description": DESCRIPTION})
    assert response.status_code == 303, re.findall(r"alert-danger[^>]*>(.*?)<", response.get_data(as_text=True))
    evidence_id = db.session.scalar(db.select(Evidence.id).where(Evidence.case_id == case_id))
    quoted = files.upload(world.consultant_a, case_id,
                             FileStorage(io.BytesIO(PDF + b"%second\n"), filename=QUOTED_FILENAME),
                             "invoice", "Second " + TEXT)
    assert quoted.filename == QUOTED_FILENAME
    assert consultant.post(f"/poa/{draft_id}/evidence", data={
        "link-evidence_id": str(evidence_id), "link-action_index": "0"}).status_code == 303

    assert consultant.post(f"/cases/{case_id}/submissions", data={
        "poa_draft_id": str(draft_id), "channel": "account_health_appeal",
        "amazon_reference": REFERENCE, "submitted_at": ""}).status_code == 302
    submission = submissions.latest_submission(case_id)
    assert consultant.post(f"/submissions/{submission.id}/responses", data={
        "outcome": "more_info_requested", "body": "Amazon says " + TEXT,
        "received_at": ""}).status_code == 302

    clocks.add(world.consultant_a, case_id, {"title": "Deadline " + SCRIPT + IMG,
                                             "due_at": utcnow() + timedelta(days=1)})  # on My day

    response = consultant.post("/settings/tokens", data={"name": TOKEN_NAME})
    assert response.status_code == 200
    assert_safe(response.get_data(as_text=True), TOKEN_NAME, where="token created")

    db.session.expire_all()
    return Stored(case_id, client_id, first_draft_id, draft_id, evidence_id, new_user_id,
                  safe_display_name(FILENAME))


def test_the_payloads_are_stored_as_typed(stored, world):
    """The defence is escaping on output, not mangling input: what was typed is kept."""
    assert db.session.get(User, world.consultant_a.id).name == USER_NAME
    row = db.session.get(Evidence, stored.evidence_id)
    assert row.description == DESCRIPTION and "<svg onload=alert(1)>" in row.filename
    assert db.session.get(PoaDraft, stored.draft_id).introduction == TEXT


# ---------------------------------------------------------------- pages

def consultant_pages(s: Stored) -> dict[str, tuple[str, list[str]]]:
    """url and the stored texts it must show (escaped)."""
    return {
        "dashboard": ("/cases?assignee=all", [CASE_TITLE, CLIENT_NAME, USER_NAME]),
        "dashboard search": (f"/cases?assignee=all&q={SCRIPT}", [SCRIPT]),
        "board": ("/board?assignee=all", [CASE_TITLE, CLIENT_NAME, USER_NAME]),
        "search everywhere": (f"/search?q={SCRIPT}", [SCRIPT]),
        "my day": ("/my-day", [CASE_TITLE, CLIENT_NAME, USER_NAME, "Deadline " + SCRIPT + IMG]),
        "case page": (f"/cases/{s.case_id}", [
            CASE_TITLE, CLIENT_NAME, USER_NAME, "Notice " + TEXT, s.filename, QUOTED_FILENAME, REFERENCE,
            "Amazon says " + TEXT]),
        "case form": (f"/cases/{s.case_id}/edit", [CASE_TITLE, "Notice " + TEXT, CLIENT_NAME, USER_NAME]),
        "new case form": (f"/cases/new?client_id={s.client_id}", [CLIENT_NAME, USER_NAME]),
        "client list": ("/clients/", [CLIENT_NAME, CONTACT_NAME]),
        "client search": (f"/clients/?q={IMG}", [IMG]),
        "client page": (f"/clients/{s.client_id}", [CLIENT_NAME, CONTACT_NAME, TEXT, CASE_TITLE]),
        "client form": (f"/clients/{s.client_id}/edit", [CLIENT_NAME, CONTACT_NAME, TEXT]),
        "POA editor": (f"/poa/{s.draft_id}", [
            CASE_TITLE, CLIENT_NAME, USER_NAME, "Plan of Action " + LINE, TEXT, "Root cause " + TEXT,
            "Thanks " + TEXT, s.filename]),
        "POA compare": (f"/poa/{s.draft_id}/compare?with={s.first_draft_id}", [
            CASE_TITLE, CLIENT_NAME, SCRIPT, "onerror=alert(1)>", TEXTAREA]),
        "POA print": (f"/poa/{s.draft_id}/print", [
            CLIENT_NAME, "Plan of Action " + LINE, "Removed " + LINE, SCRIPT, IMG, TEXTAREA, SVG]),
        "evidence page": (f"/evidence/{s.evidence_id}", [
            s.filename, DESCRIPTION, CASE_TITLE, CLIENT_NAME, USER_NAME]),
        "settings": ("/settings/", [TOKEN_NAME, USER_NAME]),
    }


PAGE_NAMES = list(consultant_pages(Stored(0, 0, 0, 0, 0, 0, "")))


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_consultant_pages_show_the_payloads_escaped(stored, consultant, name):
    url, shown = consultant_pages(stored)[name]
    response = consultant.get(url)
    assert response.status_code == 200, url
    assert_safe(response.get_data(as_text=True), *shown, where=name)


def test_markdown_notes_lose_scripts_handlers_and_script_links(stored, consultant):
    page = consultant.get(f"/cases/{stored.case_id}").get_data(as_text=True)
    notes = re.findall(r'<div class="note-body">(.*?)</div>', page, re.S)
    assert len(notes) == 1
    note = notes[0]
    assert live_markup(note) == []
    assert "click me" in note and "raw link" in note and "data link" in note  # the text stays
    for href in re.findall(r'href="([^"]*)"', note):
        assert href.startswith(("http:", "https:", "mailto:")), href
    for gone in ("<script", "<img", "<svg", "<iframe", "javascript:", "data:text", "onerror", "onload"):
        assert gone not in note.lower(), gone


def test_admin_pages_show_the_payloads_escaped(stored, admin, world):
    for url, shown in [
        ("/admin/users", [USER_NAME, NEW_USER_NAME]),
        (f"/admin/users/{stored.new_user_id}", [NEW_USER_NAME]),
        (f"/admin/users/{world.consultant_a.id}", [USER_NAME]),
        ("/cases?assignee=all", [CASE_TITLE, CLIENT_NAME, USER_NAME]),
        (f"/cases/{stored.case_id}", [CASE_TITLE, USER_NAME]),
    ]:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_safe(response.get_data(as_text=True), *shown, where=url)


def test_audit_log_shows_deleted_names_escaped(stored, admin, world):
    """Deletions keep the deleted thing's name in the audit log, shown to admins."""
    response = admin.post(f"/evidence/{stored.evidence_id}/delete", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert_safe(page, f"Deleted {stored.filename}.", f"Evidence deleted: {stored.filename}",
                where="after deleting evidence")
    lonely = admin.post("/clients/new", data={
        "name": CLIENT_NAME + " 2", "seller_id": "", "marketplace": "US", "contact_name": "",
        "contact_email": "", "notes": ""})
    client_id = created_id(lonely, r"/clients/(\d+)")
    assert admin.post(f"/clients/{client_id}/delete").status_code == 302
    response = admin.get("/admin/audit")
    assert response.status_code == 200
    assert_safe(response.get_data(as_text=True), stored.filename, CLIENT_NAME + " 2", USER_NAME,
                where="audit log")


def test_password_reset_email_escapes_the_name(stored, app, world):
    from caseapp.services.accounts import passwords

    with app.test_request_context():
        assert passwords.request_reset(world.consultant_a.email)
    message = db.session.scalar(db.select(OutboxMessage).where(OutboxMessage.kind == "password_reset"))
    assert_safe(message.body_html, USER_NAME, where="password reset email", allow_inline_style=True)


def test_the_new_person_sees_their_own_name_escaped(stored, app):
    from tests.conftest import Browser

    nora = Browser(app)
    nora.login("nora@agency-a.example")
    assert_safe(nora.get("/settings/").get_data(as_text=True), NEW_USER_NAME, where="settings")


def test_flash_messages_with_stored_text_are_escaped(stored, consultant):
    token_id = re.search(r'/settings/tokens/(\d+)/revoke',
                         consultant.get("/settings/").get_data(as_text=True)).group(1)
    response = consultant.post(f"/settings/tokens/{token_id}/revoke", follow_redirects=True)
    assert_safe(response.get_data(as_text=True), f"Token '{TOKEN_NAME}' revoked.", where="revoke")

    response = consultant.post(f"/evidence/{stored.evidence_id}/edit", follow_redirects=True, data={
        "category": "invoice", "description": "Edited " + TEXT})
    assert_safe(response.get_data(as_text=True), "Edited " + TEXT, where="evidence edited")

    response = consultant.post(f"/cases/{stored.case_id}/evidence", content_type="multipart/form-data",
                               follow_redirects=True, data={
                                   "evidence-files": [(io.BytesIO(PDF + b"\n"), "second " + FILENAME)],
                                   "evidence-category": "invoice", "evidence-description": ""})
    assert_safe(response.get_data(as_text=True), f"Uploaded {safe_display_name('second ' + FILENAME)}.",
                where="upload flash")

    response = consultant.post(f"/cases/{stored.case_id}/evidence", content_type="multipart/form-data",
                               follow_redirects=True, data={
                                   "evidence-files": [(io.BytesIO(PDF), "third " + FILENAME)],
                                   "evidence-category": "invoice", "evidence-description": ""})
    assert_safe(response.get_data(as_text=True), f"{safe_display_name('third ' + FILENAME)}: Already attached",
                where="already attached flash")


def test_refused_input_is_shown_back_escaped(stored, consultant):
    """Text that failed validation is echoed in the form and its messages, escaped."""
    response = consultant.post("/cases/new", data={
        "client_id": str(stored.client_id), "title": CASE_TITLE, "kind": "account_suspension",
        "reason": "customer_complaints", "priority": "normal", "assignee_id": "",
        "asins": SCRIPT + " " + IMG, "amazon_notice": TEXT})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "An ASIN is exactly 10 letters" in page
    assert_safe(page, CASE_TITLE, TEXT, where="ASIN refused")
    assert "alert(1)" in page  # the refused ASINs are named in the message

    response = consultant.post(f"/cases/{stored.case_id}/notes", data={"body": " "})
    assert response.status_code == 422
    assert_safe(response.get_data(as_text=True), CASE_TITLE, where="empty note refused")

    response = consultant.post(f"/poa/{stored.draft_id}", data=poa_form(closure="x" * 60_000))
    assert response.status_code == 422
    assert_safe(response.get_data(as_text=True), "Plan of Action " + LINE, TEXT, where="POA refused")


def test_svg_with_script_is_refused_and_not_shown_as_markup(stored, consultant):
    before = db.session.scalar(db.select(db.func.count(Evidence.id)))
    for name in ("logo.svg", "logo.png", FILENAME.replace(".pdf", ".svg")):
        response = consultant.post(f"/cases/{stored.case_id}/evidence", content_type="multipart/form-data",
                                   data={"evidence-files": [(io.BytesIO(SVG_FILE), name)],
                                         "evidence-category": "screenshot", "evidence-description": ""})
        page = response.get_data(as_text=True)
        assert response.status_code == 415, name
        assert "SVG image" in page
        assert_safe(page, where=f"refused {name}")
    assert db.session.scalar(db.select(db.func.count(Evidence.id))) == before


def test_evidence_file_is_served_inert(stored, consultant):
    for url in (f"/evidence/{stored.evidence_id}/download", f"/evidence/{stored.evidence_id}/preview"):
        response = consultant.get(url)
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        disposition = response.headers["Content-Disposition"]
        assert '"' not in disposition.split("filename=", 1)[1].strip('"')  # quote cannot break out
        response.close()


def test_the_reminder_page_from_an_email_shows_the_title_escaped(stored, app, world):
    from caseapp.models import Reminder

    reminder = db.session.scalar(db.select(Reminder).where(Reminder.case_id == stored.case_id))
    if reminder is None:  # the reply cancelled it; record a new submission
        submissions.record_submission(world.consultant_a, stored.case_id,
                                      {"channel": "email", "amazon_reference": REFERENCE})
        reminder = db.session.scalar(db.select(Reminder).where(Reminder.case_id == stored.case_id)
                                     .order_by(Reminder.id.desc()))
    token = followup_mail.action_token(reminder, db.session.get(User, world.consultant_a.id))
    with app.app_context():
        response = app.test_client().get(f"/reminders/act/{token}")
    assert response.status_code == 200
    assert_safe(response.get_data(as_text=True), CASE_TITLE, where="reminder action page")


def test_json_api_returns_the_text_as_json_never_as_html(stored, app, world):
    from caseapp.services.accounts import tokens

    token = tokens.create(world.consultant_a, "json")[1]
    with app.app_context():
        response = app.test_client().get(f"/api/v1/cases/{stored.case_id}",
                                         headers={"Authorization": f"Bearer {token}"})
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_json()["title"] == CASE_TITLE  # data, returned as typed


# ---------------------------------------------------------------- emails

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def hostile_submission(world):
    """A case with hostile texts, submitted 49 hours before NOW; the consultant has a hostile name
    and wants the digest too."""
    person = db.session.get(User, world.consultant_a.id)
    people.update_own_profile(person, USER_NAME, None)
    person.notify_daily_digest = True
    db.session.commit()
    from tests.conftest import make_case, make_client

    client = make_client(person, name=CLIENT_NAME, contact_name=CONTACT_NAME, notes=TEXT)
    case = make_case(person, client, title=CASE_TITLE, amazon_notice=TEXT)
    submissions.record_submission(person, case.id, {
        "submitted_at": NOW - timedelta(hours=49), "channel": "account_health_appeal",
        "amazon_reference": REFERENCE}, now=NOW)
    return case


def test_reminder_and_digest_emails_escape_the_stored_text(hostile_submission, smtp_server, world):
    dispatch.run_pass(NOW)  # the reminder (15:00 Berlin: the digest of the day is queued too)
    messages = smtp_server.mailbox.messages
    assert len(messages) >= 2, [m["Subject"] for m in messages]
    subjects = [m["Subject"] for m in messages]
    assert any(s.startswith("Follow up with Amazon") for s in subjects)
    assert any("awaiting Amazon" in s for s in subjects)
    for mail in messages:
        html = mail.get_body(("html",)).get_content()
        assert_safe(html, USER_NAME, CLIENT_NAME, CASE_TITLE, where=mail["Subject"],
                    allow_inline_style=True)
        assert "<script" not in html.lower()
        text = mail.get_body(("plain",)).get_content()
        assert CASE_TITLE in text  # plain text carries the text as typed: it is not HTML
        assert mail.get_content_type() == "multipart/alternative"
        assert "\n" not in mail["Subject"]


def test_reminder_mail_render_escapes_names_and_titles(hostile_submission, world):
    from caseapp.models import Reminder

    reminder = db.session.scalar(db.select(Reminder).where(Reminder.case_id == hostile_submission.id))
    person = db.session.get(User, world.consultant_a.id)
    case = records.get_case(person, hostile_submission.id)
    for kind in ("reminder", "escalation"):
        subject, text, html = followup_mail.render(reminder, case, person, kind, NOW)
        assert_safe(html, USER_NAME, CLIENT_NAME, CASE_TITLE, where=kind, allow_inline_style=True)
        assert CASE_TITLE in subject and CASE_TITLE in text


def test_outbox_shows_held_mail_escaped(hostile_submission, browser, world):
    dispatch.run_pass(NOW)  # no MAIL_SERVER: the mail is held in the outbox
    assert db.session.scalar(db.select(db.func.count(OutboxMessage.id))) >= 1
    browser.login(world.admin_a.email)
    response = browser.get("/admin/outbox")
    assert response.status_code == 200
    assert_safe(response.get_data(as_text=True), CLIENT_NAME, CASE_TITLE, USER_NAME, where="outbox")


# ---------------------------------------------------------------- POA exports

TAGS = ("<script", "<img", "<svg", "</textarea", "<iframe")


def test_text_export_is_plain_text_without_the_tags(stored, consultant):
    for evidence_flag in ("", "?evidence=1"):
        response = consultant.get(f"/poa/{stored.draft_id}/export/txt{evidence_flag}")
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert re.fullmatch(r'attachment; filename="[A-Za-z0-9.-]+"', response.headers["Content-Disposition"])
        text = response.get_data(as_text=True)
        assert "Removed" in text and "alert(1)" in text  # the words stay, the tags go
        for tag in TAGS:
            assert tag not in text.lower(), tag


def test_word_export_holds_the_text_as_text(stored, consultant):
    response = consultant.get(f"/poa/{stored.draft_id}/export/docx?evidence=1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        xml = archive.read("word/document.xml").decode("utf-8")
        names = archive.namelist()
    root = ElementTree.fromstring(xml)  # well-formed: nothing broke out of a text node
    namespaces = {element.tag.split("}")[0] for element in root.iter()}
    assert namespaces <= {"{http://schemas.openxmlformats.org/wordprocessingml/2006/main",
                          "{http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                          "{http://schemas.openxmlformats.org/markup-compatibility/2006",
                          "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
                          "{http://schemas.microsoft.com/office/word/2010/wordml"}, namespaces
    for tag in TAGS:
        assert tag not in xml.lower(), tag
    text = "".join(t.text or "" for t in root.iter(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"))
    assert "Removed" in text and "alert(1)" in text
    assert not [n for n in names if n.endswith((".bin", ".js")) or "vbaProject" in n]


def test_pdf_export_has_no_script_and_no_tags(stored, consultant):
    from pypdf import PdfReader

    response = consultant.get(f"/poa/{stored.draft_id}/export/pdf?evidence=1")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.data
    for action in (rb"/JavaScript", rb"/JS\s*[(<]", rb"/Launch", rb"/AA\s*<<", rb"/OpenAction\s*<<",
                   rb"/SubmitForm", rb"/URI\s*\("):
        assert not re.search(action, data), action  # an /OpenAction [page /FitH] is only a view
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Removed" in text and "alert(1)" in text
    # The title names the client as typed: in a PDF that is glyphs, not markup. The
    # sections lose pasted tags, as in the other exports.
    title, sections = text.split("Subject", 1)
    assert "Plan of Action: Client" in title
    for tag in TAGS:
        assert tag not in sections.lower(), tag
