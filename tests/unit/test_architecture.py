"""The shape of the package, enforced: a pure middle, a handler per action, a light CLI.

The layers, from the middle out: ``spec`` (the config language) and ``core`` (the pure
planner) that reads it; ``results`` (the values commands end with); the I/O edges ``state``,
``store`` and ``apply``; ``ops`` (one module per verb); ``render`` (pure formatting of
results); ``cli`` (the rim). Imports inside functions count: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
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
    "mvctl.results",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # `from mvctl.render import markdown` imports the module mvctl.render.markdown.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each mvctl module -> the mvctl modules it imports (anywhere in it)."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {imported for imported in imported_modules(path) if imported in paths}
        for name, path in paths.items()
    }


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing ``start`` may import, directly or not."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for imported in graph[todo.pop()]:
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def modules_of(graph: dict[str, set[str]], layer: str) -> Iterator[str]:
    prefix = f"mvctl.{layer}"
    return (name for name in sorted(graph) if name == prefix or name.startswith(prefix + "."))


def layer_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def reaches_into(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    """'module -> forbidden module' for each module of ``layer`` that imports, directly or
    through any chain of imports, a module of a ``forbidden`` layer."""
    graph = import_graph()
    return [
        f"{name} -> {found}"
        for name in modules_of(graph, layer)
        for found in sorted(reachable(graph, name))
        if layer_of(found) in forbidden
    ]


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


def test_render_formats_values_and_reaches_no_edge_or_verb() -> None:
    """Render gets results: nothing it imports, however indirectly, opens a database, a store
    or a process, runs a verb or parses a command line."""
    assert reaches_into("render", ("ops", "apply", "state", "store", "cli", "workspace")) == []


def test_results_are_values_that_reach_no_edge() -> None:
    assert (
        reaches_into("results", ("ops", "apply", "state", "store", "cli", "render", "workspace"))
        == []
    )


def test_spec_stands_alone_and_core_reads_it() -> None:
    """The config language (models, metric names, gate grammar) imports nothing of mvctl but
    the errors, so spec and core cannot import each other in a circle."""
    graph = import_graph()
    outside = [
        f"{name} -> {found}"
        for name in modules_of(graph, "spec")
        for found in sorted(reachable(graph, name))
        if layer_of(found) not in ("spec", "errors")
    ]
    assert outside == []


def test_the_layers_form_no_cycle() -> None:
    """Between layers, imports go one way: no two layers import each other, even through a
    third (inside a layer, modules may import each other)."""
    graph = import_graph()
    layers: dict[str, set[str]] = {}
    for name, imported in graph.items():
        layers.setdefault(layer_of(name), set()).update(
            layer_of(other) for other in imported if layer_of(other) != layer_of(name)
        )
    cycles = []
    for first, second in itertools.combinations(sorted(layers), 2):
        if second in _closure(layers, first) and first in _closure(layers, second):
            cycles.append(f"{first} <-> {second}")
    assert cycles == []


def _closure(layers: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for other in layers.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_only_the_cli_ends_the_process() -> None:
    """One error boundary: no module outside cli/ calls sys.exit."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("cli/"):
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "exit"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                offenders.append(relative)
    assert offenders == []


def test_jsonschema_stays_a_test_dependency() -> None:
    """The schemas are the contract for users and tests; mvctl itself never validates with
    them, so `jsonschema` is in the `test` extra only and nothing in mvctl imports it."""
    offenders = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(name.split(".")[0] == "jsonschema" for name in imported_modules(path))
    ]
    assert offenders == []


def direct_imports_into(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    graph = import_graph()
    return [
        f"{name} -> {imported}"
        for name in modules_of(graph, layer)
        for imported in sorted(graph[name])
        if layer_of(imported) in forbidden
    ]


def test_the_cli_reaches_the_edges_only_through_ops() -> None:
    """A command parses options, calls its ops function and renders: it opens no state or
    store and runs no step itself."""
    assert direct_imports_into("cli", ("state", "store", "apply")) == []


def test_ops_return_results_and_never_format_or_print() -> None:
    assert direct_imports_into("ops", ("render", "cli")) == []
