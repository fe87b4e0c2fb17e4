"""The architecture stays visible: one lifecycle, plug-ins that cannot deliver, one
path-confinement function, and tests that mirror the package."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support import REPO_ROOT

PACKAGE = REPO_ROOT / "agentd"
DELIVERY_CALLS = {
    "push_branch",
    "create_pull",
    "update_pull",
    "merge_pull",
    "create_comment",
    "add_labels",
    "publish",
    "merge_if_allowed",
    "restamp",
    "commit_all",
    "commit_tree",
}
LIFECYCLE_CALLS = {"publish", "merge_if_allowed", "verify_target", "commit_tree", "restamp"}


def modules(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def called(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                names.add(func.attr)
            elif isinstance(func, ast.Name):
                names.add(func.id)
    return names


def test_alert_plugins_never_push_open_update_comment_or_merge() -> None:
    for path in modules(PACKAGE / "alerts"):
        delivery = {m for m in imported(path) if m.startswith("agentd.delivery")}
        assert not delivery, f"{path.relative_to(REPO_ROOT)} imports {sorted(delivery)}"
        calls = called(path) & DELIVERY_CALLS
        assert not calls, f"{path.relative_to(REPO_ROOT)} calls {sorted(calls)}"


def test_the_engine_knows_plugins_only_through_the_interface_and_the_registry() -> None:
    allowed = {"agentd.alerts.interface", "agentd.alerts.registry"}
    for path in modules(PACKAGE / "engine"):
        plugin_imports = {
            m.rsplit(".", 1)[0] if m.rsplit(".", 1)[0] in allowed else m
            for m in imported(path)
            if m.startswith("agentd.alerts")
        }
        assert plugin_imports <= allowed, f"{path.relative_to(REPO_ROOT)}: {plugin_imports}"


def test_the_unit_lifecycle_exists_once() -> None:
    owners = {}
    for path in modules(PACKAGE):
        if "simulator" in path.parts or path.parent.name == "delivery":
            continue
        for name in called(path) & LIFECYCLE_CALLS:
            owners.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    assert owners == {name: {"engine/lifecycle.py"} for name in LIFECYCLE_CALLS}, owners


def test_paths_are_confined_in_one_place() -> None:
    escape_check = re.compile(r"\bin\s+[\w.()]+\.parents\b")
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in modules(PACKAGE)
        if path.name != "paths.py"
        and "simulator" not in path.parts
        and escape_check.search(path.read_text())
    ]
    assert offenders == []


def test_tests_mirror_the_package() -> None:
    support = {"fixtures", "registries", "__pycache__", "security"}  # security: attack tests
    tests = REPO_ROOT / "tests"
    for directory in sorted(p for p in tests.rglob("*") if p.is_dir()):
        relative = directory.relative_to(tests)
        if support & set(relative.parts):
            continue
        assert (PACKAGE / relative).is_dir(), f"tests/{relative} mirrors no package"
