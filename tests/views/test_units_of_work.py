"""What a request saves, it saves as one unit with its audit entry; audit.record never commits,
so every view that writes one opens the unit of work that saves it."""
import pytest

from caseapp.extensions import db
from caseapp.models import User
from caseapp.services.accounts import audit, people, tokens
from caseapp.services.poa import drafts
from tests.api.conftest import Api
from tests.conftest import PASSWORD
from tests.services.evidence.test_files import PDF, upload

NEW_PASSWORD = "violet-otter-harbour-9"


def _saved_kinds(world) -> list[tuple[str, str]]:
    admin_id = world.admin_a.id
    db.session.remove()  # what other sessions saw: only what was committed
    return [(e.kind, e.detail) for e in audit.events(db.session.get(User, admin_id))]


def test_a_password_change_and_its_audit_entry_are_one_unit(app, browser, world, monkeypatch):
    browser.login(world.consultant_a.email)

    def failing(kind, *args, **kwargs):
        if kind == "password_change":
            raise RuntimeError("the audit log is unavailable")
        return real(kind, *args, **kwargs)

    real = audit.record
    monkeypatch.setattr(audit, "record", failing)
    with pytest.raises(RuntimeError):
        browser.post("/settings/password", data={"current_password": PASSWORD,
                                                 "new_password": NEW_PASSWORD})
    monkeypatch.undo()
    email = world.consultant_a.email
    db.session.remove()
    assert people.authenticate(email, PASSWORD) is not None  # nothing saved
    assert people.authenticate(email, NEW_PASSWORD) is None
    assert browser.get("/cases").status_code == 200  # and this browser's session was not ended


def test_sign_in_out_and_a_password_change_keep_their_audit_entries(app, browser, world):
    browser.login(world.consultant_a.email, "wrong-password-here")
    browser.login(world.consultant_a.email)
    browser.post("/settings/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    browser.post("/settings/sign-out-everywhere")
    browser.logout()
    kinds = [kind for kind, _ in _saved_kinds(world)]
    assert sorted(kinds) == sorted(["sign_in_failed", "sign_in", "password_change", "sign_out"])


def test_downloads_and_exports_keep_their_audit_entries(app, browser, world):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    row = upload(world, PDF, "invoice.pdf")
    browser.login(world.consultant_a.email)
    assert browser.get(f"/poa/{draft.id}/export/txt").status_code == 200
    assert browser.get(f"/evidence/{row.id}/download").status_code == 200
    assert browser.get(f"/cases/{world.case_a.id}/evidence/bundle").status_code == 200
    api = Api(app, tokens.create(world.consultant_a, "tests")[1])
    assert api.get(f"/poa-drafts/{draft.id}/export?format=docx").status_code == 200
    assert api.get(f"/evidence/{row.id}/download").status_code == 200
    found = [entry for entry in _saved_kinds(world) if entry[0] in ("export", "download")]
    assert sorted(found) == sorted([("export", "txt"), ("download", "invoice.pdf"),
                                    ("download", "evidence bundle, 1 files"), ("export", "docx"),
                                    ("download", "invoice.pdf")])
