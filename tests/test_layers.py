"""The house rules, read off the source: who may import whom, who commits, who builds mail,
what each package offers, and what views may not do. (The one status change:
tests/services/appeals/test_workflow.py.)"""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "caseapp"

# Lowest first. A module may import its own layer and the layers below it.
LAYERS = ["extensions", "core", "models", "idempotency", "mail", "accounts", "cases", "evidence", "poa",
          "deadlines", "portal",
          "appeals", "inbound", "sheets", "ops", "top"]
# Libraries heavy enough to load only when the one feature that needs them runs.
LAZY_LIBRARIES = {"fpdf", "docx", "boto3", "botocore", "openpyxl"}


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found.append((name.removesuffix(".__init__"), path))
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[:1] != ["caseapp"]:
        return "outside"
    if len(parts) == 1:
        return "top"
    if parts[1] == "extensions":
        return "extensions"
    if parts[1] in ("core", "models"):
        return parts[1]
    if parts[1] == "services" and len(parts) > 2:
        return parts[2]
    return "top"  # views, cli, scheduler, forms, labels, security, the app factory


def imports(tree: ast.AST, module: str):
    """(imported module, line, at module level?) for every import of caseapp code."""
    top_level = {id(node) for node in ast.iter_child_nodes(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(module.split(".")[:-node.level] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            yield name, node.lineno, id(node) in top_level


def resolved(name: str) -> str:
    """The module an import names (dropping a trailing imported attribute)."""
    path = ROOT.joinpath(*name.split("."))
    while name and not (path.with_suffix(".py").exists() or (path / "__init__.py").exists()):
        name, _, _ = name.rpartition(".")
        path = path.parent
    return name


SOURCES = {name: (path, ast.parse(path.read_text())) for name, path in modules()}


def test_every_package_imports_only_packages_below_it():
    wrong = []
    for module, (path, tree) in SOURCES.items():
        mine = LAYERS.index(layer(module))
        for name, line, _ in imports(tree, module):
            target = layer(resolved(name))
            if target != "outside" and LAYERS.index(target) > mine:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({layer(module)}) imports {name} ({target})")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_no_import_hides_inside_a_function():
    hidden = []
    for module, (path, tree) in SOURCES.items():
        for name, line, at_top in imports(tree, module):
            if not at_top and (name.startswith("caseapp") or name.startswith("config")):
                hidden.append(f"{path.relative_to(ROOT)}:{line} imports {name} inside a function")
    assert not hidden, "\n".join(sorted(set(hidden)))


def sources_matching(pattern: str) -> set[str]:
    regex = re.compile(pattern)
    return {str(path.relative_to(ROOT)) for _, (path, _) in SOURCES.items() if regex.search(path.read_text())}


def test_only_the_unit_of_work_and_mail_delivery_commit():
    assert sources_matching(r"\.commit\(\)") <= {
        "caseapp/core/transaction.py", "caseapp/core/locking.py",
        "caseapp/services/mail/delivery.py", "caseapp/services/mail/sent_log.py"}


def test_one_module_builds_outbox_rows():
    assert sources_matching(r"(?<!class )\bOutboxMessage\(") == {"caseapp/services/mail/outbox.py"}


def view_sources():
    return {module: found for module, found in SOURCES.items() if module.startswith("caseapp.views")}


def test_no_view_touches_the_database_session():
    offenders = [str(path.relative_to(ROOT)) for path, _ in view_sources().values()
                 if "db.session" in path.read_text() or "caseapp.extensions import db" in path.read_text()]
    assert offenders == []


def test_views_import_no_other_view_module_but_the_shared_helpers():
    """The API is one blueprint split in modules; its own modules may import each other."""
    offenders = []
    for module, (path, tree) in view_sources().items():
        own_package = "caseapp.views.api" if module.startswith("caseapp.views.api") else None
        for name, line, _ in imports(tree, module):
            if not name.startswith("caseapp.views.") or name.startswith("caseapp.views.helpers"):
                continue
            if own_package and (name == own_package or name.startswith(own_package + ".")):
                continue
            offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert offenders == []


def test_forms_live_in_caseapp_forms():
    offenders = {
        str(path.relative_to(ROOT)): [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                                      and any(getattr(base, "id", getattr(base, "attr", "")) in ("FlaskForm", "Form")
                                              for base in node.bases)]
        for path, tree in view_sources().values()}
    assert {path: forms for path, forms in offenders.items() if forms} == {}


@pytest.mark.parametrize("package", ["accounts", "cases", "evidence", "poa", "appeals", "mail", "ops"])
def test_each_feature_package_says_what_it_offers(package):
    init = PACKAGE / "services" / package / "__init__.py"
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"services/{package}/__init__.py has no docstring"
    assert any(isinstance(node, ast.ImportFrom) for node in tree.body), \
        f"services/{package}/__init__.py re-exports nothing"


@pytest.mark.parametrize("package", ["core", "services.accounts", "services.cases", "services.evidence",
                                     "services.poa", "services.appeals", "services.mail", "services.ops"])
def test_a_facade_never_hides_a_module_of_its_package(package):
    """`from caseapp.services.poa import bundle` must give the module, whatever __init__ re-exports."""
    facade = importlib.import_module(f"caseapp.{package}")
    for path in (PACKAGE / package.replace(".", "/")).glob("*.py"):
        if path.stem != "__init__":
            module = importlib.import_module(f"caseapp.{package}.{path.stem}")
            assert getattr(facade, path.stem) is module, f"caseapp.{package}.{path.stem} is hidden"
