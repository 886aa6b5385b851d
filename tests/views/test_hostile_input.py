"""Hostile values in every parameter of every route answer 4xx, never 5xx. Generated from the URL map.

A first pass sends each route an ordinary request, signed out, as a consultant and as an
admin, and records which query and form parameters (and uploaded files) its view looks
up: request.args, request.form and request.files are swapped for multidicts that note
each name asked for. The API adds the query parameters and JSON fields its OpenAPI
document declares. Then each parameter gets each hostile value on its own (the others
left out, so an early refusal of one cannot hide a crash in another), and all of them get
each value at once; string path arguments (tokens, the export format) get them too.
Every path, signed out as well, also gets hostile JSON bodies: nested 100,000 deep, lone
surrogates, a NUL, and bodies that are not objects.

A route, form field or API field added later is covered without anyone remembering.
Exceptions are answered as in production (a 500 page), and each is named in the report.
"""
from __future__ import annotations

import io
import json
import re
import sys
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from flask import got_request_exception, request
from werkzeug.datastructures import FileStorage, ImmutableMultiDict
from wtforms import Field, FileField

from caseapp.extensions import db, limiter
from caseapp.models import (ApiToken, Evidence, Invitation, PasswordReset, PoaDraft, Reminder, Submission, User,
                            utcnow)
from caseapp.services.accounts import tokens
from caseapp.services.appeals import calendar_feed
from caseapp.services.evidence import files as evidence
from caseapp.services.accounts import invitations
from caseapp.services.accounts import passwords
from caseapp.services.poa import drafts
from caseapp.services.appeals import followup_mail
from caseapp.services.appeals import submissions
from caseapp.views.api.openapi import document
from tests.conftest import Browser, make_case, make_user
from tests.views.test_tenancy import ID_ARGUMENTS, OTHER_ARGUMENTS

LONE_SURROGATE = "\ud800"
# Text, as a query string, a form field, a path segment or a JSON string carries it.
TEXT_VALUES = [
    "²", "١٢", "99999999999999999999999", "-1", "0",
    "9999-12-31", "0001-01-01", "9999-12-31T23:59", "0001-01-01T00:00",
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
    LONE_SURROGATE, "\x00", "x" * 10_000, "9" * 10_000,
    "[" * 1000 + "]" * 1000, "[]", "{}", "null", "true",
]


def _nested(depth: int):
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


# Values of the other JSON types, for the API's fields; nested within the body's depth
# limit, so the field itself is reached.
JSON_VALUES = [99999999999999999999999, -1, 0, 1.5, float("inf"), [], {}, None, True,
               _nested(40), {"a": {"b": ["\x00"]}}]
