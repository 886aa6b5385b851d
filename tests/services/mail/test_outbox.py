"""The outbox is the mail package's: one module writes its rows, and mail imports no feature."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from caseapp.core.transaction import transaction
from caseapp.models import utcnow
from caseapp.services.appeals import dispatch
from caseapp.services.mail import delivery, kinds, outbox

CASEAPP = Path(__file__).resolve().parents[3] / "caseapp"


def test_mail_of_a_kind_nobody_registered_cannot_be_queued(app, world):
    with pytest.raises(kinds.UnknownKind):
        outbox.queue("welcome", "new@agency-a.example", "Hello", "text", "<p>html</p>",
                     key="welcome:1", agency_id=world.agency_a.id, send_after=utcnow())


def test_delivery_refuses_to_run_inside_a_unit_of_work(app):
    """Its batch commits would save the caller's half-done work."""
    with pytest.raises(RuntimeError), transaction():
        delivery.deliver(utcnow(), dispatch.PassReport())


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_mail_imports_no_feature():
    """Mail sits below every feature that sends mail; it hears of them through kinds.py."""
    for path in (CASEAPP / "services" / "mail").glob("*.py"):
        upward = {m for m in imported_modules(path)
                  if m.startswith("caseapp.services.") and not m.startswith("caseapp.services.mail")}
        assert not upward, f"{path.name} imports {sorted(upward)}"


def test_only_the_outbox_module_builds_outbox_rows():
    builders = sorted(str(path.relative_to(CASEAPP)) for path in CASEAPP.rglob("*.py")
                      if "OutboxMessage(" in path.read_text() and path.parent.name != "models")
    assert builders == ["services/mail/outbox.py"]
