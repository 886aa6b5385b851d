"""Views parse, call a service and answer: they never touch the database session, never
import one another (only views/helpers.py, which they share), and define no forms."""
import ast
from pathlib import Path

import caseapp

VIEWS = Path(caseapp.__file__).parent / "views"


def _modules():
    return sorted(VIEWS.rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_view_touches_the_database_session():
    offenders = [str(path.relative_to(VIEWS)) for path in _modules()
                 if "db.session" in path.read_text() or "caseapp.extensions import db" in path.read_text()]
    assert offenders == []


def test_views_import_no_other_view_module_but_the_shared_helpers():
    """The API is one blueprint split in modules; its own modules may import each other."""
    offenders = []
    for path in _modules():
        own_package = "caseapp.views.api" if path.parent.name == "api" else None
        for name in _imported(ast.parse(path.read_text())):
            if not name.startswith("caseapp.views.") or name.startswith("caseapp.views.helpers"):
                continue
            if own_package and (name == own_package or name.startswith(own_package + ".")):
                continue
            offenders.append(f"{path.relative_to(VIEWS)}: {name}")
    assert offenders == []


def _form_classes(path: Path) -> list[str]:
    return [node.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef)
            and any(getattr(base, "id", getattr(base, "attr", "")) in ("FlaskForm", "Form")
                    for base in node.bases)]


def test_forms_live_in_caseapp_forms():
    offenders = {str(path.relative_to(VIEWS)): _form_classes(path) for path in _modules() if _form_classes(path)}
    assert offenders == {}