DEEP = 100_000
# Whole bodies refused before any view, on every path, signed in or not: nested too deep
# for the parser's stack, or holding text no database can store.
REFUSED_BODIES = {
    "nested": ["[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP, "[" * 65 + "]" * 65],
    "lone surrogates": ['{"name": "\\ud800"}', '["\\udfff"]', '{"\\ud800": 1}', '"\\ud800"',
                        b'{"name": "\xed\xa0\x80"}'],
    "NUL": ['{"name": "\\u0000"}', '{"a": "\x00"}'.encode("utf-16")],
}
# Valid JSON of odd shapes: a view that reads a body takes it or answers 4xx; the pages
# take none (415).
ODD_BODIES = ["[]", "{}", "null", "true", "1e999999", "[" * 64 + "]" * 64, "\ufeff{}",
              '{"name": [1, {"b": null}], "title": {"x": []}}']
STATIC = {"static": "app.css", "bootstrap.static": "css/bootstrap.min.css"}


# ---------------------------------------------------------------- the objects URLs name

class Scene:
    """The objects a route's URL names. Each route gets a case of its own, so what one
    route's requests add (files, versions, submissions) does not slow down the next."""

    def __init__(self, world):
        self.world = world
        self.target = make_user(world.agency_a, "target@agency-a.example")  # admin routes act on
        self.case_id = None
        self.person = None

    def fresh(self, person) -> None:
        self.person = person
        self.case_id = make_case(self.world.consultant_a, self.world.client_a).id
        self.known: dict[tuple[str, str], object] = {}

    def _first(self, model, *where):
        return db.session.scalar(db.select(model.id).where(*where).order_by(model.id).limit(1))

    def draft(self) -> int:
        return (self._first(PoaDraft, PoaDraft.case_id == self.case_id)
                or drafts.start_from_starter(self.world.consultant_a, self.case_id).id)

    def submission(self) -> int:
        return (self._first(Submission, Submission.case_id == self.case_id)
                or submissions.record_submission(self.world.consultant_a, self.case_id, {}).id)

    def reminder(self) -> int:
        return self._first(Reminder, Reminder.submission_id == self.submission())

    def evidence(self) -> int:
        upload = FileStorage(io.BytesIO(b"%PDF-1.4 invoice"), "invoice.pdf")
        return (self._first(Evidence, Evidence.case_id == self.case_id)
                or evidence.upload(self.world.consultant_a, self.case_id, upload, "invoice").id)

    def token_id(self) -> int:
        """A token of the person acting, made for the revoke route (not the one it signs with)."""
        owner = self.person or self.world.consultant_a
        return (self._first(ApiToken, ApiToken.user_id == owner.id, ApiToken.name == "to revoke",
                            ApiToken.revoked_at.is_(None))
                or tokens.create(owner, "to revoke")[0].id)

    def token(self, endpoint: str) -> str:
        consultant = db.session.get(User, self.world.consultant_a.id)
        if endpoint == "submissions.act_from_email":
            return followup_mail.action_token(db.session.get(Reminder, self.reminder()), consultant)
        if endpoint == "submissions.calendar":
            if getattr(self, "_calendar", None) is None:  # stored hashed: kept from when made
                self._calendar = calendar_feed.enable(consultant)
            return self._calendar
        if endpoint == "invitations.accept":
            token = getattr(self, "_invitation", None)
            if token is None or invitations.find_valid(token) is None:  # accepted by a fuzzed post
                self._invitations = getattr(self, "_invitations", 0) + 1
                invitation = invitations.invite(
                    self.world.admin_a, f"hostile-invitee-{self._invitations}@agency-a.example",
                    "Invitee", "consultant")
                self._invitation = token = invitations.token_for(invitation)
            return token
        if endpoint != "auth.reset_password":
            return OTHER_ARGUMENTS["token"]  # a route added later: at least its refusal is fuzzed
        token = "hostile-input-reset-token"
        hashed = passwords._hash(token)
        reset = db.session.scalar(db.select(PasswordReset).where(PasswordReset.token_hash == hashed))
        if reset is None or reset.used_at is not None:
            if reset is not None:
                db.session.delete(reset)
            now = utcnow()
            db.session.add(PasswordReset(user_id=self.world.consultant_b.id, token_hash=hashed,
                                         created_at=now, expires_at=now + timedelta(hours=1)))
            db.session.commit()
        return token

    def value(self, endpoint: str, arg: str):
        ids = {"case_id": lambda: self.case_id, "user_id": lambda: self.target.id,
               "client_id": lambda: self.world.client_a.id, "draft_id": self.draft,
               "submission_id": self.submission, "reminder_id": self.reminder,
               "evidence_id": self.evidence, "token_id": self.token_id,
               "token": lambda: self.token(endpoint), "active": lambda: 0, "fmt": lambda: "txt",
               "filename": lambda: STATIC[endpoint]}
        if endpoint.startswith("portal."):  # a forged link: its refusal is fuzzed (the portal's matrix: test_portal.py)
            ids.update(item_id=lambda: 1, share_id=lambda: 1)
        if arg not in ids:  # an argument added later: agency A's object, as the tenancy test has it
            assert arg in ID_ARGUMENTS or arg in OTHER_ARGUMENTS, f"{endpoint}: add {arg!r} to Scene.value"
            ids[arg] = lambda: ID_ARGUMENTS[arg](self.world) if arg in ID_ARGUMENTS else OTHER_ARGUMENTS[arg]
        if (endpoint, arg) not in self.known:  # the same objects for all of a route's requests
            self.known[endpoint, arg] = ids[arg]()
        return self.known[endpoint, arg]


# ---------------------------------------------------------------- what a view reads

class _Recording(ImmutableMultiDict):
    """request.args/form/files that notes every name the view looks up.

    With `direct_only`, lookups made through a CombinedMultiDict (Flask-WTF reads the form
    as files-then-fields, asking the files about every field) are not noted: those names
    are text fields, not files. The forms' file fields are noted by their class instead."""

    def __init__(self, data, seen: set[str], direct_only: bool = False):
        super().__init__(data)
        self._seen, self._direct_only = seen, direct_only

    def _note(self, key) -> None:
        if not (self._direct_only and "werkzeug/datastructures" in sys._getframe(2).f_code.co_filename):
            self._seen.add(key)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):
        self._note(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        self._note(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


def _install_recorder(app, monkeypatch) -> dict:
    seen: dict = {}

    def names_for_request() -> dict:
        return seen.setdefault((request.endpoint, request.method),
                               {"args": set(), "form": set(), "files": set()})

    def record():
        if request.endpoint is None:
            return
        names = names_for_request()
        request.__dict__["args"] = _Recording(request.args, names["args"])
        if request.method != "GET" and not request.is_json:
            request.__dict__["form"] = _Recording(request.form, names["form"])
            request.__dict__["files"] = _Recording(request.files, names["files"], direct_only=True)

    process = Field.process

    def process_noting_files(self, formdata, *args, **kwargs):
        if isinstance(self, FileField) and formdata is not None and request.endpoint:
            names_for_request()["files"].add(self.name)
        return process(self, formdata, *args, **kwargs)

    monkeypatch.setattr(Field, "process", process_noting_files)
    app.before_request_funcs.setdefault(None, []).insert(0, record)
    return seen


def _openapi_inputs() -> dict:
    """(OpenAPI path, method) -> (query names, JSON field names, multipart field names)."""
    doc = document()
    schemas = doc["components"]["schemas"]
    found = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            content = operation.get("requestBody", {}).get("content", {})
            fields, multipart = set(), set()
            for media, names in (("application/json", fields), ("multipart/form-data", multipart)):
                if media in content:
                    names.update(schemas[content[media]["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"])
            found[(path, method.upper())] = (query, fields, multipart)
    return found


def _openapi_key(rule, method: str) -> tuple[str, str] | None:
    if not rule.rule.startswith("/api/v1/"):
        return None  # a page, though its path may read like one of the API's
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule).removeprefix("/api/v1"), method


# ---------------------------------------------------------------- sending

def _enc(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _qs(pairs: dict[str, str]) -> str:
    return "&".join(f"{quote(_enc(k), safe='')}={quote(_enc(v), safe='')}" for k, v in pairs.items())


BOUNDARY = "hostile-input-boundary"


def _multipart(fields: dict[str, str], files: dict[str, str]) -> bytes:
    """Built by hand: werkzeug's test client cannot encode a lone surrogate."""
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
             + _enc(value) + b"\r\n" for name, value in fields.items()]
    parts += [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
              + _enc(filename).replace(b'"', b"%22") + b'"\r\nContent-Type: text/plain\r\n\r\n'
              + b"Invoice 1142 from the supplier.\r\n" for name, filename in files.items()]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Caller:
    """One role's requests: a browser session (or none) and an API token (or none)."""

    def __init__(self, app, person):
        self.person = person
        self.browser = Browser(app)
        self.token = None
        self.sent = 0
        self.lost_sessions = 0
        if person is not None:
            self.sign_in()

    def sign_in(self):
        self.browser.login(self.person.email)
        self.token = tokens.create(self.person, "hostile input")[1]

    def url(self, rule, scene: Scene, override: dict[str, str] | None = None) -> str:
        values = {arg: (override or {}).get(arg, None) for arg in rule.arguments}
        values = {arg: value if value is not None else scene.value(rule.endpoint, arg)
                  for arg, value in values.items()}
        texts = {arg: value for arg, value in values.items() if isinstance(value, str)}
        path = rule.build({arg: "PLACEHOLDER" + arg if arg in texts else value
                           for arg, value in values.items()}, append_unknown=False)[1]
        for arg, value in texts.items():  # quoted here: werkzeug cannot quote a lone surrogate
            path = path.replace("PLACEHOLDER" + arg, quote(_enc(value), safe=""))
        return path

    def send(self, method: str, url: str, query: dict | None = None, form: dict | None = None,
             files: dict | None = None, body: str | bytes | None = None):
        """A JSON body, else a multipart form when there are files, else a urlencoded form
        for anything but GET. The pages' forms carry this session's CSRF token."""
        is_api = url.startswith("/api/")
        headers = {"Authorization": f"Bearer {self.token}"} if is_api and self.token else {}
        kwargs = {"query_string": _qs(query or {}), "headers": headers}
        if body is not None:
            kwargs.update(data=_enc(body) if isinstance(body, str) else body, content_type="application/json")
            if not is_api and method != "GET":  # the forms read JSON too: let it through CSRF
                headers["X-CSRFToken"] = self._csrf()
        elif method != "GET" or files is not None:
            fields = dict(form or {})
            if not is_api:
                fields.setdefault("csrf_token", self._csrf())
            if files is not None:
                kwargs.update(data=_multipart(fields, files),
                              content_type=f"multipart/form-data; boundary={BOUNDARY}")
            else:
                kwargs.update(data=_qs(fields), content_type="application/x-www-form-urlencoded")
        response = self.browser.client.open(url, method=method, **kwargs)
        self.sent += 1
        if self.person is not None and (response.status_code == 401 or (
                response.status_code == 302 and "/login" in response.headers.get("Location", ""))):
            if self.browser.client.get("/settings/").status_code != 200 or response.status_code == 401:
                self.lost_sessions += 1  # an action (sign-out, revocation) ended it: sign in again
                self.sign_in()
        return response

    def _csrf(self) -> str:
        return self.browser.csrf_token("/login" if self.person is None else "/settings/")


# ---------------------------------------------------------------- fixtures and checks

@pytest.fixture
def crashes(app, monkeypatch):
    """Exceptions become 500 answers, as in production; each one is kept for the report."""
    monkeypatch.setattr(limiter, "enabled", False)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    caught: list[BaseException] = []

    def keep(sender, exception, **extra):
        caught.append(exception)

    got_request_exception.connect(keep, app)
    yield caught
    got_request_exception.disconnect(keep, app)


class Verdicts:
    def __init__(self, caught: list[BaseException]):
        self.caught = caught
        self.failures: list[str] = []

    def check(self, response, what: str) -> None:
        if response.status_code >= 500:
            why = f": {type(self.caught[-1]).__name__}: {str(self.caught[-1])[:120]}" if self.caught else ""
            self.failures.append(f"{what} answered {response.status_code}{why}")
        self.caught.clear()

    def assert_none(self) -> None:
        assert not self.failures, (f"{len(self.failures)} requests answered 5xx:\n"
                                   + "\n".join(self.failures[:80]))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:30] + f"...({len(text)} chars)"


def _routes(app, with_static: bool = False):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in STATIC and not with_static:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _probe(caller: Caller, scene: Scene, rule, method: str, declared) -> bool:
    """An ordinary request, so that the recorder sees what the view reads; False when the
    door stays shut for this role (sign-in asked for, 401, 403): its view reads nothing."""
    url = caller.url(rule, scene)
    _query, fields, multipart = declared
    if multipart:
        response = caller.send(method, url, form={"description": "probe"}, files={"file": "probe.txt"})
    elif fields and method != "GET":
        response = caller.send(method, url, body="{}")
    elif method == "GET":
        response = caller.send(method, url, query={"_probe": "1"})
    else:
        response = caller.send(method, url, form={"_probe": "1"})
    asks_sign_in = response.status_code == 302 and "/login" in response.headers.get("Location", "")
    return not (asks_sign_in or response.status_code in (401, 403))


# ---------------------------------------------------------------- the tests

def test_hostile_values_in_every_parameter_answer_4xx(app, world, crashes, monkeypatch):
    seen = _install_recorder(app, monkeypatch)
    openapi = _openapi_inputs()
    verdicts = Verdicts(crashes)
    scene = Scene(world)
    started, sent, fuzzed, lost = time.monotonic(), 0, set(), 0
    routes = [(rule, method, openapi.get(_openapi_key(rule, method), (set(), set(), set())))
              for rule, method in _routes(app)]
    # The admin reaches every view, so each parameter meets each value as the admin; signed
    # out and as a consultant each parameter does too where the admin's view did not read
    # it, and every route gets all its parameters at once, value by value, in each role.
    single_done: set[tuple] = set()
    for person in (world.admin_a, None, world.consultant_a):
        caller = Caller(app, person)
        role = "signed out" if person is None else person.role
        opens = {}
        for rule, method, declared in routes:
            scene.fresh(person)
            opens[rule.endpoint, method] = _probe(caller, scene, rule, method, declared)
        csrf_fuzzed = door_fuzzed = False
        for rule, method, (api_query, fields, multipart) in routes:
            if not opens[rule.endpoint, method]:
                # The door (sign-in, token, role) is one piece of code for every route: it
                # meets the values on the first route it keeps shut, and the view is not reached.
                if door_fuzzed:
                    continue
                door_fuzzed = True
            scene.fresh(person)
            names = seen.get((rule.endpoint, method), {"args": set(), "form": set(), "files": set()})
            is_api = rule.rule.startswith("/api/")
            json_route = is_api and bool(fields) and method != "GET"
            query_names = (names["args"] | api_query) - {"_probe"}
            file_names = names["files"] | ({"file"} if multipart else set())
            form_names = set() if is_api and not multipart else (names["form"] | multipart)
            form_names -= {"_probe", "file"} if is_api else {"_probe"}
            if "csrf_token" in form_names:  # one code path (Flask-WTF) for every form: once is enough
                if csrf_fuzzed:
                    form_names.discard("csrf_token")
                csrf_fuzzed = True
            where = f"{role}: {method} {rule.rule}"
            benign = {name: "invoice.txt" for name in file_names} or None  # so other fields are reached

            def send(query=None, form=None, files=benign, body=None, path=None):
                if body is None and json_route:
                    body = "{}"  # the body the route needs, so that its query parameters are reached
                return caller.send(method, caller.url(rule, scene, path), query=query, form=form,
                                   files=files, body=body)

            def single(kind: str, name: str) -> bool:
                """Whether this parameter still has to meet each value on its own."""
                key = (rule.endpoint, method, kind, name)
                fuzzed.add((rule.endpoint, kind, name))
                if key in single_done:
                    return False
                single_done.add(key)
                return True

            for name in sorted(query_names):
                for value in TEXT_VALUES if single("query", name) else ():
                    verdicts.check(send(query={name: value}), f"{where} ?{name}={_short(value)}")
            for name in sorted(form_names):
                for value in TEXT_VALUES if single("form", name) else ():
                    verdicts.check(send(form={name: value}), f"{where} form {name}={_short(value)}")
            for name in sorted(file_names):
                for value in TEXT_VALUES if single("file", name) else ():
                    verdicts.check(send(files={**benign, name: value}), f"{where} file {name} named {_short(value)}")
            for name in sorted(fields) if json_route else ():
                for value in [*TEXT_VALUES, *JSON_VALUES] if single("json", name) else ():
                    verdicts.check(send(body=json.dumps({name: value})), f"{where} JSON {name}={_short(value)}")
            for arg in sorted(rule.arguments & {"token", "fmt"}):
                for value in TEXT_VALUES if single("path", arg) else ():
                    verdicts.check(send(path={arg: value}), f"{where} path {arg}={_short(value)}")
            if query_names or form_names - {"csrf_token"} or json_route:
                for value in TEXT_VALUES:  # all at once: a value may only bite beside another
                    body = json.dumps(dict.fromkeys(fields, value)) if json_route else None
                    verdicts.check(send(query=dict.fromkeys(query_names, value),
                                        form=dict.fromkeys(form_names - {"csrf_token"}, value), body=body),
                                   f"{where} every parameter={_short(value)}")
        sent += caller.sent
        lost += caller.lost_sessions
    verdicts.assert_none()
    # The recorder saw what the views read: a sample of what each kind of view takes.
    for expected in [("dashboard.index", "query", "page"), ("dashboard.index", "query", "client_id"),
                     ("admin.audit_log", "query", "to"), ("submissions.snooze", "form", "hours"),
                     ("cases.new", "form", "client_id"), ("evidence.upload", "file", "evidence-files"),
                     ("evidence.link", "form", "link-action_index"), ("auth.login", "form", "email"),
                     ("api.case_create", "json", "client_id"), ("api.case_list", "query", "page"),
                     ("submissions.act_from_email", "form", "action"), ("api.draft_export", "query", "format"),
                     ("api.evidence_upload", "form", "description"), ("poa.export", "path", "fmt")]:
        assert expected in fuzzed, expected
    assert lost <= 6, f"{lost} sessions or tokens ended on the way: the fuzzing lost its footing"
    print(f"hostile input: {sent} requests, {len(fuzzed)} parameters, {time.monotonic() - started:.1f} s")


def test_hostile_json_bodies_on_every_path_answer_4xx(app, world, crashes):
    """Every JSON body is parsed before any view, to refuse NUL characters and lone
    surrogates: a body nested 100,000 deep must not take the worker down, on any path,
    /healthz and the static files included, signed in or not."""
    verdicts = Verdicts(crashes)
    scene = Scene(world)
    for person in (None, world.consultant_a):
        caller = Caller(app, person)
        scene.fresh(person)
        for rule, method in _routes(app, with_static=True):
            url = caller.url(rule, scene)
            for why, bodies in REFUSED_BODIES.items():
                for body in bodies:
                    response = caller.send(method, url, body=body)
                    verdicts.check(response, f"{method} {url} body {_short(body)}")
                    assert response.status_code == 400, (method, url, _short(body), response.status_code)
                    assert why in response.get_data(as_text=True), (method, url, _short(body))
            if method != "GET" or person is None:  # a GET page reads no body
                for body in ODD_BODIES:
                    verdicts.check(caller.send(method, url, body=body), f"{method} {url} body {_short(body)}")
    verdicts.assert_none()


# ---------------------------------------------------------------- the findings, one by one

def _api(app, world, method, path, **kwargs):
    token = tokens.create(world.consultant_a, "finding")[1]
    with app.app_context():
        return app.test_client().open("/api/v1" + path, method=method,
                                      headers={"Authorization": f"Bearer {token}"}, **kwargs)


@pytest.mark.parametrize("url", ["/cases?page=²", "/cases?client_id=²", "/cases?assignee=²",
                                 "/cases?client_id=99999999999999999999999", "/clients/?page=" + "9" * 10_000,
                                 "/admin/audit?person=²"])
def test_superscript_and_overlong_numbers_in_pages_are_ignored(crashes, browser, world, url):
    browser.login(world.admin_a.email)
    response = browser.get(url)
    assert response.status_code == 200, (url, crashes)


@pytest.mark.parametrize("query", ["page=²", "per_page=١٢", "client_id=99999999999999999999999",
                                   "assignee_id=2147483648", "page=" + "9" * 10_000])
def test_api_numbers_in_query_strings_are_a_422_naming_the_parameter(app, world, crashes, query):
    response = _api(app, world, "GET", "/cases?" + query)
    assert response.status_code == 422, crashes
    name = query.split("=")[0]
    assert "digits 0-9" in response.get_json()["error"]["fields"][name]


@pytest.mark.parametrize("field, value", [("client_id", "²"), ("assignee_id", "9" * 10_000),
                                          ("opened_at", "0001-01-01T00:00:00+23:59")])
def test_api_ids_and_moments_in_bodies_are_a_422_naming_the_field(app, world, crashes, field, value):
    body = {"client_id": world.client_a.id, "title": "T", "kind": "other", "reason": "other", field: value}
    response = _api(app, world, "POST", "/cases", json=body)
    assert response.status_code == 422, crashes
    assert field in response.get_json()["error"]["fields"]


def test_audit_page_beyond_the_calendar_says_so_beside_the_field(crashes, browser, world):
    browser.login(world.admin_a.email)
    response = browser.get("/admin/audit?to=9999-12-31&from=2026-01-01")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, crashes
    assert "is-invalid" in page and "Give a date from 01 Jan 1900 to 31 Dec 2999" in page
    assert 'value="9999-12-31"' in page  # what was typed stays


def test_snoozing_for_superscript_hours_is_refused_not_a_crash(crashes, browser, world):
    from tests.views.test_tenancy import _reminder

    reminder_id = _reminder(world)
    due = db.session.get(Reminder, reminder_id).due_at
    browser.login(world.consultant_a.email)
    response = browser.post(f"/reminders/{reminder_id}/snooze", data={"hours": "²"})
    assert response.status_code == 302, crashes
    db.session.expire_all()
    assert db.session.get(Reminder, reminder_id).due_at == due
    person = db.session.get(User, world.consultant_a.id)
    token = followup_mail.action_token(db.session.get(Reminder, reminder_id), person)
    page = Browser(browser.client.app)
    response = page.client.post(f"/reminders/act/{token}",
                                data={"action": "snooze-²", "csrf_token": page.csrf_token(f"/reminders/act/{token}")})
    assert response.status_code == 400, crashes


@pytest.mark.parametrize("body", ['{"name": "\\ud800"}', '{"name": "ok", "notes": ["\\udfff"]}'])
def test_a_lone_surrogate_in_json_is_a_clear_400(app, world, crashes, body):
    response = _api(app, world, "POST", "/clients", data=body, content_type="application/json")
    assert response.status_code == 400, crashes
    assert "lone surrogates" in response.get_json()["error"]["message"]


def test_json_nested_100000_deep_is_a_clear_400_anywhere_signed_out(app, crashes):
    client = app.test_client()
    for path in ("/healthz", "/login", "/api/v1/clients", "/no/such/page"):
        response = client.post(path, data="[" * 100_000 + "]" * 100_000, content_type="application/json")
        assert response.status_code == 400, (path, crashes)
        assert "nested more than 64 levels deep" in response.get_data(as_text=True)
    page = client.get("/healthz", data='{"a": "\\ud800"}', content_type="application/json")
    assert page.status_code == 400 and "lone surrogates" in page.get_data(as_text=True)


def test_the_pages_take_forms_not_json(crashes, browser, world):
    browser.login(world.consultant_a.email)
    response = browser.client.post("/clients/new", data="true", content_type="application/json",
                                   headers={"X-CSRFToken": browser.csrf_token("/settings/")})
    assert response.status_code == 415, crashes


def test_a_text_field_where_the_upload_expects_files_is_a_422(crashes, browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post(f"/cases/{world.case_a.id}/evidence", data={"evidence-files": "invoice.pdf"})
    assert response.status_code == 422, crashes
    assert "Choose one or more files" in response.get_data(as_text=True)


@pytest.mark.parametrize("field", ["submitted_at", "received_at"])
def test_a_moment_before_the_calendar_is_a_message_not_a_crash(crashes, browser, world, field):
    submission_id = submissions.record_submission(world.consultant_a, world.case_a.id, {}).id
    url = (f"/cases/{world.case_a.id}/submissions" if field == "submitted_at"
           else f"/submissions/{submission_id}/responses")
    browser.login(world.consultant_a.email)
    response = browser.post(url, data={field: "0001-01-01T00:00", "outcome": "reinstated",
                                       "channel": "email"}, follow_redirects=True)
    assert response.status_code == 422, crashes  # the case page again, the form as typed
    assert "Give a date and time such as 2026-11-29 14:30" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Submission)) == 1


def test_a_name_longer_than_its_column_is_a_field_error(crashes, browser, world):
    browser.login(world.admin_a.email)
    response = browser.post(f"/admin/users/{world.consultant_a.id}",
                            data={"name": "x" * 10_000, "role": "consultant", "timezone": ""})
    assert response.status_code == 200, crashes
    assert "At most 120 characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["1١:00", "20:00\n"])
def test_quiet_hours_take_ascii_clock_times_only(crashes, world, value):
    from caseapp.services.accounts import people
    from caseapp.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        people.update_notifications(world.consultant_a, True, False, True, value, "08:00")
    assert "quiet_start" in refused.value.fields


def test_the_500_page_survives_a_failed_transaction(app, crashes, browser, world):
    """A request that fails in the middle of a flush still gets the error page, which reads
    the signed-in user: through a rolled-back session, not the broken one."""
    def broken():
        db.session.add(User(agency_id=world.agency_a.id, email=None, name="x", role="consultant"))
        db.session.flush()

    app.add_url_rule("/broken-flush", "broken_flush", broken)
    browser.login(world.consultant_a.email)
    response = browser.get("/broken-flush")
    assert response.status_code == 500 and "Carl Consultant" in response.get_data(as_text=True)
