"""The shape of the package, enforced: a pure middle, a handler per action, a light CLI."""

from __future__ import annotations

import ast
from pathlib import Path

from mvctl.apply.applier import HANDLERS
from mvctl.core.plan import ACTION_TYPES

PACKAGE = Path(__file__).resolve().parents[2] / "mvctl"
IO_MODULES = {
    "sqlmodel",
    "sqlalchemy",
    "alembic",
    "subprocess",
    "boto3",
    "click",
    "rich",
    "requests",
    "httpx",
    "urllib",
    "socket",
    "shutil",
    "tempfile",
    "os",
    "pathlib",
    "time",
    "datetime",
    "random",
}
OUTER_LAYERS = (
    "mvctl.state",
    "mvctl.store",
    "mvctl.apply",
    "mvctl.cli",
    "mvctl.render",
    "mvctl.ops",
    "mvctl.workspace",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_io_and_no_outer_layer() -> None:
    offenders = []
    for path in sorted((PACKAGE / "core").glob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in IO_MODULES or name.startswith(OUTER_LAYERS):
                offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_every_action_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(ACTION_TYPES)


def test_only_apply_runs_subprocesses_and_only_cli_uses_click() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        names = {name.split(".")[0] for name in imported_modules(path)}
        if "subprocess" in names and not relative.startswith("apply/"):
            offenders.append(f"{relative}: subprocess")
        if "click" in names and not relative.startswith("cli/"):
            offenders.append(f"{relative}: click")
        if names & {"sqlmodel", "sqlalchemy", "alembic"} and not relative.startswith("state/"):
            offenders.append(f"{relative}: database")
    assert offenders == []
